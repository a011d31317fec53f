"""Key and region safety of the backups (issue: backups you can bet the company on).

- With `groundwork:backups.breakGlassRoleArn`, every key that protects backups (the vault's,
  the database's and their replicas') denies `kms:ScheduleKeyDeletion` and `kms:DisableKey`
  to every principal but that role, and denies nothing else (`kms:PutKeyPolicy` stays with the
  deployer: KMS's lockout safety check). Without it (dev) nothing is denied.
- With `groundwork:backups.replicaRegion` (default `database.backupReplicaRegion`), the vault
  replicates to an object-locked bucket with its own key in that region.

Each property is a check over a recording that returns its problems (naming the URN); the
shipped stacks must give none, and a deliberately broken copy must give some. Expectations
come from the raw stack files (with the operator's values filled in), not from settings.py.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

import settings
from offline.model import RecordedResource, Recording
from offline.recorder import record
from tests.checks import replace_inputs
from tests.conftest import ROOT, shipped_stack_config, stack_config

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

Check = Callable[[Recording, dict[str, Any]], list[str]]


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


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(doc_text: str) -> list[dict[str, Any]]:
    stmts = json.loads(doc_text)["Statement"]
    return stmts if isinstance(stmts, list) else [stmts]


def deps(r: RecordedResource, key: str) -> tuple[str, ...]:
    return r.property_dependencies.get(key, ())


def provider_region(rec: Recording, r: RecordedResource) -> str | None:
    """The region of the explicit provider `r` is created with (None: the stack's)."""
    if not r.provider:
        return None
    return rec.by_urn(r.provider.rsplit("::", 1)[0]).input("region")


def backup_keys(rec: Recording) -> list[RecordedResource]:
    return rec.children_of(VAULT, KMS_KEY) + rec.children_of(DATABASE, KMS_KEY)


# ---- key guard ----------------------------------------------------------------------------


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


# ---- replica vault ------------------------------------------------------------------------


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


CHECKS: dict[str, Check] = {
    "key-guard": key_guard_problems,
    "replica-vault": replica_vault_problems,
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
def test_shipped_stacks_hold(stack: str, check: str, request: pytest.FixtureRequest) -> None:
    assert CHECKS[check](request.getfixturevalue(stack), expected(stack)) == []


def test_prod_ships_both_and_dev_neither() -> None:
    """Guards that the checks above are not vacuous for the shipped files."""
    assert expected("prod")["breakGlass"] and expected("prod")["replicaRegion"]
    assert not expected("dev")["breakGlass"] and not expected("dev")["replicaRegion"]


def test_checks_follow_the_stack_file(dev: Recording, prod: Recording) -> None:
    for name, check in CHECKS.items():
        assert check(prod, expected("dev")), f"{name} passes prod against dev's config"
        assert check(dev, expected("prod")), f"{name} passes dev against prod's config"


# ---- broken copies ------------------------------------------------------------------------


def _named(rec: Recording, name: str) -> RecordedResource:
    found = [r for r in rec if r.name == name]
    assert len(found) == 1, f"no single {name} in {rec.stack}"
    return found[0]


def edit(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Recording], Recording]:
    return lambda rec: replace_inputs(rec, _named(rec, name).urn, change)


def edit_policy(
    name: str, key: str, change: Callable[[list[dict[str, Any]]], None]
) -> Callable[[Recording], Recording]:
    def apply(inputs: dict[str, Any]) -> None:
        doc = json.loads(inputs[key])
        stmts = as_list(doc["Statement"])
        change(stmts)
        doc["Statement"] = stmts
        inputs[key] = json.dumps(doc)

    return edit(name, apply)


def _deny(stmts: list[dict[str, Any]]) -> dict[str, Any]:
    return next(s for s in stmts if s["Effect"] == "Deny")


def _drop_deny(stmts: list[dict[str, Any]]) -> None:
    stmts.remove(_deny(stmts))


def _rule(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(inputs: dict[str, Any]) -> None:
        node = inputs["rules"][0]
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return apply


def _without_action(action: str) -> Callable[[list[dict[str, Any]]], None]:
    def apply(stmts: list[dict[str, Any]]) -> None:
        for s in stmts:
            s["Action"] = [a for a in as_list(s["Action"]) if a != action]

    return apply


BROKEN: dict[str, tuple[str, Callable[[Recording], Recording]]] = {
    "vault-key-unguarded": ("key-guard", edit_policy("vault-key", "policy", _drop_deny)),
    "db-key-unguarded": ("key-guard", edit_policy("database-key", "policy", _drop_deny)),
    "replica-key-unguarded": (
        "key-guard",
        edit_policy("vault-replica-key", "policy", _drop_deny),
    ),
    "other-role": (
        "key-guard",
        edit_policy(
            "vault-key",
            "policy",
            lambda s: _deny(s)["Condition"]["ArnNotEquals"].update(
                {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/anyone"}
            ),
        ),
    ),
    "delete-only": (
        "key-guard",
        edit_policy("database-key", "policy", lambda s: _deny(s).update(Action=["kms:DisableKey"])),
    ),
    "lockout": (
        "key-guard",
        edit_policy("vault-key", "policy", lambda s: _deny(s)["Action"].append("kms:PutKeyPolicy")),
    ),
    "no-replication": (
        "replica-vault",
        lambda rec: dataclasses.replace(
            rec, resources=[r for r in rec if r.name != "vault-replication"]
        ),
    ),
    "replica-unlocked": (
        "replica-vault",
        edit("vault-replica-bucket", lambda i: i.update(objectLockEnabled=False)),
    ),
    "replica-short-lock": (
        "replica-vault",
        edit(
            "vault-replica-bucket-lock",
            lambda i: i["rule"]["defaultRetention"].update(days=1),
        ),
    ),
    "replica-home-region": (
        "replica-vault",
        edit("vault-replica-region", lambda i: i.update(region="eu-west-1")),
    ),
    "kms-objects-skipped": (
        "replica-vault",
        edit(
            "vault-replication",
            _rule("sourceSelectionCriteria.sseKmsEncryptedObjects.status", "Disabled"),
        ),
    ),
    "replica-with-primary-key": (
        "replica-vault",
        lambda rec: edit(
            "vault-replication",
            _rule(
                "destination.encryptionConfiguration.replicaKmsKeyId",
                _named(rec, "vault-key").outputs["arn"],
            ),
        )(rec),
    ),
    "delete-markers-replicated": (
        "replica-vault",
        edit("vault-replication", _rule("deleteMarkerReplication.status", "Enabled")),
    ),
    "retention-not-read": (
        "replica-vault",
        edit_policy("vault-replication-policy", "policy", _without_action("s3:GetObjectRetention")),
    ),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_copies_are_reported(case: str, prod: Recording) -> None:
    check, breaker = BROKEN[case]
    assert CHECKS[check](prod, expected("prod")) == [], f"{check} fails on the shipped prod"
    assert CHECKS[check](breaker(prod), expected("prod")), f"{check} misses {case}"


def test_every_check_has_a_failing_counterpart() -> None:
    assert {check for check, _ in BROKEN.values()} == set(CHECKS)


# ---- settings -----------------------------------------------------------------------------


def _parse(stack: str, backups: dict[str, Any], database: dict[str, Any] | None = None) -> Any:
    config = stack_config(stack)
    config["groundwork:backups"] = {**config["groundwork:backups"], **backups}
    if database is not None:
        config["groundwork:database"] = {**config["groundwork:database"], **database}
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    return settings.parse(values, project="groundwork", stack=stack)


def test_replica_region_defaults_to_the_database_replica_region() -> None:
    s = _parse("prod", {}, {"backupReplicaRegion": "eu-north-1"})
    assert s.backups.replica_region == "eu-central-1", "an explicit replicaRegion is kept"
    config = stack_config("prod")
    config["groundwork:backups"].pop("replicaRegion")
    config["groundwork:database"]["backupReplicaRegion"] = "eu-north-1"
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    derived = settings.parse(values, project="groundwork", stack="prod")
    assert derived.backups.replica_region == "eu-north-1"
    assert _parse("dev", {}).backups.replica_region is None


@pytest.mark.parametrize(
    ("backups", "database", "key"),
    [
        ({"replicaRegion": "eu-west-1"}, None, "groundwork:backups.replicaRegion"),
        ({}, {"backupReplicaRegion": "eu-west-1"}, "groundwork:database.backupReplicaRegion"),
        ({"replicaRegion": "mars-1"}, None, "groundwork:backups.replicaRegion"),
        ({"breakGlassRoleArn": "arn:aws:iam::1234:user/bob"}, None, "breakGlassRoleArn"),
        ({"breakGlassRoleArn": "backup-break-glass"}, None, "breakGlassRoleArn"),
    ],
    ids=["replica-home", "db-replica-home", "not-a-region", "user-not-role", "bare-name"],
)
def test_settings_refuse(backups: dict[str, Any], database: Any, key: str) -> None:
    with pytest.raises(settings.SettingsError) as err:
        _parse("prod", backups, database)
    assert key in str(err.value)
    assert any(key in p for p in err.value.problems), err.value.problems


def test_the_shipped_placeholder_is_named() -> None:
    shipped = settings.load_stack_file("prod", ROOT)
    keys = [key for key, _ in settings.unsafe_for_update(shipped)]
    assert "groundwork:backups.breakGlassRoleArn" in keys, keys
    role = shipped_stack_config("prod")["groundwork:backups"]["breakGlassRoleArn"]
    assert "111122223333" in role, role
    completed = _parse("prod", {})  # the operator's overlay sets a real role
    assert "groundwork:backups.breakGlassRoleArn" not in dict(settings.unsafe_for_update(completed))


def test_a_real_update_refuses_the_placeholder_and_a_preview_warns(
    shipped_prod_dry_run: Recording,
) -> None:
    from offline.recorder import ProgramError

    with pytest.raises(ProgramError, match=r"groundwork:backups\.breakGlassRoleArn"):
        record("prod", project_dir=ROOT)
    rec = shipped_prod_dry_run
    assert rec.resources, "a preview of the shipped prod file runs"
    assert any("groundwork:backups.breakGlassRoleArn" in w for w in rec.warnings), rec.warnings

