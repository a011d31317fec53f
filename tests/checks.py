"""Invariants of the foundation as check functions over a Recording.

Each returns a list of problems naming the URN; tests assert the shipped stacks give none and
that a deliberately broken copy gives some, so no check can pass vacuously.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import re
from collections.abc import Callable
from typing import Any

from offline.model import UNKNOWN, RecordedResource, Recording, plain
from tests.recording_queries import by_name, deps

ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
SUBNET = "aws:ec2/subnet:Subnet"
SG_IN = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"
POLICY = "aws:autoscaling/policy:Policy"
ALB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def replace_inputs(
    recording: Recording, urn: str, change: Callable[[dict[str, Any]], None]
) -> Recording:
    """A copy of `recording` where `change` has edited the (plain) inputs of resource `urn`."""
    resources = []
    for r in recording.resources:
        if r.urn == urn:
            inputs = copy.deepcopy(plain(r.inputs))
            change(inputs)
            r = dataclasses.replace(r, inputs=inputs)
        resources.append(r)
    return dataclasses.replace(recording, resources=resources)


def replace_resource(recording: Recording, urn: str, **fields: Any) -> Recording:
    resources = [dataclasses.replace(r, **fields) if r.urn == urn else r for r in recording]
    return dataclasses.replace(recording, resources=resources)


def edit_named(
    name: str, change: Callable[[dict[str, Any]], None]
) -> Callable[[Recording], Recording]:
    """A breaker: the copy whose one resource named `name` has `change` applied to its inputs."""
    return lambda rec: replace_inputs(rec, by_name(rec, name).urn, change)


def without_named(name: str) -> Callable[[Recording], Recording]:
    """A breaker: the copy without the resources named `name`."""
    return lambda rec: dataclasses.replace(rec, resources=[r for r in rec if r.name != name])


def asg_spans_distinct_azs(rec: Recording, minimum: int) -> list[str]:
    """Every ASG uses >= `minimum` private subnets, each in a different AZ."""
    problems = []
    for asg in rec.of_type(ASG):
        subnet_urns = deps(asg, "vpcZoneIdentifiers")
        subnets = [rec.by_urn(u) for u in subnet_urns]
        azs = {s.input("availabilityZone") for s in subnets}
        tiers = {s.input("tags", "groundwork:tier") for s in subnets}
        if len(subnets) < minimum or len(azs) != len(subnets):
            problems.append(f"{asg.urn}: {len(subnets)} subnets in AZs {sorted(azs)}")
        if tiers != {"private"}:
            problems.append(f"{asg.urn}: subnets not all private ({tiers})")
    return problems


def asg_uses_elb_health_checks(rec: Recording) -> list[str]:
    return [
        f"{a.urn}: healthCheckType={a.input('healthCheckType')!r}, "
        f"grace={a.input('healthCheckGracePeriod')!r}"
        for a in rec.of_type(ASG)
        if a.input("healthCheckType") != "ELB" or not a.input("healthCheckGracePeriod")
    ]


def launch_templates_hardened(rec: Recording) -> list[str]:
    """IMDSv2 required, every EBS volume encrypted, no public IP on any interface."""
    problems = []
    for lt in rec.of_type(LT):
        if lt.input("metadataOptions", "httpTokens") != "required":
            problems.append(f"{lt.urn}: IMDSv2 not required")
        volumes = lt.input("blockDeviceMappings", default=[])
        if not volumes or any((v.get("ebs") or {}).get("encrypted") != "true" for v in volumes):
            problems.append(f"{lt.urn}: a volume is not encrypted ({volumes})")
        nics = lt.input("networkInterfaces", default=[])
        if not nics or any(n.get("associatePublicIpAddress") != "false" for n in nics):
            problems.append(f"{lt.urn}: an interface may get a public IP ({nics})")
    return problems


def instance_ingress_only_from_alb(rec: Recording) -> list[str]:
    """Rules on the instance SG admit only the ALB's SG, only on the app port."""
    problems = []
    alb = rec.one(ALB)
    alb_sgs = set(deps(alb, "securityGroups"))
    lt = rec.one(LT)
    instance_sgs = set(deps(lt, "networkInterfaces"))
    instance_sgs = {u for u in instance_sgs if rec.by_urn(u).type == SG}
    if not instance_sgs:
        return [f"{lt.urn}: no security group on the instances"]
    for rule in rec.of_type(SG_IN):
        if not set(deps(rule, "securityGroupId")) & instance_sgs:
            continue
        source = set(deps(rule, "referencedSecurityGroupId"))
        if rule.input("cidrIpv4") or rule.input("cidrIpv6") or not source <= alb_sgs or not source:
            problems.append(f"{rule.urn}: instance ingress not limited to the ALB security group")
    return problems


def scaling_policies_target_asg(rec: Recording) -> list[str]:
    asgs = {a.urn for a in rec.of_type(ASG)}
    policies = rec.of_type(POLICY)
    problems = [
        f"{p.urn}: targets {deps(p, 'autoscalingGroupName')}, not an ASG of this stack"
        for p in policies
        if not set(deps(p, "autoscalingGroupName"))
        or not set(deps(p, "autoscalingGroupName")) <= asgs
    ]
    targeted = {u for p in policies for u in deps(p, "autoscalingGroupName")}
    problems += [f"{u}: no scaling policy" for u in sorted(asgs - targeted)]
    return problems


def children_parented(rec: Recording) -> list[str]:
    """Every cloud resource has a component parent (not the stack, not nothing)."""
    components = {r.urn for r in rec if not r.custom}
    return [
        f"{r.urn}: parent {r.parent or '(none)'} is not a component"
        for r in rec
        if r.custom and r.parent not in components
    ]


def component_types_wellformed(rec: Recording) -> list[str]:
    pattern = re.compile(r"^groundwork:[a-z]+:[A-Z][A-Za-z]+$")
    return [f"{r.urn}: type {r.type!r}" for r in rec if not r.custom and not pattern.match(r.type)]


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def user_data(resource: RecordedResource) -> str:
    encoded = resource.input("userData")
    if encoded in (None, UNKNOWN):
        return ""
    return base64.b64decode(encoded).decode()


def literal_leaks(rec: Recording, forbidden: list[str]) -> list[str]:
    """Inputs (user data decoded) that contain any of the `forbidden` strings."""
    problems = []
    for r in rec:
        texts = strings_in(r.inputs)
        if r.type == LT:
            texts.append(user_data(r))
        for text in texts:
            for word in forbidden:
                if word in text:
                    problems.append(f"{r.urn}: input contains {word!r}: {text[:120]!r}")
    return problems


def log_groups_retained_and_encrypted(rec: Recording) -> list[str]:
    return [
        f"{g.urn}: retention={g.input('retentionInDays')!r} kms={g.input('kmsKeyId')!r}"
        for g in rec.of_type(LOG_GROUP)
        if not g.input("retentionInDays") or not g.input("kmsKeyId")
    ]
