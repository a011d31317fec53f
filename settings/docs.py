"""Documentation generated from the models: the JSON Schema of `Pulumi.<stack>.yaml` and the
README's config reference (`python -m settings schema|readme`)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from settings.models import _REGION_RE, GROUPS, NAMESPACE, PHASES, SCALARS


def _secure_value_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"secure": {"type": "string"}},
        "required": ["secure"],
        "additionalProperties": False,
    }


def stack_file_schema() -> dict[str, Any]:
    """JSON Schema of `Pulumi.<stack>.yaml`, generated from the settings models."""
    ns = NAMESPACE
    props: dict[str, Any] = {
        f"{ns}:phase": {"type": "string", "enum": list(PHASES)},
        f"{ns}:protect": {"type": "boolean"},
        "aws:region": {"type": "string", "pattern": _REGION_RE, "description": "AWS region."},
        "aws:defaultTags": {
            "type": "object",
            "properties": {"tags": {"type": "object", "additionalProperties": {"type": "string"}}},
            "additionalProperties": False,
            "description": "Tags the AWS provider adds to every taggable resource.",
        },
    }
    for key, (_, _, description) in SCALARS.items():
        props[f"{ns}:{key}"]["description"] = description
    for key, model in GROUPS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        schema.pop("title", None)
        props[f"{ns}:{key}"] = schema
    known = sorted(props)
    # Any value may be a secret (`pulumi config set --secret`): the file then holds ciphertext.
    props = {key: {"anyOf": [schema, _secure_value_schema()]} for key, schema in props.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://groundwork.invalid/schema/pulumi-stack.schema.json",
        "title": "groundwork Pulumi stack file (Pulumi.<stack>.yaml)",
        "description": "Generated from the settings package by `make schema`; do not edit by hand.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": props,
                # Unknown groundwork:* keys are typos; other namespaces belong to providers.
                "propertyNames": {"anyOf": [{"enum": known}, {"not": {"pattern": f"^{ns}:"}}]},
                "additionalProperties": {
                    "anyOf": [_secure_value_schema(), {"not": {"type": "null"}}]
                },
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "additionalProperties": False,
    }


def _default_text(field: Any) -> str:
    default = field.default
    if default is None:
        return "—"
    if isinstance(default, bool):
        return "`true`" if default else "`false`"
    if field.default_factory is list:
        return "`[]`"
    if isinstance(default, float) and math.isclose(default, round(default)):
        return f"`{int(default)}`"
    return f"`{default}`"


def config_reference() -> str:
    """Markdown table of every structured key, generated from the models (README section)."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, (_, default, description) in SCALARS.items():
        rows.append(f"| `{NAMESPACE}:{key}` | `{default}` | {description} |")
    for key, model in GROUPS.items():
        for name, field in model.model_fields.items():
            alias = field.alias or name
            rows.append(
                f"| `{NAMESPACE}:{key}.{alias}` | {_default_text(field)} | {field.description} |"
            )
    return "\n".join(rows) + "\n"


README_START = "<!-- config-reference:start"
README_END = "<!-- config-reference:end -->"


def readme_with_reference(text: str) -> str:
    """`text` (the README) with the generated config reference between its markers."""
    start = text.index(README_START)
    start = text.index("\n", start) + 1
    end = text.index(README_END)
    return text[:start] + "\n" + config_reference() + "\n" + text[end:]


def _main(argv: list[str]) -> int:
    commands: dict[str, Callable[[], str]] = {
        "schema": lambda: json.dumps(stack_file_schema(), indent=2) + "\n",
        "reference": config_reference,
    }
    if argv == ["readme"]:
        readme = Path(__file__).resolve().parent.parent / "README.md"
        readme.write_text(readme_with_reference(readme.read_text()))
        return 0
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m settings {{{'|'.join([*commands, 'readme'])}}}", file=sys.stderr)
        return 2
    sys.stdout.write(commands[argv[0]]())
    return 0
