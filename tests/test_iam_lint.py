"""Every IAM policy document dev, prod and a growth-phase prod build passes parliament (AWS's
IAM database), and the audit fails on documents broken the ways that matter."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from offline.model import RecordedResource, Recording, plain
from tests import iam_audit
from tests.iam_audit import IDENTITY, RESOURCE, TRUST, audit, audit_recording, documents


@pytest.fixture(scope="module")
def growth(phase_variant: Callable[..., Recording]) -> Recording:
    return phase_variant("prod", "growth")


@pytest.mark.parametrize("stack", ["dev", "prod", "growth"])
def test_every_policy_document_passes_parliament(stack: str, request: pytest.FixtureRequest):
    assert audit_recording(request.getfixturevalue(stack)) == []


# Where each kind of document lives; every one of these resources must be found and audited.
CARRIERS = {
    ("aws:iam/role:Role", "assumeRolePolicy"): TRUST,
    ("aws:iam/rolePolicy:RolePolicy", "policy"): IDENTITY,
    ("aws:iam/policy:Policy", "policy"): IDENTITY,
    ("aws:kms/key:Key", "policy"): RESOURCE,
    ("aws:s3/bucketPolicy:BucketPolicy", "policy"): RESOURCE,
    ("aws:sns/topicPolicy:TopicPolicy", "policy"): RESOURCE,
}


def test_every_policy_carrier_is_audited_with_its_kind(prod: Recording) -> None:
    found = {(d.urn, d.path): d.kind for d in documents(prod)}
    expected = {
        (r.urn, key): kind
        for (type_, key), kind in CARRIERS.items()
        for r in prod.of_type(type_)
        if r.input(key) is not None
    }
    assert {k for k, v in expected.items() if found.get(k) != v} == set()
    assert {kind for kind in expected.values()} == {IDENTITY, TRUST, RESOURCE}
    assert not [d for d in documents(prod) if "DataProtection" in d.urn], "not IAM documents"


# ---- the audit can fail -----------------------------------------------------------------


def _edited(rec: Recording, name: str, key: str, change: Callable[[dict[str, Any]], None]):
    """The one document `key` of resource `name`, changed; audited alone."""
    [resource] = [r for r in rec if r.name == name]
    doc = json.loads(resource.input(key))
    change(doc)
    changed = dataclasses.replace(resource, inputs={**plain(resource.inputs), key: json.dumps(doc)})
    return [d for d in documents(dataclasses.replace(rec, resources=[changed]))]


def _stmt(doc: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return doc["Statement"][i]


BROKEN = {
    "identity-unknown-action": (
        "web-analytics-put",
        "policy",
        lambda d: _stmt(d).update(Action=["firehose:PutRecordBatches"]),
        "UNKNOWN_ACTION",
    ),
    "identity-unknown-prefix": (
        "web-analytics-put",
        "policy",
        lambda d: _stmt(d).update(Action=["fireh0se:PutRecordBatch"]),
        "UNKNOWN_PREFIX",
    ),
    "identity-resource-type-mismatch": (
        "web-analytics-pseudonym-key",
        "policy",
        lambda d: _stmt(d, 0).update(Resource=_stmt(d, 1)["Resource"]),
        "RESOURCE_MISMATCH",
    ),
    "identity-unknown-condition-key": (
        "web-analytics-pseudonym-key",
        "policy",
        lambda d: _stmt(d).update(Condition={"StringEquals": {"s3:prefix": "x"}}),
        "UNKNOWN_CONDITION_FOR_ACTION",
    ),
    "identity-malformed": (
        "web-analytics-put",
        "policy",
        lambda d: _stmt(d).update(Effect="Permit"),
        "MALFORMED",
    ),
    "identity-with-principal": (
        "web-analytics-put",
        "policy",
        lambda d: _stmt(d).update(Principal={"AWS": "*"}),
        "must not name a Principal",
    ),
    "trust-unknown-action": (
        "backup-job-role",
        "assumeRolePolicy",
        lambda d: _stmt(d).update(Action="sts:AssumeRoles"),
        "UNKNOWN_ACTION",
    ),
    "trust-unknown-principal-kind": (
        "backup-job-role",
        "assumeRolePolicy",
        lambda d: _stmt(d).update(Principal={"Servce": "codebuild.amazonaws.com"}),
        "UNKNOWN_PRINCIPAL",
    ),
    "trust-malformed-service": (
        "backup-job-role",
        "assumeRolePolicy",
        lambda d: _stmt(d).update(Principal={"Service": "codebuild"}),
        "is not <name>.amazonaws.com",
    ),
    "trust-unknown-condition-key": (
        "backup-job-role",
        "assumeRolePolicy",
        lambda d: _stmt(d).update(Condition={"StringEquals": {"s3:prefix": "x"}}),
        "UNKNOWN_CONDITION_FOR_ACTION",
    ),
    "trust-with-resource": (
        "backup-job-role",
        "assumeRolePolicy",
        lambda d: _stmt(d).update(Resource="*"),
        "must not name a Resource",
    ),
    "key-unknown-action": (
        "vault-key",
        "policy",
        lambda d: _stmt(d).update(Action="kms:Decrypts"),
        "UNKNOWN_ACTION",
    ),
    "bucket-unknown-action": (
        "vault-bucket-policy",
        "policy",
        lambda d: _stmt(d).update(Action="s3:GetObjectz"),
        "UNKNOWN_ACTION",
    ),
    "bucket-malformed": (
        "vault-bucket-policy",
        "policy",
        lambda d: _stmt(d).pop("Effect"),
        "MALFORMED",
    ),
    # The fake cloud's ARNs must look real, or a wrong resource type would go unnoticed.
    "identity-arn-of-another-shape": (
        "network-flow-logs-policy",
        "policy",
        lambda d: _stmt(d).update(
            Resource=[r.replace(":log-group:", ":loggroup/") for r in _stmt(d)["Resource"]]
        ),
        "RESOURCE_MISMATCH",
    ),
    "topic-unknown-action": (
        "alerts-topic-policy",
        "policy",
        lambda d: _stmt(d).update(Action="sns:Publishes"),
        "UNKNOWN_ACTION",
    ),
    "topic-without-principal": (
        "alerts-topic-policy",
        "policy",
        lambda d: _stmt(d).pop("Principal"),
        "needs a Principal",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_document_is_reported(case: str, prod: Recording) -> None:
    name, key, change, expected = BROKEN[case]
    [original] = _edited(prod, name, key, lambda d: None)
    assert audit(original) == [], f"{name} {key} must pass before it is broken"
    [broken] = _edited(prod, name, key, change)
    problems = audit(broken)
    assert any(expected in p and broken.urn in p for p in problems), (case, problems)


def _tls_condition(value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        for stmt in doc["Statement"]:
            if "NumericLessThan" in stmt.get("Condition", {}):
                stmt["Condition"]["NumericLessThan"]["s3:TlsVersion"] = value

    return change


def test_the_reviewed_numeric_entry_passes_only_a_quoted_number(prod: Recording) -> None:
    names = [
        r.name
        for r in prod.of_type("aws:s3/bucketPolicy:BucketPolicy")
        if "s3:TlsVersion" in r.input("policy")
    ]
    assert names, "no bucket policy with a TLS version floor to test the entry with"
    name = names[0]
    [quoted] = _edited(prod, name, "policy", _tls_condition("1.2"))
    assert audit(quoted) == []
    [word] = _edited(prod, name, "policy", _tls_condition("one point two"))
    assert any("MISMATCHED_TYPE" in p for p in audit(word)), "a quoted word passed as a number"


def test_the_reviewed_arn_entry_covers_only_the_logs_context_key(prod: Recording) -> None:
    def other_key(doc: dict[str, Any]) -> None:
        for stmt in doc["Statement"]:
            arn_like = stmt.get("Condition", {}).get("ArnLike")
            if arn_like:
                arn_like["aws:SourceAccount"] = "arn:aws:iam::111122223333:root"

    [logs_key] = [r for r in prod.of_type("aws:kms/key:Key") if "aws:logs:arn" in r.input("policy")]
    [doc] = _edited(prod, logs_key.name, "policy", other_key)
    assert any("MISMATCHED_TYPE" in p for p in audit(doc)), "ArnLike on a string key passed"


def test_every_reviewed_entry_is_documented_and_used(prod: Recording) -> None:
    used = set()
    for doc in documents(prod):
        for stmt in json.loads(doc.text)["Statement"]:
            for finding in iam_audit._parliament(json.dumps({"Statement": [stmt]})):
                used |= {
                    i
                    for i, r in enumerate(iam_audit.REVIEWED)
                    if r.issue == finding.issue and r.applies(str(finding.detail), stmt)
                }
    for i, entry in enumerate(iam_audit.REVIEWED):
        assert entry.url.startswith("https://docs.aws.amazon.com/"), entry
        assert i in used, f"reviewed entry {i} ({entry.why[:40]}...) no longer needed: remove it"


def test_a_document_on_a_new_resource_type_is_audited(prod: Recording) -> None:
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "sqs:SendMessages",
                "Resource": "arn:aws:sqs:eu-west-1:123456789012:q",
            }
        ],
    }
    template = prod.one("aws:sns/topicPolicy:TopicPolicy")
    queue_policy = RecordedResource(
        **{
            **dataclasses.asdict(template),
            "type": "aws:sqs/queuePolicy:QueuePolicy",
            "urn": "urn:pulumi:prod::groundwork::aws:sqs/queuePolicy:QueuePolicy::q",
            "inputs": {"policy": json.dumps(bad)},
        }
    )
    [doc] = documents(dataclasses.replace(prod, resources=[queue_policy]))
    assert doc.kind == RESOURCE
    assert any("UNKNOWN_ACTION" in p and doc.urn in p for p in audit(doc))
