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
from offline.model import RecordedResource, Recording, plain
from tests.conftest import stack_config
from tests.recording_queries import deps

BUCKET = "aws:s3/bucket:Bucket"
KMS_KEY = "aws:kms/key:Key"
PART_TYPES = {
    "ownership": "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "public-access": "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "versioning": "aws:s3/bucketVersioning:BucketVersioning",
    "lock": "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "encryption": (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ),
    "policy": "aws:s3/bucketPolicy:BucketPolicy",
    "lifecycle": "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
}
REQUIRED = ("ownership", "public-access", "encryption", "policy", "lifecycle")
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")

# Per bucket: purpose tag, protect ("config" = groundwork:protect, None = inherited from the
# component), forceDestroy ("not-config" = the opposite of groundwork:protect), versioned,
# object-locked.
SPEC: dict[str, tuple[str, Any, Any, bool, bool]] = {
    "analytics-events": ("analytics", "config", False, False, False),
    "analytics-query-results": ("analytics-results", False, True, False, False),
    "vault-bucket": ("backups", "config", False, True, True),
    # Only where groundwork:backups.replicaRegion (or database.backupReplicaRegion) is set.
    "vault-replica-bucket": ("backups", "config", False, True, True),
    "audit-bucket": ("audit-trail", "config", False, True, True),
    "access-logs-bucket": ("access-logs", "config", "not-config", False, False),
    "backup-job-source": ("artifacts", None, True, True, False),
    "pipeline-artifacts": ("artifacts", "config", "not-config", False, False),
    "pipeline-source": ("pipeline-source", "config", "not-config", True, False),
    "performance-canary-artifacts": ("canary-artifacts", None, True, False, False),
}


@pytest.fixture(scope="module")
def growth(phase_variant: Callable[..., Recording]) -> Recording:
    return phase_variant("prod", "growth")


def parts_of(rec: Recording, bucket: RecordedResource, part: str) -> list[RecordedResource]:
    return [r for r in rec.of_type(PART_TYPES[part]) if bucket.urn in deps(r, "bucket")]


def statements(policy: RecordedResource) -> list[dict[str, Any]]:
    stmts = json.loads(policy.input("policy"))["Statement"]
    return stmts if isinstance(stmts, list) else [stmts]


def _denies(stmts: list[dict[str, Any]], condition: dict[str, Any], arn: str) -> bool:
    return any(
        s.get("Effect") == "Deny"
        and s.get("Principal") == "*"
        and s.get("Action") == "s3:*"
        and {arn, f"{arn}/*"} <= set(s.get("Resource", []))
        and s.get("Condition") == condition
        for s in stmts
    )


def _setting_problems(
    rec: Recording, bucket: RecordedResource, found: dict[str, RecordedResource]
) -> list[str]:
    """What each settings resource of `bucket` says (`found`: part -> its single resource)."""
    problems = []
    if "ownership" in found and found["ownership"].input("rule", "objectOwnership") != (
        "BucketOwnerEnforced"
    ):
        problems.append(f"{found['ownership'].urn}: ACLs are not disabled")
    if "public-access" in found and not all(
        found["public-access"].input(f) is True for f in PAB_FLAGS
    ):
        problems.append(f"{found['public-access'].urn}: not all four public-access blocks on")
    if "encryption" in found and bucket.input("tags", "groundwork:purpose") == "access-logs":
        # ALB access-log delivery supports SSE-S3 only (components/edge.py).
        rules = found["encryption"].input("rules", default=[])
        if rules != [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]:
            problems.append(f"{found['encryption'].urn}: access logs must be SSE-S3 ({rules})")
    elif "encryption" in found:
        sse = found["encryption"]
        rule = (sse.input("rules", default=[{}]) or [{}])[0]
        default = rule.get("applyServerSideEncryptionByDefault", {})
        keys = [u for u in deps(sse, "rules") if rec.by_urn(u).type == KMS_KEY]
        if default.get("sseAlgorithm") != "aws:kms" or not keys:
            problems.append(f"{sse.urn}: not SSE-KMS with a key of the stack")
        if rule.get("bucketKeyEnabled") is not True:
            problems.append(f"{sse.urn}: S3 Bucket Key is off")
    if "policy" in found:
        policy, arn = found["policy"], bucket.outputs.get("arn", "")
        stmts = statements(policy)
        if not _denies(stmts, {"Bool": {"aws:SecureTransport": "false"}}, arn):
            problems.append(f"{policy.urn}: does not deny requests without TLS")
        tls = {"NumericLessThan": {"s3:TlsVersion": buckets.MIN_TLS_VERSION}}
        if not _denies(stmts, tls, arn):
            problems.append(f"{policy.urn}: does not deny TLS older than 1.2")
        if "public-access" in found and found["public-access"].urn not in policy.dependencies:
            problems.append(f"{policy.urn}: not put after the public access block")
    versioning = found.get("versioning")
    if versioning is not None:
        if versioning.input("versioningConfiguration", "status") != "Enabled":
            problems.append(f"{versioning.urn}: versioning is not Enabled")
        for part in ("lock", "lifecycle"):
            if part in found and versioning.urn not in found[part].dependencies:
                problems.append(f"{found[part].urn}: does not wait for {versioning.urn}")
    return problems


def bucket_part_problems(rec: Recording) -> list[str]:
    """Each bucket: one of each part, named `<bucket>-<part>`, siblings, settings as above."""
    problems = []
    claimed: set[str] = set()
    for bucket in rec.of_type(BUCKET):
        if not bucket.input("tags", "groundwork:purpose"):
            problems.append(f"{bucket.urn}: no groundwork:purpose tag")
        locked = bucket.input("objectLockEnabled") is True
        wanted = {
            **dict.fromkeys(REQUIRED, 1),
            "lock": 1 if locked else 0,
            "versioning": (1 if locked else (0, 1)),
        }
        found: dict[str, RecordedResource] = {}
        for part, count in wanted.items():
            hits = parts_of(rec, bucket, part)
            claimed.update(r.urn for r in hits)
            if len(hits) not in (count if isinstance(count, tuple) else (count,)):
                problems.append(f"{bucket.urn}: {len(hits)} {part} resources, expected {count}")
            for r in hits:
                if r.name != f"{bucket.name}-{part}" or r.parent != bucket.parent:
                    problems.append(f"{r.urn}: not named {bucket.name}-{part} beside its bucket")
            if len(hits) == 1:
                found[part] = hits[0]
        problems += _setting_problems(rec, bucket, found)
    for type_ in PART_TYPES.values():
        problems += [f"{r.urn}: belongs to no bucket" for r in rec.of_type(type_)
                     if r.urn not in claimed]  # fmt: skip
    return problems


def bucket_spec_problems(rec: Recording, protect: bool) -> list[str]:
    """The shipped buckets, each with its own purpose, protection and versioning."""
    optional = {"performance-canary-artifacts", "vault-replica-bucket"}
    expected = {n for n in SPEC if n not in optional}
    names = {b.name for b in rec.of_type(BUCKET)}
    if not expected <= names or not names <= set(SPEC):
        return [f"{rec.stack}: buckets {sorted(names)}, expected {sorted(SPEC)}"]
    problems = []
    for bucket in rec.of_type(BUCKET):
        purpose, want_protect, force, versioned, locked = SPEC[bucket.name]
        want_protect = protect if want_protect == "config" else want_protect
        force = (not protect) if force == "not-config" else force
        got = (
            bucket.input("tags", "groundwork:purpose"),
            bucket.protect,
            bucket.input("forceDestroy"),
            bool(parts_of(rec, bucket, "versioning")),
            bucket.input("objectLockEnabled") is True,
        )
        want = (purpose, want_protect, force, versioned, locked)
        if got != want:
            problems.append(
                f"{bucket.urn}: (purpose, protect, forceDestroy, versioned, locked) is {got}, "
                f"expected {want}"
            )
    return problems


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


def named(rec: Recording, name: str) -> RecordedResource:
    hits = [r for r in rec if r.name == name]
    assert len(hits) == 1, f"no single resource {name} in {rec.stack}"
    return hits[0]


def replace(rec: Recording, name: str, /, **fields: Any) -> Recording:
    target = named(rec, name)
    return dataclasses.replace(
        rec, resources=[dataclasses.replace(r, **fields) if r is target else r for r in rec]
    )


def with_inputs(name: str, change: Callable[[dict[str, Any]], None]) -> Breaker:
    def breaker(rec: Recording) -> Recording:
        inputs = copy.deepcopy(plain(named(rec, name).inputs))
        change(inputs)
        return replace(rec, name, inputs=inputs)

    return breaker


def without(name: str) -> Breaker:
    return lambda rec: dataclasses.replace(rec, resources=[r for r in rec if r.name != name])


def renamed(name: str, new: str) -> Breaker:
    return lambda rec: replace(rec, name, name=new, urn=named(rec, name).urn.replace(name, new))


def duplicated(name: str) -> Breaker:
    def breaker(rec: Recording) -> Recording:
        twin = dataclasses.replace(
            named(rec, name), name=f"{name}-2", urn=f"{named(rec, name).urn}-2"
        )
        return dataclasses.replace(rec, resources=[*rec.resources, twin])

    return breaker


def without_dependency(name: str, on: str) -> Breaker:
    def breaker(rec: Recording) -> Recording:
        gone = named(rec, on).urn
        return replace(
            rec, name, dependencies=tuple(u for u in named(rec, name).dependencies if u != gone)
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
    "policy-missing": without("vault-bucket-policy"),
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
    "lock-without-versioning": without("vault-bucket-versioning"),
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
        without("pipeline-source-versioning"),
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
