"""ops/pseudonym_key.py against a moto server: the key is made once, in AWS, and kept."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ops import pseudonym_key as pk


@pytest.fixture
def sm(moto_env: str) -> Any:
    return boto3.client(
        "secretsmanager", config=Config(retries={"max_attempts": 1, "mode": "standard"})
    )


def _empty_secret(sm: Any) -> str:
    # As the Analytics component creates it: no value.
    return sm.create_secret(Name=f"analytics-pseudonym-key-{uuid.uuid4().hex[:8]}")["ARN"]


def _value(sm: Any, arn: str) -> str:
    return sm.get_secret_value(SecretId=arn)["SecretString"]


def test_an_empty_secret_gets_a_random_key_and_a_second_run_keeps_it(
    sm: Any, caplog: pytest.LogCaptureFixture
) -> None:
    arn = _empty_secret(sm)
    with caplog.at_level(logging.INFO):  # the function's level (botocore DEBUG logs bodies)
        first = pk.handler({"secretArn": arn}, None)
    key = _value(sm, arn)
    assert first == {"secretArn": arn, "created": True}
    assert len(key) == pk.KEY_LENGTH and set(key) <= set(pk.ALPHABET), "key shape"
    assert key not in json.dumps(first) and key not in caplog.text, "the key left the function"
    assert pk.handler({"secretArn": arn}, None) == {"secretArn": arn, "created": False}
    assert _value(sm, arn) == key, "a second run replaced the key"
    assert len(sm.list_secret_version_ids(SecretId=arn)["Versions"]) == 1


def test_a_key_from_an_earlier_release_is_kept(sm: Any) -> None:
    # Stacks deployed before this function carry the value the program generated.
    arn = sm.create_secret(
        Name=f"analytics-pseudonym-key-{uuid.uuid4().hex[:8]}", SecretString="k" * 64
    )["ARN"]
    assert pk.handler({"secretArn": arn}, None)["created"] is False
    assert _value(sm, arn) == "k" * 64, "an upgrade changed every pseudonym"


def test_two_keys_are_different(sm: Any) -> None:
    a, b = _empty_secret(sm), _empty_secret(sm)
    pk.handler({"secretArn": a}, None)
    pk.handler({"secretArn": b}, None)
    assert _value(sm, a) != _value(sm, b)


def test_a_missing_secret_fails_the_invocation(sm: Any) -> None:
    arn = _empty_secret(sm)
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError):
        pk.handler({"secretArn": arn}, None)


@pytest.mark.parametrize("event", [{}, {"secretArn": "analytics-key"}, {"secretArn": 5}])
def test_an_event_without_a_secret_arn_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(pk.InvalidEvent, match="secretArn"):
        pk.ensure_key(object(), event)


class _Racing:
    """A client whose PutSecretValue loses a race: another invocation stored a value first."""

    def __init__(self) -> None:
        self.described = 0

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        self.described += 1
        return {"VersionIdsToStages": {"v1": ["AWSCURRENT"]}} if self.described > 1 else {}

    def put_secret_value(self, **kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "ResourceExistsException"}}, "PutSecretValue")


def test_a_lost_race_keeps_the_winners_key() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf"
    assert pk.ensure_key(_Racing(), {"secretArn": arn}) == {"secretArn": arn, "created": False}


def test_access_denied_is_retried_while_iam_settles() -> None:
    calls: list[float] = []

    class Denied(_Racing):
        def describe_secret(self, SecretId: str) -> dict[str, Any]:
            if len(calls) < 2:
                raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "DescribeSecret")
            return {"VersionIdsToStages": {"v1": ["AWSCURRENT"]}}

    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf"
    assert pk.ensure_key(Denied(), {"secretArn": arn}, sleep=calls.append)["created"] is False
    assert len(calls) == 2
