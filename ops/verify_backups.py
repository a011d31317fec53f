"""Check a live deployment's data protection: `python -m ops.verify_backups`.

One line per check, PASS or FAIL with the reason, then a summary (`OK ...` or `NOT OK ...`,
so each failure is one FAIL line); exit 0 only when every check passes. The checks:

- rds.retention, rds.deletion-protection, rds.latest-restorable-time (point-in-time
  recovery is current), rds.backup-replication (only with --expect-replica-region);
- vault.object-lock (enabled, COMPLIANCE unless --allow-governance, days >= --min-lock-days),
  vault.versioning, vault.public-access-block (all four), vault.encryption (SSE-KMS);
- backup.key-time (every key's timestamp agrees with S3's LastModified: a job clock that
  ran fast cannot make a stale backup look new), backup.newest (the newest valid backup by
  LastModified is younger than --max-backup-age-hours), backup.retention (its version's
  retain-until date is in the future), backup.size (no drop beyond SIZE_DROP_THRESHOLD
  against recent backups), backup.replication (only with --expect-replication),
  backup.checksum (the object is downloaded and its SHA-256 compared with the `sha256`
  metadata) and backup.archive (header and table of contents name the database, every data
  block decodes: a complete archive, proven without a restore).

The rules are pure functions over the API responses (`check_*`); `run_checks` fetches them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ops import awsenv, pg, runctl, vault
from ops.awsenv import OpsError

# backup.size: the newest backup fails when it is smaller than the median of the
# SIZE_HISTORY backups before it by more than SIZE_DROP_THRESHOLD (a half: a dump of an
# emptied or wrong database; ordinary growth and deletes stay well inside it).
SIZE_DROP_THRESHOLD = 0.5
SIZE_HISTORY = 7
# backup.replication: S3 replicates most objects within 15 minutes; PENDING for longer
# than this is reported.
REPLICATION_GRACE = timedelta(hours=1)

PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name:<28} {self.detail}"


@dataclass(frozen=True)
class Expectations:
    min_retention_days: int = 7
    max_restore_lag: timedelta = timedelta(minutes=15)
    min_lock_days: int = 7
    allow_governance: bool = False
    max_backup_age: timedelta = timedelta(hours=26)
    replica_region: str | None = None
    upload_tolerance: timedelta = vault.DEFAULT_UPLOAD_TOLERANCE
    expect_replication: bool = False


@dataclass(frozen=True)
class Target:
    db_instance_id: str
    bucket: str
    db_name: str
    region: str | None = None
    endpoint_url: str | None = None
    work_dir: str | None = None
    pg_bin_dir: str | None = None
    stall_seconds: float = runctl.DEFAULT_STALL_SECONDS
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)


def _age(delta: timedelta) -> str:
    return vault.format_age(delta)


def check_rds(instance: dict[str, Any], expect: Expectations, now: datetime) -> list[Check]:
    """Rules over one `describe_db_instances` entry."""
    name = instance.get("DBInstanceIdentifier", "?")
    checks: list[Check] = []
    retention = int(instance.get("BackupRetentionPeriod") or 0)
    checks.append(
        Check(
            "rds.retention",
            retention >= expect.min_retention_days,
            f"{name}: automated backup retention {retention} days "
            f"({'>=' if retention >= expect.min_retention_days else '<'} "
            f"{expect.min_retention_days} expected)",
        )
    )
    protected = instance.get("DeletionProtection") is True
    checks.append(
        Check(
            "rds.deletion-protection",
            protected,
            f"{name}: deletion protection {'on' if protected else 'OFF'}",
        )
    )
    latest = instance.get("LatestRestorableTime")
    if latest is None:
        checks.append(
            Check(
                "rds.latest-restorable-time",
                False,
                f"{name}: no LatestRestorableTime reported (automated backups off, instance not "
                "yet available, or the API did not return it), so point-in-time recovery is "
                "not proven",
            )
        )
    else:
        lag = now - latest
        checks.append(
            Check(
                "rds.latest-restorable-time",
                lag <= expect.max_restore_lag,
                f"{name}: restorable up to {latest:%Y-%m-%dT%H:%M:%SZ}, {_age(lag)} ago "
                f"(limit {_age(expect.max_restore_lag)})",
            )
        )
    if expect.replica_region:
        replications = instance.get("DBInstanceAutomatedBackupsReplications") or []
        arns = [r.get("DBInstanceAutomatedBackupsArn", "") for r in replications]
        found = [arn for arn in arns if f":rds:{expect.replica_region}:" in arn]
        checks.append(
            Check(
                "rds.backup-replication",
                bool(found),
                f"{name}: automated backups replicated to {expect.replica_region}"
                if found
                else f"{name}: no automated-backup replication to {expect.replica_region} "
                f"(replications: {', '.join(arns) or 'none'})",
            )
        )
    return checks


def check_object_lock(
    bucket: str, enabled: bool, rule: vault.LockRule | None, expect: Expectations
) -> Check:
    if not enabled:
        return Check("vault.object-lock", False, f"{bucket}: object lock is not enabled")
    if rule is None:
        return Check("vault.object-lock", False, f"{bucket}: object lock has no default retention")
    allowed = ("COMPLIANCE", "GOVERNANCE") if expect.allow_governance else ("COMPLIANCE",)
    problems = []
    if rule.mode not in allowed:
        problems.append(f"mode {rule.mode} (required: {' or '.join(allowed)})")
    if rule.days < expect.min_lock_days:
        problems.append(f"{rule.days} days < {expect.min_lock_days} expected")
    if problems:
        return Check(
            "vault.object-lock", False, f"{bucket}: default retention {'; '.join(problems)}"
        )
    return Check(
        "vault.object-lock",
        True,
        f"{bucket}: default retention {rule.mode} {rule.days} days (>= {expect.min_lock_days})",
    )


def check_versioning(bucket: str, response: dict[str, Any]) -> Check:
    status = response.get("Status", "never enabled")
    return Check("vault.versioning", status == "Enabled", f"{bucket}: versioning {status}")


def check_public_access(bucket: str, config: dict[str, Any] | None) -> Check:
    if config is None:
        return Check("vault.public-access-block", False, f"{bucket}: no public access block")
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if config.get(flag) is not True]
    if off:
        return Check("vault.public-access-block", False, f"{bucket}: off: {', '.join(off)}")
    return Check("vault.public-access-block", True, f"{bucket}: all four blocks on")


def check_encryption(bucket: str, rules: list[dict[str, Any]]) -> Check:
    algorithms = [
        rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for rule in rules
    ]
    ok = any(a in ("aws:kms", "aws:kms:dsse") for a in algorithms)
    return Check(
        "vault.encryption",
        ok,
        f"{bucket}: default encryption {', '.join(str(a) for a in algorithms) or 'none'}"
        + ("" if ok else " (SSE-KMS required)"),
    )


def check_newest(
    bucket: str, db: str, listing: vault.Listing, expect: Expectations, now: datetime
) -> Check:
    """The newest trustworthy backup, aged by S3's LastModified (a clock the job cannot
    forge), must be younger than the limit."""
    ref = listing.newest
    if ref is None:
        skipped = (
            f" ({len(listing.defects)} skipped, see backup.key-time)" if listing.defects else ""
        )
        return Check(
            "backup.newest",
            False,
            f"no usable backup under s3://{bucket}/{vault.backup_prefix(db)}{skipped}",
        )
    age = now - (ref.last_modified or ref.dumped_at)
    return Check(
        "backup.newest",
        timedelta(0) - vault.CLOCK_SKEW_TOLERANCE <= age <= expect.max_backup_age,
        f"{ref.key}: stored {vault.format_age(age)} ago (limit "
        f"{vault.format_age(expect.max_backup_age)})",
    )


def check_key_times(listing: vault.Listing, expect: Expectations) -> Check:
    """Every key's timestamp agrees with its LastModified; a defect is reported (it cannot
    be deleted under COMPLIANCE, but it no longer counts as a backup)."""
    total = len(listing.valid) + len(listing.defects)
    if listing.defects:
        shown = "; ".join(reason for _ref, reason in listing.defects[:3])
        more = f" (and {len(listing.defects) - 3} more)" if len(listing.defects) > 3 else ""
        return Check(
            "backup.key-time",
            False,
            f"{len(listing.defects)} of {total} backup keys are dated wrongly and are ignored: "
            f"{shown}{more}",
        )
    return Check(
        "backup.key-time",
        True,
        f"all {total} keys agree with S3's LastModified (upload tolerance "
        f"{vault.format_age(expect.upload_tolerance)})",
    )


def check_size(newest: vault.BackupRef, previous: list[vault.BackupRef]) -> Check:
    """A sudden drop in size (a dump of an emptied or wrong database) is reported."""
    sizes = sorted(ref.size or 0 for ref in previous[-SIZE_HISTORY:])
    if not sizes:
        return Check("backup.size", True, f"{newest.key}: {newest.size} bytes (no history yet)")
    median = sizes[len(sizes) // 2]
    floor = int(median * (1 - SIZE_DROP_THRESHOLD))
    ok = (newest.size or 0) >= floor
    return Check(
        "backup.size",
        ok,
        f"{newest.key}: {newest.size} bytes, median of the {len(sizes)} before it {median}"
        + ("" if ok else f" (dropped more than {SIZE_DROP_THRESHOLD:.0%}: data lost?)"),
    )


def check_replication(ref: vault.BackupRef, head: dict[str, Any], now: datetime) -> Check:
    """HeadObject's ReplicationStatus of the newest backup: COMPLETED, or PENDING while young.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html
    """
    status = head.get("ReplicationStatus")
    age = now - (ref.last_modified or ref.dumped_at)
    if status in ("COMPLETED", "COMPLETE"):
        return Check("backup.replication", True, f"{ref.key}: replicated ({status})")
    if status == "PENDING" and age <= REPLICATION_GRACE:
        return Check(
            "backup.replication",
            True,
            f"{ref.key}: replication PENDING, {vault.format_age(age)} old",
        )
    return Check(
        "backup.replication",
        False,
        f"{ref.key}: replication status {status or 'absent (no replication rule applied)'}, "
        f"stored {vault.format_age(age)} ago",
    )


def check_archive(ref: vault.BackupRef, toc: pg.Toc, counts: dict[str, int], db: str) -> Check:
    """The object is a complete custom-format archive of db: its header and table of
    contents name db, and every data block decodes (no restore needed)."""
    if problem := toc.problem(db):
        return Check("backup.archive", False, f"{ref.key}: {problem}")
    if len(counts) != toc.table_data:
        return Check(
            "backup.archive",
            False,
            f"{ref.key}: {toc.table_data} TABLE DATA entries but {len(counts)} data blocks",
        )
    return Check(
        "backup.archive",
        True,
        f"{ref.key}: archive of {db}, {toc.tables} tables, {sum(counts.values())} rows decoded",
    )


def check_backup_retention(
    ref: vault.BackupRef, retention: tuple[str, datetime] | None, now: datetime
) -> Check:
    if retention is None:
        return Check(
            "backup.retention",
            False,
            f"{ref.key}: version shows no retain-until date (not locked, or this role lacks "
            "s3:GetObjectRetention)",
        )
    mode, until = retention
    return Check(
        "backup.retention",
        until > now,
        f"{ref.key}: {mode} until {until:%Y-%m-%dT%H:%M:%SZ}"
        + ("" if until > now else " (already passed: the version can be deleted)"),
    )


def check_checksum(ref: vault.BackupRef, download: vault.Download) -> Check:
    if not download.metadata_sha256:
        return Check("backup.checksum", False, f"{ref.key}: no sha256 metadata")
    ok = download.sha256_hex == download.metadata_sha256
    return Check(
        "backup.checksum",
        ok,
        f"{ref.key}: sha256 of {download.size} bytes "
        + (
            "matches the metadata"
            if ok
            else f"is {download.sha256_hex}, metadata says {download.metadata_sha256}"
        ),
    )


def _guard(name: str, fetch: Callable[[], list[Check]]) -> list[Check]:
    """Turn an API failure into a FAIL line for that check instead of aborting the report."""
    try:
        return fetch()
    except OpsError as err:
        return [Check(name, False, str(err))]
    except (ClientError, BotoCoreError) as err:
        return [Check(name, False, vault.aws_error(err))]


def run_checks(target: Target, expect: Expectations) -> list[Check]:
    now = target.clock()
    rds = awsenv.client("rds", target.region, target.endpoint_url)
    s3 = awsenv.client("s3", target.region, target.endpoint_url)
    bucket = target.bucket
    checks: list[Check] = []

    def rds_checks() -> list[Check]:
        try:
            response = rds.describe_db_instances(DBInstanceIdentifier=target.db_instance_id)
        except ClientError as err:
            raise OpsError(f"{target.db_instance_id}: {vault.aws_error(err)}") from None
        return check_rds(response["DBInstances"][0], expect, now)

    def lock_checks() -> list[Check]:
        enabled, rule = vault.default_lock(s3, bucket)
        return [check_object_lock(bucket, enabled, rule, expect)]

    def public_access() -> list[Check]:
        try:
            config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "NoSuchPublicAccessBlockConfiguration":
                raise
            config = None
        return [check_public_access(bucket, config)]

    def encryption() -> list[Check]:
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
                "Rules"
            ]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != (
                "ServerSideEncryptionConfigurationNotFoundError"
            ):
                raise
            rules = []
        return [check_encryption(bucket, rules)]

    def backup_checks() -> list[Check]:
        return _backup_checks(target, expect, s3, now)

    checks += _guard("rds", rds_checks)
    checks += _guard("vault.object-lock", lock_checks)
    checks += _guard(
        "vault.versioning",
        lambda: [check_versioning(bucket, s3.get_bucket_versioning(Bucket=bucket))],
    )
    checks += _guard("vault.public-access-block", public_access)
    checks += _guard("vault.encryption", encryption)
    checks += _guard("backup", backup_checks)
    return checks


def _backup_checks(target: Target, expect: Expectations, s3: Any, now: datetime) -> list[Check]:
    bucket, db = target.bucket, target.db_name
    listing = vault.list_backups(s3, bucket, db, expect.upload_tolerance)
    result = [
        check_key_times(listing, expect),
        check_newest(bucket, db, listing, expect, now),
    ]
    if listing.newest is None:
        return result
    ref = listing.newest
    head = vault.head_object(s3, bucket, ref.key)
    ref = vault.BackupRef(
        bucket, ref.key, ref.dumped_at, ref.size, head.get("VersionId"), ref.last_modified
    )
    result.append(check_backup_retention(ref, vault.retention_from_head(head), now))
    result.append(check_size(ref, listing.valid[:-1]))
    if expect.expect_replication:
        result.append(check_replication(ref, head, now))
    result += _guard("backup.checksum", lambda: _content_checks(target, s3, ref))
    return result


def _content_checks(target: Target, s3: Any, ref: vault.BackupRef) -> list[Check]:
    """Download the newest backup into a private temp directory, compare its SHA-256 with
    the metadata, then read its header and table of contents and decode every data block."""
    size = ref.size or 0
    where = Path(target.work_dir or tempfile.gettempdir())
    if where.is_dir() and runctl.free_bytes(where) < size * 1.1:
        raise OpsError(
            f"work directory {where} has {runctl.free_bytes(where)} bytes free, the download "
            f"of {ref.key} needs {int(size * 1.1)}; free space or pass --work-dir"
        )
    workdir = runctl.private_dir("ops-verify-", target.work_dir)
    try:
        path = workdir / "backup.dump"
        download = vault.stream_object(s3, ref.bucket, ref.key, ref.version_id, path)
        checks = [check_checksum(ref, download)]
        if not checks[0].ok:
            return checks
        tools = pg.PgTools(target.pg_bin_dir)
        try:
            toc = pg.list_toc(tools, path, target.stall_seconds)
            counts = (
                {} if toc.problem(target.db_name)
                else pg.archive_row_counts(tools, path, target.stall_seconds)
            )  # fmt: skip
        except OpsError as err:
            return [*checks, Check("backup.archive", False, f"{ref.key}: {err}")]
        return [*checks, check_archive(ref, toc, counts, target.db_name)]
    finally:
        runctl.remove_dir(workdir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.verify_backups",
        description=(
            "Verify a deployment's backups: RDS automated backups and point-in-time recovery, the "
            "object-locked vault's settings, and the newest logical backup's age, lock and "
            "checksum. One PASS/FAIL line per check; exit 0 only if all pass."
        ),
    )
    parser.add_argument("--db-instance-id", required=True, help="RDS DB instance identifier")
    parser.add_argument("--bucket", required=True, help="backup vault bucket")
    parser.add_argument("--db-name", required=True, help="database whose logical backups to check")
    # The order of the options is the order of --help.
    _add_rds_expectations(parser)
    _add_vault_expectations(parser)
    _add_download_options(parser)
    return parser


def _add_rds_expectations(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--min-retention-days",
        type=int,
        default=7,
        help="RDS automated backup retention at least (7; groundwork:database.backupRetentionDays)",
    )
    parser.add_argument(
        "--max-restore-lag-minutes",
        type=float,
        default=15,
        help="latest restorable time at most this old (15)",
    )


def _add_vault_expectations(parser: argparse.ArgumentParser) -> None:
    """The vault's lock, the newest backup's age and replication, and key-time tolerance."""
    parser.add_argument(
        "--min-lock-days",
        type=int,
        default=7,
        help="vault default retention at least (7; groundwork:backups.lockDays)",
    )
    parser.add_argument(
        "--allow-governance",
        action="store_true",
        help="accept GOVERNANCE mode (dev); otherwise COMPLIANCE is required",
    )
    parser.add_argument(
        "--max-backup-age-hours",
        type=float,
        default=26,
        help="newest logical backup at most this old (26: a daily schedule plus slack)",
    )
    parser.add_argument(
        "--expect-replica-region",
        help="require automated-backup replication to this region "
        "(groundwork:database.backupReplicaRegion)",
    )
    parser.add_argument(
        "--expect-replication",
        action="store_true",
        help="require the newest backup's S3 replication status to be COMPLETED "
        "(groundwork:backups.replicaRegion set)",
    )
    tolerance = vault.DEFAULT_UPLOAD_TOLERANCE.total_seconds() / 60
    parser.add_argument(
        "--upload-tolerance-minutes",
        type=float,
        default=tolerance,
        help="how far a key's time may trail S3's LastModified: the job's timeout "
        f"(groundwork:backups.jobTimeoutMinutes) plus a margin ({tolerance:g})",
    )


def _add_download_options(parser: argparse.ArgumentParser) -> None:
    """Where the newest backup is read, with which client programs, from which AWS endpoint."""
    parser.add_argument("--work-dir", help="where the newest backup is downloaded (TMPDIR)")
    pg.add_connection_option(
        parser, "--pg-bin-dir", "directory with pg_restore (default: PATH) [PG_BIN_DIR]"
    )
    pg.add_stall_option(
        parser,
        f"stop pg_restore after this long without progress ({runctl.DEFAULT_STALL_SECONDS:g})",
        default=runctl.DEFAULT_STALL_SECONDS,
    )
    pg.add_aws_options(
        parser,
        region_help="AWS region [AWS_REGION, AWS_DEFAULT_REGION]",
        endpoint_help="AWS endpoint override [AWS_ENDPOINT_URL]",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    expect = Expectations(
        min_retention_days=args.min_retention_days,
        max_restore_lag=timedelta(minutes=args.max_restore_lag_minutes),
        min_lock_days=args.min_lock_days,
        allow_governance=args.allow_governance,
        max_backup_age=timedelta(hours=args.max_backup_age_hours),
        replica_region=args.expect_replica_region,
        upload_tolerance=timedelta(minutes=args.upload_tolerance_minutes),
        expect_replication=args.expect_replication,
    )
    target = Target(
        args.db_instance_id,
        args.bucket,
        args.db_name,
        args.region,
        args.endpoint_url,
        work_dir=args.work_dir,
        pg_bin_dir=args.pg_bin_dir,
        stall_seconds=args.stall_timeout_seconds,
    )
    try:
        with runctl.signals_as_errors():
            vault.check_source_db(target.db_name)
            checks = run_checks(target, expect)
    except runctl.Interrupted as err:
        print(f"FAIL verify_backups: {err}; stopped pg_restore and removed the download")
        return 1
    except OpsError as err:
        print(f"FAIL verify_backups: {err}")
        return 1
    except Exception as err:  # one FAIL line, even for the unforeseen
        print(f"FAIL verify_backups: unexpected {type(err).__name__}: {err}")
        return 1
    for check in checks:
        print(check.line())
    failed = [c.name for c in checks if not c.ok]
    if failed:
        # Each failure already has its FAIL line; the summary does not repeat the word.
        print(f"NOT OK: {len(failed)} of {len(checks)} checks failed: {', '.join(failed)}")
        return 1
    print(f"OK all {len(checks)} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
