"""Audit trail: a multi-region, validated, encrypted trail into a locked bucket and an audit log
group, and the alarms on the events that must never pass unnoticed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from offline.model import Recording
from offline.recorder import record
from settings import SettingsError, parse
from tests.audit_checks import (
    ALARM,
    AUDIT,
    BUCKET,
    FILTER,
    KEY,
    LOCK,
    POLICY,
    TRAIL,
    alarm_problems,
    bucket_grants_only_this_trail,
    key_lets_only_this_trail_encrypt,
    trail_problems,
)
from tests.checks import replace_inputs
from tests.conftest import DEV_ALTERED, PROD_ALTERED, ROOT, write_stack_file

AUDIT_ALONE = ROOT / "tests" / "programs" / "audit_alone"

VAULT_BUCKET = "vault-bucket"
ORG_TRAIL = "arn:aws:cloudtrail:eu-west-1:999988887777:trail/org-trail"


@pytest.mark.parametrize(("stack", "days"), [("prod", 365), ("dev", 30)])
def test_trail_is_multi_region_validated_encrypted_locked(
    request: pytest.FixtureRequest, stack: str, days: int
) -> None:
    rec: Recording = request.getfixturevalue(stack)
    assert len(rec.of_type(TRAIL)) == 1
    assert trail_problems(rec, days) == []
    t = rec.one(TRAIL)
    for key in ("isMultiRegionTrail", "enableLogFileValidation"):
        broken = replace_inputs(rec, t.urn, lambda i, key=key: i.update({key: False}))
        assert trail_problems(broken, days), f"{t.urn}: {key} off must be caught"
    broken = replace_inputs(rec, t.urn, lambda i: i.pop("kmsKeyId"))
    broken = _drop_dependency(broken, t.urn, "kmsKeyId")
    assert trail_problems(broken, days)
    assert trail_problems(rec, days + 1), "a wrong retention must be caught"


def _drop_dependency(rec: Recording, urn: str, key: str) -> Recording:
    import dataclasses

    resources = [
        dataclasses.replace(
            r, property_dependencies={k: v for k, v in r.property_dependencies.items() if k != key}
        )
        if r.urn == urn
        else r
        for r in rec
    ]
    return dataclasses.replace(rec, resources=resources)


def test_trail_bucket_lock_follows_settings(prod: Recording, dev: Recording) -> None:
    for rec, mode, days in ((prod, "COMPLIANCE", 365), (dev, "GOVERNANCE", 1)):
        lock = next(x for x in rec.children_of(AUDIT, LOCK))
        assert lock.input("rule", "defaultRetention") == {"mode": mode, "days": days}, lock.urn
        bucket = next(b for b in rec.children_of(AUDIT, BUCKET))
        assert bucket.input("tags", "groundwork:purpose") == "audit-trail", bucket.urn
    assert next(b for b in prod.children_of(AUDIT, BUCKET)).protect is True


def test_key_and_bucket_grant_cloudtrail_for_this_trail_only(prod: Recording) -> None:
    assert key_lets_only_this_trail_encrypt(prod) == []
    assert bucket_grants_only_this_trail(prod) == []
    (key_urn,) = prod.one(TRAIL).property_dependencies["kmsKeyId"]

    def unscope(inputs: dict[str, Any]) -> None:
        doc = json.loads(inputs["policy"])
        for s in doc["Statement"]:
            s.get("Condition", {}).get("StringEquals", {}).pop("aws:SourceArn", None)
        inputs["policy"] = json.dumps(doc)

    assert key_lets_only_this_trail_encrypt(replace_inputs(prod, key_urn, unscope))
    (bucket_urn,) = prod.one(TRAIL).property_dependencies["s3BucketName"]
    policy = next(
        p for p in prod.of_type(POLICY) if bucket_urn in p.property_dependencies["bucket"]
    )
    assert bucket_grants_only_this_trail(replace_inputs(prod, policy.urn, unscope))


def test_trail_waits_for_its_bucket_policy_and_role(prod: Recording) -> None:
    t = prod.one(TRAIL)
    deps = {prod.by_urn(u).type for u in t.dependencies}
    assert {POLICY, LOCK, "aws:iam/rolePolicy:RolePolicy"} <= deps, t.urn


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_audit_alarms_notify_the_alerts_topic(request: pytest.FixtureRequest, stack: str) -> None:
    rec: Recording = request.getfixturevalue(stack)
    assert alarm_problems(rec) == []
    alarm = next(a for a in rec.children_of(AUDIT, ALARM) if "root-use" in a.name)
    broken = replace_inputs(rec, alarm.urn, lambda i: i.update(treatMissingData="breaching"))
    assert alarm_problems(broken)


def test_vault_filter_names_the_backup_vault(prod: Recording) -> None:
    f = next(x for x in prod.children_of(AUDIT, FILTER) if x.name == "audit-vault-guard-changes")
    vault = next(b for b in prod.of_type(BUCKET) if b.name == VAULT_BUCKET)
    pattern = f.input("pattern")
    assert f'$.requestParameters.bucketName = "{vault.outputs["bucket"]}"' in pattern, f.urn
    for event in ("PutObjectLockConfiguration", "PutBucketPolicy", "DeleteBucketPolicy"):
        assert f"$.eventName = {event}" in pattern, f.urn


def test_kms_filter_covers_deletion_disabling_and_policy_changes(prod: Recording) -> None:
    f = next(x for x in prod.children_of(AUDIT, FILTER) if x.name == "audit-kms-key-changes")
    events = set(re.findall(r"\$\.eventName = (\w+)", f.input("pattern")))
    assert events == {"ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"}, f.urn
    assert "$.eventSource = kms.amazonaws.com" in f.input("pattern")


def test_org_trail_with_log_group_gets_alarms_and_no_second_trail(
    record_variant: Callable[..., Recording],
) -> None:
    # prod with other groups changed too (PROD_ALTERED): one recording for several files.
    assert PROD_ALTERED["groundwork:audit"] == {
        "existingTrailArn": ORG_TRAIL,
        "existingTrailLogGroupName": "org/cloudtrail",
    }
    rec = record_variant("prod", PROD_ALTERED)
    assert rec.of_type(TRAIL) == []
    assert rec.children_of(AUDIT, BUCKET) == [] and rec.children_of(AUDIT, KEY) == []
    assert alarm_problems(rec, "org/cloudtrail") == []
    assert alarm_problems(rec, "other/group"), "filters on another group must be caught"


def test_org_trail_without_log_group_skips_alarms_and_warns(tmp_path: Path) -> None:
    # Settings and blueprint's audit wiring alone (tests/programs/audit_alone); the case with
    # a log group above runs the whole program.
    path = write_stack_file(tmp_path, "prod", {"groundwork:audit": {"existingTrailArn": ORG_TRAIL}})
    rec = record("prod", project_dir=AUDIT_ALONE, stack_file=path)
    assert rec.of_type(TRAIL) == [] and rec.children_of(AUDIT, ALARM) == []
    # The same harness on the stack's own settings builds the trail and its alarms.
    (tmp_path / "own").mkdir()
    own = write_stack_file(tmp_path / "own", "prod", {})
    shipped = record("prod", project_dir=AUDIT_ALONE, stack_file=own)
    assert shipped.of_type(TRAIL) and shipped.children_of(AUDIT, ALARM), shipped.stack_urn
    assert any("audit alarms skipped" in w and "organisation owns" in w for w in rec.warnings), (
        rec.warnings
    )


def test_disabled_audit_builds_nothing(record_variant: Callable[..., Recording]) -> None:
    # dev with other groups changed too (DEV_ALTERED): one recording for several files.
    assert DEV_ALTERED["groundwork:audit"] == {"enabled": False}
    rec = record_variant("dev", DEV_ALTERED)
    assert rec.of_type(AUDIT) == [] and rec.of_type(TRAIL) == []


@pytest.mark.parametrize(
    ("audit", "message"),
    [
        (
            {"lockDays": 30, "expireAfterDays": 7},
            r"groundwork:audit\.expireAfterDays must be >= lockDays.*\(got 7 < 30\)",
        ),
        (
            {"existingTrailLogGroupName": "org/cloudtrail"},
            r"groundwork:audit\.existingTrailLogGroupName needs existingTrailArn",
        ),
        ({"existingTrailArn": "trail/x"}, r"groundwork:audit\.existingTrailArn must match"),
        ({"lockMode": "NONE"}, r"groundwork:audit\.lockMode must be one of"),
    ],
)
def test_bad_audit_settings_are_refused(audit: dict, message: str) -> None:
    values = {"aws:region": "eu-west-1", "groundwork:audit": json.dumps(audit)}
    with pytest.raises(SettingsError, match=message):
        parse(values, project="p", stack="s")
