"""Audit trail: a multi-region, validated, encrypted trail into a locked bucket and an audit log
group, and the alarms on the events that must never pass unnoticed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components import audit as audit_
from offline.model import Recording
from offline.recorder import record
from settings import SettingsError, parse
from tests.checks import replace_inputs
from tests.conftest import DEV_ALTERED, ROOT, write_stack_file

AUDIT_ALONE = ROOT / "tests" / "programs" / "audit_alone"

AUDIT = "groundwork:security:AuditTrail"
TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET = "aws:s3/bucket:Bucket"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
VAULT_BUCKET = "vault-bucket"
ORG_TRAIL = "arn:aws:cloudtrail:eu-west-1:999988887777:trail/org-trail"


def trail_problems(rec: Recording, retention_days: int) -> list[str]:
    """The trail records every region, validates its files, is encrypted with its own key, and
    delivers to a locked bucket and an audit-class log group of the configured retention."""
    problems = []
    for t in rec.of_type(TRAIL):
        for key, want in (
            ("isMultiRegionTrail", True),
            ("includeGlobalServiceEvents", True),
            ("enableLogFileValidation", True),
        ):
            if t.input(key) is not want:
                problems.append(f"{t.urn}: {key} is {t.input(key)!r}")
        keys = [rec.by_urn(u) for u in t.property_dependencies.get("kmsKeyId", ())]
        if [k.type for k in keys] != [KEY] or keys[0].parent != t.parent:
            problems.append(f"{t.urn}: not encrypted with a key of its own ({keys})")
        buckets = [rec.by_urn(u) for u in t.property_dependencies.get("s3BucketName", ())]
        locked = [b for b in buckets if b.input("objectLockEnabled") is True]
        if not locked:
            problems.append(f"{t.urn}: bucket is not object-locked")
        groups = [rec.by_urn(u) for u in t.property_dependencies.get("cloudWatchLogsGroupArn", ())]
        if not groups or any(
            g.input("tags", "groundwork:logClass") != "audit"
            or g.input("retentionInDays") != retention_days
            or not g.input("kmsKeyId")
            for g in groups
        ):
            problems.append(f"{t.urn}: log group not audit class / {retention_days} days / key")
    return problems


def key_lets_only_this_trail_encrypt(rec: Recording) -> list[str]:
    problems = []
    for t in rec.of_type(TRAIL):
        (key_urn,) = t.property_dependencies["kmsKeyId"]
        doc = json.loads(rec.by_urn(key_urn).input("policy"))
        grants = [
            s for s in doc["Statement"] if s.get("Principal") == {"Service": audit_.CLOUDTRAIL}
        ]
        encrypt = [s for s in grants if "kms:GenerateDataKey*" in s["Action"]]
        if not encrypt:
            problems.append(f"{key_urn}: CloudTrail may not encrypt with the key")
        for s in grants:
            source = s.get("Condition", {}).get("StringEquals", {}).get("aws:SourceArn", "")
            if not source.endswith(f":trail/{t.input('name')}"):
                problems.append(f"{key_urn}: {s['Sid']} not scoped to the trail ({source!r})")
    return problems


def bucket_grants_only_this_trail(rec: Recording) -> list[str]:
    problems = []
    for t in rec.of_type(TRAIL):
        (bucket_urn,) = t.property_dependencies["s3BucketName"]
        policies = [
            p for p in rec.of_type(POLICY) if bucket_urn in p.property_dependencies["bucket"]
        ]
        doc = json.loads(policies[0].input("policy"))
        grants = [s for s in doc["Statement"] if s["Effect"] == "Allow"]
        writes = [s for s in grants if s["Action"] == "s3:PutObject"]
        if not writes or not grants:
            problems.append(f"{bucket_urn}: no CloudTrail write grant")
        for s in grants:
            cond = s.get("Condition", {}).get("StringEquals", {})
            if not cond.get("aws:SourceArn", "").endswith(f":trail/{t.input('name')}"):
                problems.append(f"{bucket_urn}: grant {s['Sid']} not scoped to the trail")
    return problems


def alarm_problems(rec: Recording, log_group: str | None = None) -> list[str]:
    """Every audit filter exists on the trail's log group and its alarm notifies the topic."""
    problems = []
    filters = {f.name.removeprefix("audit-"): f for f in rec.children_of(AUDIT, FILTER)}
    alarms = {a.name.removeprefix("audit-").removesuffix("-alarm"): a
              for a in rec.children_of(AUDIT, ALARM)}  # fmt: skip
    topic = rec.one(TOPIC).urn
    expected = {"kms-key-changes", "root-use", "console-signin-without-mfa", "trail-changes",
                "vault-guard-changes"}  # fmt: skip
    if set(filters) != expected or set(alarms) != expected:
        problems.append(f"audit filters {sorted(filters)} / alarms {sorted(alarms)}")
    for key, f in filters.items():
        if log_group is not None and f.input("logGroupName") != log_group:
            problems.append(f"{f.urn}: on {f.input('logGroupName')!r}, not {log_group!r}")
        if log_group is None:
            groups = [rec.by_urn(u) for u in f.property_dependencies.get("logGroupName", ())]
            if not any(g.type == LOG_GROUP and g.parent == f.parent for g in groups):
                problems.append(f"{f.urn}: not on the trail's log group")
        a = alarms.get(key)
        if a is None:
            continue
        metric = f.input("metricTransformation")
        if (a.input("metricName"), a.input("namespace")) != (metric["name"], metric["namespace"]):
            problems.append(f"{a.urn}: watches another metric than {f.urn}")
        if topic not in a.property_dependencies.get("alarmActions", ()):
            problems.append(f"{a.urn}: does not notify the alerts topic")
        if a.input("treatMissingData") != "notBreaching" or a.input("threshold") != 1:
            problems.append(f"{a.urn}: must alarm on the first event and be OK without one")
    return problems


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
    rec = record_variant(
        "prod",
        {
            "groundwork:audit": {
                "existingTrailArn": ORG_TRAIL,
                "existingTrailLogGroupName": "org/cloudtrail",
            }
        },
    )
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
    assert any(
        "audit alarms skipped" in w and "organisation owns" in w for w in rec.warnings
    ), rec.warnings


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
