"""WebTier: scalable hosting. An ALB in public subnets in front of an autoscaling group of
Amazon Linux 2023 instances in private subnets.

The instances take traffic only from the ALB, on the app port; they have no public IP,
require IMDSv2 and boot from an encrypted gp3 volume. The autoscaling group spans every
private subnet, replaces instances the ALB finds unhealthy, rolls a refresh when the launch
template changes, and leaves its desired capacity to the scaling policies.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_aws as aws

from components import iam, secgroups
from components.outputs import register_all
from components.secgroups import ANYWHERE, Rule

# AWS's modern TLS policy: TLS 1.3 and 1.2 with forward secrecy only.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
# Graviton families carry a `g` right after the generation digit (t4g, m7g, c7gn, r8gd, ...).
_GRAVITON_FAMILY = re.compile(r"^[a-z]+\d+g[a-z]*$")
# Metrics the alarms and the dashboard read from the group, at one-minute granularity.
# The SDK's enum members are the API's strings (`Metric` subclasses str).
_M = aws.autoscaling.Metric
GROUP_METRICS: tuple[aws.autoscaling.Metric, ...] = (
    _M.GROUP_MIN_SIZE,
    _M.GROUP_MAX_SIZE,
    _M.GROUP_DESIRED_CAPACITY,
    _M.GROUP_IN_SERVICE_INSTANCES,
    _M.GROUP_PENDING_INSTANCES,
    _M.GROUP_TERMINATING_INSTANCES,
    _M.GROUP_TOTAL_INSTANCES,
)


def architecture_of(instance_type: str) -> str:
    """`arm64` for Graviton instance types, `x86_64` otherwise."""
    family = instance_type.split(".", 1)[0]
    return "arm64" if family == "a1" or _GRAVITON_FAMILY.match(family) else "x86_64"


def ami_parameter(instance_type: str) -> str:
    """The public SSM parameter holding the latest AL2023 AMI for this instance type."""
    return AL2023_PARAMETER.format(arch=architecture_of(instance_type))


def image_id(instance_type: str) -> str:
    """The launch template's image id: the AL2023 parameter, resolved by EC2 at launch."""
    return f"resolve:ssm:{ami_parameter(instance_type)}"


@dataclass(frozen=True)
class OidcAuth:
    """The identity provider the HTTPS listener authenticates users with (authenticate-oidc)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    user_info_endpoint: str
    client_id: str
    client_secret: pulumi.Input[str]
    scope: str
    session_timeout_seconds: int


def https_default_actions(
    target_group_arn: pulumi.Input[str], oidc: OidcAuth | None
) -> list[aws.lb.ListenerDefaultActionArgsDict]:
    """The HTTPS listener's actions: forward, after OIDC authentication when `oidc` is set.

    With authentication, the load balancer adds `x-amzn-oidc-data` (claims it signs) to every
    request it forwards; the app trusts identity only from that header, once verified.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html
    """
    forward: aws.lb.ListenerDefaultActionArgsDict = {
        "type": "forward",
        "target_group_arn": target_group_arn,
    }
    if oidc is None:
        return [forward]
    authenticate: aws.lb.ListenerDefaultActionAuthenticateOidcArgsDict = {
        "issuer": oidc.issuer,
        "authorization_endpoint": oidc.authorization_endpoint,
        "token_endpoint": oidc.token_endpoint,
        "user_info_endpoint": oidc.user_info_endpoint,
        "client_id": oidc.client_id,
        "client_secret": pulumi.Output.secret(oidc.client_secret),
        "scope": oidc.scope,
        "session_timeout": oidc.session_timeout_seconds,
        "on_unauthenticated_request": "authenticate",
    }
    return [
        {"type": "authenticate-oidc", "order": 1, "authenticate_oidc": authenticate},
        {**forward, "order": 2},
    ]


@dataclass(frozen=True, kw_only=True)
class WebTierArgs:
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    instance_type: str
    min_size: int
    max_size: int
    app_port: int
    health_check_path: str
    cpu_target: float
    # Tags the instances and their volumes get at launch; provider default tags do not reach
    # instances an autoscaling group launches.
    instance_tags: Mapping[str, str]
    # The user data, or a function of the load balancer's ARN returning it (the app checks
    # that the identities it is given were signed by this load balancer).
    user_data: pulumi.Input[str] | Callable[[pulumi.Output[str]], pulumi.Input[str]]
    certificate_arn: str | None
    # ALB OIDC authentication on the HTTPS listener; None: no authentication at the edge.
    oidc: OidcAuth | None
    # With a domain, the tier issues its own certificate (DNS validation in the hosted zone)
    # and points an alias record at the load balancer; `url` becomes https://<domain_name>.
    domain_name: str | None
    hosted_zone_id: str | None
    deletion_protection: bool
    root_volume_gb: int
    health_check_grace_seconds: int
    min_healthy_percent: int
    default_instance_warmup_seconds: int
    # Inline policies for the instance role, name -> policy JSON (from the components that
    # the instances talk to: logs, analytics, deploys).
    instance_policies: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # Pre-initialised instances kept aside for scale-out (pulumi-aws `warm_pool` of the group:
    # pool_state, min_size, ...); None means no warm pool.
    warm_pool: Mapping[str, Any] | None
    # Where the ALB writes its access logs: (bucket name, prefix); None: no access logs.
    access_logs: tuple[pulumi.Input[str], str] | None = None


class WebTier(pulumi.ComponentResource):
    """ALB + target group + launch template + autoscaling group + CPU target tracking."""

    alb_arn: pulumi.Output[str]
    alb_arn_suffix: pulumi.Output[str]
    alb_dns_name: pulumi.Output[str]
    alb_security_group_id: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    target_group_name: pulumi.Output[str]
    asg_name: pulumi.Output[str]
    asg_arn: pulumi.Output[str]
    instance_security_group_id: pulumi.Output[str]
    instance_role_name: pulumi.Output[str]
    instance_role_arn: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: WebTierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:hosting:WebTier", name, None, opts)
        self._name, self._args = name, args
        https = args.certificate_arn is not None or args.domain_name is not None
        alb_sg, instance_sg = self._security_groups(https)
        alb = self._load_balancer(alb_sg)
        target_group = self._target_group()
        self._listeners(https, alb, target_group)
        role, profile = self._instance_role()
        launch_template = self._launch_template(alb, instance_sg, profile)
        asg = self._autoscaling_group(target_group, launch_template)

        self.alb_arn = alb.arn
        self.alb_arn_suffix = alb.arn_suffix
        self.alb_dns_name = alb.dns_name
        self.alb_security_group_id = alb_sg.id
        self.target_group_arn = target_group.arn
        self.target_group_arn_suffix = target_group.arn_suffix
        self.target_group_name = target_group.name
        self.asg_name = asg.name
        self.asg_arn = asg.arn
        self.instance_security_group_id = instance_sg.id
        self.instance_role_name = role.name
        self.instance_role_arn = role.arn
        self.url = (
            pulumi.Output.from_input(f"https://{args.domain_name}")
            if args.domain_name is not None
            else alb.dns_name.apply(lambda dns: f"{'https' if https else 'http'}://{dns}")
        )
        register_all(self)

    def _security_groups(self, https: bool) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        """The load balancer's and the instances' groups, each open only to what it needs."""
        name, args = self._name, self._args
        alb_sg = secgroups.security_group(
            f"{name}-alb-sg",
            self,
            vpc_id=args.vpc_id,
            description="Load balancer: HTTP(S) from the internet, app port to instances",
            name_tag=f"{name}-alb",
        )
        instance_sg = secgroups.security_group(
            f"{name}-instance-sg",
            self,
            vpc_id=args.vpc_id,
            description="Web instances: app port from the load balancer only",
            name_tag=f"{name}-instances",
        )
        secgroups.connect(
            self,
            client=alb_sg.id,
            server=instance_sg.id,
            port=args.app_port,
            egress=Rule(f"{name}-alb-out-app", "Forward to instances on the app port"),
            ingress=Rule(f"{name}-instance-in-app", "App port from the load balancer only"),
        )
        self._public_rules(https, alb_sg, instance_sg)
        return alb_sg, instance_sg

    def _public_rules(
        self, https: bool, alb_sg: aws.ec2.SecurityGroup, instance_sg: aws.ec2.SecurityGroup
    ) -> None:
        """What each group exchanges with the internet."""
        name, args = self._name, self._args
        for port in (80, 443) if https else (80,):
            rule = Rule(f"{name}-alb-in-{port}", f"Public traffic on {port}")
            secgroups.allow("in", rule, self, alb_sg.id, port, cidr=ANYWHERE)
        if args.oidc is not None:
            # The load balancer itself calls the IdP's token and user-info endpoints:
            # https://aws.amazon.com/premiumsupport/knowledge-center/elb-configure-authentication-alb/
            rule = Rule(f"{name}-alb-out-idp", "HTTPS to the OIDC identity provider")
            secgroups.allow("out", rule, self, alb_sg.id, 443, cidr=ANYWHERE)
        rule = Rule(
            f"{name}-instance-out-https",
            "HTTPS to AWS APIs, package repositories and agent downloads",
        )
        secgroups.allow("out", rule, self, instance_sg.id, 443, cidr=ANYWHERE)

    def _load_balancer(self, alb_sg: aws.ec2.SecurityGroup) -> aws.lb.LoadBalancer:
        args = self._args
        return aws.lb.LoadBalancer(
            f"{self._name}-alb",
            load_balancer_type="application",
            internal=False,
            security_groups=[alb_sg.id],
            subnets=list(args.public_subnet_ids),
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            desync_mitigation_mode="defensive",
            idle_timeout=60,
            access_logs=(
                {"bucket": args.access_logs[0], "prefix": args.access_logs[1], "enabled": True}
                if args.access_logs
                else None
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _target_group(self) -> aws.lb.TargetGroup:
        args = self._args
        return aws.lb.TargetGroup(
            f"{self._name}-tg",
            port=args.app_port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            health_check={
                "enabled": True,
                "path": args.health_check_path,
                "protocol": "HTTP",
                "port": "traffic-port",
                "matcher": "200",
                "interval": 15,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _listeners(
        self, https: bool, alb: aws.lb.LoadBalancer, target_group: aws.lb.TargetGroup
    ) -> None:
        """HTTP forwards, or with a certificate redirects to HTTPS, which forwards."""
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        certificate_arn: pulumi.Input[str] | None = args.certificate_arn
        if args.domain_name is not None:
            issued = self._domain(name, args, alb)
            # A certificate the operator brings wins; the tier issues one only without it.
            certificate_arn = args.certificate_arn or issued
        if not https:
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[{"type": "forward", "target_group_arn": target_group.arn}],
                opts=child,
            )
            return
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"},
                }
            ],
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate_arn,
            default_actions=https_default_actions(target_group.arn, args.oidc),
            opts=child,
        )

    def _instance_role(self) -> tuple[aws.iam.Role, aws.iam.InstanceProfile]:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        role, _ = iam.role_with_policies(
            f"{name}-instance-role",
            self,
            iam.assume_role("ec2.amazonaws.com"),
            {f"{name}-{policy}": document for policy, document in args.instance_policies.items()},
        )
        # Session Manager instead of SSH: no key pairs, no port 22.
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm-core",
            role=role.name,
            policy_arn=aws.iam.ManagedPolicy.AMAZON_SSM_MANAGED_INSTANCE_CORE,
            opts=child,
        )
        profile = aws.iam.InstanceProfile(f"{name}-instance-profile", role=role.name, opts=child)
        return role, profile

    def _launch_template(
        self,
        alb: aws.lb.LoadBalancer,
        instance_sg: aws.ec2.SecurityGroup,
        profile: aws.iam.InstanceProfile,
    ) -> aws.ec2.LaunchTemplate:
        name, args = self._name, self._args
        tags = dict(args.instance_tags)
        return aws.ec2.LaunchTemplate(
            f"{name}-lt",
            # Resolved by EC2 at each launch, not by Pulumi at deploy time: a new AL2023 AMI
            # reaches instances as they are replaced, and never turns a `pulumi up` into an
            # unplanned fleet-wide refresh.
            # https://docs.aws.amazon.com/autoscaling/ec2/userguide/using-systems-manager-parameters.html
            image_id=image_id(args.instance_type),
            instance_type=args.instance_type,
            iam_instance_profile={"arn": profile.arn},
            network_interfaces=[
                {
                    "device_index": 0,
                    "associate_public_ip_address": "false",
                    "delete_on_termination": "true",
                    "security_groups": [instance_sg.id],
                }
            ],
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": args.root_volume_gb,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            monitoring={"enabled": True},
            user_data=pulumi.Output.from_input(
                args.user_data(alb.arn) if callable(args.user_data) else args.user_data
            ).apply(lambda text: base64.b64encode(text.encode()).decode()),
            tag_specifications=[
                {"resource_type": "instance", "tags": {**tags, "Name": f"{name}-instance"}},
                {"resource_type": "volume", "tags": {**tags, "Name": f"{name}-volume"}},
            ],
            update_default_version=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _autoscaling_group(
        self, target_group: aws.lb.TargetGroup, launch_template: aws.ec2.LaunchTemplate
    ) -> aws.autoscaling.Group:
        """The group, and the CPU target tracking that scales it."""
        name, args = self._name, self._args
        tags = {**args.instance_tags, "Name": f"{name}-instance"}
        asg = aws.autoscaling.Group(
            f"{name}-asg",
            min_size=args.min_size,
            max_size=args.max_size,
            vpc_zone_identifiers=list(args.private_subnet_ids),
            target_group_arns=[target_group.arn],
            health_check_type="ELB",
            health_check_grace_period=args.health_check_grace_seconds,
            default_instance_warmup=args.default_instance_warmup_seconds,
            # The SDK types `version` as a string; the provider takes the template's integer
            # version as it is (converting it would change the recorded inputs).
            launch_template=cast(
                aws.autoscaling.GroupLaunchTemplateArgsDict,
                {"id": launch_template.id, "version": launch_template.latest_version},
            ),
            instance_refresh={
                "strategy": "Rolling",
                "preferences": {
                    "min_healthy_percentage": args.min_healthy_percent,
                    "auto_rollback": True,
                },
            },
            enabled_metrics=list(GROUP_METRICS),
            # WebTierArgs carries the warm pool as a plain mapping of the SDK's keys.
            warm_pool=cast(aws.autoscaling.GroupWarmPoolArgsDict, dict(args.warm_pool))
            if args.warm_pool
            else None,
            metrics_granularity="1Minute",
            tags=[
                {"key": key, "value": value, "propagate_at_launch": True}
                for key, value in sorted(tags.items())
            ],
            # Scaling policies own the desired capacity; a deploy must not reset it.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"]),
        )
        aws.autoscaling.Policy(
            f"{name}-cpu-tracking",
            autoscaling_group_name=asg.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration={
                "predefined_metric_specification": {
                    "predefined_metric_type": "ASGAverageCPUUtilization"
                },
                "target_value": args.cpu_target,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        return asg

    def _domain(
        self, name: str, args: WebTierArgs, alb: aws.lb.LoadBalancer
    ) -> pulumi.Output[str] | None:
        """An alias record to the ALB and, unless the operator brought a certificate, an ACM
        certificate for the domain (DNS-validated in its zone); returns its ARN once issued."""
        assert args.domain_name is not None and args.hosted_zone_id is not None
        child = pulumi.ResourceOptions(parent=self)
        aws.route53.Record(
            f"{name}-alias",
            zone_id=args.hosted_zone_id,
            name=args.domain_name,
            type="A",
            aliases=[
                {"name": alb.dns_name, "zone_id": alb.zone_id, "evaluate_target_health": True}
            ],
            opts=child,
        )
        if args.certificate_arn is not None:
            return None
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=args.domain_name,
            validation_method="DNS",
            opts=child,
        )
        option = certificate.domain_validation_options.apply(lambda options: options[0])
        validation_record = aws.route53.Record(
            f"{name}-certificate-validation-record",
            zone_id=args.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            # ACM reuses the same record for a renewal or a re-issued certificate.
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[validation_record.fqdn],
            opts=child,
        )
        return validation.certificate_arn
