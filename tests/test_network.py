"""Network: subnet layout, NAT modes, flow logs, the locked default security group."""

from __future__ import annotations

import ipaddress

import pytest

from components import subnets
from components.network import PRIVATE_ENDPOINT_SERVICES
from offline.model import Recording
from offline.recorder import ProgramError, record
from tests import checks
from tests.checks import replace_inputs
from tests.conftest import ROOT

NAT = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def test_layout_is_disjoint_and_inside_the_vpc() -> None:
    public, private = subnets.layout("10.30.0.0/16", 3)
    nets = [ipaddress.ip_network(c) for c in public + private]
    vpc = ipaddress.ip_network("10.30.0.0/16")
    assert all(n.subnet_of(vpc) for n in nets)
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    assert all(n.prefixlen == 20 for n in nets)


def test_adding_an_az_keeps_existing_subnets() -> None:
    pub2, priv2 = subnets.layout("10.30.0.0/16", 2)
    pub3, priv3 = subnets.layout("10.30.0.0/16", 3)
    assert pub3[:2] == pub2 and priv3[:2] == priv2
    with pytest.raises(ValueError, match="az_count"):
        subnets.layout("10.30.0.0/16", 7)


def test_prod_has_three_public_and_three_private_subnets(prod: Recording) -> None:
    tiers = [s.input("tags", "groundwork:tier") for s in prod.of_type(checks.SUBNET)]
    assert sorted(tiers) == ["private"] * 3 + ["public"] * 3
    assert all(s.input("mapPublicIpOnLaunch") is False for s in prod.of_type(checks.SUBNET))


def test_nat_per_az_in_prod_single_in_dev(prod: Recording, dev: Recording) -> None:
    assert len(prod.of_type(NAT)) == 3
    assert len(dev.of_type(NAT)) == 1
    # Every private route table egresses through a NAT in both.
    for rec in (prod, dev):
        defaults = [r for r in rec.of_type(ROUTE) if "private" in r.name]
        assert len(defaults) == len(rec.of_type(checks.SUBNET)) // 2
        assert all(r.property_dependencies.get("natGatewayId") for r in defaults)


def test_prod_private_routes_use_their_own_az_nat(prod: Recording) -> None:
    for route in (r for r in prod.of_type(ROUTE) if "private" in r.name):
        index = route.name.split("-")[2]
        (nat,) = route.property_dependencies["natGatewayId"]
        assert nat.endswith(f"network-nat-{index}"), f"{route.urn} uses {nat}"


def test_no_nat_means_no_internet_route_and_private_endpoints() -> None:
    rec = record("test", project_dir=ROOT / "tests" / "programs" / "network_none")
    assert rec.of_type(NAT) == []
    assert [r.urn for r in rec.of_type(ROUTE) if "private" in r.name] == []
    services = {e.input("serviceName").rsplit(".", 1)[-1] for e in rec.of_type(ENDPOINT)}
    assert services == {"s3", *PRIVATE_ENDPOINT_SERVICES}


def test_stacks_refuse_no_nat_while_the_backup_job_needs_egress(record_variant) -> None:
    with pytest.raises(ProgramError, match=r"groundwork:network\.natGateways"):
        record_variant("dev", {"groundwork:network": {"natGateways": "none"}})


def test_default_security_group_has_no_rules(prod: Recording) -> None:
    default = prod.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.input("ingress") in (None, []) and default.input("egress") in (None, [])


def test_flow_logs_go_to_an_encrypted_retained_audit_log_group(prod: Recording) -> None:
    flow = prod.one("aws:ec2/flowLog:FlowLog")
    assert flow.input("trafficType") == "ALL"
    (group_urn,) = flow.property_dependencies["logDestination"]
    group = prod.by_urn(group_urn)
    assert group.input("retentionInDays") == 365, group.urn
    assert group.input("tags", "groundwork:logClass") == "audit"
    assert group.protect is True, f"{group.urn} must be protected in prod"
    assert checks.log_groups_retained_and_encrypted(prod) == []
    broken = replace_inputs(prod, group.urn, lambda i: i.pop("retentionInDays"))
    assert checks.log_groups_retained_and_encrypted(broken)


def test_flow_log_role_is_confined_to_its_log_group(prod: Recording) -> None:
    policy = next(r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if "flow-logs" in r.name)
    import json

    doc = json.loads(policy.input("policy"))
    by_sid = {stmt["Sid"]: stmt for stmt in doc["Statement"]}
    assert set(by_sid) == {"WriteFlowLogs", "FindFlowLogGroup"}, policy.urn
    write = by_sid["WriteFlowLogs"]
    assert all(res.startswith("arn:aws:logs:") for res in write["Resource"]), policy.urn
    assert "*" not in write["Action"]
    # Only the read-only listing, which IAM authorises on "*" alone, reaches beyond the group.
    assert by_sid["FindFlowLogGroup"]["Action"] == ["logs:DescribeLogGroups"], policy.urn
    assert by_sid["FindFlowLogGroup"]["Resource"] in ("*", ["*"]), policy.urn
    # The actions AWS documents for the flow-logs role, all of them.
    documented = {
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
        "logs:DescribeLogGroups", "logs:DescribeLogStreams",
    }  # fmt: skip
    granted = {a for stmt in by_sid.values() for a in stmt["Action"]}
    assert granted == documented, (policy.urn, documented ^ granted)
