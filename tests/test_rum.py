"""Real user monitoring (phase pmf and later): app monitor, guest identity pool, guest role."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import pytest

from offline.model import Recording
from settings import SettingsError, parse
from tests import performance_checks as pc
from tests.checks import replace_inputs
from tests.conftest import GROWTH_ALTERED, stack_config

CUSTOM = {
    "groundwork:rum": {"sessionSampleRate": 0.05, "allowCookies": True, "logRetentionDays": 90}
}


@pytest.fixture(scope="module")
def pmf(phase_variant: Callable[..., Recording]) -> Recording:
    return phase_variant("prod", "pmf")


@pytest.fixture(scope="module")
def custom(phase_variant: Callable[..., Recording]) -> Recording:
    # RUM is the same from pmf on: CUSTOM at growth, with tests/test_scaling.py's scaling
    # switches too (GROWTH_ALTERED), is one recording for both files.
    assert GROWTH_ALTERED["groundwork:rum"] == CUSTOM["groundwork:rum"]
    return phase_variant("prod", "growth", GROWTH_ALTERED)


def test_guest_role_may_only_put_events_on_this_monitor(pmf: Recording) -> None:
    assert pc.guest_role_problems(pmf) == []
    policy = pc.named(pmf, pc.ROLE_POLICY, "rum-guest-put-events")
    monitor = pmf.one(pc.APP_MONITOR)
    stmts = pc.statements(policy.input("policy"))
    assert [(s["Action"], s["Resource"]) for s in stmts] == [
        (["rum:PutRumEvents"], [pc.out(monitor, "arn")])
    ], policy.urn
    # The ARN is built from known values, so the pack can judge it at preview.
    assert re.fullmatch(
        r"arn:aws:rum:eu-west-1:\d{12}:appmonitor/groundwork-prod", stmts[0]["Resource"][0]
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s.update(Resource="*"), "only the app monitor"),
        (
            lambda s: s.update(Action=["rum:PutRumEvents", "rum:GetAppMonitor"]),
            "only rum:PutRumEvents",
        ),
        (lambda s: s.update(Action="rum:*"), "only rum:PutRumEvents"),
    ],
)
def test_guest_role_check_catches_a_wider_policy(pmf: Recording, change, expected: str) -> None:
    policy = pc.named(pmf, pc.ROLE_POLICY, "rum-guest-put-events")

    def widen(inputs: dict) -> None:
        doc = json.loads(inputs["policy"])
        change(doc["Statement"][0])
        inputs["policy"] = json.dumps(doc)

    problems = pc.guest_role_problems(replace_inputs(pmf, policy.urn, widen))
    assert any(expected in p and policy.urn in p for p in problems), problems


def test_guest_role_check_catches_a_trust_without_pool_or_guest_condition(pmf: Recording) -> None:
    role = pc.named(pmf, pc.ROLE, "rum-guest-role")

    def loosen(inputs: dict) -> None:
        doc = json.loads(inputs["assumeRolePolicy"])
        doc["Statement"][0]["Condition"] = {}
        inputs["assumeRolePolicy"] = json.dumps(doc)

    problems = pc.guest_role_problems(replace_inputs(pmf, role.urn, loosen))
    assert any("not limited to pool" in p for p in problems), problems
    assert any("not limited to guest identities" in p for p in problems), problems


def test_identity_pool_allows_guests_through_the_enhanced_flow_only(pmf: Recording) -> None:
    pool = pmf.one(pc.IDENTITY_POOL)
    assert pool.input("allowUnauthenticatedIdentities") is True, pool.urn
    assert pool.input("allowClassicFlow") is False, pool.urn
    assert re.fullmatch(r"\w+", pool.input("identityPoolName")), pool.urn


def test_monitor_samples_and_sets_cookies_as_configured(pmf: Recording, custom: Recording) -> None:
    # prod: 10 % of sessions, no cookies (the default).
    assert pc.monitor_settings_problems(pmf, 0.1, False) == []
    assert pc.monitor_settings_problems(custom, 0.05, True) == []
    # The same check fails when the monitor does not follow the settings.
    assert pc.monitor_settings_problems(pmf, 0.05, True)
    assert pc.monitor_settings_problems(custom, 0.1, False)
    monitor = pmf.one(pc.APP_MONITOR)
    # prod sets no rum.domain: the monitor takes groundwork:hosting.domainName.
    domain = stack_config("prod")["groundwork:hosting"]["domainName"]
    assert (
        "groundwork:rum" not in stack_config("prod")
        or "domain" not in stack_config("prod")["groundwork:rum"]
    )
    assert monitor.input("domain") == domain, monitor.urn
    assert monitor.input("appMonitorConfiguration", "enableXray") is False, monitor.urn


def test_copy_of_events_in_logs_gets_retention_key_and_class(
    pmf: Recording, custom: Recording
) -> None:
    for rec, days in ((pmf, 30), (custom, 90)):
        monitor = rec.one(pc.APP_MONITOR)
        name = pc.out(monitor, "cwLogGroup")
        assert name.startswith("/aws/vendedlogs/RUMService_groundwork-prod"), monitor.urn
        assert pc.service_log_problems(rec, {name: days}) == []
        assert pc.service_log_problems(rec, {name: days + 1})  # a different retention is caught
        assert pc.service_log_problems(rec, {"/aws/vendedlogs/other": days})


def test_settings_function_logs_to_a_retained_encrypted_protected_group(pmf: Recording) -> None:
    group = pc.named(pmf, "aws:cloudwatch/logGroup:LogGroup", "rum-log-settings-logs")
    assert group.input("retentionInDays") == 30 and group.input("kmsKeyId"), group.urn
    assert group.input("tags", "groundwork:logClass") == "runtime", group.urn
    assert group.protect is True, group.urn
    function = pc.named(pmf, "aws:lambda/function:Function", "rum-log-settings-fn")
    assert group.urn in pc.deps(function, "loggingConfig"), function.urn


def test_stack_exports_what_the_web_client_needs(pmf: Recording) -> None:
    monitor, pool = pmf.one(pc.APP_MONITOR), pmf.one(pc.IDENTITY_POOL)
    role = pc.named(pmf, pc.ROLE, "rum-guest-role")
    assert {k: v for k, v in pmf.outputs.items() if k.startswith("rum")} == {
        "rumAppMonitorId": pc.out(monitor, "appMonitorId"),
        "rumIdentityPoolId": pc.out(pool, "id"),
        "rumGuestRoleArn": pc.out(role, "arn"),
        "rumRegion": "eu-west-1",
    }


def test_instances_get_the_rum_client_config(pmf: Recording, prod: Recording) -> None:
    def app_config(rec: Recording) -> dict:
        script = base64.b64decode(
            rec.one("aws:ec2/launchTemplate:LaunchTemplate").input("userData")
        )
        text = (
            script.decode()
            .split("<<'GROUNDWORK_APP_JSON'\n", 1)[1]
            .split("\nGROUNDWORK_APP_JSON")[0]
        )
        return json.loads(text)

    assert app_config(pmf)["rum"] == {
        "appMonitorId": pmf.outputs["rumAppMonitorId"],
        "identityPoolId": pmf.outputs["rumIdentityPoolId"],
        "guestRoleArn": pmf.outputs["rumGuestRoleArn"],
        "region": "eu-west-1",
        "sessionSampleRate": 0.1,
        "allowCookies": False,
    }
    assert "rum" not in app_config(prod)  # phase early: the app runs without RUM


def test_rum_log_retention_must_be_one_cloudwatch_accepts() -> None:
    base = {"aws:region": "eu-west-1", "groundwork:phase": "pmf"}
    good = {
        **base,
        "groundwork:rum": json.dumps({"domain": "a.example.com", "logRetentionDays": 90}),
    }
    assert parse(good, project="p", stack="s").rum.log_retention_days == 90
    bad = {
        **base,
        "groundwork:rum": json.dumps({"domain": "a.example.com", "logRetentionDays": 45}),
    }
    with pytest.raises(
        SettingsError, match=r"groundwork:rum\.logRetentionDays must be one .*got 45"
    ):
        parse(bad, project="p", stack="s")
