"""Hosting rules: EC2 launch templates and instances, autoscaling groups, load balancers.

Shapes are pulumi-aws 7 inputs. Launch template EBS and network-interface flags are strings
("true"/"false") in that schema; `as_bool` accepts both forms.
"""

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
    get,
    is_unknown,
    undecided,
    violation,
)

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
SPOT_INSTANCE = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
ASG = "aws:autoscaling/group:Group"
LOAD_BALANCERS = frozenset(
    {"aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"}
)
LISTENERS = frozenset({"aws:lb/listener:Listener", "aws:alb/listener:Listener"})

INSTANCE_LIKE = frozenset({LAUNCH_TEMPLATE, INSTANCE, LAUNCH_CONFIGURATION, SPOT_INSTANCE})


def imdsv2_required(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    tokens = get(r.props, "metadataOptions", "httpTokens")
    if is_unknown(tokens):
        return [undecided("metadataOptions.httpTokens")]
    endpoint = get(r.props, "metadataOptions", "httpEndpoint")
    if endpoint == "disabled":
        return []  # no metadata service at all: nothing to downgrade to IMDSv1
    if tokens != "required":
        shown = "not set" if tokens is MISSING else repr(tokens)
        return [violation(f"metadataOptions.httpTokens is {shown}; set it to 'required' (IMDSv2)")]
    return []


def _ebs_volumes(r: Resource) -> list[tuple[str, Any]]:
    """(label, encrypted value) for every EBS volume the resource declares."""
    out: list[tuple[str, Any]] = []
    if r.type == LAUNCH_TEMPLATE:
        for i, m in enumerate(as_list(get(r.props, "blockDeviceMappings"))):
            ebs = get(m, "ebs")
            if ebs is MISSING:
                continue
            out.append((f"blockDeviceMappings[{i}].ebs.encrypted", get(ebs, "encrypted")))
    else:
        root = get(r.props, "rootBlockDevice")
        out.append(("rootBlockDevice.encrypted", get(root, "encrypted") if root else MISSING))
        for i, dev in enumerate(as_list(get(r.props, "ebsBlockDevices"))):
            out.append((f"ebsBlockDevices[{i}].encrypted", get(dev, "encrypted")))
    return out


def ebs_encrypted(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    mappings = get(r.props, "blockDeviceMappings")
    if r.type == LAUNCH_TEMPLATE and is_unknown(mappings):
        return [undecided("blockDeviceMappings")]
    volumes = _ebs_volumes(r)
    findings: list[Finding] = []
    if r.type == LAUNCH_TEMPLATE and not volumes:
        findings.append(
            violation(
                "no EBS block device mapping: declare the root volume with ebs.encrypted='true' "
                "(an AMI's own mapping is only encrypted if account-level EBS encryption is on)"
            )
        )
    for label, value in volumes:
        if is_unknown(value):
            findings.append(undecided(label))
        elif as_bool(value) is not True:
            findings.append(violation(f"{label} is {value!r}; EBS volumes must be encrypted"))
    return findings


def no_public_ip(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    findings: list[Finding] = []
    if r.type == LAUNCH_TEMPLATE:
        nics = get(r.props, "networkInterfaces")
        if is_unknown(nics):
            return [undecided("networkInterfaces")]
        for i, nic in enumerate(as_list(nics)):
            value = get(nic, "associatePublicIpAddress")
            label = f"networkInterfaces[{i}].associatePublicIpAddress"
            if is_unknown(value):
                findings.append(undecided(label))
            elif as_bool(value) is True:
                findings.append(
                    violation(f"{label} is {value!r}; instances must not get a public IP")
                )
    else:
        value = get(r.props, "associatePublicIpAddress")
        if is_unknown(value):
            findings.append(undecided("associatePublicIpAddress"))
        elif as_bool(value) is True:
            findings.append(
                violation("associatePublicIpAddress is true; instances must not get a public IP")
            )
    return findings


def _asg_launch_template(props: Mapping[str, Any]) -> Any:
    lt = get(props, "launchTemplate")
    if lt is not MISSING:
        return lt
    return get(props, "mixedInstancesPolicy", "launchTemplate", "launchTemplateSpecification")


def launch_template_required(
    r: Resource, cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    if r.type == ASG:
        if get(r.props, "launchConfiguration") is not MISSING:
            return [
                violation("uses a launch configuration; use a launch template (launchTemplate)")
            ]
        lt = _asg_launch_template(r.props)
        if is_unknown(lt):
            return []  # a template reference is there, its id pending: that is compliant
        if lt is MISSING or all(
            get(lt, k) is MISSING for k in ("id", "name", "launchTemplateId", "launchTemplateName")
        ):
            return [
                violation(
                    "has no launch template (launchTemplate or mixedInstancesPolicy.launchTemplate)"
                )
            ]
        return []
    lt = get(r.props, "launchTemplate")
    if lt is MISSING:
        return [violation("is not launched from a launch template (launchTemplate)")]
    return []


def asg_elb_health_check(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    kind = get(r.props, "healthCheckType")
    if is_unknown(kind):
        return [undecided("healthCheckType")]
    if kind != "ELB":
        shown = "not set (EC2)" if kind is MISSING else repr(kind)
        return [
            violation(f"healthCheckType is {shown}; use 'ELB' so unhealthy targets are replaced")
        ]
    return []


def asg_availability_zones(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    minimum = int(cfg.get("minAvailabilityZones", 2))
    subnets = get(r.props, "vpcZoneIdentifiers")
    zones = get(r.props, "availabilityZones")
    source, value = (
        ("vpcZoneIdentifiers", subnets) if subnets is not MISSING else ("availabilityZones", zones)
    )
    if is_unknown(value):
        return [undecided(source)]
    items = as_list(value)
    # Unknown subnet ids (created in this stack) still count one each: the list length is known.
    known = {v for v in items if not is_unknown(v)}
    count = len(known) + sum(1 for v in items if is_unknown(v))
    if count < minimum:
        return [
            violation(f"spans {count} availability zone(s) ({source}); at least {minimum} required")
        ]
    return []


def _is_application_lb(props: Mapping[str, Any]) -> bool:
    kind = get(props, "loadBalancerType")
    return kind is MISSING or kind == "application" or is_unknown(kind)


def alb_drop_invalid_headers(
    r: Resource, cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    if not _is_application_lb(r.props):
        return []
    value = get(r.props, "dropInvalidHeaderFields")
    if is_unknown(value):
        return [undecided("dropInvalidHeaderFields")]
    if as_bool(value) is not True:
        return [violation("dropInvalidHeaderFields is not true; drop invalid HTTP headers")]
    return []


def lb_deletion_protection(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    if not cfg.get("required", True):
        return []
    value = get(r.props, "enableDeletionProtection")
    if is_unknown(value):
        return [undecided("enableDeletionProtection")]
    if as_bool(value) is not True:
        return [violation("enableDeletionProtection is not true")]
    return []


def _listener_lb(listener: Resource, lbs: Sequence[Resource]) -> Resource | None:
    deps = set(listener.depends_via("loadBalancerArn"))
    arn = get(listener.props, "loadBalancerArn")
    for lb in lbs:
        if lb.urn in deps:
            return lb
        lb_arn = get(lb.props, "arn")
        if isinstance(arn, str) and not is_unknown(arn) and arn == lb_arn:
            return lb
    return None


def _is_https(listener: Resource) -> bool:
    proto = get(listener.props, "protocol")
    return proto == "HTTPS" or (
        proto is MISSING and get(listener.props, "certificateArn") is not MISSING
    )


def alb_https_redirect(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    lbs = [r for r in resources if r.type in LOAD_BALANCERS]
    listeners = [r for r in resources if r.type in LISTENERS]
    by_lb: dict[str, list[Resource]] = {}
    for listener in listeners:
        lb = _listener_lb(listener, lbs)
        if lb is not None:
            by_lb.setdefault(lb.urn, []).append(listener)
    findings: list[Finding] = []
    for lb in lbs:
        attached = by_lb.get(lb.urn, [])
        if not any(_is_https(li) for li in attached):
            continue
        for li in attached:
            if get(li.props, "protocol") != "HTTP":
                continue
            actions = get(li.props, "defaultActions")
            if is_unknown(actions):
                findings.append(undecided("defaultActions", li.urn))
                continue
            redirects = [
                a
                for a in as_list(actions)
                if get(a, "type") == "redirect" and get(a, "redirect", "protocol") == "HTTPS"
            ]
            if not redirects:
                findings.append(
                    violation(
                        f"HTTP listener on {lb.name} (which has an HTTPS listener) does not "
                        "redirect "
                        "to HTTPS (defaultActions: type 'redirect', redirect.protocol 'HTTPS')",
                        li.urn,
                    )
                )
    return findings


LISTENER_RULES = frozenset(
    {"aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule"}
)


def _redirects_to_https(actions: Any) -> bool:
    listed = as_list(actions)
    return bool(listed) and all(
        get(a, "type") == "redirect" and get(a, "redirect", "protocol") == "HTTPS" for a in listed
    )


def _serves_http(listener: Resource) -> bool:
    proto = get(listener.props, "protocol")
    return proto == "HTTP" or (
        proto is MISSING and get(listener.props, "certificateArn") is MISSING
    )


def alb_public_http(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    """Internet-facing load balancers serve nothing over plain HTTP: every HTTP listener (and
    every rule on one) only redirects to HTTPS, whether or not an HTTPS listener exists."""
    lbs = [r for r in resources if r.type in LOAD_BALANCERS]
    findings: list[Finding] = []
    http_listeners: dict[str, Resource] = {}
    for li in (r for r in resources if r.type in LISTENERS):
        lb = _listener_lb(li, lbs)
        if lb is None or not _serves_http(li):
            continue
        internal = get(lb.props, "internal")
        if is_unknown(internal):
            findings.append(undecided("internal", lb.urn))
            continue
        if as_bool(internal) is True:
            continue
        http_listeners[li.urn] = li
        actions = get(li.props, "defaultActions")
        if is_unknown(actions):
            findings.append(undecided("defaultActions", li.urn))
        elif not _redirects_to_https(actions):
            findings.append(
                violation(
                    f"internet-facing {lb.name} serves plain HTTP on {li.name}: make its default "
                    "action a redirect to HTTPS (type 'redirect', redirect.protocol 'HTTPS')",
                    li.urn,
                )
            )
    for rule in (r for r in resources if r.type in LISTENER_RULES):
        if not set(rule.depends_via("listenerArn")) & set(http_listeners):
            continue
        actions = get(rule.props, "actions")
        if is_unknown(actions):
            findings.append(undecided("actions", rule.urn))
        elif not _redirects_to_https(actions):
            findings.append(
                violation(
                    f"listener rule {rule.name} serves plain HTTP on an internet-facing load "
                    "balancer's HTTP listener; only redirects to HTTPS belong there",
                    rule.urn,
                )
            )
    return findings
