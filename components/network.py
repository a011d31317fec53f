"""Network: the VPC, its public and private subnets across N AZs, egress, and flow logs.

Public subnets hold only the load balancer and NAT gateways; instances and the database live
in private subnets. AZ names come from `aws.get_availability_zones_output`, never literals.
Private egress follows `natGateways`: `perAz` (one NAT per AZ, survives an AZ outage),
`single` (one NAT, cheap), or `none` (no internet route: AWS APIs through interface
endpoints). S3 is always reached through a free gateway endpoint, which also serves the
Amazon Linux package repositories and the agents' regional download buckets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components import context, iam, secgroups, subnets
from components.loggroups import log_group
from components.outputs import register_all

# Interface endpoints private subnets need when they have no NAT: Session Manager, logs and
# metrics (CloudWatch agent), secrets, KMS, STS, CodeDeploy and Firehose (app events).
PRIVATE_ENDPOINT_SERVICES: tuple[str, ...] = (
    "ssm",
    "ssmmessages",
    "ec2messages",
    "logs",
    "monitoring",
    "secretsmanager",
    "kms",
    "sts",
    "codedeploy",
    "codedeploy-commands-secure",
    "kinesis-firehose",
)


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    """`cidr` and `az_count` are validated by settings (private range, /16../23, 2..6 AZs)."""

    cidr: str
    az_count: int
    nat_gateways: Literal["none", "single", "perAz"]
    region: str
    flow_log_retention_days: int
    log_kms_key_arn: pulumi.Input[str]
    protect: bool


def _nat_count(mode: str, az_count: int) -> int:
    return {"none": 0, "single": 1, "perAz": az_count}[mode]


def _pick_az(names: Sequence[str], index: int, wanted: int) -> str:
    if len(names) < wanted:
        raise pulumi.RunError(
            f"groundwork:network.availabilityZones is {wanted} but the region offers only "
            f"{len(names)} available AZs ({', '.join(names)})"
        )
    return names[index]


class Network(pulumi.ComponentResource):
    """VPC with public/private subnets per AZ, NAT per settings, flow logs, no default rules."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    availability_zones: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:network:Network", name, None, opts)
        self._name, self._args = name, args
        self._public_cidrs, self._private_cidrs = subnets.layout(args.cidr, args.az_count)
        vpc = self._vpc()
        az_names = self._availability_zones()
        igw, public = self._public_subnets(vpc, az_names)
        private = self._private_subnets(vpc, az_names)
        nats = self._nat_gateways(igw, public)
        private_rts = self._private_routes(vpc, private, nats)
        aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags={"Name": f"{name}-s3"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.nat_gateways == "none":
            self._interface_endpoints(name, args, vpc, private)
        self._flow_logs(name, args, vpc)

        self.vpc_id = vpc.id
        self.vpc_cidr = args.cidr
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.private_route_table_ids = [rt.id for rt in private_rts]
        self.availability_zones = az_names
        register_all(self)

    def _vpc(self) -> aws.ec2.Vpc:
        name = self._name
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=self._args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Managing the default security group with no rules strips the allow-all rules AWS
        # puts on it, so nothing can fall back to it (Security Hub EC2.2).
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            tags={"Name": f"{name}-default-locked"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        return vpc

    def _availability_zones(self) -> list[pulumi.Output[str]]:
        az_count = self._args.az_count
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return [
            zones.names.apply(lambda names, i=i: _pick_az(names, i, az_count))
            for i in range(az_count)
        ]

    def _public_subnets(
        self, vpc: aws.ec2.Vpc, az_names: list[pulumi.Output[str]]
    ) -> tuple[aws.ec2.InternetGateway, list[aws.ec2.Subnet]]:
        """One public subnet per AZ, routed to the internet gateway."""
        name = self._name
        child = pulumi.ResourceOptions(parent=self)
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{name}-igw"}, opts=child
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id, tags={"Name": f"{name}-public"}, opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )
        public: list[aws.ec2.Subnet] = []
        for i, cidr in enumerate(self._public_cidrs):
            pub = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=az_names[i],
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{i}", "groundwork:tier": "public"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta", subnet_id=pub.id, route_table_id=public_rt.id, opts=child
            )
            public.append(pub)
        return igw, public

    def _private_subnets(
        self, vpc: aws.ec2.Vpc, az_names: list[pulumi.Output[str]]
    ) -> list[aws.ec2.Subnet]:
        name = self._name
        return [
            aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=az_names[i],
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-private-{i}", "groundwork:tier": "private"},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for i, cidr in enumerate(self._private_cidrs)
        ]

    def _nat_gateways(
        self, igw: aws.ec2.InternetGateway, public: list[aws.ec2.Subnet]
    ) -> list[aws.ec2.NatGateway]:
        name, args = self._name, self._args
        nats: list[aws.ec2.NatGateway] = []
        for i in range(_nat_count(args.nat_gateways, args.az_count)):
            eip = aws.ec2.Eip(
                f"{name}-nat-{i}-eip",
                domain="vpc",
                tags={"Name": f"{name}-nat-{i}"},
                opts=pulumi.ResourceOptions(parent=self),
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=public[i].id,
                    tags={"Name": f"{name}-nat-{i}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        return nats

    def _private_routes(
        self,
        vpc: aws.ec2.Vpc,
        private: list[aws.ec2.Subnet],
        nats: list[aws.ec2.NatGateway],
    ) -> list[aws.ec2.RouteTable]:
        name = self._name
        child = pulumi.ResourceOptions(parent=self)
        private_rts: list[aws.ec2.RouteTable] = []
        for i, subnet in enumerate(private):
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}-rt",
                vpc_id=vpc.id,
                tags={"Name": f"{name}-private-{i}"},
                opts=child,
            )
            if nats:
                # perAz: each AZ egresses through its own NAT; single: all through NAT 0.
                aws.ec2.Route(
                    f"{name}-private-{i}-default",
                    route_table_id=rt.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nats[i if len(nats) > 1 else 0].id,
                    opts=child,
                )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}-rta", subnet_id=subnet.id, route_table_id=rt.id, opts=child
            )
            private_rts.append(rt)
        return private_rts

    def _interface_endpoints(
        self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc, private: list[aws.ec2.Subnet]
    ) -> None:
        sg = secgroups.security_group(
            f"{name}-endpoints-sg",
            self,
            vpc_id=vpc.id,
            description="HTTPS from inside the VPC to AWS service endpoints",
            name_tag=f"{name}-endpoints",
        )
        rule = secgroups.Rule(f"{name}-endpoints-https", "HTTPS from the VPC")
        secgroups.allow("in", rule, self, sg.id, 443, cidr=args.cidr)
        for service in PRIVATE_ENDPOINT_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private],
                security_group_ids=[sg.id],
                tags={"Name": f"{name}-{service}"},
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _flow_logs(self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc) -> None:
        group = log_group(
            f"{name}-flow-logs",
            self,
            retention_days=args.flow_log_retention_days,
            kms_key_arn=args.log_kms_key_arn,
            log_class="audit",
            protect=args.protect,
        )
        role, _ = iam.role_with_policy(
            f"{name}-flow-logs-role",
            f"{name}-flow-logs-policy",
            self,
            # Confused-deputy guard: only flow logs of this account may assume the role.
            iam.assume_role_for_account("vpc-flow-logs.amazonaws.com", context.account_id(self)),
            # The actions AWS documents for the flow-logs role. DescribeLogGroups is a
            # read-only list that IAM authorises on "*" only (the service authorization
            # reference names no resource type for it), as the documented role shows.
            # https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
            iam.document(
                iam.statement(
                    [
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    [group.arn, pulumi.Output.concat(group.arn, ":*")],
                    sid="WriteFlowLogs",
                ),
                iam.statement(
                    ["logs:DescribeLogGroups"],
                    "*",
                    sid="FindFlowLogGroup",
                ),
            ),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=600,
            opts=pulumi.ResourceOptions(parent=self),
        )
