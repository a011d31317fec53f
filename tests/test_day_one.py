"""Day one (docs/day-one.md): one `pulumi up` reaches a serving, watched stack with no hand steps.

Each property is a check over a recording that returns problems naming the URN or key; every
check runs on the recorded dev and prod stacks (prod as an operator completes it, with the
overlay in tests/stacks) and on a deliberately broken copy that must fail it. The shipped prod
template is recorded too: as a dry run it warns about each placeholder, as an update it
refuses before registering anything and names every key to set.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from components import alarms as alarms_component
from components import pipeline as pipeline_component
from components.webtier import TLS_POLICY, ami_parameter
from offline.model import UNKNOWN, RecordedResource, Recording
from offline.recorder import ProgramError, record
from ops.bundle import build_bundle
from tests.conftest import GITHUB_SOURCE, OWN_CERTIFICATE, ROOT, stack_config
from tests.obs_helpers import as_list, replaced, statements, value, with_props

STACKS = ("dev", "prod")
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


def _metrics(alarm: RecordedResource) -> set[str]:
    names = {alarm.input("metricName")}
    for query in alarm.input("metricQueries", default=[]) or []:
        names.add((query.get("metric") or {}).get("metricName"))
    return {n for n in names if n}


# ---- 1. rollback alarms are alarms a release causes -----------------------------------------


def rollback_problems(rec: Recording) -> list[str]:
    problems = []
    alarms = {a.input("name"): a for a in rec.of_type(ALARM)}
    # The error-log metrics are named per stack (the logging component's namespace).
    error_metrics = {m for a in alarms.values() if "error-log-rate" in a.name for m in _metrics(a)}
    for group in rec.of_type(DEPLOYMENT_GROUP):
        names = group.input("alarmConfiguration", "alarms", default=[]) or []
        if not names:
            problems.append(f"{group.urn}: no rollback alarms")
        for name in names:
            alarm = alarms.get(name)
            if alarm is None:
                problems.append(f"{group.urn}: rollback alarm {name!r} is not in the stack")
                continue
            metrics = _metrics(alarm)
            if metrics & NOT_RELEASE_METRICS or not metrics <= RELEASE_METRICS | error_metrics:
                problems.append(
                    f"{group.urn}: rollback alarm {alarm.urn} watches {sorted(metrics)}, "
                    "which no release causes (it would block the first deployment)"
                )
            if alarm.input("treatMissingData") != "notBreaching":
                problems.append(f"{alarm.urn}: breaching without data, before any release")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_rollback_alarms_are_caused_by_releases(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert rollback_problems(rec) == []
    group = rec.one(DEPLOYMENT_GROUP)
    unhealthy = next(a for a in rec.of_type(ALARM) if a.name == "alarms-unhealthy-hosts")
    broken = replaced(
        rec,
        group.urn,
        lambda r: with_props(
            r,
            alarmConfiguration={
                **r.input("alarmConfiguration"),
                "alarms": [*r.input("alarmConfiguration", "alarms"), unhealthy.input("name")],
            },
        ),
    )
    assert any("UnHealthyHostCount" in p for p in rollback_problems(broken))


def test_rollback_roles_exclude_capacity_and_health() -> None:
    assert set(alarms_component.ROLLBACK_ROLES).isdisjoint(alarms_component.NEVER_ROLLBACK_ROLES)
    assert "target5xx" in alarms_component.ROLLBACK_ROLES


# ---- 2. every publisher is allowed by the topic policy and the key policy --------------------


def _topic_key(rec: Recording, topic: RecordedResource) -> RecordedResource | None:
    keys = set(topic.property_dependencies.get("kmsMasterKeyId", ()))
    return next((k for k in rec.of_type(KEY) if k.urn in keys), None)


def _services(stmt: dict[str, Any]) -> list[str]:
    principal = stmt.get("Principal")
    return as_list(principal.get("Service")) if isinstance(principal, dict) else []


def publisher_problems(rec: Recording) -> list[str]:
    problems = []
    for topic in rec.of_type(TOPIC):
        if not topic.input("kmsMasterKeyId"):
            continue
        key = _topic_key(rec, topic)
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
            for s in _services(stmt)
        }
        if policies and not publishers >= REQUIRED_PUBLISHERS:
            missing = sorted(REQUIRED_PUBLISHERS - publishers)
            problems.append(f"{topic.urn}: topic policy lets no {missing} publish")
        key_statements = statements(value(key, "policy"))
        for service in sorted(publishers):
            granted = [s for s in key_statements if service in _services(s)]
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


def _key_statements_edited(
    rec: Recording, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
) -> Recording:
    import json

    topic = next(t for t in rec.of_type(TOPIC) if "alerts" in t.name)
    key = _topic_key(rec, topic)
    assert key is not None
    doc = json.loads(value(key, "policy"))
    doc["Statement"] = edit(doc["Statement"])
    return replaced(rec, key.urn, lambda r: with_props(r, policy=json.dumps(doc)))


@pytest.mark.parametrize("stack", STACKS)
def test_every_publisher_may_use_the_topic_key(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert publisher_problems(rec) == []

    def condition_events(stmts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for s in stmts:
            if "events.amazonaws.com" in _services(s):
                s["Condition"] = {"StringEquals": {"aws:SourceAccount": "123456789012"}}
        return stmts

    def drop_rds(stmts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [s for s in stmts if "events.rds.amazonaws.com" not in _services(s)]

    found = publisher_problems(_key_statements_edited(rec, condition_events))
    assert any("EventBridge does not send" in p for p in found), found
    found = publisher_problems(_key_statements_edited(rec, drop_rds))
    assert any("events.rds.amazonaws.com publishes but" in p for p in found), found


# ---- 3. recipients: a protected stack needs someone who can receive mail ---------------------


def subscription_problems(rec: Recording) -> list[str]:
    topic = next(t for t in rec.of_type(TOPIC) if t.name == "alerts-topic")
    subs = [s for s in rec.of_type(SUBSCRIPTION) if topic.urn in s.property_dependencies["topic"]]
    return [] if subs else [f"{topic.urn}: no subscription, nobody hears the alarms"]


def test_prod_alerts_reach_a_real_address(prod: Recording) -> None:
    assert subscription_problems(prod) == []
    endpoints = [s.input("endpoint") for s in prod.of_type(SUBSCRIPTION)]
    assert endpoints == stack_config("prod")["groundwork:alerts"]["emails"]
    assert not prod.warnings, prod.warnings
    sub = prod.of_type(SUBSCRIPTION)[0]
    assert subscription_problems(replaced(prod, sub.urn, lambda r: None))


SHIPPED_KEYS = (
    "groundwork:alerts.emails",
    "groundwork:hosting.domainName",
    "groundwork:hosting.hostedZoneId",
)


def test_shipped_prod_template_previews_with_a_warning_per_placeholder(
    shipped_prod_dry_run: Recording,
) -> None:
    warned = " ".join(shipped_prod_dry_run.warnings)
    for key in SHIPPED_KEYS:
        assert key in warned, f"no dry-run warning names {key}: {shipped_prod_dry_run.warnings}"
    assert "pulumi config set --secret" in warned
    # A dry run still builds the whole stack, HTTPS for the placeholder domain included.
    assert shipped_prod_dry_run.of_type(CERT_VALIDATION)


def test_shipped_prod_template_refuses_an_update_naming_every_key() -> None:
    with pytest.raises(ProgramError) as caught:
        record("prod", project_dir=ROOT)
    message = str(caught.value)
    for key in SHIPPED_KEYS:
        assert key in message, f"the refusal does not name {key}: {message}"
    assert "pulumi config set --secret --path 'groundwork:alerts.emails[0]'" in message
    assert caught.value.registered == 0, "refused after registering resources"


@pytest.mark.parametrize(
    ("emails", "refused"),
    [
        (["oncall@example.org"], True),
        (["ops@corp.test", "alerts@mail.invalid"], True),
        ([], True),
        (["oncall@example.com", "oncall@northwind-saas.com"], False),
    ],
)
def test_recipients_on_reserved_domains_count_as_none(
    emails: list[str], refused: bool, load_variant: Callable[..., Recording]
) -> None:
    # Decided by the settings load, before any resource: run that alone. The whole program
    # with a real recipient is the `prod` fixture (test_prod_alerts_reach_a_real_address).
    overrides = {"groundwork:alerts": {"emails": emails}}
    if refused:
        with pytest.raises(ProgramError, match=r"groundwork:alerts\.emails") as caught:
            load_variant("prod", overrides)
        assert caught.value.registered == 0
        dry = load_variant("prod", overrides, preview=True)
        assert any("groundwork:alerts.emails" in w for w in dry.warnings), dry.warnings
    else:
        rec = load_variant("prod", overrides)
        assert not rec.warnings, rec.warnings
        assert not load_variant("prod", overrides, preview=True).warnings


def test_dev_is_not_held_to_the_protected_rules(dev: Recording) -> None:
    import settings

    keys = [rule.key for rule in settings.UPDATE_RULES]
    held = [w for w in dev.warnings if "refuses this" in w and any(w.startswith(k) for k in keys)]
    assert held == [], held


# ---- 4. HTTPS for protected stacks -------------------------------------------------------------


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


def test_prod_serves_https_on_its_domain(prod: Recording) -> None:
    domain = stack_config("prod")["groundwork:hosting"]["domainName"]
    assert https_problems(prod, domain) == []
    http = next(li for li in prod.of_type(LISTENER) if li.input("port") == 80)
    forward = [{"type": "forward", "targetGroupArn": "tg"}]
    broken = replaced(prod, http.urn, lambda r: with_props(r, defaultActions=forward))
    assert any("plain HTTP" in p for p in https_problems(broken, domain))
    assert "HTTPS listener" in https_problems(dev_like(prod), domain)[0]


def dev_like(rec: Recording) -> Recording:
    """`rec` without its HTTPS listener: what a plain-HTTP stack looks like."""
    https = next(li for li in rec.of_type(LISTENER) if li.input("port") == 443)
    return replaced(rec, https.urn, lambda r: None)


def test_prod_domain_flows_to_rum_and_canary(phase_variant: Callable[..., Recording]) -> None:
    growth = phase_variant("prod", "growth")
    domain = stack_config("prod")["groundwork:hosting"]["domainName"]
    monitor = growth.one("aws:rum/appMonitor:AppMonitor")
    assert monitor.input("domain") == domain, monitor.urn
    canary = growth.one("aws:synthetics/canary:Canary")
    assert f"https://{domain}" in str(canary.inputs), canary.urn


NO_DOMAIN = {"groundwork:hosting": {"domainName": None, "hostedZoneId": None}}


def test_prod_without_a_domain_warns_in_a_dry_run_and_refuses_an_update(
    load_variant: Callable[..., Recording], record_variant: Callable[..., Recording]
) -> None:
    dry = load_variant("prod", NO_DOMAIN, preview=True)
    assert any("groundwork:hosting.domainName" in w for w in dry.warnings), dry.warnings
    # One refusal through the whole program: it stops before registering anything.
    with pytest.raises(ProgramError, match=r"groundwork:hosting\.domainName") as caught:
        record_variant("prod", NO_DOMAIN)
    assert caught.value.registered == 0
    # A reserved domain is no domain.
    reserved = {"groundwork:hosting": {"domainName": "shop.example.net"}}
    with pytest.raises(ProgramError, match=r"groundwork:hosting\.domainName"):
        load_variant("prod", reserved)
    assert not load_variant("prod", {}).warnings, "the operator's own domain is refused"


def test_prod_with_its_own_certificate_and_no_domain_serves_https(
    record_variant: Callable[..., Recording],
) -> None:
    # The variant tests/test_hosting.py records too (OWN_CERTIFICATE): one recording per run.
    cert = OWN_CERTIFICATE["groundwork:hosting"]["certificateArn"]
    assert OWN_CERTIFICATE["groundwork:hosting"]["domainName"] is None
    rec = record_variant("prod", OWN_CERTIFICATE)
    assert rec.warnings == [] and https_problems(rec, None) == []
    https = next(li for li in rec.of_type(LISTENER) if li.input("port") == 443)
    assert https.input("certificateArn") == cert and not rec.of_type(CERT_VALIDATION)


# ---- 5. the AMI is resolved at launch ------------------------------------------------------


def ami_problems(rec: Recording) -> list[str]:
    return [
        f"{lt.urn}: imageId {lt.input('imageId')!r} is fixed at deploy time"
        for lt in rec.of_type(LT)
        if lt.input("imageId") != f"resolve:ssm:{ami_parameter('m7g.large')}"
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_ami_is_resolved_at_launch(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert ami_problems(rec) == []
    lt = rec.one(LT)
    pinned = replaced(rec, lt.urn, lambda r: with_props(r, imageId="ami-0123456789abcdef0"))
    assert ami_problems(pinned)


# ---- 6. RDS events reach the alerts topic ----------------------------------------------------


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
            missing = {"failover", "failure", "low storage", "backup"} - categories
            if missing or s.input("sourceType") != "db-instance":
                problems.append(f"{s.urn}: misses {sorted(missing)}")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_rds_events_reach_the_alerts_topic(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert rds_event_problems(rec) == []
    sub = rec.one(DB_EVENTS)
    fewer = replaced(rec, sub.urn, lambda r: with_props(r, eventCategories=["availability"]))
    assert any("failover" in p for p in rds_event_problems(fewer))
    assert rds_event_problems(replaced(rec, sub.urn, lambda r: None))


# ---- 7. the first release is published once ------------------------------------------------


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


@pytest.mark.parametrize("stack", STACKS)
def test_s3_source_starts_from_the_reference_release_once(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert first_release_problems(rec) == []
    obj = next(
        o
        for o in rec.children_of("groundwork:delivery:DeployPipeline", OBJECT)
        if o.name == "pipeline-initial-release"
    )
    overwriting = replaced(rec, obj.urn, lambda r: dataclasses.replace(r, ignore_changes=()))
    assert any("would overwrite" in p for p in first_release_problems(overwriting))
    assert set(pipeline_component.INITIAL_RELEASE_IGNORED) >= {"contentBase64", "metadata"}


def test_github_source_first_run_deploys_the_branch(
    record_variant: Callable[..., Recording],
) -> None:
    # The variant tests/test_pipeline.py records (GITHUB_SOURCE): one recording per run.
    rec = record_variant("prod", GITHUB_SOURCE)
    # Nothing is published: the run that creating the pipeline starts deploys the head of
    # `branch`, which must hold the app at its root (buildspec.yml, appspec.yml).
    assert first_release_problems(rec) == []
    objects = rec.children_of("groundwork:delivery:DeployPipeline", OBJECT)
    assert [o.name for o in objects] == ["pipeline-seed-release"], objects
    # Until run 1 has deployed the branch, instances serve the reference release (seed).
    assert seed_problems(rec) == []
    source = rec.one(PIPELINE).input("stages")[0]["actions"][0]["configuration"]
    pipeline = GITHUB_SOURCE["groundwork:pipeline"]
    assert source["BranchName"] == pipeline["branch"] == "release"
    assert source["FullRepositoryId"] == pipeline["repository"], rec.one(PIPELINE).urn
    assert rollback_problems(rec) == [], "the first run's deployment could not start"


# ---- 8. smaller traps ------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_no_alarm_pages_before_there_is_anything_to_watch(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    for alarm in rec.of_type(ALARM):
        metrics = _metrics(alarm)
        if alarm.input("namespace") == "AWS/RDS":
            assert alarm.input("treatMissingData") == "missing", alarm.urn
        if "SucceededBuilds" in metrics:
            # silence after a success notifies; a new alarm does not page before the first run
            assert alarm.input("treatMissingData") == "missing", alarm.urn
            assert alarm.input("insufficientDataActions") == alarm.input("alarmActions")


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


def test_final_snapshot_name_is_unique_and_stable(prod: Recording) -> None:
    assert snapshot_problems(prod) == []
    db = prod.one(DB)
    fixed = replaced(
        prod,
        db.urn,
        lambda r: dataclasses.replace(
            with_props(r, finalSnapshotIdentifier="groundwork-prod-db-final"),
            property_dependencies={
                k: v for k, v in r.property_dependencies.items() if k != "finalSnapshotIdentifier"
            },
        ),
    )
    assert snapshot_problems(fixed)


def lifecycle_problems(rec: Recording) -> list[str]:
    return [
        f"{lc.urn}: rule {rule.get('id')!r} has no explicit filter prefix"
        for lc in rec.of_type(LIFECYCLE)
        for rule in lc.input("rules") or []
        if not (rule.get("filter") or {}).keys() & {"prefix", "and", "tag", "objectSizeGreaterThan"}
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_lifecycle_filters_are_explicit(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert lifecycle_problems(rec) == []
    lc = rec.of_type(LIFECYCLE)[0]
    rules = [{**rule, "filter": {}} for rule in lc.input("rules")]
    assert lifecycle_problems(replaced(rec, lc.urn, lambda r: with_props(r, rules=rules)))


# ---- 9. no replacement loop before the first release: instances serve the seed -------------


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


@pytest.mark.parametrize("stack", STACKS)
def test_instances_serve_the_reference_release_until_the_first_deployment(
    stack: str, request: Any
) -> None:
    rec = request.getfixturevalue(stack)
    assert seed_problems(rec) == []
    lt = rec.one(LT)
    script = base64.b64decode(lt.input("userData")).decode()
    unseeded = script.replace("SEED_PARAMETER=", "NO_SEED=")
    broken = replaced(
        rec, lt.urn, lambda r: with_props(r, userData=base64.b64encode(unseeded.encode()).decode())
    )
    assert any("does not serve the seed" in p for p in seed_problems(broken))
    # The bootstrap installs the seed before it starts the CodeDeploy agent, which then
    # replaces it with the last deployed release before the instance takes traffic.
    assert script.index("groundwork-seed") < script.index("systemctl restart codedeploy-agent")


def test_the_timeline_names_every_key_to_set_and_every_alarm(prod: Recording) -> None:
    import settings

    text = (ROOT / "docs" / "day-one.md").read_text()
    missing = [rule.key for rule in settings.UPDATE_RULES if rule.key.split(":")[1] not in text]
    baseline = prod.children_of("groundwork:observability:BaselineAlarms", ALARM)
    suffixes = {a.input("name").removeprefix("groundwork-prod-") for a in baseline}
    roles = {"unhealthy-hosts": "unhealthyHosts", "asg-below-min": "asgBelowMin"}
    unexplained = [
        s
        for s in sorted(suffixes)
        if s not in text and roles.get(s, "") not in text and not s.startswith(("db-", "backup"))
    ]
    assert not missing and not unexplained, (missing, unexplained)
