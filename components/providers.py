"""Explicit AWS providers that act exactly like the stack's default provider, in another region.

The default provider reads the stack's `aws:` config itself. A provider the program
constructs reads none of it: without help it would take whatever credentials the
environment has (another profile, no assumed role), accept any account, and tag nothing. Every
explicit `aws.Provider` is built here, from the stack's provider settings, with the region as
the only difference. Values set with `--secret` stay secrets in the provider's inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class StackProvider:
    """The stack's `aws:` settings an explicit provider repeats (settings.AwsProvider)."""

    default_tags: Mapping[str, str]
    profile: str | None = None
    shared_config_files: tuple[str, ...] = ()
    shared_credentials_files: tuple[str, ...] = ()
    # Each role as pulumi_aws's ProviderAssumeRoleArgs keywords (role_arn, session_name, ...).
    assume_roles: tuple[Mapping[str, Any], ...] = ()
    allowed_account_ids: tuple[str, ...] = ()
    forbidden_account_ids: tuple[str, ...] = ()
    skip_credentials_validation: bool | None = None
    # camelCase `aws:` keys set as secrets (e.g. `assumeRoles`, `profile`).
    secret_keys: frozenset[str] = field(default_factory=frozenset)


def regional_provider(
    name: str, region: str, stack: StackProvider, parent: pulumi.Resource
) -> aws.Provider:
    """An `aws.Provider` for `region` with every other setting taken from the stack."""

    def kept(key: str, value: Any) -> Any:
        return pulumi.Output.secret(value) if key in stack.secret_keys else value

    inputs: dict[str, Any] = {}
    if stack.profile is not None:
        inputs["profile"] = kept("profile", stack.profile)
    if stack.shared_config_files:
        inputs["shared_config_files"] = kept("sharedConfigFiles", list(stack.shared_config_files))
    if stack.shared_credentials_files:
        inputs["shared_credentials_files"] = kept(
            "sharedCredentialsFiles", list(stack.shared_credentials_files)
        )
    if stack.assume_roles:
        roles = [aws.ProviderAssumeRoleArgs(**dict(r)) for r in stack.assume_roles]
        inputs["assume_roles"] = kept("assumeRoles", roles)
    if stack.allowed_account_ids:
        inputs["allowed_account_ids"] = kept("allowedAccountIds", list(stack.allowed_account_ids))
    if stack.forbidden_account_ids:
        inputs["forbidden_account_ids"] = kept(
            "forbiddenAccountIds", list(stack.forbidden_account_ids)
        )
    if stack.skip_credentials_validation is not None:
        inputs["skip_credentials_validation"] = stack.skip_credentials_validation
    return aws.Provider(
        name,
        region=region,
        # A provider applies no tags of its own accord: these are the stack's aws:defaultTags.
        default_tags={"tags": dict(stack.default_tags)},
        **inputs,
        opts=pulumi.ResourceOptions(parent=parent),
    )
