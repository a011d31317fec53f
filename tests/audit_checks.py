"""Invariants of the audit trail, as check functions over a Recording.

trail_problems: the trail records every region, validates its log files, is encrypted with its
own key and delivers to an object-locked bucket and an audit-class log group of the configured
retention. key_lets_only_this_trail_encrypt, bucket_grants_only_this_trail: the key and the
bucket grant CloudTrail only for this trail. alarm_problems: every audit metric filter is on
the trail's log group and its alarm notifies the alerts topic on the first event.

Each returns problems naming the URN (empty = fine); tests/test_audit.py runs them on the
shipped stacks and on deliberately broken copies.
"""

from __future__ import annotations

import json

from components import audit as audit_
from offline.model import Recording

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
