"""Invariants of real user monitoring, performance monitoring and performance scaling.

Each check takes a Recording and returns problems naming the URN (empty = fine); the tests run
them on the shipped stacks at each phase and on deliberately broken copies, so none can pass
vacuously. They read inputs as the engine receives them and outputs as the mocks answer.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from components import dashboard as dash
from offline.model import RecordedResource, Recording, plain
from tests.recording_queries import as_list, deps, named, statements

ASG = "aws:autoscaling/group:Group"
POLICY = "aws:autoscaling/policy:Policy"
ALB = "aws:lb/loadBalancer:LoadBalancer"
TG = "aws:lb/targetGroup:TargetGroup"
RDS = "aws:rds/instance:Instance"
APP_MONITOR = "aws:rum/appMonitor:AppMonitor"
IDENTITY_POOL = "aws:cognito/identityPool:IdentityPool"
POOL_ROLES = "aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
CANARY = "aws:synthetics/canary:Canary"
METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
TOPIC = "aws:sns/topic:Topic"
INVOCATION = "aws:lambda/invocation:Invocation"
COGNITO = "cognito-identity.amazonaws.com"


# ---- helpers -------------------------------------------------------------------------------


def out(r: RecordedResource, key: str) -> Any:
    return plain(r.outputs).get(key)


# ---- phase capabilities --------------------------------------------------------------------


def capabilities(rec: Recording) -> set[str]:
    """What the stack does beyond phase 1, read off its resources and exports."""
    found: set[str] = set()
    if rec.of_type(APP_MONITOR):
        found.add("rum-monitor")
    if rec.of_type(IDENTITY_POOL):
        found.add("rum-identity-pool")
    if {"rumAppMonitorId", "rumIdentityPoolId", "rumGuestRoleArn", "rumRegion"} & set(rec.outputs):
        found.add("rum-exports")
    if rec.of_type(DASHBOARD):
        found.add("dashboard")
    if rec.of_type(CANARY):
        found.add("canary")
    if rec.of_type(COMPOSITE_ALARM):
        found.add("composite-alarm")
    policies = {p.urn for p in rec.of_type(POLICY)}
    for alarm in rec.of_type(METRIC_ALARM):
        # The growth latency alarm scales: its actions include a scaling policy (phase 1's
        # response-time alarm only pages).
        scales = set(alarm.property_dependencies.get("alarmActions", ())) & policies
        if alarm.input("extendedStatistic") == "p95" and scales:
            found.add("latency-alarm")
        if alarm.input("thresholdMetricId"):
            found.add("anomaly-alarm")
    for p in rec.of_type(POLICY):
        kind = p.input("policyType")
        metric = p.input(
            "targetTrackingConfiguration", "predefinedMetricSpecification", "predefinedMetricType"
        )
        if kind == "TargetTrackingScaling" and metric == "ALBRequestCountPerTarget":
            found.add("request-scaling")
        if kind == "StepScaling":
            found.add("latency-scaling")
        if kind == "PredictiveScaling":
            found.add("predictive-scaling")
    return found


RUM_CAPABILITIES = {"rum-monitor", "rum-identity-pool", "rum-exports"}
GROWTH_CAPABILITIES = {
    "dashboard",
    "canary",
    "composite-alarm",
    "latency-alarm",
    "anomaly-alarm",
    "request-scaling",
    "latency-scaling",
}


# ---- RUM -------------------------------------------------------------------------------------


def guest_role_problems(rec: Recording) -> list[str]:
    """The guest role: trusted by this pool's guests only, allowed one call on one monitor."""
    problems: list[str] = []
    monitors = rec.of_type(APP_MONITOR)
    for pool in rec.of_type(IDENTITY_POOL):
        pool_id = out(pool, "id")
        attachments = [a for a in rec.of_type(POOL_ROLES) if pool.urn in deps(a, "identityPoolId")]
        if len(attachments) != 1:
            problems.append(f"{pool.urn}: {len(attachments)} role attachments, expected 1")
            continue
        roles = attachments[0].input("roles", default={})
        if set(roles) != {"unauthenticated"}:
            problems.append(
                f"{attachments[0].urn}: roles {sorted(roles)}, expected unauthenticated"
            )
        role_urns = deps(attachments[0], "roles")
        guest = [rec.by_urn(u) for u in role_urns if rec.by_urn(u).type == ROLE]
        if len(guest) != 1:
            problems.append(f"{attachments[0].urn}: guest role not found ({role_urns})")
            continue
        role = guest[0]
        for s in statements(role.input("assumeRolePolicy")):
            cond = s.get("Condition", {})
            if s.get("Principal") != {"Federated": COGNITO}:
                problems.append(f"{role.urn}: trusts {s.get('Principal')}, not only Cognito")
            if s.get("Action") != "sts:AssumeRoleWithWebIdentity":
                problems.append(f"{role.urn}: trust action {s.get('Action')!r}")
            if cond.get("StringEquals", {}).get(f"{COGNITO}:aud") != pool_id:
                problems.append(f"{role.urn}: trust is not limited to pool {pool_id}")
            amr = cond.get("ForAnyValue:StringLike", {}).get(f"{COGNITO}:amr")
            if amr != "unauthenticated":
                problems.append(f"{role.urn}: trust is not limited to guest identities ({amr!r})")
        monitor_arns = {
            out(m, "arn") for m in monitors if pool.urn in deps(m, "appMonitorConfiguration")
        }
        if len(monitor_arns) != 1:
            problems.append(f"{pool.urn}: used by {len(monitor_arns)} app monitors, expected 1")
            continue
        policies = [p for p in rec.of_type(ROLE_POLICY) if role.urn in deps(p, "role")]
        managed = [a for a in rec.of_type(ATTACHMENT) if role.urn in deps(a, "role")]
        problems += [f"{a.urn}: managed policy attached to the guest role" for a in managed]
        if not policies:
            problems.append(f"{role.urn}: no policy allows PutRumEvents")
        for policy in policies:
            for s in statements(policy.input("policy")):
                if s.get("Effect") != "Allow":
                    continue
                actions = as_list(s.get("Action")) + as_list(s.get("NotAction"))
                resources = as_list(s.get("Resource")) + as_list(s.get("NotResource"))
                if actions != ["rum:PutRumEvents"]:
                    problems.append(
                        f"{policy.urn}: allows {actions}, only rum:PutRumEvents is allowed"
                    )
                if set(resources) != monitor_arns:
                    problems.append(
                        f"{policy.urn}: on {resources}, only the app monitor {sorted(monitor_arns)}"
                    )
    return problems


def monitor_settings_problems(rec: Recording, sample_rate: float, cookies: bool) -> list[str]:
    problems = []
    for m in rec.of_type(APP_MONITOR):
        config = m.input("appMonitorConfiguration", default={})
        if config.get("sessionSampleRate") != sample_rate:
            problems.append(
                f"{m.urn}: sessionSampleRate {config.get('sessionSampleRate')} != {sample_rate}"
            )
        if config.get("allowCookies") is not cookies:
            problems.append(f"{m.urn}: allowCookies {config.get('allowCookies')} != {cookies}")
        if sorted(config.get("telemetries") or []) != ["errors", "http", "performance"]:
            problems.append(f"{m.urn}: telemetries {config.get('telemetries')}")
        if m.input("cwLogEnabled") is not True:
            problems.append(f"{m.urn}: events are not copied to CloudWatch Logs")
    return problems


def service_log_problems(rec: Recording, expected: dict[str, int]) -> list[str]:
    """Each service-created log group (name -> retention) is set up by an invocation whose
    function may touch it; its IAM pattern covers the name."""
    problems = []
    invocations = {}
    # Only the settings function's invocations (others, e.g. the pseudonym-key seed, differ).
    for inv in rec.children_of("groundwork:observability:ServiceLogSettings", INVOCATION):
        payload = json.loads(inv.input("input"))
        if "logGroupName" in payload:  # other invocations (e.g. the backup role setup)
            invocations[payload["logGroupName"]] = (inv, payload)
    for name, days in expected.items():
        if name not in invocations:
            problems.append(f"no invocation sets up log group {name!r} ({sorted(invocations)})")
            continue
        inv, payload = invocations[name]
        if payload["retentionInDays"] != days:
            problems.append(f"{inv.urn}: retention {payload['retentionInDays']} != {days}")
        if (
            not payload.get("kmsKeyArn")
            or payload.get("tags", {}).get("groundwork:logClass") is None
        ):
            problems.append(f"{inv.urn}: no KMS key or log class for {name}")
        component = inv.parent
        policies = [p for p in rec.of_type(ROLE_POLICY) if p.parent == component]
        allowed = [
            r
            for p in policies
            for s in statements(p.input("policy"))
            if "logs:PutRetentionPolicy" in as_list(s.get("Action"))
            for r in as_list(s.get("Resource"))
        ]
        if not any(fnmatch.fnmatchcase(payload["logGroupArn"], r) for r in allowed):
            problems.append(
                f"{inv.urn}: the function may not set up {payload['logGroupArn']} ({allowed})"
            )
    return problems


# ---- alarms --------------------------------------------------------------------------------


def alarm_problems(rec: Recording) -> list[str]:
    """Every alarm notifies the alerts topic on ALARM and OK; metric alarms state missing data."""
    topics = {out(t, "arn") for t in rec.of_type(TOPIC)}
    problems = []
    for alarm in rec.of_type(METRIC_ALARM) + rec.of_type(COMPOSITE_ALARM):
        if alarm.input("actionsEnabled") is False:
            problems.append(f"{alarm.urn}: actions disabled")
        for key in ("alarmActions", "okActions"):
            if not topics & set(alarm.input(key, default=[])):
                problems.append(f"{alarm.urn}: {key} {alarm.input(key)} lack the alerts topic")
        if alarm.type == METRIC_ALARM and not alarm.input("treatMissingData"):
            problems.append(f"{alarm.urn}: treatMissingData not stated")
    return problems


def composite_problems(rec: Recording, members: list[str]) -> list[str]:
    """The composite alarm's rule is an OR over exactly the named member alarms."""
    problems = []
    for comp in rec.of_type(COMPOSITE_ALARM):
        names = [out(named(rec, METRIC_ALARM, m), "name") for m in members]
        expected = " OR ".join(f'ALARM("{n}")' for n in names)
        if comp.input("alarmRule") != expected:
            problems.append(f"{comp.urn}: rule {comp.input('alarmRule')!r}, expected {expected!r}")
    return problems


# ---- dashboard -----------------------------------------------------------------------------


def _known_dimension_values(rec: Recording) -> dict[str, set[Any]]:
    return {
        "LoadBalancer": {out(r, "arnSuffix") for r in rec.of_type(ALB)},
        "TargetGroup": {out(r, "arnSuffix") for r in rec.of_type(TG)},
        "AutoScalingGroupName": {out(r, "name") for r in rec.of_type(ASG)},
        "DBInstanceIdentifier": {out(r, "identifier") for r in rec.of_type(RDS)},
        "CanaryName": {r.input("name") for r in rec.of_type(CANARY)},
        "application_name": {r.input("name") for r in rec.of_type(APP_MONITOR)},
    }


def dashboard_problems(rec: Recording) -> list[str]:
    """Every dashboard metric and alarm refers to a resource that exists in this stack."""
    known = _known_dimension_values(rec)
    filters = {
        (t.get("namespace"), t.get("name"))
        for f in rec.of_type(METRIC_FILTER)
        for t in [f.input("metricTransformation", default={})]
    }
    alarm_arns = {out(a, "arn") for a in rec.of_type(METRIC_ALARM) + rec.of_type(COMPOSITE_ALARM)}
    problems = []
    for board in rec.of_type(DASHBOARD):
        body = json.loads(board.input("dashboardBody"))
        metrics = dash.metrics_in(body)
        if not metrics:
            problems.append(f"{board.urn}: graphs no metric")
        for m in metrics:
            where = f"{board.urn}: widget {m.widget!r} metric {m.namespace}/{m.name}"
            if not m.dimensions and (m.namespace, m.name) not in filters:
                problems.append(f"{where}: no dimensions and no metric filter publishes it")
            for key, value in m.dimensions.items():
                if key not in known:
                    problems.append(f"{where}: unknown dimension {key}")
                elif value not in known[key]:
                    problems.append(f"{where}: {key}={value!r} is no resource of this stack")
        for arn in dash.alarms_in(body):
            if arn not in alarm_arns:
                problems.append(f"{board.urn}: alarm widget shows {arn!r}, not an alarm here")
    return problems


# ---- scaling -------------------------------------------------------------------------------


def scaling_target_problems(rec: Recording) -> list[str]:
    """Every scaling policy names the web tier's group, by reference and by value."""
    asgs = {a.urn: out(a, "name") for a in rec.of_type(ASG)}
    problems = []
    for p in rec.of_type(POLICY):
        targets = deps(p, "autoscalingGroupName")
        if len(targets) != 1 or targets[0] not in asgs:
            problems.append(f"{p.urn}: targets {targets}, not the web tier's autoscaling group")
        elif p.input("autoscalingGroupName") != asgs[targets[0]]:
            problems.append(
                f"{p.urn}: autoscalingGroupName {p.input('autoscalingGroupName')!r} != "
                f"{asgs[targets[0]]!r}"
            )
    return problems


def resource_label_problems(rec: Recording) -> list[str]:
    """ALB request metrics name `<alb arn suffix>/<target group arn suffix>` of this stack."""
    labels = {
        f"{out(a, 'arnSuffix')}/{out(t, 'arnSuffix')}"
        for a in rec.of_type(ALB)
        for t in rec.of_type(TG)
    }
    problems = []
    for p in rec.of_type(POLICY):
        for path in (
            ("targetTrackingConfiguration", "predefinedMetricSpecification", "resourceLabel"),
            (
                "predictiveScalingConfiguration",
                "metricSpecification",
                "predefinedMetricPairSpecification",
                "resourceLabel",
            ),
        ):
            label = p.input(*path)
            if label is not None and label not in labels:
                problems.append(f"{p.urn}: resource label {label!r} is not {sorted(labels)}")
    return problems
