"""Stack-wide rules: scaling policies, protection of stateful resources, phase capabilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import StackSettings
from .props import (
    MISSING,
    Finding,
    Resource,
    as_bool,
    as_list,
    as_number,
    get,
    is_unknown,
    tags_of,
    violation,
)

ASG = "aws:autoscaling/group:Group"
SCALING_POLICY = "aws:autoscaling/policy:Policy"
RDS_INSTANCE = "aws:rds/instance:Instance"
# Types whose deletion loses data (or, for an Aurora instance, takes the database down).
STATEFUL_TYPES = frozenset(
    {
        RDS_INSTANCE,
        "aws:rds/cluster:Cluster",
        "aws:rds/clusterInstance:ClusterInstance",
        "aws:rds/globalCluster:GlobalCluster",
        "aws:dynamodb/table:Table",
        "aws:dynamodb/globalTable:GlobalTable",
        "aws:efs/fileSystem:FileSystem",
        "aws:backup/vault:Vault",
        "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault",
        "aws:ebs/volume:Volume",
        "aws:kms/key:Key",
        "aws:cloudwatch/logGroup:LogGroup",
    }
)
BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
RUM_MONITOR = "aws:rum/appMonitor:AppMonitor"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
PHASES = ("early", "pmf", "growth")
STATEFUL_PURPOSES = ("backups", "analytics")


METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
# Policies that act only when an alarm invokes them (the provider's default is SimpleScaling).
ALARM_DRIVEN = ("SimpleScaling", "StepScaling")


def _policy_targets(policy: Resource, asg: Resource) -> bool:
    if asg.urn in policy.depends_via("autoscalingGroupName"):
        return True
    name = get(policy.props, "autoscalingGroupName")
    ids = {get(asg.props, k) for k in ("name", "id")}
    return isinstance(name, str) and not is_unknown(name) and name in ids


def _triggered(policy: Resource, alarms: Sequence[Resource]) -> bool:
    """Some alarm with actions enabled lists this policy among its alarm actions."""
    arn = get(policy.props, "arn")
    for alarm in alarms:
        if as_bool(get(alarm.props, "actionsEnabled")) is False:
            continue
        actions = as_list(get(alarm.props, "alarmActions"))
        if policy.urn in alarm.depends_via("alarmActions") or (
            isinstance(arn, str) and not is_unknown(arn) and arn in actions
        ):
            return True
    return False


def _scales(policy: Resource, alarms: Sequence[Resource]) -> bool:
    """The policy can change the group's capacity: enabled, and (step/simple) wired to an
    alarm, (predictive) not in forecast-only mode."""
    if as_bool(get(policy.props, "enabled")) is False:
        return False
    kind = get(policy.props, "policyType")
    if kind is MISSING or kind in ALARM_DRIVEN:
        return _triggered(policy, alarms)
    if kind == "PredictiveScaling":
        mode = get(policy.props, "predictiveScalingConfiguration", "mode")
        return mode == "ForecastAndScale" or is_unknown(mode)
    return True


# Suspended processes that stop every scaling policy from acting:
# https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-suspend-resume-processes.html
SCALING_PROCESSES = ("AlarmNotification", "Launch", "Terminate")


def _cannot_scale(asg: Resource) -> str:
    """Why the group cannot change capacity whatever its policies say ('' if it can)."""
    suspended = [p for p in as_list(get(asg.props, "suspendedProcesses")) if p in SCALING_PROCESSES]
    if suspended:
        return f"suspendedProcesses {suspended} stops scaling"
    low, high = as_number(get(asg.props, "minSize")), as_number(get(asg.props, "maxSize"))
    if low is not None and high is not None and high <= low:
        return f"maxSize {high:g} leaves no room above minSize {low:g}"
    return ""


def asg_scaling_policy(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    policies = [r for r in resources if r.type == SCALING_POLICY]
    alarms = [r for r in resources if r.type == METRIC_ALARM]
    findings: list[Finding] = []
    for asg in (r for r in resources if r.type == ASG):
        stuck = _cannot_scale(asg)
        if stuck:
            findings.append(
                violation(f"autoscaling group {asg.name} cannot scale: {stuck}", asg.urn)
            )
            continue
        mine = [p for p in policies if _policy_targets(p, asg)]
        if any(_scales(p, alarms) for p in mine):
            continue
        why = (
            "its policies are disabled, forecast-only or not triggered by any alarm"
            if mine
            else "no scaling policy (aws:autoscaling/policy:Policy)"
        )
        findings.append(violation(f"autoscaling group {asg.name} cannot scale: {why}", asg.urn))
    return findings


def _is_stateful(r: Resource) -> bool:
    if r.type in STATEFUL_TYPES:
        return True
    if r.type in BUCKETS:
        tags = tags_of(r.props)
        purpose = tags.get("groundwork:purpose") if isinstance(tags, Mapping) else None
        return purpose in STATEFUL_PURPOSES or get(r.props, "objectLockEnabled") is True
    return False


def stateful_protected(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    if not cfg.get("required", True):
        return []
    return [
        violation(
            f"{r.name} ({r.type}) holds state but is not protected (resource option protect=True)",
            r.urn,
        )
        for r in resources
        if _is_stateful(r) and not r.protect
    ]


def _has_target_tracking(resources: Sequence[Resource], metric: str) -> bool:
    for p in resources:
        if p.type != SCALING_POLICY:
            continue
        kind = get(p.props, "policyType")
        spec = get(
            p.props,
            "targetTrackingConfiguration",
            "predefinedMetricSpecification",
            "predefinedMetricType",
        )
        enabled = as_bool(get(p.props, "enabled")) is not False
        if kind == "TargetTrackingScaling" and spec == metric and enabled:
            return True
    return False


def phase_capabilities(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    phase = st.phase or "early"
    if phase not in PHASES:
        return [
            violation(f"stack config groundwork:phase is {phase!r}; allowed: {', '.join(PHASES)}")
        ]
    rank = PHASES.index(phase)
    types = {r.type for r in resources}
    findings: list[Finding] = []
    if rank >= 1 and RUM_MONITOR not in types:
        findings.append(
            violation(f"phase {phase!r} needs real user monitoring: no {RUM_MONITOR} in the stack")
        )
    if rank >= 2:
        if DASHBOARD not in types:
            findings.append(
                violation(
                    f"phase {phase!r} needs a performance dashboard: no {DASHBOARD} in the stack"
                )
            )
        metric = str(cfg.get("requestScalingMetric", "ALBRequestCountPerTarget"))
        if not _has_target_tracking(resources, metric):
            findings.append(
                violation(
                    f"phase {phase!r} needs performance scaling: no target-tracking scaling "
                    f"policy on {metric}"
                )
            )
    return findings
