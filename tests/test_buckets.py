"""Private buckets (components/buckets.py) as the shipped stacks record them.

Every bucket has exactly one of each settings resource, tied to it through the property
dependency of `bucket` (how the policy pack correlates them), named after it, with the same
settings; what differs per bucket (purpose, protection, versioning, lock) is as specified
below. Broken copies of the prod recording show that each check notices.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from components import buckets
from offline.model import Recording, plain
from tests.bucket_checks import BUCKET, bucket_part_problems, bucket_spec_problems
from tests.checks import without_named
from tests.conftest import stack_config
from tests.recording_queries import by_name


@pytest.fixture(scope="module")
def growth(phase_variant: Callable[..., Recording]) -> Recording:
    return phase_variant("prod", "growth")


@pytest.mark.parametrize("stack", ["dev", "prod", "growth"])
def test_shipped_buckets_hold(stack: str, request: pytest.FixtureRequest) -> None:
    rec = request.getfixturevalue(stack)
    protect = stack_config("prod" if stack == "growth" else stack).get("groundwork:protect", True)
    assert bucket_part_problems(rec) == []
    assert bucket_spec_problems(rec, protect) == []


def test_growth_has_the_canary_bucket(growth: Recording) -> None:
    names = {b.name for b in growth.of_type(BUCKET)}
    assert "performance-canary-artifacts" in names, sorted(names)


# ---- broken copies ------------------------------------------------------------------------


def replace(rec: Recording, name: str, /, **fields: Any) -> Recording:
    target = by_name(rec, name)
    return dataclasses.replace(
        rec, resources=[dataclasses.replace(r, **fields) if r is target else r for r in rec]
    )


def with_inputs(name: str, change: Callable[[dict[str, Any]], None]) -> Breaker:
    def breaker(rec: Recording) -> Recording:
        inputs = copy.deepcopy(plain(by_name(rec, name).inputs))
        change(inputs)
        return replace(rec, name, inputs=inputs)

    return breaker


def renamed(name: str, new: str) -> Breaker:
    return lambda rec: replace(rec, name, name=new, urn=by_name(rec, name).urn.replace(name, new))


def duplicated(name: str) -> Breaker:
    def breaker(rec: Recording) -> Recording:
        twin = dataclasses.replace(
            by_name(rec, name), name=f"{name}-2", urn=f"{by_name(rec, name).urn}-2"
        )
        return dataclasses.replace(rec, resources=[*rec.resources, twin])

    return breaker


def without_dependency(name: str, on: str) -> Breaker:
    def breaker(rec: Recording) -> Recording:
        gone = by_name(rec, on).urn
        return replace(
            rec, name, dependencies=tuple(u for u in by_name(rec, name).dependencies if u != gone)
        )

    return breaker


def _drop_tls_minimum(inputs: dict[str, Any]) -> None:
    doc = json.loads(inputs["policy"])
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "DenyOutdatedTls"]
    inputs["policy"] = json.dumps(doc)


def _sse_s3(inputs: dict[str, Any]) -> None:
    inputs["rules"][0]["applyServerSideEncryptionByDefault"] = {"sseAlgorithm": "AES256"}


Breaker = Callable[[Recording], Recording]
BROKEN: dict[str, Breaker] = {
    "policy-missing": without_named("vault-bucket-policy"),
    "lifecycle-twice": duplicated("analytics-events-lifecycle"),
    "misnamed": renamed("pipeline-artifacts-public-access", "pipeline-artifacts-pab"),
    "orphan": lambda rec: replace(rec, "backup-job-source-ownership", property_dependencies={}),
    "tls-1.0-allowed": with_inputs("analytics-query-results-policy", _drop_tls_minimum),
    "policy-races-block": without_dependency(
        "pipeline-source-policy", "pipeline-source-public-access"
    ),
    "lifecycle-before-versioning": without_dependency(
        "vault-bucket-lifecycle", "vault-bucket-versioning"
    ),
    "lock-without-versioning": without_named("vault-bucket-versioning"),
    "sse-s3": with_inputs("vault-bucket-encryption", _sse_s3),
    "access-logs-kms": with_inputs(
        "access-logs-bucket-encryption",
        lambda i: i["rules"][0]["applyServerSideEncryptionByDefault"].update(
            sseAlgorithm="aws:kms"
        ),
    ),
    "acls": with_inputs(
        "analytics-events-ownership", lambda i: i["rule"].update(objectOwnership="ObjectWriter")
    ),
    "public": with_inputs(
        "backup-job-source-public-access", lambda i: i.update(restrictPublicBuckets=False)
    ),
    "no-purpose": with_inputs("pipeline-source", lambda i: i.update(tags={})),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_parts_are_reported(case: str, prod: Recording) -> None:
    assert bucket_part_problems(prod) == [], "the shipped prod fails already"
    assert bucket_part_problems(BROKEN[case](prod)), f"bucket_part_problems misses {case}"


@pytest.mark.parametrize(
    "breaker",
    [
        lambda rec: replace(rec, "vault-bucket", protect=False),
        lambda rec: replace(rec, "backup-job-source", protect=True),
        with_inputs("analytics-query-results", lambda i: i.update(forceDestroy=False)),
        without_named("pipeline-source-versioning"),
        with_inputs("analytics-events", lambda i: i["tags"].update({"groundwork:purpose": "x"})),
    ],
    ids=["vault-unprotected", "source-protected", "results-kept", "unversioned", "purpose"],
)
def test_changed_bucket_specs_are_reported(breaker: Breaker, prod: Recording) -> None:
    assert bucket_spec_problems(prod, True) == []
    assert bucket_spec_problems(breaker(prod), True)


def test_specs_follow_groundwork_protect(dev: Recording, prod: Recording) -> None:
    assert bucket_spec_problems(prod, False), "prod passes as if groundwork:protect were false"
    assert bucket_spec_problems(dev, True), "dev passes as if groundwork:protect were true"


# ---- the helper's own argument checks -----------------------------------------------------


def _call(**overrides: Any) -> None:
    kwargs: dict[str, Any] = {
        "parent": None,
        "purpose": "test",
        "kms_key_arn": "arn:aws:kms:eu-west-1:000000000000:key/x",
        "lifecycle_rules": [],
        "protect": True,
        **overrides,
    }
    buckets.private_bucket("b", **kwargs)


def test_object_lock_needs_versioning() -> None:
    with pytest.raises(ValueError, match="bucket b: object_lock requires versioned=True"):
        _call(object_lock=buckets.ObjectLock("COMPLIANCE", 30))
