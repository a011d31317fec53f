"""Lambda handler: give the analytics pseudonym-key secret a random value, once.

The key the app HMACs user ids with must not pass through the Pulumi program, or it would sit
in the stack's state and in every state backup. The `Analytics` component creates the secret
without a value and invokes this function at deploy time (an `aws.lambda_.Invocation`); the
function generates the value here, in AWS, and stores it with PutSecretValue.

It fills the secret only when it has no current version: an existing key (a stack upgraded
from the time the program generated it) is kept, or every pseudonym would change. It never
reads, returns or logs the value: whether a value exists is known from DescribeSecret's
version stages alone. Runs on the Lambda Python runtime (boto3 included); tested against moto.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Mapping
from typing import Any

KEY_LENGTH = 64
ALPHABET = string.ascii_letters + string.digits  # the contract: letters and digits
# IAM changes take a few seconds to reach every endpoint; the invocation usually runs right
# after the function's role policy was attached.
RETRIES = 6
RETRY_DELAY_SECONDS = 5.0
INITIAL_TOKEN = "groundwork-pseudonym-key-initial-000001"  # 32..64 characters


class InvalidEvent(ValueError):
    """The invocation input does not name a secret."""


def new_key() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(KEY_LENGTH))


def _secret_arn(event: Mapping[str, Any]) -> str:
    arn = event.get("secretArn")
    if not isinstance(arn, str) or not arn.startswith("arn:") or ":secretsmanager:" not in arn:
        raise InvalidEvent(f"secretArn must be a Secrets Manager secret ARN (got {arn!r})")
    return arn


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


def has_current_value(client: Any, arn: str) -> bool:
    described = client.describe_secret(SecretId=arn)
    stages = described.get("VersionIdsToStages") or {}
    return any("AWSCURRENT" in labels for labels in stages.values())


def ensure_key(
    client: Any,
    event: Mapping[str, Any],
    *,
    generate: Callable[[], str] = new_key,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Store a fresh key in the secret unless it already has one; say which happened."""
    arn = _secret_arn(event)
    if _with_retries(lambda: has_current_value(client, arn), sleep):
        return {"secretArn": arn, "created": False}
    # A fixed request token: a second, concurrent invocation cannot add a second value (AWS
    # refuses the same token with another value), it finds the first one's instead.
    try:
        _with_retries(
            lambda: client.put_secret_value(
                SecretId=arn, SecretString=generate(), ClientRequestToken=INITIAL_TOKEN
            ),
            sleep,
        )
    except Exception as exc:
        if _error_code(exc) != "ResourceExistsException" or not has_current_value(client, arn):
            raise
        return {"secretArn": arn, "created": False}
    return {"secretArn": arn, "created": True}


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    import boto3  # the Lambda runtime ships it

    return ensure_key(boto3.client("secretsmanager"), event)
