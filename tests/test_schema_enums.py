"""The stack-file schema and `settings.parse` refuse the same values for every enumerated key.

An editor validating `Pulumi.<stack>.yaml` against the generated schema must not accept a value
the program then refuses (or the reverse). Candidates come from the schema's own enums plus
values just outside them, so a new enumerated key is covered without editing this test.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
from pydantic import ValidationError

import settings

NS = settings.NAMESPACE


def enumerated_keys(schema: dict[str, Any]) -> Iterator[tuple[str, str | None, list[Any]]]:
    """(config key, field alias or None for a scalar key, enum) of every enumerated value."""
    for key, prop in schema["properties"]["config"]["properties"].items():
        plain = prop["anyOf"][0]  # [the value's own schema, a secure value]
        if "enum" in plain:
            yield key, None, plain["enum"]
        for alias, field in plain.get("properties", {}).items():
            if "enum" in field:
                yield key, alias, field["enum"]


def candidates(enum: list[Any]) -> list[Any]:
    """Every allowed value plus values just outside: neighbours, bounds, wrong case and type."""
    if all(isinstance(v, int) for v in enum):
        near = {n for v in enum for n in (v - 1, v + 1)} | {0, -1, max(enum) + 1}
        return [*enum, *sorted(near - set(enum)), str(enum[0]), float(enum[0]) + 0.5]
    outside = {"", "bogus", *(v.upper() for v in enum), *(v.lower() for v in enum)} - set(enum)
    return [*enum, *sorted(outside), 1]


def schema_accepts(schema: dict[str, Any], key: str, alias: str | None, value: Any) -> bool:
    config = {key: value if alias is None else {alias: value}}
    return jsonschema.Draft202012Validator(schema).is_valid({"config": config})


def settings_accepts(key: str, alias: str | None, value: Any) -> bool:
    """Whether settings takes `value` for this key on its own. A group field is judged by its
    model, as parse does before any cross-field rule: those rules (e.g. natGateways 'none' with
    the backup job) need other keys, which no per-value enum can express."""
    if alias is None:
        raw = value if isinstance(value, str) else json.dumps(value)
        try:
            settings.parse({"aws:region": "eu-west-1", key: raw}, project="p", stack="s")
        except settings.SettingsError as exc:
            return not any(p.startswith(f"{key} ") for p in exc.problems)
        return True
    model = settings.GROUPS[key.removeprefix(f"{NS}:")]
    try:
        model.model_validate({alias: value})
    except ValidationError:
        return False
    return True


def enum_mismatches(schema: dict[str, Any]) -> list[str]:
    found = []
    for key, alias, enum in enumerated_keys(schema):
        for value in candidates(enum):
            by_schema = schema_accepts(schema, key, alias, value)
            if by_schema != settings_accepts(key, alias, value):
                full = key if alias is None else f"{key}.{alias}"
                found.append(f"{full}={value!r}: schema accepts {by_schema}, settings the other")
    return found


def test_every_enumerated_key_is_refused_alike_by_schema_and_settings() -> None:
    schema = settings.stack_file_schema()
    keys = {f"{k}.{a}" if a else k for k, a, _ in enumerated_keys(schema)}
    # The log retentions are among them (CloudWatch Logs' allowed values), and the scalar phase.
    assert {f"{NS}:logging.runtimeRetentionDays", f"{NS}:rum.logRetentionDays"} <= keys, keys
    assert f"{NS}:phase" in keys, keys
    assert enum_mismatches(schema) == []


def test_the_parity_check_catches_a_schema_without_the_retention_enum() -> None:
    """The broken copy is the schema before log retentions were enumerated: it accepted
    `runtimeRetentionDays: 8`, which settings refuses."""
    schema = copy.deepcopy(settings.stack_file_schema())
    logging = schema["properties"]["config"]["properties"][f"{NS}:logging"]["anyOf"][0]
    enum = logging["properties"]["runtimeRetentionDays"].pop("enum")
    assert 8 not in enum
    # Without the enum the key is no longer enumerated: compare it with the real enum's values.
    broken = [
        v for v in candidates(enum)
        if schema_accepts(schema, f"{NS}:logging", "runtimeRetentionDays", v)
        != settings_accepts(f"{NS}:logging", "runtimeRetentionDays", v)
    ]  # fmt: skip
    assert 8 in broken and 30 not in broken, broken


def test_the_parity_check_catches_an_enum_value_settings_refuses() -> None:
    schema = copy.deepcopy(settings.stack_file_schema())
    rum = schema["properties"]["config"]["properties"][f"{NS}:rum"]["anyOf"][0]
    rum["properties"]["logRetentionDays"]["enum"].append(45)
    assert f"{NS}:rum.logRetentionDays=45: schema accepts True, settings the other" in (
        enum_mismatches(schema)
    )
