"""The behaviour snapshot that guards refactors must see every kind of change it claims to."""

from __future__ import annotations

import dataclasses

from offline.model import Recording
from tests.behaviour_snapshot import differences, snapshot
from tests.checks import replace_inputs, replace_resource


def _snap(recording: Recording) -> dict:
    return {"dev": snapshot(recording)}


def test_a_recording_equals_itself(dev: Recording) -> None:
    assert differences(_snap(dev), _snap(dev)) == []


def test_order_of_registration_does_not_count(dev: Recording) -> None:
    reordered = dataclasses.replace(dev, resources=list(reversed(dev.resources)))
    assert differences(_snap(dev), _snap(reordered)) == []


def test_each_kind_of_change_is_reported_with_its_urn(dev: Recording) -> None:
    target = next(r for r in dev if r.custom and r.dependencies)
    broken = {
        "inputs": replace_inputs(dev, target.urn, lambda i: i.update(changed="yes")),
        "protect": replace_resource(dev, target.urn, protect=not target.protect),
        "ignoreChanges": replace_resource(dev, target.urn, ignore_changes=("tags",)),
        "dependencies": replace_resource(dev, target.urn, dependencies=()),
        "removed": dataclasses.replace(dev, resources=[r for r in dev if r.urn != target.urn]),
    }
    for kind, copy in broken.items():
        lines = differences(_snap(dev), _snap(copy))
        assert lines and all(target.urn in line for line in lines), (kind, target.urn, lines)
