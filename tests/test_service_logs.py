"""ops/log_group_settings.py against a moto server: create or adopt a service's log group."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ops import log_group_settings as lgs
from tests.conftest import AWS_TEST_REGION as REGION

ACCOUNT = "123456789012"  # moto's account
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1f2f4a-1111-2222-3333-444455556666"


@pytest.fixture
def logs(moto_env: str) -> Any:
    # No client-side retries: a 500 for an action moto lacks should not cost seconds.
    return boto3.client("logs", config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def event(name: str, days: int = 30, **extra: Any) -> dict[str, Any]:
    return {
        "logGroupName": name,
        "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}",
        "retentionInDays": days,
        "kmsKeyArn": KEY,
        "tags": {"groundwork:logClass": "runtime"},
        **extra,
    }


def group(logs: Any, name: str) -> dict[str, Any]:
    found = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]]
    assert [g["logGroupName"] for g in found] == [name]
    return found[0]


def tags(logs: Any, name: str) -> dict[str, str]:
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
    return logs.list_tags_for_resource(resourceArn=arn)["tags"]


def test_creates_the_group_with_key_retention_and_class_when_the_service_has_not(
    moto_env: str, logs: Any
) -> None:
    name = "/aws/vendedlogs/RUMService_app-prod12345678"
    result = lgs.handler(event(name, 90), None)
    assert result == {"logGroupName": name, "created": True, "retentionInDays": 90}
    g = group(logs, name)
    assert (g["retentionInDays"], g["kmsKeyId"]) == (90, KEY), name
    assert tags(logs, name) == {"groundwork:logClass": "runtime"}


def test_adopts_a_group_the_service_made_and_is_idempotent(logs: Any) -> None:
    name = "/aws/lambda/cwsyn-app-prod-hc-0f0e"
    logs.create_log_group(logGroupName=name)  # as Synthetics leaves it: kept forever
    assert "retentionInDays" not in group(logs, name)
    for _ in range(2):
        try:
            result = lgs.apply(logs, event(name, 30))
        except ClientError as exc:
            # moto does not implement AssociateKmsKey (the last step); real CloudWatch Logs does.
            assert exc.operation_name == "AssociateKmsKey", exc
        else:
            assert result["created"] is False
            assert group(logs, name)["kmsKeyId"] == KEY
        assert group(logs, name)["retentionInDays"] == 30
        assert tags(logs, name) == {"groundwork:logClass": "runtime"}


def test_a_delete_leaves_the_group_alone(logs: Any) -> None:
    name = "/aws/vendedlogs/RUMService_kept"
    lgs.handler(event(name, 30), None)
    assert lgs.handler(event(name, 30, tf={"action": "delete"}), None) == {"skipped": "delete"}
    assert group(logs, name)["retentionInDays"] == 30


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"logGroupName": ""}, "logGroupName must be a non-empty string"),
        ({"logGroupArn": "arn:aws:logs:r:1:log-group:other"}, "logGroupArn must be the ARN of"),
        ({"retentionInDays": 0}, "retentionInDays must be a positive integer"),
        ({"retentionInDays": True}, "retentionInDays must be a positive integer"),
        ({"kmsKeyArn": None}, "kmsKeyArn must be a KMS key ARN"),
        ({"tags": {"a": 1}}, "tags must map strings to strings"),
    ],
)
def test_a_bad_event_is_refused_before_any_call(change: dict, message: str) -> None:
    with pytest.raises(lgs.InvalidEvent, match=message):
        lgs.apply(None, {**event("/x"), **change})


def _denied(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, operation)


def test_retries_while_a_new_role_policy_propagates(logs: Any) -> None:
    """An access denial right after the role was granted access is retried with backoff."""
    waits: list[float] = []
    calls = {"n": 0}

    def flaky_retention(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] < 3:
            raise _denied("PutRetentionPolicy")
        return logs.put_retention_policy(**kwargs)

    class Client:
        def __getattr__(self, attr: str) -> Any:
            return flaky_retention if attr == "put_retention_policy" else getattr(logs, attr)

    name = "/aws/vendedlogs/RUMService_slowiam"
    lgs.apply(Client(), event(name, 14), sleep=waits.append)
    assert waits == [lgs.RETRY_DELAY_SECONDS, 2 * lgs.RETRY_DELAY_SECONDS]
    assert group(logs, name)["retentionInDays"] == 14


def test_gives_up_after_the_last_retry_and_does_not_retry_other_errors() -> None:
    waits: list[float] = []

    def always(exc: Exception):
        def call() -> None:
            raise exc

        return call

    with pytest.raises(ClientError):
        lgs._with_retries(always(_denied("CreateLogGroup")), waits.append)
    assert len(waits) == lgs.RETRIES - 1
    waits.clear()
    other = ClientError({"Error": {"Code": "InvalidParameterException"}}, "PutRetentionPolicy")
    with pytest.raises(ClientError):
        lgs._with_retries(always(other), waits.append)
    assert waits == []
