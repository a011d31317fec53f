"""Read `Pulumi.<stack>.yaml` into the flat config map Pulumi hands a program and a policy pack
(`settings.load_stack_file`, tools, and the offline engine through `offline.stackfile`).

The CLI passes config as `namespace:key -> string`, objects and lists JSON-encoded. Secure
values (`{secure: v1:...}`) cannot be decrypted offline: each becomes a fixed stand-in and
its key is reported as secret, so the program sees a secret where the CLI would give one.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Shaped like an e-mail address on a domain that is not reserved, because the secrets the
# docs ask for are the on-call addresses (`--path 'groundwork:alerts.emails[0]'`): a stack
# that follows them previews offline as it would under the CLI. A secret of another shape
# (an ARN, say) fails that key's check offline; the error names the key.
SECRET_PLACEHOLDER = "offline-placeholder-secret@undecrypted.offline-preview"


# libyaml's safe loader where PyYAML was built with it, else the pure-Python one: the same
# documents in a fraction of the time (tests/test_stackfile_yaml.py proves both agree on every
# stack file).
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """`yaml.safe_load`, through libyaml when it is there."""
    try:
        return yaml.load(text, Loader=LOADER)
    except yaml.YAMLError:
        if LOADER is yaml.SafeLoader:
            raise
    # libyaml refuses the same documents, but its message leaves out the offending line and
    # words some problems differently: the pure loader says what is wrong as it always has.
    return yaml.safe_load(text)


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
    doc = safe_load((project_dir / "Pulumi.yaml").read_text())
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


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `overrides` into a copy of `base`; a value of None deletes the key."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def read_config(path: Path) -> dict[str, Any]:
    """The `config:` mapping of a stack file (or of an overlay in the same shape)."""
    if not path.is_file():
        raise StackFileError(f"no stack file {path}")
    try:
        doc = safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path} is not valid YAML: {exc}") from exc
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path}: 'config' must be a mapping")
    return config


def load(
    stack: str, project_dir: Path, path: Path | None = None, overlay: Path | None = None
) -> StackConfig:
    """Load `Pulumi.<stack>.yaml` (or `path`) from `project_dir`, with `overlay` (a file of
    the same shape, e.g. the values an operator sets) deep-merged over it."""
    path = path or project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise StackFileError(f"no stack file {path} (stack {stack!r})")
    config = read_config(path)
    if overlay is not None:
        config = merge(config, read_config(overlay))
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
