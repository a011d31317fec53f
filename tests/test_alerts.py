"""Alerts: the topic is KMS-encrypted with its own key, has one e-mail subscription per
configured address, and lets exactly CloudWatch alarms and EventBridge of this account publish.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import alerts as alerts_component
from offline.model import Recording
from offline.recorder import MOCK_ACCOUNT_ID
from tests.conftest import DEV_NEWER_REGION, RESERVED_RECIPIENTS, stack_config
from tests.obs_helpers import child, children, replaced, value, with_props
from tests.recording_queries import statements

ALERTS = "groundwork:observability:Alerts"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
# Every publisher the component declares (tests/test_day_one.py checks the required ones are
# among them and that the key policy lets each one in too).
PUBLISHERS = {p.service for p in alerts_component.PUBLISHERS}


def alerts_problems(rec: Recording, emails: list[str]) -> list[str]:
    topic = child(rec, ALERTS, "alerts-topic")
    key = child(rec, ALERTS, "alerts-key")
    problems = []
    if not value(topic, "kmsMasterKeyId") or key.urn not in topic.property_dependencies.get(
        "kmsMasterKeyId", ()
    ):
        problems.append(f"{topic.urn}: not encrypted with the alerts key")
    subs = children(rec, ALERTS, SUBSCRIPTION)
    got = sorted((value(s, "protocol"), value(s, "endpoint")) for s in subs)
    if got != sorted(("email", e) for e in emails):
        problems.append(f"{topic.urn}: subscriptions {got} != one e-mail each for {emails}")
    for s in subs:
        if topic.urn not in s.property_dependencies.get("topic", ()):
            problems.append(f"{s.urn}: subscribes to another topic")
    policy = child(rec, ALERTS, "alerts-topic-policy")
    if topic.urn not in policy.property_dependencies.get("arn", ()):
        problems.append(f"{policy.urn}: is not the topic's policy")
    principals: set[str] = set()
    for stmt in statements(value(policy, "policy")):
        principal = stmt.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else None
        if stmt.get("Effect") != "Allow":
            continue
        if not isinstance(services, str) or set(principal) != {"Service"}:
            problems.append(f"{policy.urn}: principal {principal!r} is not one service")
            continue
        principals.add(services)
        account = stmt.get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount")
        if account != MOCK_ACCOUNT_ID:
            problems.append(f"{policy.urn}: {services} may publish from any account")
        if stmt.get("Action") != "sns:Publish" or stmt.get("Resource") != value(topic, "arn"):
            problems.append(
                f"{policy.urn}: {services} gets {stmt.get('Action')} on {stmt.get('Resource')}"
            )
    if principals != PUBLISHERS:
        problems.append(f"{policy.urn}: publishers {sorted(principals)} != {sorted(PUBLISHERS)}")
    return problems


@pytest.mark.parametrize("stack", ("dev", "prod"))
def test_alerts_topic_is_encrypted_subscribed_and_closed(stack: str, request: Any) -> None:
    emails = stack_config(stack)["groundwork:alerts"]["emails"]
    assert alerts_problems(request.getfixturevalue(stack), emails) == []


def test_each_configured_address_gets_a_subscription(record_variant: Any) -> None:
    # dev in a newer region too (DEV_NEWER_REGION, which tests/test_spend_alerts.py and
    # tests/test_edge.py record): one recording for several files.
    emails = RESERVED_RECIPIENTS["groundwork:alerts"]["emails"]
    assert len(emails) == 2
    assert DEV_NEWER_REGION["groundwork:alerts"] == RESERVED_RECIPIENTS["groundwork:alerts"]
    rec = record_variant("dev", DEV_NEWER_REGION)
    assert alerts_problems(rec, emails) == []
    assert alerts_problems(rec, emails[:1]), "an extra subscription went unnoticed"


def test_a_missing_subscription_is_reported(prod: Recording) -> None:
    sub = child(prod, ALERTS, "alerts-email-0")
    dropped = replaced(prod, sub.urn, lambda r: None)
    assert any("subscriptions" in p for p in alerts_problems(dropped, ["oncall@example.com"]))


def test_an_unencrypted_topic_is_reported(prod: Recording) -> None:
    topic = child(prod, ALERTS, "alerts-topic")
    plain = replaced(prod, topic.urn, lambda r: with_props(r, kmsMasterKeyId=None))
    assert any("not encrypted" in p for p in alerts_problems(plain, ["oncall@example.com"]))


def test_an_open_or_unconditioned_topic_policy_is_reported(prod: Recording) -> None:
    policy = child(prod, ALERTS, "alerts-topic-policy")
    doc = json.loads(value(policy, "policy"))
    doc["Statement"][1].pop("Condition")
    doc["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish", "Resource": "*"}
    )
    opened = replaced(prod, policy.urn, lambda r: with_props(r, policy=json.dumps(doc)))
    found = alerts_problems(opened, ["oncall@example.com"])
    assert any("any account" in p for p in found), found
    assert any("is not one service" in p for p in found), found
    doc = json.loads(value(policy, "policy"))
    doc["Statement"] = doc["Statement"][:1]
    narrowed = replaced(prod, policy.urn, lambda r: with_props(r, policy=json.dumps(doc)))
    assert any("publishers" in p for p in alerts_problems(narrowed, ["oncall@example.com"]))
