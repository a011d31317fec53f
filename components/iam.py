"""IAM policy documents built as plain data, so they are known at preview and testable offline.

Documents are dicts that may hold Outputs; `to_json` turns one into an `Output[str]`. Using
`aws.iam.get_policy_document` instead would make every policy an invoke result, unknown to
the policy pack during preview. `role_with_policy` is the one resource shape built here: a
role and its single inline policy, which many components need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

Statement = dict[str, Any]


def statement(
    actions: Sequence[str],
    resources: Sequence[Any] | Any,
    *,
    sid: str | None = None,
    effect: str = "Allow",
    conditions: Mapping[str, Any] | None = None,
) -> Statement:
    """One policy statement; `resources` may hold Outputs."""
    stmt: Statement = {"Effect": effect, "Action": list(actions), "Resource": resources}
    if sid:
        stmt["Sid"] = sid
    if conditions:
        stmt["Condition"] = dict(conditions)
    return stmt


def document(*statements: Statement) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def to_json(doc: Mapping[str, Any]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps(doc)


def assume_role(*services: str, conditions: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Trust policy letting AWS services (e.g. `ec2.amazonaws.com`) assume a role."""
    stmt: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": services[0] if len(services) == 1 else list(services)},
        "Action": "sts:AssumeRole",
    }
    if conditions:
        stmt["Condition"] = dict(conditions)
    return document(stmt)


def assume_role_for_account(service: str, account: pulumi.Input[str]) -> dict[str, Any]:
    """Trust policy for `service` acting for this account only: the confused-deputy guard for
    services that send `aws:SourceAccount` when they assume a role."""
    return assume_role(service, conditions={"StringEquals": {"aws:SourceAccount": account}})


def lambda_trust() -> dict[str, Any]:
    """Trust policy of a Lambda execution role. Plain: Lambda documents no confused-deputy
    condition keys for execution roles (a condition on a missing key would deny), and only
    principals allowed iam:PassRole in this account can hand the role to a function."""
    return assume_role("lambda.amazonaws.com")


def role_with_policy(
    role_name: str,
    policy_name: str,
    parent: pulumi.Resource,
    trust: Mapping[str, Any],
    document: Mapping[str, Any],
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """A role that `trust` may assume, with `document` as its one inline policy."""
    role = aws.iam.Role(
        role_name,
        assume_role_policy=to_json(trust),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    policy = aws.iam.RolePolicy(
        policy_name,
        role=role.id,
        policy=to_json(document),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return role, policy
