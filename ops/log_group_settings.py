"""Lambda handler: give a log group that an AWS service creates our retention, KMS key and tags.

CloudWatch RUM (its copy of events in CloudWatch Logs) and CloudWatch Synthetics (the canary's
Lambda function) create their log groups themselves, under names that contain an id the
service generates, so the program cannot declare them as `aws.cloudwatch.LogGroup`s. The
`ServiceLogSettings` component invokes this function (an `aws.lambda_.Invocation`) once the
service has reported the name; the function creates the group when the service has not yet
done so, or adopts the existing one, and applies the settings. It is idempotent.

Runs on the Lambda Python runtime, which ships boto3; tests run it against moto server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

# IAM changes take a few seconds to reach every endpoint; the invocation usually runs right
# after the function's role policy was attached.
RETRIES = 6
RETRY_DELAY_SECONDS = 5.0


class InvalidEvent(ValueError):
    """The invocation input is missing a field or has one of the wrong type."""


def _settings(event: Mapping[str, Any]) -> tuple[str, str, int, str, dict[str, str]]:
    name = event.get("logGroupName")
    arn = event.get("logGroupArn")
    days = event.get("retentionInDays")
    key = event.get("kmsKeyArn")
    tags = event.get("tags") or {}
    if not isinstance(name, str) or not name:
        raise InvalidEvent(f"logGroupName must be a non-empty string (got {name!r})")
    if not isinstance(arn, str) or not arn.endswith(f":log-group:{name}"):
        raise InvalidEvent(f"logGroupArn must be the ARN of {name!r} (got {arn!r})")
    if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
        raise InvalidEvent(f"retentionInDays must be a positive integer (got {days!r})")
    if not isinstance(key, str) or not key.startswith("arn:"):
        raise InvalidEvent(f"kmsKeyArn must be a KMS key ARN (got {key!r})")
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise InvalidEvent(f"tags must map strings to strings (got {tags!r})")
    return name, arn, days, key, dict(tags)


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _with_retries(call: Callable[[], Any], sleep: Callable[[float], None]) -> Any:
    for attempt in range(1, RETRIES + 1):
        try:
            return call()
        except Exception as exc:
            denied = _error_code(exc) in ("AccessDeniedException", "AccessDenied")
            if not denied or attempt == RETRIES:
                raise
            sleep(RETRY_DELAY_SECONDS * attempt)
    raise AssertionError("unreachable")


def apply(
    logs: Any, event: Mapping[str, Any], *, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """Create or adopt the log group named in `event` and apply retention, key and tags."""
    name, arn, days, key, tags = _settings(event)

    def create() -> bool:
        try:
            logs.create_log_group(logGroupName=name, kmsKeyId=key, tags=tags)
            return True
        except Exception as exc:
            if _error_code(exc) != "ResourceAlreadyExistsException":
                raise
            return False

    created = _with_retries(create, sleep)
    _with_retries(lambda: logs.put_retention_policy(logGroupName=name, retentionInDays=days), sleep)
    if not created:
        # The service made the group first: tag it and encrypt what it writes from now on.
        if tags:
            _with_retries(lambda: logs.tag_resource(resourceArn=arn, tags=tags), sleep)
        _with_retries(lambda: logs.associate_kms_key(logGroupName=name, kmsKeyId=key), sleep)
    return {"logGroupName": name, "created": created, "retentionInDays": days}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (`log_group_settings.handler`)."""
    # With lifecycle scope CRUD the provider adds `tf.action`; a delete leaves the group (and
    # its retention) in place: the service that created it owns it.
    action = (event.get("tf") or {}).get("action", "create")
    if action == "delete":
        return {"skipped": "delete"}
    import boto3  # the Lambda runtime provides it; imported late so tests can inject a client

    return apply(boto3.client("logs"), event)
