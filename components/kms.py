"""Customer-managed KMS keys: rotation on, a deletion window, and a key policy per use.

A key policy keeps the account root as administrator (so IAM policies can grant use of the
key, which is how roles get access) and adds statements for the AWS services that encrypt
with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam


def root_admin_statement(partition: str, account: pulumi.Input[str]) -> iam.Statement:
    return {
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": pulumi.Output.concat("arn:", partition, ":iam::", account, ":root")},
        "Action": "kms:*",
        "Resource": "*",
    }


def service_statement(
    sid: str,
    service: str,
    actions: Sequence[str],
    conditions: dict[str, Any] | None = None,
) -> iam.Statement:
    stmt: iam.Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": list(actions),
        "Resource": "*",
    }
    if conditions:
        stmt["Condition"] = conditions
    return stmt


def encryption_key(
    name: str,
    *,
    description: str,
    partition: str,
    account: pulumi.Input[str],
    statements: Sequence[iam.Statement] = (),
    parent: pulumi.Resource,
    protect: bool,
    provider: pulumi.ProviderResource | None = None,
) -> aws.kms.Key:
    """A symmetric key with yearly rotation, a 30-day deletion window and an alias.

    `provider` places the key in another region (e.g. for cross-region backup copies).
    """
    policy = iam.document(root_admin_statement(partition, account), *statements)
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=iam.to_json(policy),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, provider=provider),
    )
    aws.kms.Alias(
        f"{name}-alias",
        name_prefix=f"alias/{pulumi.get_project()}-{pulumi.get_stack()}-{name}-",
        target_key_id=key.key_id,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
    return key
