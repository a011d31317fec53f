"""Read `Pulumi.<stack>.yaml` into the flat config map Pulumi hands a program and a policy pack.

The CLI passes config as `namespace:key -> string`, objects and lists JSON-encoded. Secure
values (`{secure: v1:...}`) cannot be decrypted offline: they become a fixed placeholder and
their keys are reported as secret, so the program sees a secret of the right shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "offline-placeholder-secret"


class StackFileError(ValueError):
    """The stack file is missing or not a Pulumi stack file."""


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    values: dict[str, str]
    secret_keys: tuple[str, ...]
    path: Path


def project_name(project_dir: Path) -> str:
    doc = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    return str(doc["name"])


def _encode(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return True
        return any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def _replace_secure(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER
        return {k: _replace_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v) for v in value]
    return value


def load(stack: str, project_dir: Path, path: Path | None = None) -> StackConfig:
    """Load `Pulumi.<stack>.yaml` (or `path`) from `project_dir`."""
    path = path or project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise StackFileError(f"no stack file {path} (stack {stack!r})")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path} is not valid YAML: {exc}") from exc
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path}: 'config' must be a mapping")
    project = project_name(project_dir)
    values: dict[str, str] = {}
    secret: list[str] = []
    for key, raw in config.items():
        # Pulumi lets a stack file omit the project namespace for the project's own keys.
        full = key if ":" in key else f"{project}:{key}"
        if _has_secure(raw):
            secret.append(full)
        values[full] = _encode(_replace_secure(raw))
    return StackConfig(project, stack, values, tuple(sorted(secret)), path)
