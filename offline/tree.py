"""Render a recording as a resource tree grouped by component, with the inputs that matter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from offline.model import UNKNOWN, RecordedResource, Recording, plain

# Per resource type, the few inputs a reviewer wants to see in a preview (dotted paths).
KEY_INPUTS: dict[str, Sequence[str]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType"),
    "aws:lb/loadBalancer:LoadBalancer": ("enableDeletionProtection", "dropInvalidHeaderFields"),
    "aws:lb/listener:Listener": ("port", "protocol", "sslPolicy"),
    "aws:lb/targetGroup:TargetGroup": ("port", "healthCheck.path"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("instanceType", "metadataOptions.httpTokens"),
    "aws:autoscaling/group:Group": ("minSize", "maxSize", "healthCheckType"),
    "aws:autoscaling/policy:Policy": (
        "policyType",
        "targetTrackingConfiguration.targetValue",
    ),
    "aws:cloudwatch/logGroup:LogGroup": ("retentionInDays",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("metricName", "threshold"),
    "aws:kms/key:Key": ("enableKeyRotation",),
    "aws:rds/instance:Instance": (
        "instanceClass",
        "multiAz",
        "backupRetentionPeriod",
        "deletionProtection",
    ),
    "aws:s3/bucket:Bucket": ("objectLockEnabled",),
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": (
        "rule.defaultRetention.mode",
        "rule.defaultRetention.days",
    ),
    "aws:ec2/natGateway:NatGateway": ("connectivityType",),
    "aws:rum/appMonitor:AppMonitor": ("domain",),
    "aws:codepipeline/pipeline:Pipeline": ("pipelineType",),
    "aws:cognito/identityPool:IdentityPool": (
        "allowUnauthenticatedIdentities",
        "allowClassicFlow",
    ),
    "aws:synthetics/canary:Canary": ("schedule.expression", "runtimeVersion"),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": ("alarmName",),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName",),
}


def _at(inputs: dict[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _fmt(value: Any) -> str:
    if value == UNKNOWN:
        return "(known after apply)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def describe(resource: RecordedResource) -> str:
    inputs = plain(resource.inputs)
    parts = []
    for path in KEY_INPUTS.get(resource.type, ()):
        value = _at(inputs, path)
        if value is not None:
            parts.append(f"{path.rsplit('.', 1)[-1]}={_fmt(value)}")
    if resource.protect:
        parts.append("protected")
    return "  ".join(parts)


def _short_type(type_: str) -> str:
    # aws:ec2/launchTemplate:LaunchTemplate -> aws:ec2:LaunchTemplate
    pkg, module, cls = [*type_.split(":"), "", ""][:3]
    return f"{pkg}:{module.split('/')[0]}:{cls}" if cls else type_


def render(recording: Recording) -> str:
    """The tree (components, then their children, sorted), and a summary line."""
    by_parent: dict[str, list[RecordedResource]] = {}
    for r in recording.resources:
        by_parent.setdefault(r.parent, []).append(r)
    lines = [f"Stack {recording.project}/{recording.stack}"]

    def walk(parent: str, depth: int) -> None:
        children = sorted(by_parent.get(parent, []), key=lambda r: (r.custom, r.type, r.name))
        for r in children:
            detail = describe(r)
            label = f"{'  ' * depth}{'+ ' if not r.custom else '- '}{_short_type(r.type)}  {r.name}"
            lines.append(f"{label}  {detail}".rstrip())
            walk(r.urn, depth + 1)

    walk(recording.stack_urn, 1)
    # Resources whose parent was not recorded (none in a healthy program) still show up.
    known = {r.urn for r in recording.resources} | {recording.stack_urn}
    for r in sorted(recording.resources, key=lambda r: r.urn):
        if r.parent and r.parent not in known:
            lines.append(f"  ? {_short_type(r.type)}  {r.name}  (parent {r.parent} missing)")
    lines.append("")
    lines.append(summary(recording))
    return "\n".join(lines)


def summary(recording: Recording) -> str:
    custom = sum(1 for r in recording.resources if r.custom)
    components = len(recording.resources) - custom
    protected = sum(1 for r in recording.resources if r.protect)
    mode = "preview (unknowns as in a real preview)" if recording.preview else "full"
    return (
        f"{len(recording.resources)} resources ({custom} cloud resources in {components} "
        f"components), {protected} protected; stack {recording.stack}, {mode} mode"
    )
