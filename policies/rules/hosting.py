"""Hosting rules: EC2 launch templates, instances, spot requests and fleets, EBS volumes,
autoscaling groups, load balancers and their listeners.

The EC2 rules are stack rules: an instance inherits what it leaves unset from its launch
template, its subnet and the account-level defaults of its region, so they look at those too.
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
    as_number,
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

SPOT_FLEET = "aws:ec2/spotFleetRequest:SpotFleetRequest"
EBS_VOLUME = "aws:ebs/volume:Volume"
SUBNET = "aws:ec2/subnet:Subnet"
EIP = "aws:ec2/eip:Eip"
EIP_ASSOCIATION = "aws:ec2/eipAssociation:EipAssociation"
METADATA_DEFAULTS = "aws:ec2/instanceMetadataDefaults:InstanceMetadataDefaults"
EBS_DEFAULT_ENCRYPTION = "aws:ebs/encryptionByDefault:EncryptionByDefault"

INSTANCE_LIKE = frozenset({LAUNCH_TEMPLATE, INSTANCE, LAUNCH_CONFIGURATION, SPOT_INSTANCE})
# Launched directly (not through a template): settings they leave out come from the template
# they name, else from the account-level defaults of the region.
DIRECT = frozenset({INSTANCE, SPOT_INSTANCE})


def _template_of(r: Resource, resources: Sequence[Resource]) -> Resource | None:
    """The launch template of this stack that an instance or group names, if any."""
    deps = set(r.depends_via("launchTemplate"))
    ref = get(r.props, "launchTemplate")
    if r.type == ASG and ref is MISSING:
        ref = _asg_launch_template(r.props)
        deps |= set(r.depends_via("mixedInstancesPolicy"))
    values = {get(ref, k) for k in ("id", "name", "launchTemplateId", "launchTemplateName")} - {
        MISSING
    }
    for lt in resources:
        if lt.type != LAUNCH_TEMPLATE:
            continue
        if lt.urn in deps or values & {get(lt.props, "id"), get(lt.props, "name")} - {MISSING}:
            return lt
    return None


def _account_imdsv2(resources: Sequence[Resource]) -> bool:
    """Account-level instance metadata defaults require IMDSv2 for new instances that do not
    set it themselves (launch parameters and the AMI take precedence):
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataDefaults.html"""
    return any(
        r.type == METADATA_DEFAULTS and get(r.props, "httpTokens") == "required" for r in resources
    )


def _tokens_verdict(props: Any, label: str, urn: str) -> list[Finding] | None:
    """Findings for an explicit metadataOptions; None when the resource leaves tokens unset."""
    tokens = get(props, "metadataOptions", "httpTokens")
    if is_unknown(tokens):
        return [undecided(f"{label}metadataOptions.httpTokens", urn)]
    if get(props, "metadataOptions", "httpEndpoint") == "disabled":
        return []  # no metadata service at all: nothing to downgrade to IMDSv1
    if tokens is MISSING:
        return None
    if tokens != "required":
        return [
            violation(f"{label}metadataOptions.httpTokens is {tokens!r}; set it to 'required'", urn)
        ]
    return []


def _imds_findings(r: Resource, resources: Sequence[Resource], account: bool) -> list[Finding]:
    verdict = _tokens_verdict(r.props, "", r.urn)
    lt = _template_of(r, resources) if r.type in DIRECT else None
    if verdict is None and lt is not None:
        verdict = _tokens_verdict(lt.props, f"launch template {lt.name}: ", r.urn)
    if verdict is not None or account:
        return verdict or []
    return [
        violation(
            "metadataOptions.httpTokens is not set (nor by a launch template or account-level "
            "InstanceMetadataDefaults); set it to 'required' (IMDSv2)",
            r.urn,
        )
    ]


def imdsv2_required(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    account = _account_imdsv2(resources)
    findings: list[Finding] = []
    for r in resources:
        if r.type in INSTANCE_LIKE:
            findings.extend(_imds_findings(r, resources, account))
        elif r.type == SPOT_FLEET and not account and as_list(get(r.props, "launchSpecifications")):
            findings.append(
                violation(
                    "launchSpecifications cannot require IMDSv2; use launchTemplateConfigs "
                    "with a template that sets metadataOptions.httpTokens 'required'",
                    r.urn,
                )
            )
    return findings


def _account_ebs_encryption(resources: Sequence[Resource]) -> bool:
    """EBS encryption by default is on for the region: "the EBS volumes that you create are
    always encrypted", whatever a request says:
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableEbsEncryptionByDefault.html"""
    return any(
        r.type == EBS_DEFAULT_ENCRYPTION and as_bool(get(r.props, "enabled")) is not False
        for r in resources
    )


def _ebs_volumes(r: Resource) -> list[tuple[str, Any]]:
    """(label, encrypted value) for every EBS volume the resource declares."""
    out: list[tuple[str, Any]] = []
    if r.type == LAUNCH_TEMPLATE:
        for i, m in enumerate(as_list(get(r.props, "blockDeviceMappings"))):
            ebs = get(m, "ebs")
            if ebs is MISSING:
                continue
            out.append((f"blockDeviceMappings[{i}].ebs.encrypted", get(ebs, "encrypted")))
    elif r.type == SPOT_FLEET:
        for i, spec in enumerate(as_list(get(r.props, "launchSpecifications"))):
            roots = as_list(get(spec, "rootBlockDevices"))
            if not roots:
                out.append((f"launchSpecifications[{i}].rootBlockDevices", MISSING))
            for j, dev in enumerate(roots + as_list(get(spec, "ebsBlockDevices"))):
                out.append(
                    (f"launchSpecifications[{i}] volume {j}.encrypted", get(dev, "encrypted"))
                )
    elif r.type == EBS_VOLUME:
        out.append(("encrypted", get(r.props, "encrypted")))
    else:
        root = get(r.props, "rootBlockDevice")
        out.append(("rootBlockDevice.encrypted", get(root, "encrypted") if root else MISSING))
        for i, dev in enumerate(as_list(get(r.props, "ebsBlockDevices"))):
            out.append((f"ebsBlockDevices[{i}].encrypted", get(dev, "encrypted")))
    return out


def _template_encrypts_root(lt: Resource) -> bool:
    vols = _ebs_volumes(lt)
    return bool(vols) and all(as_bool(v) is True for _, v in vols)


def _ebs_findings(r: Resource, resources: Sequence[Resource], account: bool) -> list[Finding]:
    if r.type == LAUNCH_TEMPLATE and is_unknown(get(r.props, "blockDeviceMappings")):
        return [undecided("blockDeviceMappings", r.urn)]
    volumes = _ebs_volumes(r)
    findings: list[Finding] = []
    if r.type == LAUNCH_TEMPLATE and not volumes and not account:
        findings.append(
            violation(
                "no EBS block device mapping: declare the root volume with ebs.encrypted='true' "
                "(an AMI's own mapping is only encrypted if account-level EBS encryption is on)",
                r.urn,
            )
        )
    lt = _template_of(r, resources) if r.type in DIRECT else None
    for label, value in volumes:
        if is_unknown(value):
            findings.append(undecided(label, r.urn))
        elif as_bool(value) is True:
            continue
        elif account or (value is MISSING and lt is not None and _template_encrypts_root(lt)):
            continue  # the account default encrypts every new volume; or its template does
        else:
            shown = "not set" if value is MISSING else repr(value)
            findings.append(violation(f"{label} is {shown}; EBS volumes must be encrypted", r.urn))
    return findings


def ebs_encrypted(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    account = _account_ebs_encryption(resources)
    findings: list[Finding] = []
    for r in resources:
        if r.type in INSTANCE_LIKE or r.type in (SPOT_FLEET, EBS_VOLUME):
            findings.extend(_ebs_findings(r, resources, account))
    return findings


def _public_subnets(r: Resource, key: str, resources: Sequence[Resource]) -> list[Resource]:
    """Subnets of this stack the resource launches into that give instances a public IPv4."""
    deps = set(r.depends_via(key))
    values = {v for v in as_list(get(r.props, key)) if isinstance(v, str)}
    return [
        s
        for s in resources
        if s.type == SUBNET
        and (s.urn in deps or get(s.props, "id") in values)
        and as_bool(get(s.props, "mapPublicIpOnLaunch")) is True
    ]


def _template_public_flags(lt: Resource) -> list[Any]:
    return [get(n, "associatePublicIpAddress") for n in as_list(get(lt.props, "networkInterfaces"))]


def _public_ip_findings(r: Resource, resources: Sequence[Resource]) -> list[Finding]:
    if r.type == LAUNCH_TEMPLATE:
        nics = get(r.props, "networkInterfaces")
        if is_unknown(nics):
            return [undecided("networkInterfaces", r.urn)]
        out: list[Finding] = []
        for i, value in enumerate(_template_public_flags(r)):
            label = f"networkInterfaces[{i}].associatePublicIpAddress"
            if is_unknown(value):
                out.append(undecided(label, r.urn))
            elif as_bool(value) is True:
                out.append(violation(f"{label} is {value!r}; no public IPs", r.urn))
        return out
    if r.type == SPOT_FLEET:
        return [
            violation(f"launchSpecifications[{i}].associatePublicIpAddress is true", r.urn)
            for i, spec in enumerate(as_list(get(r.props, "launchSpecifications")))
            if as_bool(get(spec, "associatePublicIpAddress")) is True
        ]
    if r.type == ASG:
        key, value = "vpcZoneIdentifiers", MISSING
    else:
        key, value = "subnetId", get(r.props, "associatePublicIpAddress")
    if is_unknown(value):
        return [undecided("associatePublicIpAddress", r.urn)]
    if as_bool(value) is True:
        return [
            violation("associatePublicIpAddress is true; instances must not get a public IP", r.urn)
        ]
    if value is not MISSING:
        return []
    lt = _template_of(r, resources) if r.type in (*DIRECT, ASG) else None
    if lt is not None and any(as_bool(v) is False for v in _template_public_flags(lt)):
        return []  # the template says no public IP explicitly: the subnet default is overridden
    return [
        violation(
            f"launches into subnet {s.name}, which maps public IPs on launch, without "
            "associatePublicIpAddress false",
            r.urn,
        )
        for s in _public_subnets(r, key, resources)
    ]


def no_public_ip(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    findings: list[Finding] = []
    instances = {r.urn for r in resources if r.type in DIRECT}
    for r in resources:
        if r.type in INSTANCE_LIKE or r.type in (SPOT_FLEET, ASG):
            findings.extend(_public_ip_findings(r, resources))
        elif r.type in (EIP, EIP_ASSOCIATION):
            key = "instance" if r.type == EIP else "instanceId"
            if get(r.props, key) is not MISSING or instances & set(r.depends_via(key)):
                findings.append(
                    violation(
                        f"gives an instance a public IP ({key}); reach it through the ALB", r.urn
                    )
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
    if r.type == SPOT_FLEET:
        if as_list(get(r.props, "launchSpecifications")):
            return [violation("uses launchSpecifications; use launchTemplateConfigs")]
        return []
    lt = get(r.props, "launchTemplate")
    if lt is MISSING:
        return [violation("is not launched from a launch template (launchTemplate)")]
    return []


# Suspending these processes turns the group's health checks off without removing them:
# https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-suspend-resume-processes.html
HEALTH_PROCESSES = ("HealthCheck", "ReplaceUnhealthy")
MAX_GRACE_SECONDS = 3600


def asg_elb_health_check(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    kind = get(r.props, "healthCheckType")
    if is_unknown(kind):
        return [undecided("healthCheckType")]
    # "A comma-separated value string of one or more health check types" (EC2, EBS, ELB,
    # VPC_LATTICE): the group is ELB-checked if ELB is in it.
    # https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html
    kinds = {k.strip().upper() for k in kind.split(",")} if isinstance(kind, str) else set()
    findings: list[Finding] = []
    if "ELB" not in kinds:
        shown = "not set (EC2)" if kind is MISSING else repr(kind)
        findings.append(
            violation(f"healthCheckType is {shown}; use 'ELB' so unhealthy targets are replaced")
        )
    suspended = [p for p in as_list(get(r.props, "suspendedProcesses")) if p in HEALTH_PROCESSES]
    if suspended:
        findings.append(
            violation(f"suspendedProcesses {suspended} turns health checks off; resume them")
        )
    grace = as_number(get(r.props, "healthCheckGracePeriod"))
    if grace is not None and grace > MAX_GRACE_SECONDS:
        findings.append(
            violation(
                f"healthCheckGracePeriod {grace:g}s ignores failing instances for over an hour; "
                f"at most {MAX_GRACE_SECONDS}s"
            )
        )
    return findings


def _zones(asg: Resource, resources: Sequence[Resource]) -> Any:
    """The distinct zones an ASG's subnets are in (unknown ids/zones count one each)."""
    subnets = get(asg.props, "vpcZoneIdentifiers")
    if subnets is MISSING:
        zones = get(asg.props, "availabilityZones")
        if is_unknown(zones):
            return zones
        items = as_list(zones)
        return {z for z in items if not is_unknown(z)} | {
            f"?{i}" for i, z in enumerate(items) if is_unknown(z)
        }
    if is_unknown(subnets):
        return subnets
    known = {s.urn: s for s in resources if s.type == SUBNET}
    deps = [known[u] for u in asg.depends_via("vpcZoneIdentifiers") if u in known]
    by_id = {get(s.props, "id"): s for s in known.values()}
    zones: set[str] = set()
    found: set[str] = set()
    for s in deps + [by_id[v] for v in as_list(subnets) if v in by_id]:
        if s.urn in found:
            continue
        found.add(s.urn)
        zone = get(s.props, "availabilityZone")
        zone = get(s.props, "availabilityZoneId") if zone is MISSING else zone
        zones.add(zone if isinstance(zone, str) and not is_unknown(zone) else f"?{s.urn}")
    # Subnets not declared in this stack (ids from elsewhere): one zone each, as listed.
    extra = len(as_list(subnets)) - len(found)
    return zones | {f"?extra{i}" for i in range(max(extra, 0))}


def asg_availability_zones(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    minimum = int(cfg.get("minAvailabilityZones", 2))
    findings: list[Finding] = []
    for asg in (r for r in resources if r.type == ASG):
        zones = _zones(asg, resources)
        if is_unknown(zones):
            findings.append(undecided("vpcZoneIdentifiers", asg.urn))
        elif len(zones) < minimum:
            findings.append(
                violation(
                    f"spans {len(zones)} availability zone(s); at least {minimum} required "
                    "(subnets in the same zone count once)",
                    asg.urn,
                )
            )
    return findings


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


LISTENER_RULES = frozenset(
    {"aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule"}
)
ALB_PROTOCOLS = ("HTTP", "HTTPS")


def _protocol(listener: Resource) -> Any:
    """The listener's protocol, upper-case (the provider accepts any case); an ALB listener
    without one is HTTP, or HTTPS when it has a certificate."""
    proto = get(listener.props, "protocol")
    if is_unknown(proto):
        return proto
    if proto is MISSING:
        return "HTTPS" if get(listener.props, "certificateArn") is not MISSING else "HTTP"
    return str(proto).upper()


def _redirects_to_https(actions: Any) -> bool:
    """Every action redirects to HTTPS (the provider compares protocols case-insensitively)."""
    listed = as_list(actions)
    return bool(listed) and all(
        get(a, "type") == "redirect" and str(get(a, "redirect", "protocol")).upper() == "HTTPS"
        for a in listed
    )


def _rules_on(listener: Resource, rules: Sequence[Resource]) -> list[Resource]:
    arn = get(listener.props, "arn")
    return [
        r
        for r in rules
        if listener.urn in r.depends_via("listenerArn")
        or (isinstance(arn, str) and not is_unknown(arn) and get(r.props, "listenerArn") == arn)
    ]


def _http_listener_findings(lb: Resource, li: Resource, rules: Sequence[Resource]) -> list[Finding]:
    findings: list[Finding] = []
    actions = get(li.props, "defaultActions")
    if is_unknown(actions):
        findings.append(undecided("defaultActions", li.urn))
    elif not _redirects_to_https(actions):
        findings.append(
            violation(
                f"HTTP listener on {lb.name} (which has an HTTPS listener) does not redirect to "
                "HTTPS (defaultActions: type 'redirect', redirect.protocol 'HTTPS')",
                li.urn,
            )
        )
    for rule in _rules_on(li, rules):
        acts = get(rule.props, "actions")
        if is_unknown(acts):
            findings.append(undecided("actions", rule.urn))
        elif any(
            str(get(a, "type")).startswith(("forward", "authenticate")) for a in as_list(acts)
        ):
            findings.append(
                violation(
                    f"listener rule serves traffic over plain HTTP on {lb.name}'s HTTP listener "
                    f"{li.name}; forward on the HTTPS listener and redirect here",
                    rule.urn,
                )
            )
    return findings


def alb_https_redirect(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    lbs = [r for r in resources if r.type in LOAD_BALANCERS and _is_application_lb(r.props)]
    rules = [r for r in resources if r.type in LISTENER_RULES]
    by_lb: dict[str, list[Resource]] = {}
    for listener in (r for r in resources if r.type in LISTENERS):
        lb = _listener_lb(listener, lbs)
        if lb is not None:
            by_lb.setdefault(lb.urn, []).append(listener)
    findings: list[Finding] = []
    for lb in lbs:
        attached = by_lb.get(lb.urn, [])
        protocols = {li.urn: _protocol(li) for li in attached}
        for li in attached:
            proto = protocols[li.urn]
            if is_unknown(proto):
                findings.append(undecided("protocol", li.urn))
            elif proto not in ALB_PROTOCOLS:
                findings.append(
                    violation(f"protocol {proto!r} is not one an application LB serves", li.urn)
                )
        if "HTTPS" not in protocols.values():
            continue
        for li in attached:
            if protocols[li.urn] == "HTTP":
                findings.extend(_http_listener_findings(lb, li, rules))
    return findings


def _serves_http(listener: Resource) -> bool:
    """HTTP in any case, or no protocol and no certificate (the provider then defaults to
    HTTP)."""
    proto = get(listener.props, "protocol")
    if proto is MISSING:
        return get(listener.props, "certificateArn") is MISSING
    return isinstance(proto, str) and proto.upper() == "HTTP"


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
