"""Scalable hosting invariants on the real stacks, each with a broken copy that must fail."""

from __future__ import annotations

import pytest

from components.webtier import TLS_POLICY, ami_parameter, architecture_of
from offline.model import Recording
from tests import checks
from tests.checks import ALB, ASG, LISTENER, LT, POLICY, replace_inputs, replace_resource
from tests.conftest import ELSEWHERE, ELSEWHERE_ACCOUNT, OWN_CERTIFICATE, PROD_ALTERED


def test_prod_asg_spans_three_private_subnets_in_distinct_azs(prod: Recording) -> None:
    assert checks.asg_spans_distinct_azs(prod, 3) == []


def test_az_check_fails_when_two_subnets_share_an_az(prod: Recording) -> None:
    asg = prod.one(ASG)
    first, second = asg.property_dependencies["vpcZoneIdentifiers"][:2]
    same_az = prod.by_urn(first).input("availabilityZone")
    broken = replace_inputs(prod, second, lambda i: i.update(availabilityZone=same_az))
    assert checks.asg_spans_distinct_azs(broken, 3), "two subnets in one AZ must be reported"


def test_dev_asg_spans_its_two_azs(dev: Recording) -> None:
    assert checks.asg_spans_distinct_azs(dev, 2) == []
    assert checks.asg_spans_distinct_azs(dev, 3), "dev has 2 AZs; asking for 3 must fail"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_asg_uses_elb_health_checks(stack: str, request: pytest.FixtureRequest) -> None:
    rec: Recording = request.getfixturevalue(stack)
    assert checks.asg_uses_elb_health_checks(rec) == []
    broken = replace_inputs(rec, rec.one(ASG).urn, lambda i: i.update(healthCheckType="EC2"))
    assert checks.asg_uses_elb_health_checks(broken)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda i: i["metadataOptions"].update(httpTokens="optional"),
        lambda i: i["blockDeviceMappings"][0]["ebs"].update(encrypted="false"),
        lambda i: i["networkInterfaces"][0].update(associatePublicIpAddress="true"),
    ],
    ids=["imdsv1", "unencrypted-volume", "public-ip"],
)
def test_launch_template_hardened(prod: Recording, breakage) -> None:
    assert checks.launch_templates_hardened(prod) == []
    broken = replace_inputs(prod, prod.one(LT).urn, breakage)
    assert checks.launch_templates_hardened(broken), "the broken template must be reported"


def test_instances_accept_only_the_alb(prod: Recording) -> None:
    assert checks.instance_ingress_only_from_alb(prod) == []
    rule = next(r for r in prod.of_type(checks.SG_IN) if r.name == "web-instance-in-app")
    broken = replace_inputs(prod, rule.urn, lambda i: i.update(cidrIpv4="0.0.0.0/0"))
    assert checks.instance_ingress_only_from_alb(broken)


def test_cpu_policy_targets_this_asg(prod: Recording) -> None:
    assert checks.scaling_policies_target_asg(prod) == []
    policy = prod.one(POLICY)
    assert policy.input("targetTrackingConfiguration", "targetValue") == 50
    elsewhere = replace_resource(
        prod, policy.urn, property_dependencies={"autoscalingGroupName": ("urn:other",)}
    )
    assert checks.scaling_policies_target_asg(elsewhere)


def test_scaling_owns_desired_capacity(prod: Recording) -> None:
    asg = prod.one(ASG)
    assert "desiredCapacity" in asg.ignore_changes, asg.urn
    assert asg.input("desiredCapacity") is None, f"{asg.urn} must not pin desiredCapacity"


def test_instances_get_default_tags_at_launch(prod: Recording) -> None:
    asg = prod.one(ASG)
    tags = {t["key"]: t for t in asg.input("tags")}
    for key in ("Project", "Environment", "Owner"):
        assert tags.get(key, {}).get("propagateAtLaunch") is True, f"{asg.urn} tag {key}"
    assert tags["Environment"]["value"] == "prod"


def test_instance_refresh_rolls_on_template_change(prod: Recording) -> None:
    asg = prod.one(ASG)
    assert asg.input("instanceRefresh", "strategy") == "Rolling", asg.urn
    assert asg.input("instanceRefresh", "preferences", "minHealthyPercentage") == 90
    # The version follows the template, so a template change is an ASG change.
    assert asg.property_dependencies["launchTemplate"] == (prod.one(LT).urn,)


def test_alb_drops_invalid_headers_and_is_protected_in_prod(
    prod: Recording, dev: Recording
) -> None:
    alb = prod.one(ALB)
    assert alb.input("dropInvalidHeaderFields") is True, alb.urn
    assert alb.input("enableDeletionProtection") is True, alb.urn
    assert dev.one(ALB).input("enableDeletionProtection") is False, "dev opts out"


def test_plain_http_without_certificate(dev: Recording) -> None:
    listeners = dev.of_type(LISTENER)
    assert [(listener.input("port"), listener.input("protocol")) for listener in listeners] == [
        (80, "HTTP")
    ]


def test_https_with_redirect_when_certificate_set(record_variant) -> None:
    # prod with other groups changed too (PROD_ALTERED, which tests/test_day_one.py records
    # too): a certificate and no domain, one recording for several files.
    assert PROD_ALTERED["groundwork:hosting"] == OWN_CERTIFICATE["groundwork:hosting"]
    cert = OWN_CERTIFICATE["groundwork:hosting"]["certificateArn"]
    rec = record_variant("prod", PROD_ALTERED)
    by_port = {listener.input("port"): listener for listener in rec.of_type(LISTENER)}
    assert set(by_port) == {80, 443}
    redirect = by_port[80].input("defaultActions")[0]
    assert redirect["type"] == "redirect", by_port[80].urn
    assert redirect["redirect"]["protocol"] == "HTTPS"
    assert by_port[443].input("sslPolicy") == TLS_POLICY
    assert by_port[443].input("certificateArn") == cert
    ports = sorted(r.input("fromPort") for r in rec.of_type(checks.SG_IN) if "alb-in" in r.name)
    assert ports == [80, 443]


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [
        ("t3.small", "x86_64"),
        ("m7g.large", "arm64"),
        ("t4g.micro", "arm64"),
        ("c7gn.xlarge", "arm64"),
        ("r8gd.2xlarge", "arm64"),
        ("a1.medium", "arm64"),
        ("g4dn.xlarge", "x86_64"),
        ("m7i.large", "x86_64"),
    ],
)
def test_architecture_of_instance_type(instance_type: str, arch: str) -> None:
    assert architecture_of(instance_type) == arch
    assert ami_parameter(instance_type).endswith(arch)


def test_ami_comes_from_the_matching_ssm_parameter(prod: Recording, dev: Recording) -> None:
    # prod runs m7g (Graviton), dev t4g: both name the arm64 parameter, resolved at launch.
    for rec in (prod, dev):
        image = rec.one(LT).input("imageId")
        expected = f"resolve:ssm:{ami_parameter('m7g.large')}"
        assert image == expected, f"{rec.one(LT).urn} imageId={image!r}"


def test_children_parented_to_components(prod: Recording, dev: Recording) -> None:
    for rec in (prod, dev):
        assert checks.children_parented(rec) == []
        assert checks.component_types_wellformed(rec) == []
    orphan = replace_resource(prod, prod.one(ASG).urn, parent=prod.stack_urn)
    assert checks.children_parented(orphan)


def test_no_hard_coded_region_account_or_az(prod_elsewhere: Recording) -> None:
    """Deployed elsewhere, nothing of the shipped region or the default mock account remains."""
    rec = prod_elsewhere
    assert (ELSEWHERE["aws:region"], ELSEWHERE_ACCOUNT) == ("ap-southeast-2", "210987654321")
    assert checks.literal_leaks(rec, ["eu-west-1", "123456789012", "eu-west-1a"]) == []
    zones = {s.input("availabilityZone") for s in rec.of_type(checks.SUBNET)}
    assert zones == {"ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c"}


def test_literal_leak_check_catches_a_literal(prod: Recording) -> None:
    broken = replace_inputs(
        prod, prod.one(LT).urn, lambda i: i.update(instanceType="m7g.large-eu-west-1")
    )
    assert checks.literal_leaks(broken, ["eu-west-1"])
