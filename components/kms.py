"""Customer-managed KMS keys: rotation on, a deletion window, and a key policy per use.

A key policy keeps the account root as administrator (so IAM policies can grant use of the
key, which is how roles get access) and adds statements for the AWS services that encrypt
with it.

Keys that protect backups (the vault's, the database's and their replicas') can also carry a
break-glass guard: `deny_destruction_statement` refuses `kms:ScheduleKeyDeletion` and
`kms:DisableKey` to every principal except one role. An explicit Deny in the key policy wins
over any Allow, the account root's `kms:*` and an administrator's IAM policy included, so
one stolen admin session cannot make the object-locked backups unreadable by deleting or
disabling their key
(https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys-adding-permission.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
`kms:PutKeyPolicy` is deliberately not denied: KMS's policy lockout safety check refuses a
key policy that would stop the caller from changing it again
(https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#prevent-unmanageable-key),
and the deploying principal must keep the right to update the policy. A policy change,
deletion or disable attempt is therefore alarmed on (CloudTrail metric filters) rather than
blocked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components import context, iam


def root_admin_statement(partition: str, account: pulumi.Input[str]) -> iam.Statement:
    return {
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": context.account_root(partition, account)},
        "Action": "kms:*",
        "Resource": "*",
    }


# The two calls that make every ciphertext under a key unreadable (disable at once, delete
# after the waiting period).
DESTRUCTIVE_ACTIONS: tuple[str, ...] = ("kms:DisableKey", "kms:ScheduleKeyDeletion")


def deny_destruction_statement(break_glass_role_arn: str) -> iam.Statement:
    """Deny deleting or disabling the key to every principal but the break-glass role.

    `aws:PrincipalArn` is the role's ARN (not the assumed-role session's), so any session of
    that role passes and every other principal, the account root included, is denied
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
    """
    return {
        "Sid": "OnlyBreakGlassDeletesOrDisables",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": list(DESTRUCTIVE_ACTIONS),
        "Resource": "*",
        "Condition": {"ArnNotEquals": {"aws:PrincipalArn": break_glass_role_arn}},
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
    break_glass_role_arn: str | None = None,
) -> aws.kms.Key:
    """A symmetric key with yearly rotation, a 30-day deletion window and an alias.

    `provider` places the key in another region (e.g. for cross-region backup copies).
    `break_glass_role_arn` adds the deny of deletion and disabling to everyone else.
    """
    guard = [deny_destruction_statement(break_glass_role_arn)] if break_glass_role_arn else []
    policy = iam.document(root_admin_statement(partition, account), *statements, *guard)
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
