"""Repeated resource shapes go through their one helper (issue 14, item 3).

Each finder from `tests.source_shapes` runs over `components/` and the wiring, over a copy of
its helper's code put in another module, and over a deliberately broken snippet. That the
helpers left the program unchanged is the behaviour snapshot's job
(`tests.behaviour_snapshot`), run before and after the move.
"""

from __future__ import annotations

from typing import cast

import pulumi
import pytest

from components import context, loggroups, secgroups
from tests import source_shapes as shapes

# (the helper's module, the finder of hand-built copies, what to use instead)
HELPERS = {
    "log groups": ("loggroups.py", shapes.hand_built_log_groups, "loggroups.log_group"),
    "ARNs": ("context.py", shapes.hand_built_arns, "context.arn, arn_in, account_root, s3_arn"),
    "inline policies": (
        "iam.py",
        shapes.hand_built_role_policies,
        "iam.role_with_policy, role_with_policies, inline_policy",
    ),
    "security groups": (
        "secgroups.py",
        shapes.hand_built_security_groups,
        "secgroups.security_group, allow, connect",
    ),
}


@pytest.mark.parametrize("shape", sorted(HELPERS))
def test_each_shape_is_built_only_by_its_helper(shape: str) -> None:
    helper, finder, use = HELPERS[shape]
    problems = shapes.outside(helper, finder)
    assert not problems, f"{shape} built by hand (use {use}): {problems}"


@pytest.mark.parametrize("shape", sorted(HELPERS))
def test_the_helper_copied_into_another_module_is_found(shape: str) -> None:
    # The broken copy of the tree: the helper's own code pasted into some other component.
    helper, finder, _ = HELPERS[shape]
    copied = (shapes.COMPONENTS / helper).read_text()
    assert finder(copied, "copy.py"), f"{shape}: a copy of {helper} elsewhere went unnoticed"


# shape -> (a module that builds it by hand, what the finder reports, a module that does not)
BROKEN = {
    "log groups": (
        "import pulumi_aws as aws\n"
        "from pulumi_aws.cloudwatch import LogGroup\n"
        'a = aws.cloudwatch.LogGroup("a", retention_in_days=7)\n'
        'b = LogGroup("b", tags={"groundwork:logClass": "runtime"})\n',
        [
            "broken.py:3: LogGroup(...)",
            "broken.py:4: LogGroup(...)",
            "broken.py:4: groundwork:logClass",
        ],
        'group = loggroups.log_group("a", parent, retention_days=7, log_class="audit")\n',
    ),
    "ARNs": (
        'root = pulumi.Output.concat("arn:", partition, ":iam::", account, ":root")\n'
        'user = pulumi.Output.concat(f"arn:{partition}:rds-db:{region}:", account)\n'
        'policy = "arn:aws:iam::aws:policy/ReadOnlyAccess"\n',
        [
            "broken.py:1: 'arn:'",
            "broken.py:2: 'arn:'",
            "broken.py:3: 'arn:aws:iam::aws:policy/ReadOnlyAccess'",
        ],
        "root = context.account_root(partition, account)\n"
        'key = "kms:EncryptionContext:aws:cloudtrail:arn"\n'
        'objects = pulumi.Output.concat(bucket.arn, "/*")\n',
    ),
    "inline policies": (
        'role = aws.iam.Role("r", assume_role_policy=trust)\n'
        'aws.iam.RolePolicy("p", role=role.id, policy=doc)\n',
        ["broken.py:2: RolePolicy(...)"],
        'role, policy = iam.role_with_policy("r", "p", parent, trust, doc)\n',
    ),
    "security groups": (
        'sg = aws.ec2.SecurityGroup("db", vpc_id=vpc)\n'
        "aws.vpc.SecurityGroupIngressRule(\n"
        '    "db-in", security_group_id=sg.id, referenced_security_group_id=web, from_port=5432\n'
        ")\n"
        'SecurityGroupEgressRule("web-out", security_group_id=web)\n',
        [
            "broken.py:1: SecurityGroup(...)",
            "broken.py:2: SecurityGroupIngressRule(...)",
            "broken.py:5: SecurityGroupEgressRule(...)",
        ],
        'aws.ec2.DefaultSecurityGroup("default", vpc_id=vpc.id)\n',
    ),
}


@pytest.mark.parametrize("shape", sorted(HELPERS))
def test_a_hand_built_copy_is_found(shape: str) -> None:
    _, finder, _ = HELPERS[shape]
    broken, expected, fine = BROKEN[shape]
    assert finder(broken, "broken.py") == expected, shape
    assert finder(fine, "ok.py") == [], fine


def test_the_helper_spells_the_tag_the_policy_pack_reads() -> None:
    # The pack (its own virtualenv) and the tests spell the key themselves; this keeps the
    # program's one spelling equal to theirs.
    assert loggroups.class_tags("error") == {"groundwork:logClass": "error"}


def test_aws_owned_arns_have_no_region_and_the_aws_account() -> None:
    # AWS managed policies are `arn:<partition>:iam::aws:policy/<path>`, the pattern in
    # https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_AttachedManagedPolicy.html
    # (ARNs with this stack's account are recorded values; the behaviour snapshot proves them.)
    assert (
        context.aws_owned_arn("aws-cn", "iam", "policy/ReadOnlyAccess")
        == "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"
    )


@pytest.mark.parametrize("peers", [{}, {"cidr": "10.0.0.0/16", "peer": "sg-1"}])
def test_a_rule_opens_to_exactly_one_peer(peers: dict[str, str]) -> None:
    # Refused before any resource is registered, so no runtime is needed.
    with pytest.raises(ValueError, match="db-in: give a CIDR block or a peer group"):
        secgroups.allow(
            "in",
            secgroups.Rule("db-in", "PostgreSQL"),
            cast(pulumi.Resource, None),
            "sg-0",
            5432,
            **peers,
        )
