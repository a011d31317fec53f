"""Small queries over a Recording and the IAM/S3 policy documents it holds.

Shared by every check module and test that reads a recording, so that each question ("which
resources was this input built from", "the statements of this document", "the one resource
with this name") has one answer. They return what they find, or raise AssertionError naming
the stack when a lookup that must be unique is not; they never judge the result.
"""

from __future__ import annotations

import json
from typing import Any

from offline.model import RecordedResource, Recording, plain


def deps(resource: RecordedResource, key: str) -> tuple[str, ...]:
    return resource.property_dependencies.get(key, ())


def companions(rec: Recording, bucket_: RecordedResource, type_: str) -> list[RecordedResource]:
    """Resources of `type_` whose `bucket` input comes from `bucket_` (property dependency)."""
    return [
        r for r in rec.of_type(type_) if bucket_.urn in r.property_dependencies.get("bucket", ())
    ]


def named(recording: Recording, type_: str, name: str) -> RecordedResource:
    """The resource of `type_` with logical name `name`, anywhere in the stack."""
    found = [r for r in recording.of_type(type_) if r.name == name]
    assert len(found) == 1, f"expected one {type_} named {name} in {recording.stack}: {found}"
    return found[0]


def by_name(rec: Recording, name: str) -> RecordedResource:
    """The one resource of any type with logical name `name`."""
    found = [r for r in rec if r.name == name]
    assert len(found) == 1, f"no single {name} in {rec.stack}"
    return found[0]


def document(text: Any) -> dict[str, Any]:
    """An IAM/S3 policy document from its JSON text (or a dict)."""
    text = plain(text)
    return json.loads(text) if isinstance(text, str) else dict(text or {})


def statements(text: Any) -> list[dict[str, Any]]:
    stmts = document(text).get("Statement", [])
    return [stmts] if isinstance(stmts, dict) else list(stmts)


def as_list(x: Any) -> list[Any]:
    """A policy element (Action, Resource, Statement...) as a list; absent means none."""
    if x is None:
        return []
    return list(x) if isinstance(x, list | tuple) else [x]
