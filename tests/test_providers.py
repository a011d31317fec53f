"""Explicit providers act like the stack's default provider: same credentials, roles, account
guards and tags, another region only; secrets stay secret."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from offline.model import SECRET_SIG, SIG_KEY, RecordedResource, Recording, plain
from settings import SettingsError, parse
from tests.checks import replace_inputs
from tests.conftest import PROD_ALTERED, stack_config

PROVIDER = "pulumi:providers:aws"
ROLE = "arn:aws:iam::123456789012:role/deploy"
AWS_CONFIG: dict[str, Any] = {
    "aws:profile": "prod-deployer",
    "aws:assumeRoles": [
        {"roleArn": ROLE, "sessionName": "groundwork", "externalId": {"secure": "v1:abc"}}
    ],
    "aws:allowedAccountIds": ["123456789012"],
    "aws:forbiddenAccountIds": ["999999999999"],
    "aws:skipCredentialsValidation": True,
}


def _decoded(value: Any) -> Any:
    value = plain(value)
    return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def provider_problems(rec: Recording, config: dict[str, Any], region: str) -> list[str]:
    """Each explicit provider repeats the stack's `aws:` settings and differs in region only;
    keys set as secrets are secret in its inputs."""
    problems = []
    tags = config["aws:defaultTags"]
    providers: list[RecordedResource] = rec.of_type(PROVIDER)
    if not providers:
        return [f"{rec.stack}: no explicit provider"]
    for p in providers:
        got = {k: _decoded(v) for k, v in p.inputs.items()}
        if got.get("region") != region:
            problems.append(f"{p.urn}: region {got.get('region')!r}, expected {region!r}")
        if got.get("defaultTags") != tags:
            problems.append(f"{p.urn}: defaultTags {got.get('defaultTags')} != aws:defaultTags")
        for key in ("profile", "allowedAccountIds", "forbiddenAccountIds"):
            if (
                key in {k.removeprefix("aws:") for k in config}
                and got.get(key) != config[f"aws:{key}"]
            ):
                problems.append(f"{p.urn}: {key} {got.get(key)!r} != aws:{key}")
        if "aws:skipCredentialsValidation" in config and got.get("skipCredentialsValidation") != (
            str(config["aws:skipCredentialsValidation"]).lower()
        ):
            problems.append(f"{p.urn}: skipCredentialsValidation not inherited")
        if "aws:assumeRoles" in config:
            roles = got.get("assumeRoles") or []
            if [r.get("roleArn") for r in roles] != [
                r["roleArn"] for r in config["aws:assumeRoles"]
            ]:
                problems.append(f"{p.urn}: assumeRoles {roles}")
            if not _is_secret(p.inputs.get("assumeRoles")):
                problems.append(f"{p.urn}: assumeRoles holds a secret but is not secret")
    return problems


def _without(rec: Recording, urn: str, key: str) -> Recording:
    """`rec` with input `key` of `urn` removed, other inputs untouched (secrets stay wrapped)."""
    resources = [
        dataclasses.replace(r, inputs={k: v for k, v in r.inputs.items() if k != key})
        if r.urn == urn
        else r
        for r in rec
    ]
    return dataclasses.replace(rec, resources=resources)


@pytest.fixture
def prod_with_aws_settings(phase_variant: Callable[..., Recording]) -> Recording:
    # prod with other groups changed too (PROD_ALTERED): one recording for several files.
    assert {k: PROD_ALTERED.get(k) for k in AWS_CONFIG} == AWS_CONFIG
    return phase_variant("prod", "early", PROD_ALTERED)


def test_shipped_prod_replica_provider_carries_the_stack_tags(prod: Recording) -> None:
    config = stack_config("prod")
    region = config["groundwork:database"]["backupReplicaRegion"]
    assert provider_problems(prod, config, region) == []


def test_prod_replica_provider_inherits_every_aws_setting(
    prod_with_aws_settings: Recording,
) -> None:
    config = {**stack_config("prod"), **AWS_CONFIG}
    rec = prod_with_aws_settings
    assert provider_problems(rec, config, "eu-central-1") == []
    # The database's and the backup vault's replica-region providers: each one is checked.
    providers = rec.of_type(PROVIDER)
    assert len(providers) == 2, [p.urn for p in providers]
    for provider in providers:
        for key in ("profile", "allowedAccountIds", "forbiddenAccountIds", "assumeRoles"):
            broken = _without(rec, provider.urn, key)
            assert provider_problems(broken, config, "eu-central-1"), f"{provider.urn}: {key}"
        exposed = replace_inputs(rec, provider.urn, lambda i: None)  # plain(): no secret wrapper
        assert provider_problems(exposed, config, "eu-central-1"), f"{provider.urn}: plaintext"
    assert provider_problems(rec, config, "eu-west-1"), "another region is told apart"


def test_the_default_provider_settings_reach_every_explicit_provider(
    prod_with_aws_settings: Recording,
) -> None:
    """Every resource in the replica region uses an inheriting provider."""
    providers = [p.urn for p in prod_with_aws_settings.of_type(PROVIDER)]
    users = [r for r in prod_with_aws_settings if any(r.provider.startswith(u) for u in providers)]
    assert {r.type for r in users} >= {
        "aws:kms/key:Key",
        "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
        "aws:s3/bucket:Bucket",
    }, providers


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"aws:allowedAccountIds": '["12345"]'}, r"aws:allowedAccountIds must list 12-digit"),
        ({"aws:forbiddenAccountIds": '"123456789012"'}, r"aws:forbiddenAccountIds must be a list"),
        ({"aws:assumeRoles": '[{"rolearn": "x"}]'}, r"aws:assumeRoles\[0\]\.rolearn is not a"),
        ({"aws:skipCredentialsValidation": "maybe"}, r"aws:skipCredentialsValidation must be a"),
    ],
)
def test_bad_aws_provider_settings_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse({"aws:region": "eu-west-1", **values}, project="p", stack="s")


def test_older_assume_role_spelling_is_a_chain_of_one() -> None:
    s = parse(
        {"aws:region": "eu-west-1", "aws:assumeRole": json.dumps({"roleArn": ROLE})},
        project="p",
        stack="s",
        secret_keys=["aws:assumeRole"],
    )
    assert [r.role_arn for r in s.aws.assume_roles] == [ROLE]
    assert s.aws.is_secret("assumeRole")
