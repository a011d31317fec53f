"""The edge: the web application firewall on the ALB and the ALB's access-log bucket."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable

import pytest

from components import edge
from offline.model import RecordedResource, Recording
from settings import SettingsError, parse
from tests.checks import ALB, replace_inputs
from tests.conftest import DEV_ALTERED

ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
RESOURCE_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"
KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
FIREWALL = "groundwork:edge:WebFirewall"
ACCESS_LOGS = "groundwork:edge:AccessLogs"


def firewall_problems(rec: Recording, mode: str, limit: int) -> list[str]:
    """One regional ACL on the ALB: the three managed groups and the rate rule, in `mode`."""
    problems = []
    acl = rec.one(ACL)
    if acl.input("scope") != "REGIONAL" or acl.input("defaultAction") != {"allow": {}}:
        problems.append(f"{acl.urn}: scope/default action {acl.input('scope')}")
    rules = {r["name"]: r for r in acl.input("rules")}
    groups = {
        r["statement"]["managedRuleGroupStatement"]["name"]
        for r in rules.values()
        if "managedRuleGroupStatement" in r["statement"]
        and r["statement"]["managedRuleGroupStatement"].get("vendorName") == "AWS"
    }
    if groups != set(edge.MANAGED_RULE_GROUPS):
        problems.append(f"{acl.urn}: managed groups {sorted(groups)}")
    want_override = {"count": {}} if mode == "count" else {"none": {}}
    for name in edge.MANAGED_RULE_GROUPS:
        if rules.get(name, {}).get("overrideAction") != want_override:
            problems.append(f"{acl.urn}: {name} override is not {want_override}")
    rate = rules.get(edge.RATE_RULE, {})
    stmt = rate.get("statement", {}).get("rateBasedStatement", {})
    if stmt.get("limit") != limit or stmt.get("aggregateKeyType") != "IP":
        problems.append(f"{acl.urn}: rate rule {stmt}")
    if rate.get("action") != ({"count": {}} if mode == "count" else {"block": {}}):
        problems.append(f"{acl.urn}: rate rule action {rate.get('action')}")
    (assoc,) = rec.of_type(ASSOCIATION) or [None]
    alb = rec.one(ALB).urn
    if assoc is None or alb not in assoc.property_dependencies.get("resourceArn", ()):
        problems.append(f"{acl.urn}: not associated with {alb}")
    elif acl.urn not in assoc.property_dependencies.get("webAclArn", ()):
        problems.append(f"{assoc.urn}: associates another web ACL")
    return problems


def waf_log_problems(rec: Recording, retention_days: int) -> list[str]:
    """The ACL logs to an aws-waf-logs-* group with the logs key, audit class and retention,
    which log delivery may write to and the logs key lets CloudWatch Logs encrypt."""
    problems = []
    logging_ = rec.one(WAF_LOGGING)
    groups = [
        rec.by_urn(u) for u in logging_.property_dependencies.get("logDestinationConfigs", ())
    ]
    if [g.type for g in groups] != [LOG_GROUP]:
        return [f"{logging_.urn}: destination is not one log group ({groups})"]
    group = groups[0]
    name = group.input("name")
    if not name.startswith(edge.WAF_LOG_PREFIX):
        problems.append(f"{group.urn}: name {name!r} lacks the {edge.WAF_LOG_PREFIX} prefix")
    if group.input("retentionInDays") != retention_days:
        problems.append(f"{group.urn}: retention {group.input('retentionInDays')}")
    if group.input("tags", "groundwork:logClass") != "audit":
        problems.append(f"{group.urn}: not in the audit log class")
    keys = [rec.by_urn(u) for u in group.property_dependencies.get("kmsKeyId", ())]
    if [k.type for k in keys] != [KEY]:
        problems.append(f"{group.urn}: not encrypted with a key of the stack")
    else:
        problems += _key_covers(rec, keys[0], group)
    policies = [p for p in rec.of_type(RESOURCE_POLICY) if p.urn in logging_.dependencies]
    if not any(_delivery_may_write(p, name) for p in policies):
        problems.append(f"{logging_.urn}: no delivery.logs policy on {name} before logging")
    return problems


def _account(rec: Recording) -> str:
    return rec.outputs["alertsTopicArn"].split(":")[4]


def _key_covers(rec: Recording, key: RecordedResource, group: RecordedResource) -> list[str]:
    doc = json.loads(key.input("policy"))
    # The ARN CloudWatch Logs puts in the encryption context (the real shape, not the fake's).
    region, name = rec.outputs["region"], group.input("name")
    arn = f"arn:aws:logs:{region}:{_account(rec)}:log-group:{name}"
    for s in doc["Statement"]:
        service = str(s.get("Principal", {}).get("Service", ""))
        pattern = (
            s.get("Condition", {}).get("ArnLike", {}).get("kms:EncryptionContext:aws:logs:arn")
        )
        if service.startswith("logs.") and pattern and fnmatch.fnmatchcase(arn, pattern):
            return []
    return [f"{key.urn}: key policy does not let CloudWatch Logs encrypt {arn}"]


def _delivery_may_write(policy: RecordedResource, group_name: str) -> bool:
    doc = json.loads(policy.input("policyDocument"))
    return any(
        s.get("Principal") == {"Service": edge.LOG_DELIVERY}
        and "logs:PutLogEvents" in s.get("Action", [])
        and f":log-group:{group_name}:" in s.get("Resource", "")
        and s.get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount")
        for s in doc["Statement"]
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


def access_log_problems(rec: Recording, expire_days: int, writer: dict) -> list[str]:
    """The ALB logs to the access-logs bucket after its policy exists; the bucket is SSE-S3,
    written by `writer` under the ALB's prefix only, and expires logs after `expire_days`."""
    problems = []
    alb = rec.one(ALB)
    logs = alb.input("accessLogs") or {}
    (bucket,) = [b for b in rec.children_of(ACCESS_LOGS, BUCKET)]
    (policy,) = [
        p for p in rec.of_type(BUCKET_POLICY) if bucket.urn in p.property_dependencies["bucket"]
    ]
    deps = set(alb.property_dependencies.get("accessLogs", ()))
    if logs.get("enabled") is not True or logs.get("bucket") != bucket.outputs["bucket"]:
        problems.append(f"{alb.urn}: access logs {logs}")
    if not {bucket.urn, policy.urn} <= deps:
        problems.append(f"{alb.urn}: does not wait for the bucket policy ({sorted(deps)})")
    doc = json.loads(policy.input("policy"))
    grants = [s for s in doc["Statement"] if s["Effect"] == "Allow"]
    account = _account(rec)
    want = f"{bucket.outputs['arn']}/{logs.get('prefix')}/AWSLogs/{account}/*"
    if [(g["Principal"], g["Action"], g["Resource"]) for g in grants] != [
        (writer, "s3:PutObject", want)
    ]:
        problems.append(f"{policy.urn}: grants {grants}, expected {writer} to write {want}")
    (sse,) = [e for e in rec.of_type(SSE) if bucket.urn in e.property_dependencies["bucket"]]
    algos = [r["applyServerSideEncryptionByDefault"]["sseAlgorithm"] for r in sse.input("rules")]
    if algos != ["AES256"]:
        problems.append(f"{sse.urn}: {algos}; ALB log delivery supports SSE-S3 only")
    (lc,) = [x for x in rec.of_type(LIFECYCLE) if bucket.urn in x.property_dependencies["bucket"]]
    if [r.get("expiration", {}).get("days") for r in lc.input("rules")] != [expire_days]:
        problems.append(f"{lc.urn}: expiry is not {expire_days} days")
    return problems


def _elb_writer(rec: Recording) -> dict:
    from offline.recorder import FakeCloud, _elb_service_account

    region = rec.outputs["region"]
    answer = _elb_service_account(FakeCloud(region=region, preview=False), {"region": region})
    return {"AWS": answer["arn"]}


@pytest.mark.parametrize(("stack", "days"), [("prod", 90), ("dev", 14)])
def test_alb_writes_access_logs_to_its_bucket(
    request: pytest.FixtureRequest, stack: str, days: int
) -> None:
    rec: Recording = request.getfixturevalue(stack)
    writer = _elb_writer(rec)
    assert access_log_problems(rec, days, writer) == []
    assert access_log_problems(rec, days + 1, writer), "another expiry must be told apart"
    alb = rec.one(ALB)
    off = replace_inputs(rec, alb.urn, lambda i: i["accessLogs"].update(enabled=False))
    assert access_log_problems(off, days, writer)


def test_elb_account_is_looked_up_not_written_down(prod_elsewhere: Recording) -> None:
    # prod moved to ap-southeast-2 (and another account), shared with tests/test_hosting.py.
    rec = prod_elsewhere
    assert rec.outputs["region"] == "ap-southeast-2", rec.stack_urn
    writer = _elb_writer(rec)
    assert writer != _elb_writer_for("eu-west-1")
    assert access_log_problems(rec, 90, writer) == []
    assert access_log_problems(rec, 90, _elb_writer_for("eu-west-1")), "the shipped region's"


def _elb_writer_for(region: str) -> dict:
    from offline.recorder import FakeCloud, _elb_service_account

    return {"AWS": _elb_service_account(FakeCloud(region, False), {"region": region})["arn"]}


def test_newer_regions_grant_the_log_delivery_principal(
    record_variant: Callable[..., Recording],
) -> None:
    rec = record_variant(
        "dev", {"aws:region": "eu-central-2", "groundwork:database": {"backupReplicaRegion": None}}
    )
    assert access_log_problems(rec, 14, {"Service": edge.ELB_LOG_DELIVERY}) == []
    assert access_log_problems(rec, 14, _elb_writer(rec))


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
