"""Invariants of the spend alerts, as check functions over a Recording.

budget_problems and anomaly_problems: a monthly cost budget and a custom anomaly monitor,
both scoped to the stack's cost allocation tag, notify the alerts topic at the configured
thresholds. publisher_problems: Budgets and Cost Anomaly Detection of this account may publish
to the topic and use its key. ordering_problems: the notifications are created only after
those permissions exist. `expected(stack)` reads the thresholds from the raw stack file.

Each returns problems naming the URN (empty = fine); tests/test_spend_alerts.py runs them on
the shipped stacks and on deliberately broken copies.
"""

from __future__ import annotations

import json
from typing import Any

from offline.model import Recording
from offline.recorder import MOCK_ACCOUNT_ID
from tests.conftest import stack_config
from tests.obs_helpers import child, value
from tests.recording_queries import statements

SPEND = "groundwork:cost:SpendAlerts"
ALERTS = "groundwork:observability:Alerts"


def expected(stack: str) -> dict[str, Any]:
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
