"""Validation of one policy's config, complete, before any resource is analysed.

The pack runs this for every policy in `Configure` (sdk.py) and refuses the whole config when
anything is wrong, so a typo, an impossible date or a value that quietly disables a rule never
waits for a matching resource to surface. Everything is driven by the policy's `config_schema`:
standard JSON Schema plus a few keywords JSON Schema cannot say (ignored by the CLI's own check):

- `x-includes`: an array must keep these items (coverage lists can grow, never shrink);
- `x-typeToken`: a string must be a resource type token the pack knows;
- `x-regex`: a string must be a Python regex that matches each of `mustMatch` and never the
  empty string (a pattern that matches "" matches everything or nothing useful);
- sibling `minX` / `maxX` numbers anywhere in the config must satisfy `minX <= maxX`;
- numbers must be finite (NaN passes every JSON Schema bound).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .base import (
    EXEMPTIONS_KEY,
    RESOURCE,
    Exemption,
    PolicyConfigError,
    PolicySpec,
    exemption_problems,
    resolve_config,
)

ALLOWED_EXTRA = ("enforcementLevel",)


def _includes(validator: Any, required: Any, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if isinstance(instance, list):
        missing = [x for x in required if x not in instance]
        if missing:
            yield ValidationError(f"drops {missing}, which this list must always keep")


def _regex(validator: Any, spec: Any, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if not isinstance(instance, str):
        return
    try:
        pattern = re.compile(instance)
    except re.error as exc:
        yield ValidationError(f"is not a valid regular expression ({exc})")
        return
    if pattern.search(""):
        yield ValidationError("matches the empty string, so it matches every name")
    misses = [s for s in spec.get("mustMatch", ()) if not pattern.search(s)]
    if misses:
        yield ValidationError(f"does not match {misses}, which it must catch")


@functools.cache
def _validator_class(known_types: frozenset[str]) -> Any:
    from jsonschema import Draft7Validator, validators
    from jsonschema.exceptions import ValidationError

    def type_token(validator: Any, on: Any, instance: Any, _schema: Any) -> Iterator[Any]:
        if on and isinstance(instance, str) and known_types and instance not in known_types:
            yield ValidationError("is not a resource type token this pack knows")

    return validators.extend(
        Draft7Validator, {"x-includes": _includes, "x-regex": _regex, "x-typeToken": type_token}
    )


def _not_finite(value: Any, path: str) -> Iterator[str]:
    """NaN compares false with every bound, so `maxSessionSampleRate: NaN` would pass a schema
    check and disable the rule; infinities are no threshold either."""
    if isinstance(value, float) and not math.isfinite(value):
        yield f"{path} is {value!r}; allowed: a finite number"
    elif isinstance(value, Mapping):
        for key, sub in value.items():
            yield from _not_finite(sub, f"{path}.{key}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _not_finite(sub, f"{path}[{i}]")


def describe(schema: Mapping[str, Any]) -> str:
    """What a (sub)schema allows, in words, for error messages."""
    parts: list[str] = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(repr(v) for v in schema["enum"]))
    elif "type" in schema and not {"x-regex", "x-typeToken"} & set(schema):
        parts.append(f"{'an' if schema['type'][0] in 'aeiou' else 'a'} {schema['type']}")
    if "minimum" in schema or "maximum" in schema:
        parts.append(f"{schema.get('minimum', '-inf')}..{schema.get('maximum', 'inf')}")
    if "minItems" in schema:
        parts.append(f"at least {schema['minItems']} item(s)")
    items = schema.get("items")
    if isinstance(items, Mapping) and "enum" in items:
        parts.append("items from " + ", ".join(repr(v) for v in items["enum"]))
    if "x-includes" in schema:
        parts.append(f"keeping {schema['x-includes']}")
    if "x-regex" in schema:
        parts.append(f"a regex that matches {schema['x-regex'].get('mustMatch', [])} and not ''")
    if "x-typeToken" in schema:
        parts.append("a known type token such as 'aws:lb/loadBalancer:LoadBalancer'")
    if "required" in schema:
        parts.append(f"with keys {schema['required']}")
    if schema.get("description"):
        parts.append(f"({schema['description']})")
    return " ".join(parts) or "see the policy's config schema"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ordered_pairs(value: Any, path: str) -> Iterator[str]:
    """Every `minX` above its sibling `maxX`, anywhere in the config."""
    if isinstance(value, Mapping):
        for key, low in value.items():
            high = value.get("max" + key[3:]) if key.startswith("min") else None
            numbers = all(_number(v) for v in (low, high))
            if numbers and low > high:
                yield (
                    f"{path}.{key} is {low:g}, above {path}.max{key[3:]} {high:g}; allowed: "
                    f"{key} <= max{key[3:]}"
                )
        for key, sub in value.items():
            yield from _ordered_pairs(sub, f"{path}.{key}")


def _value_problems(
    spec: PolicySpec, config: Mapping[str, Any], known_types: frozenset[str]
) -> list[str]:
    knobs = {k: v for k, v in config.items() if k != EXEMPTIONS_KEY}
    schema = {"type": "object", "properties": {k: dict(v) for k, v in spec.config.items()}}
    problems = []
    errors = _validator_class(known_types)(schema).iter_errors(knobs)
    for err in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        key = ".".join(str(p) for p in err.absolute_path)
        problems.append(f"{spec.name}.{key} {_what(err)}; allowed: {describe(err.schema)}")
    problems += list(_ordered_pairs(knobs, spec.name))
    problems += list(_not_finite(knobs, spec.name))
    return problems


def _what(err: Any) -> str:
    if err.validator in ("x-includes", "x-regex", "x-typeToken"):
        return f"{err.message} (got {err.instance!r})"
    return f"is invalid: {err.message}"


def check_config(
    spec: PolicySpec,
    given: Mapping[str, Any] | None,
    known_types: frozenset[str] = frozenset(),
    today: dt.date | None = None,
) -> tuple[dict[str, Any], tuple[Exemption, ...]]:
    """The effective config (schema defaults, then `given`) and its exemptions, or
    PolicyConfigError listing every problem: unknown keys, invalid values, bad exemptions."""
    given = dict(given or {})
    allowed = set(spec.schema()) | set(ALLOWED_EXTRA)
    problems = [
        f"{spec.name}.{key} is not a config key of this policy (got {given[key]!r}); allowed: "
        f"{', '.join(sorted(allowed))}"
        for key in sorted(set(given) - allowed)
    ]
    config = resolve_config(spec, {k: v for k, v in given.items() if k in allowed})
    problems += _value_problems(spec, config, known_types)
    # A resource policy only ever sees its own types: an exemption for another type is misdirected.
    types = spec.types if spec.kind == RESOURCE else frozenset()
    exemptions, bad = exemption_problems(spec.name, config.get(EXEMPTIONS_KEY), types, today)
    problems += bad
    if problems:
        raise PolicyConfigError("\n".join(problems))
    return config, exemptions
