"""Security groups and their rules: the one place either is built.

A group is made empty (its rules are separate resources, so that two groups can name each
other); each rule opens one TCP port to one CIDR block or one other group. `connect` is the
pair the web tier and the database both build: a client group that may reach a server group
on one port, written on both sides (the client's egress to the server, the server's ingress
from the client), each naming the other group rather than an address range. A structure
test keeps security groups and their rules out of every other module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

# Every IPv4 address: the internet, for a public listener or outbound HTTPS.
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class Rule:
    """One side of a connection: its resource name and the description AWS shows."""

    name: str
    description: str


def security_group(
    resource_name: str,
    parent: pulumi.Resource,
    *,
    vpc_id: pulumi.Input[str],
    description: str,
    name_tag: str,
) -> aws.ec2.SecurityGroup:
    """An empty group in `vpc_id`, named `name_tag` in the console."""
    return aws.ec2.SecurityGroup(
        resource_name,
        vpc_id=vpc_id,
        description=description,
        tags={"Name": name_tag},
        opts=pulumi.ResourceOptions(parent=parent),
    )


def allow(
    direction: Literal["in", "out"],
    rule: Rule,
    parent: pulumi.Resource,
    group: pulumi.Input[str],
    port: int,
    *,
    cidr: str | None = None,
    peer: pulumi.Input[str] | None = None,
) -> pulumi.CustomResource:
    """`group` accepts TCP `port` from (`in`), or may send to TCP `port` of (`out`), either the
    address range `cidr` or the `peer` group: exactly one of them."""
    if (cidr is None) == (peer is None):
        raise ValueError(f"{rule.name}: give a CIDR block or a peer group, not both or neither")
    kind = (
        aws.vpc.SecurityGroupIngressRule if direction == "in" else aws.vpc.SecurityGroupEgressRule
    )
    return kind(
        rule.name,
        security_group_id=group,
        cidr_ipv4=cidr,
        referenced_security_group_id=peer,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        description=rule.description,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def connect(
    parent: pulumi.Resource,
    *,
    client: pulumi.Input[str],
    server: pulumi.Input[str],
    port: int,
    egress: Rule,
    ingress: Rule,
) -> None:
    """The `client` group may reach the `server` group on TCP `port`: the client's egress and
    the server's ingress, each naming the other group rather than an address range."""
    allow("out", egress, parent, client, port, peer=server)
    allow("in", ingress, parent, server, port, peer=client)
