"""Day-one invariants (docs/day-one.md), as check functions over a Recording: what a single
`pulumi up` from an empty account must leave so the stack serves and is watched with no hand
steps. Rollback alarms watch only what a release moves and do not breach without data; every
publisher may use the alerts topic and its key; someone receives the alerts; HTTPS on the
stack's domain; the AMI resolved at launch; RDS events reach the topic; the first release is
published once and instances serve the seed until it deploys; final snapshot names are unique;
lifecycle rules have explicit filters.

Each returns problems naming the URN or key (empty = fine); tests/test_day_one.py runs them on
the recorded stacks and on deliberately broken copies.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from components.webtier import TLS_POLICY, ami_parameter
from offline.model import UNKNOWN, RecordedResource, Recording
from ops.bundle import build_bundle
from tests.conftest import ROOT
from tests.obs_helpers import value
from tests.recording_queries import as_list, statements

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DEPLOYMENT_GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KEY = "aws:kms/key:Key"
LISTENER = "aws:lb/listener:Listener"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
DB = "aws:rds/instance:Instance"
DB_EVENTS = "aws:rds/eventSubscription:EventSubscription"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
RANDOM_ID = "random:index/randomId:RandomId"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
CERT_VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
ALB = "aws:lb/loadBalancer:LoadBalancer"
# Publishers the alerts topic must let in on both policies (docs/observability.md).
REQUIRED_PUBLISHERS = {
    "cloudwatch.amazonaws.com",
    "events.amazonaws.com",
    "events.rds.amazonaws.com",
    # The spend alerts of the cost issue (components/cost.py).
    "budgets.amazonaws.com",
    "costalerts.amazonaws.com",
}
# Metrics a release itself moves: the only ones that may roll a deployment back.
RELEASE_METRICS = {"HTTPCode_Target_5XX_Count", "TargetResponseTime"}
NOT_RELEASE_METRICS = {"UnHealthyHostCount", "HTTPCode_ELB_5XX_Count", "GroupInServiceInstances"}


# ---- 1. rollback alarms are alarms a release causes --------------------------------------


def alarm_metrics(alarm: RecordedResource) -> set[str]:
    names = {alarm.input("metricName")}
    for query in alarm.input("metricQueries", default=[]) or []:
        names.add((query.get("metric") or {}).get("metricName"))
    return {n for n in names if n}


def rollback_problems(rec: Recording) -> list[str]:
    problems = []
    alarms = {a.input("name"): a for a in rec.of_type(ALARM)}
    # The error-log metrics are named per stack (the logging component's namespace).
    error_metrics = {
        m for a in alarms.values() if "error-log-rate" in a.name for m in alarm_metrics(a)
    }
    for group in rec.of_type(DEPLOYMENT_GROUP):
        names = group.input("alarmConfiguration", "alarms", default=[]) or []
        if not names:
            problems.append(f"{group.urn}: no rollback alarms")
        for name in names:
            alarm = alarms.get(name)
            if alarm is None:
                problems.append(f"{group.urn}: rollback alarm {name!r} is not in the stack")
                continue
            metrics = alarm_metrics(alarm)
            if metrics & NOT_RELEASE_METRICS or not metrics <= RELEASE_METRICS | error_metrics:
                problems.append(
                    f"{group.urn}: rollback alarm {alarm.urn} watches {sorted(metrics)}, "
                    "which no release causes (it would block the first deployment)"
                )
            if alarm.input("treatMissingData") != "notBreaching":
                problems.append(f"{alarm.urn}: breaching without data, before any release")
    return problems


# ---- 2. every publisher is allowed by the topic policy and the key policy ----------------


def topic_key(rec: Recording, topic: RecordedResource) -> RecordedResource | None:
    keys = set(topic.property_dependencies.get("kmsMasterKeyId", ()))
    return next((k for k in rec.of_type(KEY) if k.urn in keys), None)


def principal_services(stmt: dict[str, Any]) -> list[str]:
    principal = stmt.get("Principal")
    return as_list(principal.get("Service")) if isinstance(principal, dict) else []


def publisher_problems(rec: Recording) -> list[str]:
    problems = []
    for topic in rec.of_type(TOPIC):
        if not topic.input("kmsMasterKeyId"):
            continue
        key = topic_key(rec, topic)
        if key is None:
            problems.append(f"{topic.urn}: encrypted with a key not in the stack")
            continue
        policies = [
            p
            for p in rec.of_type(TOPIC_POLICY)
            if topic.urn in p.property_dependencies.get("arn", ())
        ]
        publishers = {
            s
            for p in policies
            for stmt in statements(value(p, "policy"))
            if "sns:Publish" in as_list(stmt.get("Action"))
            for s in principal_services(stmt)
        }
        if policies and not publishers >= REQUIRED_PUBLISHERS:
            missing = sorted(REQUIRED_PUBLISHERS - publishers)
            problems.append(f"{topic.urn}: topic policy lets no {missing} publish")
        key_statements = statements(value(key, "policy"))
        for service in sorted(publishers):
            granted = [s for s in key_statements if service in principal_services(s)]
            actions = {a for s in granted for a in as_list(s.get("Action"))}
            if not (
                actions & {"kms:GenerateDataKey*", "kms:GenerateDataKey"}
                and "kms:Decrypt" in actions
            ):
                problems.append(f"{key.urn}: {service} publishes but may not use the key")
            # EventBridge's KMS call for an SNS delivery carries no aws:SourceAccount: a
            # condition on it denies every notice (components/alerts.py cites the page).
            for s in granted:
                conditions = s.get("Condition") or {}
                keys = {k for block in conditions.values() for k in block}
                if service == "events.amazonaws.com" and "aws:SourceAccount" in keys:
                    problems.append(
                        f"{key.urn}: {service} key statement needs aws:SourceAccount, which "
                        "EventBridge does not send"
                    )
    return problems


# ---- 3. recipients -----------------------------------------------------------------------


def subscription_problems(rec: Recording) -> list[str]:
    topic = next(t for t in rec.of_type(TOPIC) if t.name == "alerts-topic")
    subs = [s for s in rec.of_type(SUBSCRIPTION) if topic.urn in s.property_dependencies["topic"]]
    return [] if subs else [f"{topic.urn}: no subscription, nobody hears the alarms"]


# ---- 4. HTTPS for protected stacks -------------------------------------------------------


def https_problems(rec: Recording, domain: str | None) -> list[str]:
    listeners = {(li.input("port"), li.input("protocol")): li for li in rec.of_type(LISTENER)}
    problems = []
    https = listeners.get((443, "HTTPS"))
    http = listeners.get((80, "HTTP"))
    if https is None:
        return [f"{rec.stack_urn}: no HTTPS listener ({sorted(listeners)})"]
    if https.input("sslPolicy") != TLS_POLICY:
        problems.append(f"{https.urn}: TLS policy {https.input('sslPolicy')!r}")
    if http is not None:
        actions = http.input("defaultActions") or []
        if not actions or any(
            a.get("type") != "redirect" or a["redirect"].get("protocol") != "HTTPS" for a in actions
        ):
            problems.append(f"{http.urn}: plain HTTP is served, not redirected")
    if domain is not None:
        validations = {v.urn for v in rec.of_type(CERT_VALIDATION)}
        if not set(https.property_dependencies.get("certificateArn", ())) & validations:
            problems.append(f"{https.urn}: certificate is not the validated one for {domain}")
        alb = rec.one(ALB)
        aliases = [
            r
            for r in rec.of_type(RECORD)
            if r.input("name") == domain and alb.urn in r.property_dependencies.get("aliases", ())
        ]
        if not aliases:
            problems.append(f"{rec.stack_urn}: no alias record {domain} -> {alb.urn}")
        if rec.outputs.get("url") not in (f"https://{domain}", UNKNOWN):
            problems.append(f"{rec.stack_urn}: url is {rec.outputs.get('url')!r}")
    return problems


# ---- 5. the AMI is resolved at launch ----------------------------------------------------


def ami_problems(rec: Recording) -> list[str]:
    return [
        f"{lt.urn}: imageId {lt.input('imageId')!r} is fixed at deploy time"
        for lt in rec.of_type(LT)
        if lt.input("imageId") != f"resolve:ssm:{ami_parameter('m7g.large')}"
    ]


# ---- 6. RDS events reach the alerts topic ------------------------------------------------


def rds_event_problems(rec: Recording) -> list[str]:
    topic = next(t for t in rec.of_type(TOPIC) if t.name == "alerts-topic")
    problems = []
    for db in rec.of_type(DB):
        subs = [
            s
            for s in rec.of_type(DB_EVENTS)
            if db.urn in s.property_dependencies.get("sourceIds", ())
            and topic.urn in s.property_dependencies.get("snsTopic", ())
        ]
        if not subs:
            problems.append(f"{db.urn}: its events reach no one (no subscription to the alerts)")
        for s in subs:
            categories = set(s.input("eventCategories") or [])
            missing = {"failover", "failure", "low storage"} - categories
            if missing or s.input("sourceType") != "db-instance":
                problems.append(f"{s.urn}: misses {sorted(missing)}")
            if "backup" in categories:
                problems.append(f"{s.urn}: mails on-call every routine backup (category backup)")
        problems += backup_event_problems(rec, db, topic)
    return problems


def backup_event_problems(
    rec: Recording, db: RecordedResource, topic: RecordedResource
) -> list[str]:
    """The backup category reaches the topic through EventBridge, without the daily two."""
    from components.database import ROUTINE_BACKUP_EVENT_IDS

    rules = [
        r
        for r in rec.of_type(EVENT_RULE)
        if db.urn in r.property_dependencies.get("eventPattern", ())
    ]
    wanted = {
        "source": ["aws.rds"],
        "detail-type": ["RDS DB Instance Event"],
        "resources": [db.outputs.get("arn")],
        "detail": {
            "EventCategories": ["backup"],
            "EventID": [{"anything-but": list(ROUTINE_BACKUP_EVENT_IDS)}],
        },
    }
    found = [r for r in rules if json.loads(r.input("eventPattern")) == wanted]
    if not found:
        return [f"{db.urn}: no rule sends its backup events but the routine two to the alerts"]
    targets = [
        t
        for t in rec.of_type(EVENT_TARGET)
        if found[0].urn in t.property_dependencies.get("rule", ())
        and topic.urn in t.property_dependencies.get("arn", ())
    ]
    return [] if targets else [f"{found[0].urn}: its events reach no one (no alerts target)"]


# ---- 7. the first release is published once ----------------------------------------------


def first_release_problems(rec: Recording) -> list[str]:
    pipeline = rec.one(PIPELINE)
    source = pipeline.input("stages")[0]["actions"][0]
    objects = [
        o
        for o in rec.children_of("groundwork:delivery:DeployPipeline", OBJECT)
        if o.name != "pipeline-seed-release"
    ]
    if source["provider"] != "S3":
        return [f"{o.urn}: a source object with a non-S3 source" for o in objects]
    problems = []
    key = source["configuration"]["S3ObjectKey"]
    mine = [o for o in objects if o.input("key") == key]
    if len(mine) != 1:
        return [f"{pipeline.urn}: {len(mine)} initial release objects at {key}"]
    obj = mine[0]
    if obj.urn not in pipeline.dependencies:
        problems.append(f"{pipeline.urn}: created before its first release exists")
    content = obj.input("contentBase64")
    if content in (None, UNKNOWN) or base64.b64decode(content) != build_bundle(ROOT / "app").data:
        problems.append(f"{obj.urn}: is not the bundle ops.release builds")
    content_inputs = {k for k in obj.inputs if k not in ("bucket", "key")}
    unguarded = content_inputs - set(obj.ignore_changes)
    if unguarded:
        problems.append(f"{obj.urn}: a later `pulumi up` would overwrite it ({sorted(unguarded)})")
    return problems


# ---- 8. smaller traps --------------------------------------------------------------------


def snapshot_problems(rec: Recording) -> list[str]:
    problems = []
    suffixes = {r.urn: r for r in rec.of_type(RANDOM_ID)}
    for db in rec.of_type(DB):
        if db.input("skipFinalSnapshot"):
            continue
        deps = set(db.property_dependencies.get("finalSnapshotIdentifier", ()))
        random = [suffixes[u] for u in deps if u in suffixes]
        if not random or random[0].input("keepers", "identifier") != db.input("identifier"):
            problems.append(f"{db.urn}: final snapshot name is not unique per database")
    return problems


def lifecycle_problems(rec: Recording) -> list[str]:
    return [
        f"{lc.urn}: rule {rule.get('id')!r} has no explicit filter prefix"
        for lc in rec.of_type(LIFECYCLE)
        for rule in lc.input("rules") or []
        if not (rule.get("filter") or {}).keys() & {"prefix", "and", "tag", "objectSizeGreaterThan"}
    ]


# ---- 9. instances serve the seed until the first release ---------------------------------

PARAMETER = "aws:ssm/parameter:Parameter"


def seed_problems(rec: Recording) -> list[str]:
    """The S3-source stack's instances serve the reference release from boot: the bootstrap
    reads the parameter the pipeline writes, the instance role may read both, and the seed is
    the bundle the pipeline starts from, at a key that starts no pipeline run."""
    lt = rec.one(LT)
    script = base64.b64decode(lt.input("userData")).decode()
    params = rec.children_of("groundwork:delivery:DeployPipeline", PARAMETER)
    if len(params) != 1:
        return [f"{rec.stack_urn}: {len(params)} seed parameters"]
    name = params[0].input("name")
    problems = []
    if f"SEED_PARAMETER={name}" not in script or "scripts/$hook.sh" not in script:
        problems.append(f"{lt.urn}: the bootstrap does not serve the seed named by {name}")
    seed = next(
        (
            o
            for o in rec.children_of("groundwork:delivery:DeployPipeline", OBJECT)
            if o.name == "pipeline-seed-release"
        ),
        None,
    )
    if (
        seed is None
        or base64.b64decode(seed.input("contentBase64")) != build_bundle(ROOT / "app").data
    ):
        problems.append(f"{rec.stack_urn}: the seed is not the reference release")
        return problems
    source_key = (
        rec.one(PIPELINE).input("stages")[0]["actions"][0]["configuration"].get("S3ObjectKey")
    )
    if seed.input("key") == source_key:
        problems.append(f"{seed.urn}: at the source key, it would start (and undo) a release")
    agent = next(
        p for p in rec.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("agent-policy")
    )
    granted = {
        (a, r)
        for stmt in statements(value(agent, "policy"))
        for a in as_list(stmt["Action"])
        for r in as_list(stmt["Resource"])
    }
    if ("ssm:GetParameter", value(params[0], "arn")) not in granted:
        problems.append(f"{agent.urn}: instances may not read {name}")
    if not any(a == "s3:GetObject" and r.endswith(f"/{seed.input('key')}") for a, r in granted):
        problems.append(f"{agent.urn}: instances may not read the seed {seed.input('key')}")
    return problems
