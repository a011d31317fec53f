"""The edge: the web application firewall on the ALB and the ALB's access-log bucket."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from components import edge
from offline.model import Recording
from settings import SettingsError, parse
from tests.checks import ALB, replace_inputs
from tests.conftest import DEV_ALTERED, DEV_NEWER_REGION
from tests.edge_checks import (
    ACL,
    ASSOCIATION,
    FIREWALL,
    LOG_GROUP,
    RESOURCE_POLICY,
    access_log_problems,
    elb_writer,
    elb_writer_for,
    firewall_problems,
    waf_log_problems,
)


@pytest.mark.parametrize(("stack", "mode", "days"), [("prod", "block", 365), ("dev", "count", 30)])
def test_firewall_protects_the_alb(
    request: pytest.FixtureRequest, stack: str, mode: str, days: int
) -> None:
    rec: Recording = request.getfixturevalue(stack)
    assert firewall_problems(rec, mode, 2000) == []
    assert waf_log_problems(rec, days) == []
    other = "count" if mode == "block" else "block"
    assert firewall_problems(rec, other, 2000), "the other mode must be told apart"
    assert firewall_problems(rec, mode, 1000), "another limit must be told apart"


def test_broken_firewalls_are_caught(prod: Recording) -> None:
    acl = prod.one(ACL)
    dropped = replace_inputs(prod, acl.urn, lambda i: i.update(rules=i["rules"][1:]))
    assert firewall_problems(dropped, "block", 2000)
    assoc = prod.one(ASSOCIATION)
    import dataclasses

    moved = [
        dataclasses.replace(r, property_dependencies={}) if r.urn == assoc.urn else r for r in prod
    ]
    assert firewall_problems(dataclasses.replace(prod, resources=moved), "block", 2000)
    group = next(g for g in prod.children_of(FIREWALL, LOG_GROUP))
    renamed = replace_inputs(prod, group.urn, lambda i: i.update(name="/groundwork/prod/waf"))
    assert waf_log_problems(renamed, 365)
    policy = prod.one(RESOURCE_POLICY)

    def unscope(i: dict) -> None:
        doc = json.loads(i["policyDocument"])
        doc["Statement"][0]["Condition"] = {}
        i["policyDocument"] = json.dumps(doc)

    assert waf_log_problems(replace_inputs(prod, policy.urn, unscope), 365)
    # A logs key limited to the stack's /<project>/<stack> groups would refuse the WAF's group.
    (key_urn,) = group.property_dependencies["kmsKeyId"]

    def narrow(i: dict) -> None:
        i["policy"] = i["policy"].replace(":log-group:*", ":log-group:/groundwork/*")

    assert waf_log_problems(replace_inputs(prod, key_urn, narrow), 365)


def test_rate_limit_and_mode_come_from_settings(record_variant: Callable[..., Recording]) -> None:
    # dev with other groups changed too (DEV_ALTERED): one recording for several files.
    assert DEV_ALTERED["groundwork:edge"] == {"wafMode": "block", "rateLimitPer5Min": 500}
    rec = record_variant("dev", DEV_ALTERED)
    assert firewall_problems(rec, "block", 500) == []


@pytest.mark.parametrize(("stack", "days"), [("prod", 90), ("dev", 14)])
def test_alb_writes_access_logs_to_its_bucket(
    request: pytest.FixtureRequest, stack: str, days: int
) -> None:
    rec: Recording = request.getfixturevalue(stack)
    writer = elb_writer(rec)
    assert access_log_problems(rec, days, writer) == []
    assert access_log_problems(rec, days + 1, writer), "another expiry must be told apart"
    alb = rec.one(ALB)
    off = replace_inputs(rec, alb.urn, lambda i: i["accessLogs"].update(enabled=False))
    assert access_log_problems(off, days, writer)


def test_elb_account_is_looked_up_not_written_down(prod_elsewhere: Recording) -> None:
    # prod moved to ap-southeast-2 (and another account), shared with tests/test_hosting.py.
    rec = prod_elsewhere
    assert rec.outputs["region"] == "ap-southeast-2", rec.stack_urn
    writer = elb_writer(rec)
    assert writer != elb_writer_for("eu-west-1")
    assert access_log_problems(rec, 90, writer) == []
    assert access_log_problems(rec, 90, elb_writer_for("eu-west-1")), "the shipped region's"


def test_newer_regions_grant_the_log_delivery_principal(
    record_variant: Callable[..., Recording],
) -> None:
    # dev alerting reserved addresses too (DEV_NEWER_REGION, which tests/test_alerts.py and
    # tests/test_spend_alerts.py record): one recording for several files.
    assert DEV_NEWER_REGION["aws:region"] in edge.SERVICE_PRINCIPAL_REGIONS
    rec = record_variant("dev", DEV_NEWER_REGION)
    assert access_log_problems(rec, 14, {"Service": edge.ELB_LOG_DELIVERY}) == []
    assert access_log_problems(rec, 14, elb_writer(rec))


@pytest.mark.parametrize(
    ("edge_config", "message"),
    [
        ({"wafMode": "off"}, r"groundwork:edge\.wafMode must be one of"),
        ({"rateLimitPer5Min": 5}, r"groundwork:edge\.rateLimitPer5Min must be >= 10 \(got 5\)"),
        ({"accessLogExpireDays": 0}, r"groundwork:edge\.accessLogExpireDays must be >= 1"),
        ({"rateLimit": 100}, r"groundwork:edge\.rateLimit is not a known key"),
    ],
)
def test_bad_edge_settings_are_refused(edge_config: dict, message: str) -> None:
    values = {"aws:region": "eu-west-1", "groundwork:edge": json.dumps(edge_config)}
    with pytest.raises(SettingsError, match=message):
        parse(values, project="p", stack="s")
