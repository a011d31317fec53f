"""Helpers the observability tests share: finding resources in a recording, reading IAM
documents, and making deliberately broken copies of a recording for the failing cases.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from offline.model import RecordedResource, Recording, plain
from offline.recorder import MOCK_ACCOUNT_ID
from tests.conftest import ROOT

# The shipped stacks every observability check runs on.
STACKS = ("dev", "prod")
# The log, event and app-config contracts shared with the app.
CONTRACTS_DOC = ROOT / "docs" / "contracts.md"

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_ROLE = "aws:iam/role:Role"


def component(rec: Recording, type_token: str) -> RecordedResource:
    return rec.one(type_token)


def children(
    rec: Recording, component_type: str, type_token: str | None = None
) -> list[RecordedResource]:
    """Custom resources under the (single) component of `component_type`."""
    component(rec, component_type)  # exactly one such component
    return rec.children_of(component_type, type_token)


def child(rec: Recording, component_type: str, name: str) -> RecordedResource:
    found = [r for r in children(rec, component_type) if r.name == name]
    if len(found) != 1:
        raise AssertionError(f"expected one {name} under {component_type}, found {found}")
    return found[0]


def value(r: RecordedResource, *path: str) -> Any:
    """A property from the outputs (full mode) or else the inputs, secrets unwrapped."""
    for source in (r.outputs, r.inputs):
        current: Any = plain(source)
        for key in path:
            if not isinstance(current, dict) or key not in current:
                current = None
                break
            current = current[key]
        if current is not None:
            return current
    return None


def replaced(
    rec: Recording, urn: str, change: Callable[[RecordedResource], RecordedResource | None]
) -> Recording:
    """A copy of `rec` with the resource `urn` changed (or dropped when `change` returns None)."""
    out: list[RecordedResource] = []
    for r in rec:
        if r.urn == urn:
            new = change(r)
            if new is not None:
                out.append(new)
        else:
            out.append(r)
    return dataclasses.replace(rec, resources=out)


def with_props(r: RecordedResource, **props: Any) -> RecordedResource:
    """`r` with top-level properties set in both inputs and outputs (None removes one)."""

    def merge(source: dict[str, Any]) -> dict[str, Any]:
        merged = dict(source)
        for key, new in props.items():
            if new is None:
                merged.pop(key, None)
            else:
                merged[key] = new
        return merged

    return dataclasses.replace(r, inputs=merge(r.inputs), outputs=merge(r.outputs))


def added(rec: Recording, *resources: RecordedResource) -> Recording:
    return dataclasses.replace(rec, resources=[*rec.resources, *resources])


def policies_of_role(rec: Recording, role: RecordedResource) -> list[RecordedResource]:
    """Inline policies whose `role` input is this role (by dependency or by value)."""
    names = {value(role, "name"), value(role, "id")} - {None}
    return [
        p
        for p in rec.of_type(ROLE_POLICY)
        if role.urn in p.property_dependencies.get("role", ()) or value(p, "role") in names
    ]


def arn(service: str, region: str, resource: str) -> str:
    """The real ARN the program spells for a resource of the mock account."""
    return f"arn:aws:{service}:{region}:{MOCK_ACCOUNT_ID}:{resource}"


def user_data_script(rec: Recording) -> str:
    lt = rec.one("aws:ec2/launchTemplate:LaunchTemplate")
    return base64.b64decode(value(lt, "userData")).decode()


def app_config_from_user_data(script: str) -> dict[str, Any] | None:
    match = re.search(r"<<'GROUNDWORK_APP_JSON'\n(.*?)\nGROUNDWORK_APP_JSON", script, re.S)
    return json.loads(match.group(1)) if match else None


def markdown_table_fields(text: str, heading: str, table_index: int = 0) -> list[str]:
    """Backticked names in the first column of the `table_index`-th table under `heading`."""
    section = text.split(heading, 1)[1]
    section = re.split(r"\n## ", section, maxsplit=1)[0]
    tables: list[list[str]] = []
    current: list[str] | None = None
    for line in section.splitlines():
        if line.startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            current.append(line)
        else:
            current = None
    rows = tables[table_index][2:]  # header and separator
    names: list[str] = []
    for row in rows:
        first = row.split("|")[1]
        names.extend(re.findall(r"`([^`]+)`", first))
    return names


def flatten(items: Iterable[Iterable[str]]) -> list[str]:
    return [x for group in items for x in group]
