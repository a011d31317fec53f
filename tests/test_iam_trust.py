"""Service-role trust policies (components/iam.py): the confused-deputy guard on every role
an AWS service assumes for this account, and the documented exceptions."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from components import iam
from offline.model import Recording, plain
from offline.recorder import MOCK_ACCOUNT_ID

ROLE = "aws:iam/role:Role"
# Trusted without a condition: Lambda documents no condition keys for execution roles, EC2
# instance profiles are handed out by iam:PassRole in this account, and S3's live-replication
# role is named only in this account's own bucket replication configuration (iam:PassRole).
# CloudTrail's confused-deputy guidance covers resource policies only (bucket, key: both scoped
# with aws:SourceArn in components/audit.py), not the CloudWatch Logs delivery role, whose
# documented trust is plain
# (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cross-service-confused-deputy-prevention.html,
# .../send-cloudtrail-events-to-cloudwatch-logs.html); it too is only handed out by iam:PassRole.
PLAIN = {
    "lambda.amazonaws.com",
    "ec2.amazonaws.com",
    "s3.amazonaws.com",
    "cloudtrail.amazonaws.com",
}
# Firehose passes the account id as the external id instead of aws:SourceAccount.
EXTERNAL_ID = {"firehose.amazonaws.com"}


def trust_problems(rec: Recording, account: str = MOCK_ACCOUNT_ID) -> list[str]:
    problems = []
    for role in rec.of_type(ROLE):
        for stmt in json.loads(role.input("assumeRolePolicy"))["Statement"]:
            service = stmt.get("Principal", {}).get("Service")
            if service is None or service in PLAIN:
                continue
            key = "sts:ExternalId" if service in EXTERNAL_ID else "aws:SourceAccount"
            if stmt.get("Condition") != {"StringEquals": {key: account}}:
                problems.append(
                    f"{role.urn}: {service} may assume it for any account "
                    f"(Condition {stmt.get('Condition')}, expected StringEquals {key} {account})"
                )
    return problems


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_service_roles_trust_only_this_account(stack: str, request: pytest.FixtureRequest) -> None:
    assert trust_problems(request.getfixturevalue(stack)) == []


def _trust_edited(rec: Recording, name: str, change: Callable[[dict[str, Any]], None]) -> Recording:
    def edit(r: Any) -> Any:
        if r.name != name:
            return r
        doc = json.loads(r.input("assumeRolePolicy"))
        change(doc["Statement"][0])
        return dataclasses.replace(
            r, inputs={**plain(r.inputs), "assumeRolePolicy": json.dumps(doc)}
        )

    assert any(r.name == name for r in rec), f"no {name} in {rec.stack}"
    return dataclasses.replace(rec, resources=[edit(r) for r in rec])


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("backup-job-scheduler-role", lambda s: s.pop("Condition")),
        ("database-monitoring-role", lambda s: s.update(Condition={"StringEquals": {}})),
        ("analytics-firehose-role", lambda s: s.pop("Condition")),
    ],
    ids=["no-condition", "empty-condition", "firehose-no-external-id"],
)
def test_an_unguarded_service_role_is_reported(
    name: str, change: Callable[[dict[str, Any]], None], prod: Recording
) -> None:
    assert trust_problems(prod) == []
    assert trust_problems(_trust_edited(prod, name, change)), f"unguarded {name} not reported"


def test_another_account_is_reported(prod: Recording) -> None:
    assert trust_problems(prod, account="210987654321"), "roles pass for a foreign account"


def test_helpers_spell_the_trust_documents() -> None:
    guarded = iam.assume_role_for_account("scheduler.amazonaws.com", "111122223333")
    assert guarded["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
        }
    ]
    assert "Condition" not in iam.lambda_trust()["Statement"][0]
