"""Pack-level behaviour through the protocol: config overrides, exemptions, stack config,
per-stack config files, config validation, what the engine analyzes, and the rendered verdict."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import policy_builders as b
import pytest
from conftest import DEV_CONFIG, PROD_CONFIG, ROOT, config_with, run, stack_config, violations
from policy_builders import STACK_URN, UNKNOWN

from offline import stackfile
from offline.analyzer import (
    PolicyConfigError,
    load_policy_config,
    reconcile,
)
from offline.verdicts import render_text, to_report
from policies.rules import sdk
from policies.rules.catalog import CATALOG

# Exemptions may run at most a year ahead; 90 days from now stays valid however slow the run.
PAST = "2001-01-01"
FUTURE = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=90)).isoformat()


# -- config overrides --------------------------------------------------------------------------
def test_threshold_override_changes_the_verdict(pack) -> None:
    db = b.rds(backupRetentionPeriod=7)
    assert violations(run(pack, [db]), "rds-backup-retention", db.urn), (
        "prod minimum 14 must flag 7 days"
    )
    relaxed = config_with(PROD_CONFIG, rds_backup_retention={"minRetentionDays": 7})
    assert not violations(run(pack, [db], relaxed), "rds-backup-retention", db.urn), (
        "minimum 7 accepts 7 days"
    )


def test_dev_config_relaxes_prod_only_requirements_and_is_advisory(pack) -> None:
    db = b.rds(
        multiAz=False, deletionProtection=False, backupRetentionPeriod=1, storageEncrypted=False
    )
    dev = run(pack, [db], DEV_CONFIG)
    assert not dev.of("rds-multi-az", db.urn), "dev does not require multi-AZ"
    assert not dev.of("rds-deletion-protection", db.urn), "dev does not require deletion protection"
    assert not dev.of("rds-backup-retention", db.urn), "dev accepts 1 day of backups"
    enc = dev.of("rds-storage-encrypted", db.urn)
    assert enc and all(v.level == "advisory" for v in enc), (
        "dev still reports encryption, as advisory"
    )
    # (The cheap-dev policies are mandatory in dev; this pack has no groundwork:cost budget.)
    blocking = [v.policy for v in dev.mandatory if not v.policy.startswith("dev-")]
    assert blocking == [], "advisory findings do not fail a dev preview"
    assert not run(pack, [db]).ok, "the same database fails prod"


def test_all_key_and_disabled_level(pack) -> None:
    db = b.rds(storageEncrypted=False)
    config = {
        "all": {"enforcementLevel": "advisory"},
        "rds-storage-encrypted": {"enforcementLevel": "disabled"},
    }
    result = run(pack, [db], config)
    assert not result.of("rds-storage-encrypted"), "a disabled policy does not run"
    assert "rds-storage-encrypted" not in result.policies, "disabled policies are not listed as run"
    assert all(v.level == "advisory" for v in result.violations), (
        "'all' sets every other policy's level"
    )


def test_lock_mode_override(pack) -> None:
    lock = b.lock_config(b.bucket(), rule={"defaultRetention": {"mode": "GOVERNANCE", "days": 5}})
    assert violations(run(pack, [lock]), "s3-object-lock-retention", lock.urn), (
        "prod: COMPLIANCE >= 30 days"
    )
    assert not violations(run(pack, [lock], DEV_CONFIG), "s3-object-lock-retention", lock.urn), (
        "dev accepts a short GOVERNANCE lock"
    )


# -- exemptions --------------------------------------------------------------------------------
def _exempt(policy: str, expires: str, **target: str) -> dict:
    entry = {
        **target,
        "reason": "accepted for the pilot and tracked in the risk register",
        "expires": expires,
    }
    return config_with(PROD_CONFIG, **{policy.replace("-", "_"): {"exemptions": [entry]}})


def test_exemption_suppresses_exactly_its_target(pack) -> None:
    guest, other = (
        b.identity_pool("rum-guests", allowUnauthenticatedIdentities=True),
        b.identity_pool("partners", allowUnauthenticatedIdentities=True),
    )
    config = _exempt("cognito-no-unauthenticated-identities", FUTURE, urn=guest.urn)
    result = run(pack, [guest, other], config)
    assert not result.of("cognito-no-unauthenticated-identities", guest.urn), (
        f"{guest.urn} is exempt"
    )
    assert violations(result, "cognito-no-unauthenticated-identities", other.urn), (
        f"{other.urn} is not exempt"
    )
    assert not run(pack, [guest], config).of("required-tags", guest.urn), (
        "other policies are unaffected"
    )
    [report] = result.exemptions
    assert (report.status, report.resources) == ("applied", (guest.urn,)), report


def test_urn_pattern_exemption_binds_type_and_name_and_unused_listing(pack) -> None:
    rum = "groundwork:observability:RealUserMonitoring"
    pool = b.identity_pool("web-rum-pool", allowUnauthenticatedIdentities=True)
    pool = dataclasses.replace(pool, urn=pool.urn.replace("::aws:cognito", f"::{rum}$aws:cognito"))
    other = b.identity_pool("partners", allowUnauthenticatedIdentities=True)
    pattern = "urn:pulumi:*::groundwork::*$aws:cognito/identityPool:IdentityPool::web-rum-pool"
    config = _exempt("cognito-no-unauthenticated-identities", FUTURE, urn=pattern)
    result = run(pack, [pool, other], config)
    assert not result.of("cognito-no-unauthenticated-identities", pool.urn), (
        f"stack and parent globs match {pool.urn}"
    )
    assert violations(result, "cognito-no-unauthenticated-identities", other.urn), (
        f"{other.urn} has another name and stays flagged"
    )
    assert [e.status for e in result.exemptions] == ["applied"]
    clean = run(pack, [dataclasses.replace(pool, inputs={})], config)
    assert [e.status for e in clean.exemptions] == ["unused"], (
        "an exemption with nothing to suppress is unused"
    )


def test_expired_exemption_is_a_violation(pack) -> None:
    pool = b.identity_pool("rum-guests", allowUnauthenticatedIdentities=True)
    result = run(pack, [pool], _exempt("cognito-no-unauthenticated-identities", PAST, urn=pool.urn))
    messages = [
        v.message for v in violations(result, "cognito-no-unauthenticated-identities", pool.urn)
    ]
    assert any("expired on 2001-01-01" in m for m in messages), messages
    assert any("allowUnauthenticatedIdentities is true" in m for m in messages), (
        "the original finding is back"
    )
    assert [(e.status, e.resources) for e in result.exemptions] == [("expired", (pool.urn,))]


def test_expired_exemption_on_compliant_resource_still_reported(pack) -> None:
    pool = b.identity_pool("rum-guests")
    result = run(pack, [pool], _exempt("cognito-no-unauthenticated-identities", PAST, urn=pool.urn))
    assert any(
        "expired" in v.message
        for v in violations(result, "cognito-no-unauthenticated-identities", pool.urn)
    )


def test_stack_policy_exemption(pack) -> None:
    group = b.asg()
    config = _exempt("asg-scaling-policy", FUTURE, urn=group.urn)
    assert not run(pack, [group], config).of("asg-scaling-policy", group.urn), (
        "stack findings honour exemptions"
    )
    expired = run(pack, [group], _exempt("asg-scaling-policy", PAST, urn=group.urn))
    assert len(violations(expired, "asg-scaling-policy", group.urn)) == 2, (
        "expired note plus the finding"
    )


@pytest.mark.parametrize(
    "entry,needle",
    [
        (
            {
                "urn": b.urn("aws:kms/key:Key", "k"),
                "reason": "long enough reason",
                "expires": "next year",
            },
            "expires",
        ),
        ({"reason": "the pilot needs this for now", "expires": FUTURE}, "urn"),
        (
            {"name": "k", "reason": "the pilot needs this for now", "expires": FUTURE},
            "name",
        ),
        ({"urn": b.urn("aws:kms/key:Key", "k"), "reason": "short", "expires": FUTURE}, "reason"),
    ],
)
def test_bad_exemption_is_rejected_with_the_key(pack, entry: dict, needle: str) -> None:
    config = config_with(PROD_CONFIG, kms_key_rotation={"exemptions": [entry]})
    # The CLI schema check (mirrored by reconcile) or the pack's Configure names the entry.
    with pytest.raises(PolicyConfigError, match=r"kms-key-rotation\.exemptions(\[0\]|\.0)") as err:
        pack.configure(config)
    assert needle in str(err.value), str(err.value)


# -- stack config ------------------------------------------------------------------------------
def test_default_tags_from_stack_config(packs) -> None:
    key = b.kms_key()
    assert not packs().run(b.recording(key), PROD_CONFIG).of("required-tags", key.urn), (
        "aws:defaultTags has them"
    )
    bare = packs(**{"aws:defaultTags": None}).run(b.recording(key), PROD_CONFIG)
    [v] = violations(bare, "required-tags", key.urn)
    assert "Project, Environment, Owner" in v.message, v.message
    tagged = b.kms_key(tags={"Project": "g", "Environment": "prod", "Owner": "me"})
    assert (
        not packs(**{"aws:defaultTags": None})
        .run(b.recording(tagged), PROD_CONFIG)
        .of("required-tags")
    )


def test_rum_cookies_need_both_stack_and_pack_config(packs) -> None:
    monitor = b.rum(appMonitorConfiguration={"allowCookies": True, "sessionSampleRate": 0.1})
    allowed_pack = config_with(PROD_CONFIG, rum_cookies_consented={"allowCookies": True})
    consenting = packs(**{"groundwork:rum": json.dumps({"allowCookies": True})})
    assert not consenting.run(b.recording(monitor), allowed_pack).of("rum-cookies-consented"), (
        "both allow"
    )
    assert violations(
        consenting.run(b.recording(monitor), PROD_CONFIG), "rum-cookies-consented", monitor.urn
    ), "pack config forbids"
    assert violations(
        packs().run(b.recording(monitor), allowed_pack), "rum-cookies-consented", monitor.urn
    ), "stack config does not allow"


def test_analytics_retention_follows_stack_config(packs) -> None:
    events = b.bucket("events", "analytics", lock=False)
    parts = [events, b.lifecycle(events, days=120, noncurrent=None)]
    assert violations(
        packs().run(b.recording(*parts), PROD_CONFIG), "s3-analytics-retention", events.urn
    ), "stack retention 90 < 120"
    longer = packs(**{"groundwork:analytics": json.dumps({"retentionDays": 180})})
    assert not longer.run(b.recording(*parts), PROD_CONFIG).of(
        "s3-analytics-retention", events.urn
    ), "stack retention 180 >= 120"


@pytest.mark.parametrize(
    "phase,missing",
    [
        ("early", set()),
        ("pmf", {"aws:rum/appMonitor:AppMonitor"}),
        (
            "growth",
            {
                "aws:rum/appMonitor:AppMonitor",
                "aws:cloudwatch/dashboard:Dashboard",
                "ALBRequestCountPerTarget",
            },
        ),
    ],
)
def test_phase_capabilities(packs, phase: str, missing: set[str]) -> None:
    result = packs(**{"groundwork:phase": phase}).run(b.recording(b.asg()), PROD_CONFIG)
    messages = " ".join(v.message for v in result.of("phase-capabilities", STACK_URN))
    for need in missing:
        assert need in messages, f"phase {phase}: expected a finding about {need}: {messages}"
    if not missing:
        assert not messages, f"phase early needs nothing more: {messages}"


def test_unknown_phase_is_a_violation(packs) -> None:
    result = packs(**{"groundwork:phase": "scale"}).run(b.recording(b.asg()), PROD_CONFIG)
    assert any("'scale'" in v.message for v in result.of("phase-capabilities", STACK_URN))


# -- config files and validation ---------------------------------------------------------------
@pytest.mark.parametrize("stack,level", [("dev", "advisory"), ("prod", "mandatory")])
def test_stack_config_files_name_every_policy_with_an_explicit_level(
    stack: str, level: str
) -> None:
    config = load_policy_config(ROOT / "policies" / "config" / f"{stack}.json")
    assert sorted(config) == sorted(s.name for s in CATALOG), (
        f"policies/config/{stack}.json policy names"
    )
    # Cheap-dev policies are the exception: mandatory in dev, disabled (never run) in prod.
    dev_only = {"dev": "mandatory", "prod": "disabled"}[stack]
    wrong = {
        n: c.get("enforcementLevel")
        for n, c in config.items()
        if c.get("enforcementLevel") != (dev_only if n.startswith("dev-") else level)
    }
    assert not wrong, f"policies/config/{stack}.json: expected {level}: {wrong}"


def test_config_files_validate_against_the_schemas(pack) -> None:
    for config in (DEV_CONFIG, PROD_CONFIG):
        effective = reconcile(pack.policies, config)
        assert effective["asg-multi-az"]["minAvailabilityZones"] in (2, 3)


def test_unknown_policy_and_bad_values_are_rejected(pack) -> None:
    with pytest.raises(PolicyConfigError, match="rds-backup-retenton"):
        reconcile(pack.policies, {"rds-backup-retenton": {"minRetentionDays": 3}})
    with pytest.raises(PolicyConfigError, match=r"rds-backup-retention\.minRetentionDays"):
        reconcile(pack.policies, {"rds-backup-retention": {"minRetentionDays": "two weeks"}})


def test_config_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "prod.json"
    bad.write_text(json.dumps({"rds-multi-az": {"enforcementLevel": "strict"}}))
    with pytest.raises(PolicyConfigError, match=r"rds-multi-az\.enforcementLevel is 'strict'"):
        load_policy_config(bad)


def test_typo_in_a_policy_key_fails_inside_the_pack_too(pack) -> None:
    # The CLI's schema check allows extra keys; the pack itself refuses them at Configure.
    config = config_with(PROD_CONFIG, asg_multi_az={"minAvailabiltyZones": 3})
    with pytest.raises(PolicyConfigError, match=r"asg-multi-az\.minAvailabiltyZones"):
        run(pack, [b.asg()], config)
    pack.configure(PROD_CONFIG)


# -- what the engine sends ---------------------------------------------------------------------
def test_components_and_stack_are_analyzed_but_not_judged(pack) -> None:
    comp = b.component()
    result = run(pack, [comp, b.rds()])
    assert not [
        v for v in result.violations if v.urn in (comp.urn, STACK_URN) and v.phase == "analyze"
    ], "component and root stack registrations reach Analyze and no rule applies to them"


def test_provider_default_tags_win_over_stack_config(pack) -> None:
    provider = b.res(
        "pulumi:providers:aws",
        "eu",
        {"region": "eu-west-1", "defaultTags": {"tags": {"Project": "x"}}},
    )
    key = b.res(
        "aws:kms/key:Key",
        "k",
        {"enableKeyRotation": True},
        provider=f"{provider.urn}::id-1",
        protect=True,
    )
    [v] = violations(run(pack, [provider, key]), "required-tags", key.urn)
    assert "Environment, Owner" in v.message and "Project" not in v.message, v.message


def test_unknown_values_never_crash_the_pack(pack) -> None:
    everything_unknown = [
        b.res(
            t,
            f"u{i}",
            {
                k: UNKNOWN
                for k in (
                    "tags",
                    "policy",
                    "rules",
                    "bucket",
                    "stages",
                    "configuration",
                    "metadataOptions",
                    "dimensions",
                    "environment",
                    "logsConfig",
                )
            },
        )
        for i, t in enumerate(
            sorted({t for s in CATALOG for t in s.types if not t.startswith("aws:iam/s")})[:120]
        )
    ]
    result = run(pack, everything_unknown)
    assert result.violations, "unknown inputs produce findings or preview diagnostics, not errors"


MEMO_OFF = {"GROUNDWORK_POLICY_MEMO": "0"}


def test_memo_does_not_change_verdicts(pack, stack_packs) -> None:
    resources = [
        b.rds(multiAz=False),
        b.alb(dropInvalidHeaderFields=False),
        *b.backup_set(pab=True),
        b.lt(),
    ]
    plain = stack_packs(stack_config(pack.stack_config.values), extra_env=MEMO_OFF)
    expected = plain.run(b.recording(*resources), PROD_CONFIG)
    assert run(pack, resources).violations == expected.violations


def test_request_scope_converts_each_object_once_per_stack_call() -> None:
    calls: list[object] = []
    memo = sdk._identity_memo(lambda x: calls.append(x) or [x], "test-scope", size=1)
    objects = [object() for _ in range(10)]

    class Base:
        def AnalyzeStack(self, request: object, context: object) -> list[list[object]]:
            return [memo(o) for _policy in range(3) for o in objects]

    out = sdk._request_scope(Base)().AnalyzeStack(None, None)
    assert len(calls) == 10, f"3 policies x 10 resources converted {len(calls)} times, not 10"
    assert out[0] is out[10], "every policy sees the same converted object"
    assert getattr(sdk._local, "scope", None) is None, "the scope ends with the call"
    for o in objects:  # outside AnalyzeStack only the short per-request memo applies
        memo(o)
    assert len(calls) == 20


class _Policy:
    def __init__(self, name: str) -> None:
        self.name = name


class _SdkServicer:
    """The parts of pulumi_policy's servicer the fast path overrides, recording their calls."""

    policies = [_Policy("bucket-rule"), _Policy("stack-rule")]

    def __init__(self) -> None:
        self.runtime_configured = 0
        self.options_built = 0

    def Analyze(self, request: object, context: object) -> list[object]:
        self._configure_runtime_settings()
        return [self._get_enforcement_level(p) for p in self.policies]

    def AnalyzeStack(self, request: list[object], context: object) -> list[object]:
        levels = [self._get_enforcement_level(p) for p in self.policies]
        return levels + [self._get_resource_options(r) for _p in range(3) for r in request]

    def _get_enforcement_level(self, policy: _Policy) -> str:
        return "configured"

    def _configure_runtime_settings(self) -> None:
        self.runtime_configured += 1

    def _get_resource_options(self, request: object) -> object:
        self.options_built += 1
        return object()

    def _get_provider_resource(self, request: object) -> None:
        return None


def _fast_servicer() -> _SdkServicer:
    covers = {"bucket-rule": frozenset({"aws:s3/bucket:Bucket"})}  # stack-rule: not a resource one
    return sdk._fast_path(sdk._request_scope(_SdkServicer), covers)()


def test_fast_path_skips_exactly_the_policies_that_do_not_cover_the_type() -> None:
    from types import SimpleNamespace

    from pulumi_policy import EnforcementLevel

    servicer = _fast_servicer()
    vpc = servicer.Analyze(SimpleNamespace(type="aws:ec2/vpc:Vpc"), None)
    assert vpc == [EnforcementLevel.DISABLED, "configured"], f"a VPC request saw {vpc}"
    bucket = servicer.Analyze(SimpleNamespace(type="aws:s3/bucket:Bucket"), None)
    assert bucket == ["configured", "configured"], f"a bucket request saw {bucket}"
    stack = servicer.AnalyzeStack([], None)
    assert stack == ["configured", "configured"], f"AnalyzeStack saw {stack}"
    assert servicer._get_enforcement_level(_Policy("bucket-rule")) == "configured"


def test_fast_path_configures_the_runtime_once_per_environment(monkeypatch) -> None:
    servicer = _fast_servicer()
    request = type("Request", (), {"type": "aws:ec2/vpc:Vpc"})()
    for _ in range(3):
        servicer.Analyze(request, None)
    assert servicer.runtime_configured == 1, "requests in one environment configured it again"
    monkeypatch.setenv("PULUMI_STACK", "another-stack")
    servicer.Analyze(request, None)
    servicer.Analyze(request, None)
    assert servicer.runtime_configured == 2, "a changed PULUMI_STACK was not applied exactly once"


def test_fast_path_builds_resource_options_once_per_stack_call() -> None:
    servicer = _fast_servicer()
    resources = [object() for _ in range(5)]
    out = servicer.AnalyzeStack(resources, None)
    assert servicer.options_built == 5, f"3 policies x 5 resources built {servicer.options_built}"
    assert out[2] is out[2 + 5], "every stack policy sees the same options object"
    servicer._get_resource_options(resources[0])  # outside AnalyzeStack: built afresh
    assert servicer.options_built == 6


def test_stack_memo_keeps_every_stack_verdict(dev, stack_packs) -> None:
    # The dev stack judged by the prod config: many stack-policy findings to compare.
    config = stackfile.load("dev", ROOT)
    policy = load_policy_config(ROOT / "policies" / "config" / "prod.json")
    # The memo is on unless switched off: the session's plain reconfigurable pack has it.
    results = [stack_packs(config, extra_env=env).run(dev, policy) for env in ({}, MEMO_OFF)]
    stack_level = [v for v in results[1].violations if v.phase == "analyze-stack"]
    assert stack_level, "the comparison needs stack-policy findings"
    assert results[0].violations == results[1].violations


# -- verdicts ----------------------------------------------------------------------------------
def test_text_and_json_verdicts(pack) -> None:
    pool = b.identity_pool("rum-guests", allowUnauthenticatedIdentities=True)
    db = b.rds(multiAz=False, copyTagsToSnapshot=False)
    config = config_with(
        _exempt("cognito-no-unauthenticated-identities", FUTURE, urn=pool.urn),
        rds_copy_tags_to_snapshot={"enforcementLevel": "advisory"},
    )
    result = run(pack, [pool, db], config)
    text = render_text(result)
    assert text.index("MANDATORY") < text.index("ADVISORY") < text.index("EXEMPTIONS"), text
    assert f"[rds-multi-az] {db.urn}" in text and "multiAz is False" in text, text
    assert text.rstrip().splitlines()[-1].startswith("FAIL: "), text
    report = to_report(result)
    assert report["ok"] is False and report["summary"]["mandatory"] >= 1
    assert report["exemptions"][0]["status"] == "applied"
    assert json.loads(json.dumps(report)) == report, "the report is plain JSON"
    assert [v["policy"] for v in report["violations"]] == [v.policy for v in result.violations]
    assert run(pack, [pool, db], config).violations == result.violations, "stable order across runs"
