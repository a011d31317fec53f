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
from offline.model import Recording
from offline.recorder import record
from tests.backup_safety_checks import expected, key_guard_problems, replica_vault_problems
from tests.checks import edit_named
from tests.conftest import ROOT, shipped_stack_config, stack_config
from tests.recording_queries import as_list, by_name

Check = Callable[[Recording, dict[str, Any]], list[str]]


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


def edit_policy(
    name: str, key: str, change: Callable[[list[dict[str, Any]]], None]
) -> Callable[[Recording], Recording]:
    def apply(inputs: dict[str, Any]) -> None:
        doc = json.loads(inputs[key])
        stmts = as_list(doc["Statement"])
        change(stmts)
        doc["Statement"] = stmts
        inputs[key] = json.dumps(doc)

    return edit_named(name, apply)


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
        edit_named("vault-replica-bucket", lambda i: i.update(objectLockEnabled=False)),
    ),
    "replica-short-lock": (
        "replica-vault",
        edit_named(
            "vault-replica-bucket-lock",
            lambda i: i["rule"]["defaultRetention"].update(days=1),
        ),
    ),
    "replica-home-region": (
        "replica-vault",
        edit_named("vault-replica-region", lambda i: i.update(region="eu-west-1")),
    ),
    "kms-objects-skipped": (
        "replica-vault",
        edit_named(
            "vault-replication",
            _rule("sourceSelectionCriteria.sseKmsEncryptedObjects.status", "Disabled"),
        ),
    ),
    "replica-with-primary-key": (
        "replica-vault",
        lambda rec: edit_named(
            "vault-replication",
            _rule(
                "destination.encryptionConfiguration.replicaKmsKeyId",
                by_name(rec, "vault-key").outputs["arn"],
            ),
        )(rec),
    ),
    "delete-markers-replicated": (
        "replica-vault",
        edit_named("vault-replication", _rule("deleteMarkerReplication.status", "Enabled")),
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
