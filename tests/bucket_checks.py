"""Invariants of the private buckets (components/buckets.py), as check functions over a Recording.

bucket_part_problems: every bucket has exactly one of each settings resource (ownership, public
access block, encryption, policy, lifecycle; versioning and lock where it is locked), tied to
it through the property dependency of `bucket` (how the policy pack correlates them), named
after it, beside it, and saying what they should (ACLs off, all public access blocked, SSE-KMS
with a stack key and S3 Bucket Key, TLS 1.2 only, settings applied in order).
bucket_spec_problems: each shipped bucket's purpose, protection, forceDestroy, versioning and
lock, as SPEC lists them.

Each returns problems naming the URN (empty = fine); tests/test_buckets.py runs them on the
shipped stacks and on deliberately broken copies.
"""

from __future__ import annotations

from typing import Any

from components import buckets
from offline.model import RecordedResource, Recording
from tests.recording_queries import deps, statements

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


def parts_of(rec: Recording, bucket: RecordedResource, part: str) -> list[RecordedResource]:
    return [r for r in rec.of_type(PART_TYPES[part]) if bucket.urn in deps(r, "bucket")]


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
        stmts = statements(policy.input("policy"))
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
