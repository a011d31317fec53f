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
import json
from collections.abc import Callable
from typing import Any

import pytest

from components import alarms as alarms_component
from components import pipeline as pipeline_component
from offline.model import Recording
from offline.recorder import ProgramError, record
from tests.conftest import GITHUB_SOURCE, OWN_CERTIFICATE, PROD_ALTERED, ROOT, stack_config
from tests.day_one_checks import (
    ALARM,
    CERT_VALIDATION,
    DB,
    DB_EVENTS,
    DEPLOYMENT_GROUP,
    EVENT_RULE,
    EVENT_TARGET,
    LIFECYCLE,
    LISTENER,
    LT,
    OBJECT,
    PIPELINE,
    SUBSCRIPTION,
    TOPIC,
    alarm_metrics,
    ami_problems,
    first_release_problems,
    https_problems,
    lifecycle_problems,
    principal_services,
    publisher_problems,
    rds_event_problems,
    rollback_problems,
    seed_problems,
    snapshot_problems,
    subscription_problems,
    topic_key,
)
from tests.obs_helpers import replaced, value, with_props

STACKS = ("dev", "prod")


# ---- 1. rollback alarms are alarms a release causes -----------------------------------------


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


def _key_statements_edited(
    rec: Recording, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
) -> Recording:
    import json

    topic = next(t for t in rec.of_type(TOPIC) if "alerts" in t.name)
    key = topic_key(rec, topic)
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
            if "events.amazonaws.com" in principal_services(s):
                s["Condition"] = {"StringEquals": {"aws:SourceAccount": "123456789012"}}
        return stmts

    def drop_rds(stmts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [s for s in stmts if "events.rds.amazonaws.com" not in principal_services(s)]

    found = publisher_problems(_key_statements_edited(rec, condition_events))
    assert any("EventBridge does not send" in p for p in found), found
    found = publisher_problems(_key_statements_edited(rec, drop_rds))
    assert any("events.rds.amazonaws.com publishes but" in p for p in found), found


# ---- 3. recipients: a protected stack needs someone who can receive mail ---------------------


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
    # prod with other groups changed too (PROD_ALTERED, which tests/test_hosting.py records
    # too): one recording for several files.
    assert PROD_ALTERED["groundwork:hosting"] == OWN_CERTIFICATE["groundwork:hosting"]
    cert = OWN_CERTIFICATE["groundwork:hosting"]["certificateArn"]
    assert OWN_CERTIFICATE["groundwork:hosting"]["domainName"] is None
    rec = record_variant("prod", PROD_ALTERED)
    assert rec.warnings == [] and https_problems(rec, None) == []
    https = next(li for li in rec.of_type(LISTENER) if li.input("port") == 443)
    assert https.input("certificateArn") == cert and not rec.of_type(CERT_VALIDATION)


# ---- 5. the AMI is resolved at launch ------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_ami_is_resolved_at_launch(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert ami_problems(rec) == []
    lt = rec.one(LT)
    pinned = replaced(rec, lt.urn, lambda r: with_props(r, imageId="ami-0123456789abcdef0"))
    assert ami_problems(pinned)


# ---- 6. RDS events reach the alerts topic ----------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_rds_events_reach_the_alerts_topic(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert rds_event_problems(rec) == []
    sub = rec.one(DB_EVENTS)
    fewer = replaced(rec, sub.urn, lambda r: with_props(r, eventCategories=["availability"]))
    assert any("failover" in p for p in rds_event_problems(fewer))
    assert rds_event_problems(replaced(rec, sub.urn, lambda r: None))
    # Routine backup mail: the category on the subscription, or a rule that keeps the daily two.
    noisy = [*sub.input("eventCategories"), "backup"]
    noisy_rec = replaced(rec, sub.urn, lambda r: with_props(r, eventCategories=noisy))
    assert any("routine backup" in p for p in rds_event_problems(noisy_rec)), sub.urn
    rule = next(r for r in rec.of_type(EVENT_RULE) if r.name.endswith("-backup-events"))
    pattern = json.loads(rule.input("eventPattern"))
    del pattern["detail"]["EventID"]
    keeps_all = replaced(rec, rule.urn, lambda r: with_props(r, eventPattern=json.dumps(pattern)))
    assert any("no rule sends" in p for p in rds_event_problems(keeps_all)), rule.urn
    target = next(t for t in rec.of_type(EVENT_TARGET) if t.name.endswith("-backup-events-alert"))
    assert any(
        "reach no one" in p for p in rds_event_problems(replaced(rec, target.urn, lambda r: None))
    )


# ---- 7. the first release is published once ------------------------------------------------


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
    # prod with other groups changed too (PROD_ALTERED, which tests/test_pipeline.py records
    # too): one recording for several files.
    assert PROD_ALTERED["groundwork:pipeline"] == GITHUB_SOURCE["groundwork:pipeline"]
    rec = record_variant("prod", PROD_ALTERED)
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
        metrics = alarm_metrics(alarm)
        if alarm.input("namespace") == "AWS/RDS":
            assert alarm.input("treatMissingData") == "missing", alarm.urn
        if "SucceededBuilds" in metrics:
            # silence after a success notifies; a new alarm does not page before the first run
            assert alarm.input("treatMissingData") == "missing", alarm.urn
            assert alarm.input("insufficientDataActions") == alarm.input("alarmActions")


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


@pytest.mark.parametrize("stack", STACKS)
def test_lifecycle_filters_are_explicit(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert lifecycle_problems(rec) == []
    lc = rec.of_type(LIFECYCLE)[0]
    rules = [{**rule, "filter": {}} for rule in lc.input("rules")]
    assert lifecycle_problems(replaced(rec, lc.urn, lambda r: with_props(r, rules=rules)))


# ---- 9. no replacement loop before the first release: instances serve the seed -------------


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
