"""Reading engine property maps: unknowns, string-typed booleans, tags and policy documents.

Property maps arrive as the engine sends them (camelCase keys). During preview a value that
depends on another resource's output is one of the runtime's unknown sentinels; the helpers here
never raise on them. Each rule decides what an unknown means (see docs/policies.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The sentinels pulumi_policy.proxy recognises (one per value kind). Repeated here so rules are
# importable without the SDK.
UNKNOWNS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWNS


def get(props: Any, *path: str | int) -> Any:
    """Value at `path`: `MISSING` if absent or null, the unknown sentinel if a step is unknown."""
    value = props
    for key in path:
        if is_unknown(value):
            return value
        if isinstance(key, int):
            if not isinstance(value, Sequence) or isinstance(value, str) or key >= len(value):
                return MISSING
            value = value[key]
        else:
            if not isinstance(value, Mapping) or key not in value:
                return MISSING
            value = value[key]
        if value is None:
            return MISSING
    return value


def as_bool(value: Any) -> bool | None:
    """True/False for booleans and the strings "true"/"false" (some pulumi-aws fields are strings).

    None for missing, unknown or anything else.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and not is_unknown(value):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_list(value: Any) -> list[Any]:
    """A list value, `[]` for missing; a single value becomes a one-item list."""
    if value is MISSING or value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def parse_json_object(value: Any) -> Any:
    """A dict from a dict or a JSON string; unknown passes through; anything else is MISSING."""
    if isinstance(value, Mapping) or is_unknown(value):
        return value
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except ValueError:
            return MISSING
        return parsed if isinstance(parsed, dict) else MISSING
    return MISSING


def is_aws_managed_key(value: Any) -> bool:
    """A KMS key reference to an AWS managed key (`alias/aws/s3`, or its alias ARN).

    AWS managed keys are named `aws/<service>` and cannot be shared, rotated on demand or
    given a key policy: https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html
    """
    return isinstance(value, str) and not is_unknown(value) and "alias/aws/" in value.lower()


def tags_of(props: Mapping[str, Any]) -> Any:
    """The resource's own `tags` map (unknown passes through)."""
    tags = get(props, "tags")
    if is_unknown(tags):
        return tags
    return dict(tags) if isinstance(tags, Mapping) else {}


@dataclass(frozen=True)
class Finding:
    """One outcome of a rule: a violation, or a value the rule could not judge during preview.

    `urn` is set by stack rules (the resource the finding is about); resource rules leave it
    empty and the finding belongs to the resource under analysis.
    """

    message: str
    urn: str = ""
    unknown: bool = False


def violation(message: str, urn: str = "") -> Finding:
    return Finding(message, urn)


def undecided(path: str, urn: str = "") -> Finding:
    """A finding that says `path` was unknown and the rule cannot judge without it."""
    return Finding(path, urn, unknown=True)


@dataclass(frozen=True)
class Resource:
    """The view of a resource a rule receives (from Analyze or AnalyzeStack)."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    provider_props: Mapping[str, Any] | None = None

    def depends_via(self, key: str) -> tuple[str, ...]:
        return tuple(self.property_dependencies.get(key, ()))


def statements(document: Any) -> Any:
    """The statements of an IAM/S3 policy document (dict or JSON string).

    Returns the unknown sentinel when the document (or its statement list) is unknown, else a
    list of statement dicts (a single statement object becomes a one-item list).
    """
    doc = parse_json_object(document)
    if is_unknown(doc):
        return doc
    if not isinstance(doc, Mapping):
        return []
    stmts = doc.get("Statement", MISSING)
    if is_unknown(stmts):
        return stmts
    if isinstance(stmts, Mapping):
        return [stmts]
    return [s for s in as_list(stmts) if isinstance(s, Mapping) or is_unknown(s)]


def str_values(value: Any) -> list[Any]:
    """A policy element that may be a string or a list, as a list (unknowns kept)."""
    if is_unknown(value):
        return [value]
    return as_list(value)


def any_unknown(values: Iterable[Any]) -> bool:
    return any(is_unknown(v) for v in values)
