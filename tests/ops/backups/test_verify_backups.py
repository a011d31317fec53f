"""ops.verify_backups against a healthy deployment and against each seeded fault.

RDS comes from moto, which always reports LatestRestorableTime as "now" and does not
implement automated-backup replication: the stale/missing restorable time and a present
replication are checked through the pure rules with API-shaped data instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from backup_testkit import (
    PG_BIN_DIR,
    Moto,
    PgServer,
    Source,
    Vault,
    backup_env,
    put_backup,
    rds_instance,
    stamp,
)

from ops import backup, vault, verify_backups

ALL_CHECKS = {
    "rds.retention",
    "rds.deletion-protection",
    "rds.latest-restorable-time",
    "vault.object-lock",
    "vault.versioning",
    "vault.public-access-block",
    "vault.encryption",
    "backup.key-time",
    "backup.newest",
    "backup.retention",
    "backup.size",
    "backup.checksum",
    "backup.archive",
}


def verify(
    moto, capsys, instance: str, bucket: str, *extra: str
) -> tuple[int, dict[str, str], str]:
    """Run the CLI; returns exit code, {check: PASS/FAIL} and the printed report."""
    argv = [
        "--pg-bin-dir", PG_BIN_DIR,
        "--db-instance-id", instance,
        "--bucket", bucket,
        "--db-name", "app",
        "--min-retention-days", "7",
        "--min-lock-days", "30",
        "--max-backup-age-hours", "26",
        "--endpoint-url", moto.endpoint,
        *extra,
    ]  # fmt: skip
    code = verify_backups.main(argv)
    out = capsys.readouterr().out
    results: dict[str, str] = {}
    for line in out.strip().splitlines()[:-1]:
        status, name = line.split()[:2]
        results[name] = status
    return code, results, out


def test_healthy_deployment_passes(
    moto: Moto, postgres: PgServer, source: Source, make_vault, monkeypatch, capsys
):
    vault_ = make_vault(mode="COMPLIANCE", days=30)
    for name, value in backup_env(source, postgres, vault_, moto).items():
        monkeypatch.setenv(name, value)
    assert backup.main([]) == 0, capsys.readouterr().out
    capsys.readouterr()
    code, results, out = verify(moto, capsys, source.db_instance_id, vault_.bucket)
    assert code == 0, f"healthy {vault_.bucket}/{source.db_instance_id} failed:\n{out}"
    assert set(results) == ALL_CHECKS, f"checks run: {sorted(results)}"
    assert set(results.values()) == {"PASS"}, out
    assert out.strip().splitlines()[-1] == f"OK all {len(ALL_CHECKS)} checks passed", out


@dataclass
class Fault:
    """A deployment that is healthy except for one seeded fault."""

    vault: dict = field(default_factory=dict)
    rds: dict = field(default_factory=dict)
    backup_age: timedelta = timedelta(hours=1)
    corrupt: bool = False
    no_backup: bool = False
    args: tuple[str, ...] = ()
    instance: Callable[[Moto], str] | None = None


FAULTS = {
    "retention short": (Fault(rds={"BackupRetentionPeriod": 3}), {"rds.retention"}),
    "deletion protection off": (
        Fault(rds={"DeletionProtection": False}),
        {"rds.deletion-protection"},
    ),
    "lock missing": (Fault(vault={"lock": False}), {"vault.object-lock", "backup.retention"}),
    "governance where compliance required": (
        Fault(vault={"mode": "GOVERNANCE"}),
        {"vault.object-lock"},
    ),
    "lock days short": (Fault(vault={"days": 3}), {"vault.object-lock"}),
    # moto stamps LastModified "now": a key three days older was dated by a slow clock.
    "key dated long before its upload": (
        Fault(backup_age=timedelta(days=3)),
        {"backup.key-time", "backup.newest"},
    ),
    "key dated in the future": (
        Fault(backup_age=-timedelta(days=31)),
        {"backup.key-time", "backup.newest"},
    ),
    "checksum mismatch": (Fault(corrupt=True), {"backup.checksum"}),
    "no backup at all": (Fault(no_backup=True), {"backup.newest"}),
    "versioning off": (
        Fault(vault={"lock": False, "versioning": False}),
        {"vault.object-lock", "vault.versioning", "backup.retention"},
    ),
    "public access not blocked": (
        Fault(vault={"public_block": False}),
        {"vault.public-access-block"},
    ),
    "no SSE-KMS default": (Fault(vault={"kms_default": False}), {"vault.encryption"}),
    "replication expected but absent": (
        Fault(args=("--expect-replica-region", "eu-central-1")),
        {"rds.backup-replication"},
    ),
    "unknown instance": (Fault(instance=lambda _: "no-such-db"), {"rds"}),
}


@pytest.mark.parametrize("fault_name", list(FAULTS))
def test_each_seeded_fault_fails_and_is_named(
    fault_name: str, moto: Moto, make_vault, reference_dump: bytes, capsys
):
    fault, expected_failures = FAULTS[fault_name]
    vault_: Vault = make_vault(**({"mode": "COMPLIANCE", "days": 30} | fault.vault))
    instance = fault.instance(moto) if fault.instance else rds_instance(moto, **fault.rds)
    if not fault.no_backup:
        dumped = datetime.now(UTC) - fault.backup_age
        key = f"postgres/app/{stamp(dumped)}.dump"
        wrong = hashlib.sha256(b"something else").hexdigest() if fault.corrupt else None
        put_backup(moto, vault_, key, reference_dump, sha256_hex=wrong)
    code, results, out = verify(moto, capsys, instance, vault_.bucket, *fault.args)
    failed = {name for name, status in results.items() if status == "FAIL"}
    assert code == 1, f"{fault_name}: verify_backups passed:\n{out}"
    assert failed == expected_failures, f"{fault_name}: failed {sorted(failed)}:\n{out}"
    assert out.strip().splitlines()[-1].startswith("NOT OK: "), out
    assert sum(line.startswith("FAIL") for line in out.splitlines()) == len(failed), out


def test_governance_is_accepted_when_allowed(moto: Moto, make_vault, reference_dump, capsys):
    vault_ = make_vault(mode="GOVERNANCE", days=30)
    put_backup(moto, vault_, f"postgres/app/{stamp(datetime.now(UTC))}.dump", reference_dump)
    instance = rds_instance(moto)
    code, results, out = verify(moto, capsys, instance, vault_.bucket, "--allow-governance")
    assert code == 0 and results["vault.object-lock"] == "PASS", out


def test_newest_backup_is_the_one_checked(moto: Moto, make_vault, reference_dump, capsys):
    """An older intact backup does not hide a damaged newest one; other keys are ignored."""
    vault_ = make_vault()
    now = datetime.now(UTC)
    put_backup(
        moto, vault_, f"postgres/app/{stamp(now - timedelta(minutes=30))}.dump", reference_dump
    )
    newest = f"postgres/app/{stamp(now - timedelta(minutes=5))}.dump"
    put_backup(
        moto, vault_, newest, reference_dump[:-100], hashlib.sha256(reference_dump).hexdigest()
    )
    put_backup(moto, vault_, f"postgres/app/{stamp(now)}.dump.partial", b"not a backup")
    put_backup(moto, vault_, f"postgres/other/{stamp(now)}.dump", b"another database")
    ref = vault.newest_backup(moto.client("s3"), vault_.bucket, "app")
    assert ref is not None and ref.key == newest, f"newest of {vault_.bucket}: {ref}"
    code, results, out = verify(moto, capsys, rds_instance(moto), vault_.bucket)
    failed = {name for name, status in results.items() if status == "FAIL"}
    assert code == 1 and failed == {"backup.checksum"}, out
    assert "FAIL backup.checksum" in out and newest in out, out


NOW = datetime(2026, 11, 26, 10, 45, 15, tzinfo=UTC)
EXPECT = verify_backups.Expectations(min_retention_days=7, min_lock_days=30)


def _instance(**overrides) -> dict:
    return {
        "DBInstanceIdentifier": "prod-db",
        "BackupRetentionPeriod": 14,
        "DeletionProtection": True,
        "LatestRestorableTime": NOW - timedelta(minutes=4),
    } | overrides


def _by_name(checks: list[verify_backups.Check]) -> dict[str, verify_backups.Check]:
    return {check.name: check for check in checks}


def test_rds_rules_on_api_shaped_data():
    checks = _by_name(verify_backups.check_rds(_instance(), EXPECT, NOW))
    assert all(c.ok for c in checks.values()), checks

    stale = _instance(LatestRestorableTime=NOW - timedelta(hours=2))
    check = _by_name(verify_backups.check_rds(stale, EXPECT, NOW))["rds.latest-restorable-time"]
    assert not check.ok and "2.0h ago" in check.detail, check

    missing = _instance()
    del missing["LatestRestorableTime"]
    check = _by_name(verify_backups.check_rds(missing, EXPECT, NOW))["rds.latest-restorable-time"]
    assert not check.ok and "no LatestRestorableTime" in check.detail, check


def test_replication_rule_on_api_shaped_data():
    expect = verify_backups.Expectations(replica_region="eu-central-1")
    arn = "arn:aws:rds:eu-central-1:123456789012:auto-backup:ab-xyz"
    replicated = _instance(
        DBInstanceAutomatedBackupsReplications=[{"DBInstanceAutomatedBackupsArn": arn}]
    )
    check = _by_name(verify_backups.check_rds(replicated, expect, NOW))["rds.backup-replication"]
    assert check.ok, check
    elsewhere = _instance(
        DBInstanceAutomatedBackupsReplications=[
            {"DBInstanceAutomatedBackupsArn": arn.replace("eu-central-1", "us-east-1")}
        ]
    )
    check = _by_name(verify_backups.check_rds(elsewhere, expect, NOW))["rds.backup-replication"]
    assert not check.ok and "us-east-1" in check.detail, check


def test_expired_retention_fails():
    """A retain-until date in the past means the version can be deleted now."""
    ref = vault.BackupRef("b", "postgres/app/20261001T000000Z.dump", NOW)
    passed = verify_backups.check_backup_retention(
        ref, ("COMPLIANCE", NOW - timedelta(days=1)), NOW
    )
    assert not passed.ok and "already passed" in passed.detail, passed
    future = verify_backups.check_backup_retention(
        ref, ("COMPLIANCE", NOW + timedelta(days=1)), NOW
    )
    assert future.ok, future


def test_kms_key_matching():
    arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert vault.kms_key_matches(arn, arn) is True
    assert vault.kms_key_matches("1234abcd-12ab-34cd-56ef-1234567890ab", arn) is True
    assert vault.kms_key_matches("ffff0000-12ab-34cd-56ef-1234567890ab", arn) is False
    assert vault.kms_key_matches(arn, None) is False
    assert vault.kms_key_matches("alias/backup-vault", arn) is None


def test_replication_status_of_the_newest_backup():
    """HeadObject's ReplicationStatus, as S3 reports it on the source object."""
    ref = vault.BackupRef("b", "postgres/app/20261126T104000Z.dump", NOW, 10, "v1", NOW)
    young, old = NOW + timedelta(minutes=10), NOW + timedelta(hours=3)
    cases = [
        ({"ReplicationStatus": "COMPLETED"}, old, True),
        ({"ReplicationStatus": "PENDING"}, young, True),
        ({"ReplicationStatus": "PENDING"}, old, False),
        ({"ReplicationStatus": "FAILED"}, young, False),
        ({}, young, False),
    ]
    for head, now, ok in cases:
        check = verify_backups.check_replication(ref, head, now)
        assert check.ok is ok, f"{head} at {now}: {check}"


def test_expect_replication_fails_a_vault_without_it(
    moto: Moto, make_vault, reference_dump, capsys
):
    """moto replicates nothing, so the newest object has no ReplicationStatus: with
    --expect-replication that is the one failure."""
    vault_ = make_vault()
    put_backup(moto, vault_, f"postgres/app/{stamp(datetime.now(UTC))}.dump", reference_dump)
    instance = rds_instance(moto)
    code, results, out = verify(moto, capsys, instance, vault_.bucket, "--expect-replication")
    failed = {name for name, status in results.items() if status == "FAIL"}
    assert code == 1 and failed == {"backup.replication"}, out
    assert "absent (no replication rule applied)" in out, out
    code, results, out = verify(moto, capsys, instance, vault_.bucket)
    assert code == 0 and "backup.replication" not in results, out
