"""Repeated resource shapes go through their one helper (issue 14, item 3).

Each test runs a finder from `tests.source_shapes` over `components/` and over a deliberately
broken snippet. That the helpers left the program unchanged is the behaviour snapshot's job
(`tests.behaviour_snapshot`), run before and after the move.
"""

from __future__ import annotations

from typing import cast

import pulumi
import pytest

from components import context, loggroups, secgroups
from tests import source_shapes as shapes


def test_log_groups_come_from_the_one_helper() -> None:
    problems = shapes.outside("loggroups.py", shapes.hand_built_log_groups)
    assert not problems, f"build log groups with loggroups.log_group: {problems}"


def test_a_hand_built_log_group_is_found() -> None:
    broken = (
        "import pulumi_aws as aws\n"
        "from pulumi_aws.cloudwatch import LogGroup\n"
        'a = aws.cloudwatch.LogGroup("a", retention_in_days=7)\n'
        'b = LogGroup("b", tags={"groundwork:logClass": "runtime"})\n'
    )
    assert shapes.hand_built_log_groups(broken, "broken.py") == [
        "broken.py:3: LogGroup(...)",
        "broken.py:4: LogGroup(...)",
        "broken.py:4: groundwork:logClass",
    ]
    fine = 'group = loggroups.log_group("a", parent, retention_days=7, log_class="audit")\n'
    assert shapes.hand_built_log_groups(fine, "ok.py") == [], fine


def test_the_helper_spells_the_tag_the_policy_pack_reads() -> None:
    # The pack (its own virtualenv) and the tests spell the key themselves; this keeps the
    # program's one spelling equal to theirs.
    assert loggroups.class_tags("error") == {"groundwork:logClass": "error"}


def test_arns_come_from_the_context_helpers() -> None:
    problems = shapes.outside("context.py", shapes.hand_built_arns)
    assert not problems, f"build ARNs with context.arn / arn_in / account_root / s3_arn: {problems}"


def test_a_hand_built_arn_is_found() -> None:
    broken = (
        'root = pulumi.Output.concat("arn:", partition, ":iam::", account, ":root")\n'
        'user = pulumi.Output.concat(f"arn:{partition}:rds-db:{region}:", account)\n'
        'policy = "arn:aws:iam::aws:policy/ReadOnlyAccess"\n'
    )
    assert [p.split(":")[1] for p in shapes.hand_built_arns(broken, "broken.py")] == [
        "1",
        "2",
        "3",
    ], shapes.hand_built_arns(broken, "broken.py")
    fine = (
        "root = context.account_root(partition, account)\n"
        'key = "kms:EncryptionContext:aws:cloudtrail:arn"\n'
        'objects = pulumi.Output.concat(bucket.arn, "/*")\n'
    )
    assert shapes.hand_built_arns(fine, "ok.py") == [], fine


def test_aws_owned_arns_have_no_region_and_the_aws_account() -> None:
    # AWS managed policies are `arn:<partition>:iam::aws:policy/<path>`, the pattern in
    # https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_AttachedManagedPolicy.html
    # (ARNs with this stack's account are recorded values; the behaviour snapshot proves them.)
    assert (
        context.aws_owned_arn("aws-cn", "iam", "policy/ReadOnlyAccess")
        == "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"
    )


def test_inline_policies_come_from_the_iam_helpers() -> None:
    problems = shapes.outside("iam.py", shapes.hand_built_role_policies)
    assert not problems, (
        f"use iam.role_with_policy / role_with_policies / inline_policy: {problems}"
    )


def test_a_hand_built_inline_policy_is_found() -> None:
    broken = (
        'role = aws.iam.Role("r", assume_role_policy=trust)\n'
        'aws.iam.RolePolicy("p", role=role.id, policy=doc)\n'
    )
    assert shapes.hand_built_role_policies(broken, "broken.py") == ["broken.py:2: RolePolicy(...)"]
    fine = 'role, policy = iam.role_with_policy("r", "p", parent, trust, doc)\n'
    assert shapes.hand_built_role_policies(fine, "ok.py") == [], fine


def test_security_groups_and_rules_come_from_the_one_helper() -> None:
    problems = shapes.outside("secgroups.py", shapes.hand_built_security_groups)
    assert not problems, f"build security groups and rules with secgroups: {problems}"


def test_a_hand_built_security_group_pair_is_found() -> None:
    broken = (
        'sg = aws.ec2.SecurityGroup("db", vpc_id=vpc)\n'
        "aws.vpc.SecurityGroupIngressRule(\n"
        '    "db-in", security_group_id=sg.id, referenced_security_group_id=web, from_port=5432\n'
        ")\n"
        'SecurityGroupEgressRule("web-out", security_group_id=web)\n'
    )
    assert shapes.hand_built_security_groups(broken, "broken.py") == [
        "broken.py:1: SecurityGroup(...)",
        "broken.py:2: SecurityGroupIngressRule(...)",
        "broken.py:5: SecurityGroupEgressRule(...)",
    ]
    fine = 'aws.ec2.DefaultSecurityGroup("default", vpc_id=vpc.id)\n'
    assert shapes.hand_built_security_groups(fine, "ok.py") == [], fine


@pytest.mark.parametrize("peers", [{}, {"cidr": "10.0.0.0/16", "peer": "sg-1"}])
def test_a_rule_opens_to_exactly_one_peer(peers: dict[str, str]) -> None:
    # Refused before any resource is registered, so no runtime is needed.
    with pytest.raises(ValueError, match="db-in: give a CIDR block or a peer group"):
        secgroups.allow_in(
            secgroups.Rule("db-in", "PostgreSQL"),
            cast(pulumi.Resource, None),
            "sg-0",
            5432,
            **peers,
        )
