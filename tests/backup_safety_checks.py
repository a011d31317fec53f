"""Key and region safety of the backups, as check functions over a Recording.

- key_guard_problems: with a break-glass role, every key protecting backups (the vault's, the
  database's and their replicas') denies kms:ScheduleKeyDeletion and kms:DisableKey to every
  other principal and denies nothing else; without one, nothing is denied.
- replica_vault_problems: with a replica region, the vault replicates (every SSE-KMS backup,
  no delete markers) to an object-locked, versioned bucket with its own key in that region,
  through a role limited to the two keys.

Each takes the recording and `expected(stack)` (read from the raw stack file) and returns
problems naming the URN (empty = fine); tests/test_backup_safety.py runs them on the shipped
stacks and on deliberately broken copies.
"""

from __future__ import annotations

from typing import Any

from offline.model import RecordedResource, Recording
from tests.conftest import stack_config
from tests.recording_queries import as_list, deps, statements

KMS_KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
VAULT = "groundwork:data:BackupVault"
DATABASE = "groundwork:data:Database"
DESTRUCTIVE = {"kms:ScheduleKeyDeletion", "kms:DisableKey"}


def expected(stack: str) -> dict[str, Any]:
    config = stack_config(stack)
    backups = config.get("groundwork:backups", {})
    database = config.get("groundwork:database", {})
    return {
        "region": config["aws:region"],
        "breakGlass": backups.get("breakGlassRoleArn"),
        "replicaRegion": backups.get("replicaRegion") or database.get("backupReplicaRegion"),
        "lockMode": backups.get("lockMode", "COMPLIANCE"),
        "lockDays": backups.get("lockDays", 30),
    }


def provider_region(rec: Recording, r: RecordedResource) -> str | None:
    """The region of the explicit provider `r` is created with (None: the stack's)."""
    if not r.provider:
        return None
    return rec.by_urn(r.provider.rsplit("::", 1)[0]).input("region")


def backup_keys(rec: Recording) -> list[RecordedResource]:
    return rec.children_of(VAULT, KMS_KEY) + rec.children_of(DATABASE, KMS_KEY)


# ---- key guard ---------------------------------------------------------------------------


def key_guard_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    keys = backup_keys(rec)
    names = {k.name for k in keys}
    if not {"vault-key", "database-key"} <= names:
        return [f"{rec.stack_urn}: backup keys {sorted(names)} lack the vault's or database's"]
    problems = []
    role = exp["breakGlass"]
    for key in keys:
        denies = [s for s in statements(key.input("policy")) if s.get("Effect") == "Deny"]
        if role is None:
            problems += [
                f"{key.urn}: denies {s.get('Action')} without a break-glass role" for s in denies
            ]
            continue
        guards = [
            s
            for s in denies
            if set(as_list(s.get("Action"))) >= DESTRUCTIVE
            and s.get("Principal") in ({"AWS": "*"}, "*")
            and s.get("Condition") == {"ArnNotEquals": {"aws:PrincipalArn": role}}
            and s.get("Resource") == "*"
        ]
        if len(guards) != 1:
            problems.append(f"{key.urn}: no Deny of {sorted(DESTRUCTIVE)} to all but {role}")
        for s in denies:
            extra = set(as_list(s.get("Action"))) - DESTRUCTIVE
            if extra or "NotAction" in s:
                # A deny of PutKeyPolicy (or kms:*) would lock the deployer out, and KMS's
                # lockout safety check refuses such a policy anyway.
                problems.append(f"{key.urn}: also denies {sorted(extra) or s.get('NotAction')}")
    return problems


# ---- replica vault -----------------------------------------------------------------------


def _vault_buckets(rec: Recording) -> tuple[RecordedResource | None, list[RecordedResource]]:
    buckets = rec.children_of(VAULT, BUCKET)
    primary = [b for b in buckets if not b.provider]
    return (primary[0] if len(primary) == 1 else None), [b for b in buckets if b.provider]


def _part(rec: Recording, bucket: RecordedResource, type_: str) -> RecordedResource | None:
    found = [r for r in rec.of_type(type_) if bucket.urn in deps(r, "bucket")]
    return found[0] if len(found) == 1 else None


def _replica_bucket_problems(
    rec: Recording, exp: dict[str, Any], replica: RecordedResource, primary_key: str
) -> list[str]:
    problems = []
    region = provider_region(rec, replica)
    if region != exp["replicaRegion"] or region == exp["region"]:
        problems.append(f"{replica.urn}: in region {region}, expected {exp['replicaRegion']}")
    lock = _part(rec, replica, LOCK)
    retention = lock.input("rule", "defaultRetention", default={}) if lock else {}
    if replica.input("objectLockEnabled") is not True or retention != {
        "mode": exp["lockMode"],
        "days": exp["lockDays"],
    }:
        problems.append(f"{replica.urn}: not object-locked like the vault ({retention})")
    versioning = _part(rec, replica, VERSIONING)
    if not versioning or versioning.input("versioningConfiguration", "status") != "Enabled":
        problems.append(f"{replica.urn}: not versioned (replication needs it on both ends)")
    sse = _part(rec, replica, SSE)
    key_urns = [u for u in deps(sse, "rules") if rec.by_urn(u).type == KMS_KEY] if sse else []
    keys = [rec.by_urn(u) for u in key_urns]
    if len(keys) != 1 or provider_region(rec, keys[0]) != region:
        problems.append(f"{replica.urn}: not encrypted with a key of its own region")
    elif keys[0].outputs["arn"] == primary_key:
        problems.append(f"{replica.urn}: encrypted with the primary vault key")
    return problems


def _rule_problems(
    config: RecordedResource, replica: RecordedResource, replica_key: str | None
) -> list[str]:
    rules = config.input("rules", default=[])
    if len(rules) != 1:
        return [f"{config.urn}: expected one rule, got {len(rules)}"]
    rule, problems = rules[0], []
    if rule.get("status") != "Enabled":
        problems.append(f"{config.urn}: rule is not enabled")
    if not "postgres/".startswith(rule.get("filter", {}).get("prefix", "")):
        problems.append(f"{config.urn}: rule filter {rule.get('filter')} misses postgres/")
    sse = rule.get("sourceSelectionCriteria", {}).get("sseKmsEncryptedObjects", {})
    if sse.get("status") != "Enabled":
        problems.append(f"{config.urn}: SSE-KMS objects (every backup) are not replicated")
    dest = rule.get("destination", {})
    if dest.get("bucket") != replica.outputs["arn"]:
        problems.append(f"{config.urn}: destination is not the replica bucket")
    if (
        replica_key is None
        or dest.get("encryptionConfiguration", {}).get("replicaKmsKeyId") != replica_key
    ):
        problems.append(f"{config.urn}: replicas are not encrypted with the replica key")
    if rule.get("deleteMarkerReplication", {}).get("status") != "Disabled":
        problems.append(f"{config.urn}: a delete in the primary would hide the replica")
    return problems


def _role_problems(
    rec: Recording, config: RecordedResource, source_key: str, replica_key: str | None
) -> list[str]:
    role_urns = set(deps(config, "role"))
    docs = [p for p in rec.of_type(ROLE_POLICY) if role_urns & set(deps(p, "role"))]
    stmts = [s for p in docs for s in statements(p.input("policy"))]
    actions = {a: s for s in stmts for a in as_list(s.get("Action"))}
    problems = []
    need = {
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectRetention",
        "s3:GetObjectLegalHold",
        "s3:ReplicateObject",
        "kms:Decrypt",
        "kms:Encrypt",
    }
    if missing := need - set(actions):
        problems.append(f"{config.urn}: the replication role lacks {sorted(missing)}")
    if any(a == "*" or a.endswith(":*") for a in actions):
        problems.append(f"{config.urn}: the replication role has a wildcard action")
    if "kms:Decrypt" in actions and as_list(actions["kms:Decrypt"]["Resource"]) != [source_key]:
        problems.append(f"{config.urn}: kms:Decrypt is not limited to the vault key")
    if "kms:Encrypt" in actions and as_list(actions["kms:Encrypt"]["Resource"]) != [replica_key]:
        problems.append(f"{config.urn}: kms:Encrypt is not limited to the replica key")
    return problems


def replica_vault_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    primary, replicas = _vault_buckets(rec)
    configs = rec.children_of(VAULT, REPLICATION)
    if primary is None:
        return [f"{rec.stack_urn}: no primary vault bucket"]
    if not exp["replicaRegion"]:
        extra = [r.urn for r in replicas + configs]
        return [f"{u}: a replica without a replica region" for u in extra]
    if len(replicas) != 1 or len(configs) != 1:
        return [f"{primary.urn}: {len(replicas)} replica buckets, {len(configs)} replications"]
    replica, config = replicas[0], configs[0]
    keys = {provider_region(rec, k): k.outputs["arn"] for k in rec.children_of(VAULT, KMS_KEY)}
    primary_key, replica_key = keys.get(None), keys.get(exp["replicaRegion"])
    problems = _replica_bucket_problems(rec, exp, replica, primary_key or "")
    if primary.urn not in deps(config, "bucket"):
        problems.append(f"{config.urn}: does not replicate the vault bucket")
    problems += _rule_problems(config, replica, replica_key)
    problems += _role_problems(rec, config, primary_key or "", replica_key)
    # S3 refuses the configuration until both ends are versioned and the destination locked.
    waits_for = set(config.dependencies)
    for part in (_part(rec, replica, LOCK), _part(rec, replica, VERSIONING)):
        if part is not None and part.urn not in waits_for:
            problems.append(f"{config.urn}: created before {part.urn}")
    return problems
