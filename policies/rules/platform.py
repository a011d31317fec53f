"""Stack-wide rules: scaling policies, protection of stateful resources, phase capabilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import StackSettings
from .props import Finding, Resource, get, is_unknown, tags_of, violation

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


def _policy_targets(policy: Resource, asg: Resource) -> bool:
    if asg.urn in policy.depends_via("autoscalingGroupName"):
        return True
    name = get(policy.props, "autoscalingGroupName")
    ids = {get(asg.props, k) for k in ("name", "id")}
    return isinstance(name, str) and not is_unknown(name) and name in ids


def asg_scaling_policy(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    policies = [r for r in resources if r.type == SCALING_POLICY]
    return [
        violation(
            f"autoscaling group {asg.name} has no scaling policy (aws:autoscaling/policy:Policy)",
            asg.urn,
        )
        for asg in resources
        if asg.type == ASG and not any(_policy_targets(p, asg) for p in policies)
    ]


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
        if kind == "TargetTrackingScaling" and spec == metric:
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
