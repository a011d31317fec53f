"""IAM policy documents built as plain data, so they are known at preview and testable offline.

Documents are dicts that may hold Outputs; `to_json` turns one into an `Output[str]`. Using
`aws.iam.get_policy_document` instead would make every policy an invoke result, unknown to
the policy pack during preview. The one resource shape built here is a role with its inline
policies (`role_with_policy`, `role_with_policies`, `inline_policy`), which many components
need; a structure test keeps `RolePolicy` out of every other module.
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


# A policy document as data (`document(...)`), or one already in JSON (another component's).
PolicyDocument = Mapping[str, Any] | pulumi.Input[str]


def inline_policy(
    policy_name: str, parent: pulumi.Resource, role: pulumi.Input[str], document: PolicyDocument
) -> aws.iam.RolePolicy:
    """`document` as an inline policy of `role` (its name or id)."""
    return aws.iam.RolePolicy(
        policy_name,
        role=role,
        policy=to_json(document) if isinstance(document, Mapping) else document,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def role_with_policies(
    role_name: str,
    parent: pulumi.Resource,
    trust: Mapping[str, Any],
    policies: Mapping[str, PolicyDocument],
    *,
    description: str | None = None,
    max_session_duration: int | None = None,
) -> tuple[aws.iam.Role, dict[str, aws.iam.RolePolicy]]:
    """A role that `trust` may assume, with one inline policy per `policies` entry (resource
    name -> document)."""
    role = aws.iam.Role(
        role_name,
        description=description,
        assume_role_policy=to_json(trust),
        max_session_duration=max_session_duration,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return role, {
        name: inline_policy(name, parent, role.id, document) for name, document in policies.items()
    }


def role_with_policy(
    role_name: str,
    policy_name: str,
    parent: pulumi.Resource,
    trust: Mapping[str, Any],
    document: PolicyDocument,
    *,
    description: str | None = None,
    max_session_duration: int | None = None,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """A role that `trust` may assume, with `document` as its one inline policy."""
    role, policies = role_with_policies(
        role_name,
        parent,
        trust,
        {policy_name: document},
        description=description,
        max_session_duration=max_session_duration,
    )
    return role, policies[policy_name]
