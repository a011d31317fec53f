"""Spend alerts on the recorded stacks: a budget and an anomaly monitor scoped to the stack's
cost allocation tag, both notifying the alerts topic, which Budgets and Cost Anomaly Detection
of this account may publish to (topic policy and key policy). Each check also runs on a broken
copy that must fail."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from offline.model import Recording
from settings import SettingsError, parse
from tests.conftest import DEV_ALTERED, DEV_NEWER_REGION, RESERVED_RECIPIENTS, stack_config
from tests.obs_helpers import child, replaced, value, with_props
from tests.spend_alert_checks import (
    ALERTS,
    SPEND,
    anomaly_problems,
    budget_problems,
    expected,
    ordering_problems,
    publisher_problems,
)

CHECKS: dict[str, Callable[[Recording, dict[str, Any]], list[str]]] = {
    "budget": budget_problems,
    "anomaly": anomaly_problems,
    "publishers": lambda rec, want: publisher_problems(rec),
}


@pytest.mark.parametrize("stack", ("dev", "prod"))
@pytest.mark.parametrize("check", sorted(CHECKS))
def test_shipped_stacks_have_spend_alerts(stack: str, check: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert CHECKS[check](rec, expected(stack)) == []


def _edit(rec: Recording, name: str, component: str = SPEND, **props: Any) -> Recording:
    r = child(rec, component, name)
    return replaced(rec, r.urn, lambda x: with_props(x, **props))


def _policy_without(rec: Recording, name: str, field: str, service: str) -> Recording:
    r = child(rec, ALERTS, name)
    doc = json.loads(value(r, field))
    doc["Statement"] = [
        s for s in doc["Statement"] if s.get("Principal", {}).get("Service") != service
    ]
    return _edit(rec, name, ALERTS, **{field: json.dumps(doc)})


@pytest.mark.parametrize("stack", ("dev", "prod"))
def test_broken_copies_fail(stack: str, request: Any) -> None:
    rec, want = request.getfixturevalue(stack), expected(stack)
    other = [{"name": "TagKeyValue", "values": ["user:Environment$someone-else"]}]
    assert budget_problems(_edit(rec, "spend-budget", costFilters=other), want)
    assert budget_problems(_edit(rec, "spend-budget", limitAmount="99999.00"), want)
    notes = [dict(n, subscriberSnsTopicArns=["arn:aws:sns:eu-west-1:1:x"])
             for n in value(child(rec, SPEND, "spend-budget"), "notifications")]  # fmt: skip
    assert budget_problems(_edit(rec, "spend-budget", notifications=notes), want)
    assert anomaly_problems(_edit(rec, "spend-anomaly-subscription", frequency="DAILY"), want)
    assert anomaly_problems(_edit(rec, "spend-anomaly-monitor", monitorType="DIMENSIONAL"), want)
    for name, field in (("alerts-topic-policy", "policy"), ("alerts-key", "policy")):
        for service in ("budgets.amazonaws.com", "costalerts.amazonaws.com"):
            broken = _policy_without(rec, name, field, service)
            assert publisher_problems(broken), f"{name} without {service} went unnoticed"


def _values(stack: str, **cost: Any) -> dict[str, str]:
    cfg = stack_config(stack)
    cfg["groundwork:cost"] = {**cfg["groundwork:cost"], **cost}
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in cfg.items()}


def test_settings_accept_the_shipped_cost_groups() -> None:
    for stack in ("dev", "prod"):
        s = parse(_values(stack), project="groundwork", stack=stack)
        assert s.cost.allocation_tag_key in s.default_tags


@pytest.mark.parametrize(
    "cost,needle",
    [
        ({"allocationTagKey": "CostCentre"},
         "groundwork:cost.allocationTagKey must name a tag of aws:defaultTags"),
        ({"thresholds": {"actual": [50, 60, 70, 80, 90, 100], "forecast": [80, 90, 100, 110, 120]}},
         "groundwork:cost.thresholds must hold 1..10"),
        ({"thresholds": {"actual": [80, 80]}}, "groundwork:cost.thresholds.actual must not repeat"),
        ({"monthlyBudgetUsd": 0}, "groundwork:cost.monthlyBudgetUsd"),
        ({"thresholds": {"forcast": [100]}}, "groundwork:cost.thresholds"),
    ],
)  # fmt: skip
def test_bad_cost_settings_are_refused_by_full_key(cost: dict[str, Any], needle: str) -> None:
    with pytest.raises(SettingsError) as err:
        parse(_values("dev", **cost), project="groundwork", stack="dev")
    assert needle in str(err.value), str(err.value)


def test_no_recipient_warns_that_spend_alerts_reach_nobody(
    dev: Recording, record_variant: Callable[..., Recording]
) -> None:
    # The shipped dev stack has no recipient; RESERVED_RECIPIENTS only addresses on a reserved
    # domain, which receive nothing either (in dev in a newer region too: DEV_NEWER_REGION,
    # which tests/test_alerts.py and tests/test_edge.py record, one recording for several files).
    assert stack_config("dev")["groundwork:alerts"]["emails"] == []
    reserved = RESERVED_RECIPIENTS["groundwork:alerts"]["emails"]
    assert DEV_NEWER_REGION["groundwork:alerts"] == RESERVED_RECIPIENTS["groundwork:alerts"]
    for emails, rec in (([], dev), (reserved, record_variant("dev", DEV_NEWER_REGION))):
        assert any("reach nobody" in w for w in rec.warnings), (emails, rec.warnings)
    # A real recipient: dev with other groups changed too (DEV_ALTERED), one recording for
    # several files.
    assert DEV_ALTERED["groundwork:alerts"] == {"emails": ["ops@northwind-saas.com"]}
    rec = record_variant("dev", DEV_ALTERED)
    assert not any("reach nobody" in w for w in rec.warnings), (
        "groundwork:alerts.emails ['ops@northwind-saas.com']",
        rec.warnings,
    )


def test_tags_without_the_allocation_key_are_refused_even_without_a_cost_group() -> None:
    values = {"aws:region": "eu-west-1", "aws:defaultTags": json.dumps({"tags": {"Team": "a"}})}
    with pytest.raises(SettingsError, match=r"groundwork:cost\.allocationTagKey"):
        parse(values, project="groundwork", stack="x")
    # No tags and no cost group at all (a bare test config) still parses.
    assert parse({"aws:region": "eu-west-1"}, project="groundwork", stack="x").cost


@pytest.mark.parametrize("stack", ("dev", "prod"))
def test_notifications_wait_for_publish_permissions(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert ordering_problems(rec) == []
    budget = child(rec, SPEND, "spend-budget")
    early = replaced(rec, budget.urn, lambda r: dataclasses.replace(r, dependencies=()))
    assert ordering_problems(early), "a budget created before the topic policy went unnoticed"
