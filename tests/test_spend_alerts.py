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
from offline.recorder import MOCK_ACCOUNT_ID
from settings import SettingsError, parse
from tests.conftest import RESERVED_RECIPIENTS, stack_config
from tests.obs_helpers import child, replaced, statements, value, with_props

SPEND = "groundwork:cost:SpendAlerts"
ALERTS = "groundwork:observability:Alerts"


def _expected(stack: str) -> dict[str, Any]:
    cfg = stack_config(stack)
    cost = cfg["groundwork:cost"]
    key = cost["allocationTagKey"]
    return {
        "tag": (key, cfg["aws:defaultTags"]["tags"][key]),
        "budget": f"{float(cost['monthlyBudgetUsd']):.2f}",
        "notifications": sorted(
            [("ACTUAL", float(p)) for p in cost["thresholds"].get("actual", [])]
            + [("FORECASTED", float(p)) for p in cost["thresholds"].get("forecast", [])]
        ),
        "anomaly": f"{float(cost['anomalyThresholdUsd']):g}",
    }


def budget_problems(rec: Recording, want: dict[str, Any]) -> list[str]:
    budget = child(rec, SPEND, "spend-budget")
    topic = child(rec, ALERTS, "alerts-topic")
    key, tag = want["tag"]
    problems = []
    shape = {k: value(budget, k) for k in ("budgetType", "timeUnit", "limitAmount", "limitUnit")}
    if shape != {"budgetType": "COST", "timeUnit": "MONTHLY", "limitAmount": want["budget"],
                 "limitUnit": "USD"}:  # fmt: skip
        problems.append(f"{budget.urn}: {shape}")
    filters = value(budget, "costFilters")
    if filters != [{"name": "TagKeyValue", "values": [f"user:{key}${tag}"]}]:
        problems.append(f"{budget.urn}: costFilters {filters} do not select {key}={tag}")
    notes = value(budget, "notifications") or []
    got = sorted((n.get("notificationType"), n.get("threshold")) for n in notes)
    if got != want["notifications"]:
        problems.append(f"{budget.urn}: notifications {got} != {want['notifications']}")
    for n in notes:
        if (n.get("thresholdType"), n.get("comparisonOperator")) != ("PERCENTAGE", "GREATER_THAN"):
            problems.append(f"{budget.urn}: notification {n} is not a percentage over")
        if n.get("subscriberSnsTopicArns") != [value(topic, "arn")]:
            problems.append(f"{budget.urn}: notification {n} does not go to the alerts topic")
    if topic.urn not in budget.property_dependencies.get("notifications", ()):
        problems.append(f"{budget.urn}: notifications do not depend on the alerts topic")
    return problems


def anomaly_problems(rec: Recording, want: dict[str, Any]) -> list[str]:
    monitor = child(rec, SPEND, "spend-anomaly-monitor")
    sub = child(rec, SPEND, "spend-anomaly-subscription")
    topic = child(rec, ALERTS, "alerts-topic")
    key, tag = want["tag"]
    problems = []
    spec = json.loads(value(monitor, "monitorSpecification") or "{}")
    if (
        value(monitor, "monitorType") != "CUSTOM"
        or spec.get("Tags", {}).get("Key") != key
        or (spec.get("Tags", {}).get("Values") != [tag])
    ):
        problems.append(f"{monitor.urn}: not a CUSTOM monitor of tag {key}={tag} ({spec})")
    if value(sub, "frequency") != "IMMEDIATE":
        problems.append(f"{sub.urn}: frequency {value(sub, 'frequency')!r}, SNS needs IMMEDIATE")
    if value(sub, "subscribers") != [{"type": "SNS", "address": value(topic, "arn")}]:
        problems.append(f"{sub.urn}: subscribers {value(sub, 'subscribers')}")
    if monitor.urn not in sub.property_dependencies.get("monitorArnLists", ()):
        problems.append(f"{sub.urn}: does not subscribe to the stack's monitor")
    dim = (value(sub, "thresholdExpression") or {}).get("dimension", {})
    if dim.get("key") != "ANOMALY_TOTAL_IMPACT_ABSOLUTE" or dim.get("values") != [want["anomaly"]]:
        problems.append(f"{sub.urn}: threshold {dim} != {want['anomaly']} USD total impact")
    return problems


def publisher_problems(rec: Recording) -> list[str]:
    """Budgets and Cost Anomaly Detection may publish (topic policy, limited to this account,
    and for Budgets to its budgets) and may use the topic's key (key policy, unconditioned:
    SNS documents no condition key on the KMS request it makes for a service,
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""
    problems = []
    budgets_arn = f"arn:aws:budgets::{MOCK_ACCOUNT_ID}:*"
    for name, field in (("alerts-topic-policy", "policy"), ("alerts-key", "policy")):
        r = child(rec, ALERTS, name)
        by_service = {s.get("Principal", {}).get("Service"): s for s in statements(value(r, field))}
        for service in ("budgets.amazonaws.com", "costalerts.amazonaws.com"):
            stmt = by_service.get(service)
            if stmt is None:
                problems.append(f"{r.urn}: {service} missing")
                continue
            if name == "alerts-key":
                continue
            cond = stmt.get("Condition", {})
            if cond.get("StringEquals", {}).get("aws:SourceAccount") != MOCK_ACCOUNT_ID:
                problems.append(f"{r.urn}: {service} not limited to this account")
            if service.startswith("budgets") and (
                cond.get("ArnLike", {}).get("aws:SourceArn") != budgets_arn
            ):
                problems.append(f"{r.urn}: {service} not limited to {budgets_arn}")
    return problems


CHECKS: dict[str, Callable[[Recording, dict[str, Any]], list[str]]] = {
    "budget": budget_problems,
    "anomaly": anomaly_problems,
    "publishers": lambda rec, want: publisher_problems(rec),
}


@pytest.mark.parametrize("stack", ("dev", "prod"))
@pytest.mark.parametrize("check", sorted(CHECKS))
def test_shipped_stacks_have_spend_alerts(stack: str, check: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert CHECKS[check](rec, _expected(stack)) == []


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
    rec, want = request.getfixturevalue(stack), _expected(stack)
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
    # The shipped dev stack has no recipient; RESERVED_RECIPIENTS (shared with
    # tests/test_alerts.py) only addresses on a reserved domain, which receive nothing either.
    assert stack_config("dev")["groundwork:alerts"]["emails"] == []
    reserved = RESERVED_RECIPIENTS["groundwork:alerts"]["emails"]
    for emails, rec in (([], dev), (reserved, record_variant("dev", RESERVED_RECIPIENTS))):
        assert any("reach nobody" in w for w in rec.warnings), (emails, rec.warnings)
    rec = record_variant("dev", {"groundwork:alerts": {"emails": ["ops@northwind-saas.com"]}})
    assert not any("reach nobody" in w for w in rec.warnings), rec.warnings


def test_tags_without_the_allocation_key_are_refused_even_without_a_cost_group() -> None:
    values = {"aws:region": "eu-west-1", "aws:defaultTags": json.dumps({"tags": {"Team": "a"}})}
    with pytest.raises(SettingsError, match=r"groundwork:cost\.allocationTagKey"):
        parse(values, project="groundwork", stack="x")
    # No tags and no cost group at all (a bare test config) still parses.
    assert parse({"aws:region": "eu-west-1"}, project="groundwork", stack="x").cost


def ordering_problems(rec: Recording) -> list[str]:
    """Notifications are created only after the topic and key let the services publish."""
    needed = {child(rec, ALERTS, n).urn for n in ("alerts-topic-policy", "alerts-key")}
    return [
        f"{r.urn}: created before {sorted(needed - set(r.dependencies))}"
        for r in (
            child(rec, SPEND, "spend-budget"),
            child(rec, SPEND, "spend-anomaly-subscription"),
        )
        if not needed <= set(r.dependencies)
    ]


@pytest.mark.parametrize("stack", ("dev", "prod"))
def test_notifications_wait_for_publish_permissions(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert ordering_problems(rec) == []
    budget = child(rec, SPEND, "spend-budget")
    early = replaced(rec, budget.urn, lambda r: dataclasses.replace(r, dependencies=()))
    assert ordering_problems(early), "a budget created before the topic policy went unnoticed"
