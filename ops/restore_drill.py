"""Restore drill: prove a logical backup in the vault restores, and time it.

`python -m ops.restore_drill` takes the newest backup of a database (or a given key and
version), and in this order, stopping at the first failure:

1. downloads it, hashing as it goes, and compares with the object's `sha256` metadata;
2. reads its table of contents (`pg_restore --list`);
3. decodes every data block of the archive and counts each table's rows in it;
4. creates a fresh scratch database on the target server (refusing one that exists);
5. restores into it in a single transaction (`pg_restore --single-transaction --exit-on-error`);
6. counts each table's rows in the restored database and compares with the archive's counts;
7. drops the scratch database (unless `--keep`).

Steps 1-3 need no database, so a truncated or corrupted backup fails before anything is
created on the server; the drill only ever creates and drops its own scratch database.
Prints one line per step (PASS/FAIL and why), then a summary line; exits 0 or 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ops import awsenv, pg, vault
from ops.awsenv import OpsError


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DrillConfig:
    bucket: str
    db_name: str  # the source database: backups live under postgres/<db_name>/
    host: str  # the target server the scratch database is created on
    port: int | str = 5432
    secret_arn: str | None = None  # target login from a secret (username/password JSON)...
    user: str | None = None  # ...or a user, with the password in env var password_env
    password_env: str | None = None
    maintenance_db: str = "postgres"
    key: str | None = None
    version_id: str | None = None
    scratch_db: str | None = None
    keep: bool = False
    sslmode: str | None = None
    ca_bundle: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    pg_bin_dir: str | None = None
    work_dir: str | None = None
    clock: Callable[[], datetime] = field(default=utcnow, repr=False)


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name:<14} {self.detail}"


@dataclass
class DrillReport:
    steps: list[Step] = field(default_factory=list)
    backup: str = "?"
    scratch_db: str | None = None
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.steps.append(Step(name, ok, detail))
        return ok

    def summary(self) -> str:
        timing = ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items())
        if self.ok:
            return (
                f"OK restore drill of {self.backup}: {self.tables} tables, {self.rows} rows "
                f"restored and matching, took {self.seconds:.1f}s ({timing})"
            )
        failed = next(step for step in self.steps if not step.ok)
        return f"FAIL restore drill of {self.backup} at {failed.name}: {failed.detail}"

    def lines(self) -> list[str]:
        return [step.line() for step in self.steps] + [self.summary()]


def age_text(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    return f"{minutes} min" if abs(minutes) < 120 else f"{minutes / 60:.1f} h"


def default_scratch_name(now: datetime) -> str:
    return f"restore_drill_{now.astimezone(UTC):%Y%m%d_%H%M%S}"


def _target_credentials(
    config: DrillConfig, secrets_factory: Callable[[], object]
) -> pg.DbCredentials:
    if config.secret_arn and config.user:
        raise OpsError("give either --target-secret-arn or --target-user, not both")
    if config.secret_arn:
        return pg.read_credentials(secrets_factory(), config.secret_arn)
    if not config.user:
        raise OpsError("the target login is required: --target-secret-arn or --target-user")
    password = ""
    if config.password_env:
        if config.password_env not in os.environ:
            raise OpsError(f"--target-password-env names {config.password_env}, which is not set")
        password = os.environ[config.password_env]
    return pg.DbCredentials(config.user, password)


def run_drill(config: DrillConfig) -> DrillReport:
    """Run the drill; every outcome, including errors, ends up as steps in the report."""
    report = DrillReport()
    started = time.monotonic()
    # Unwinds in reverse: drop the scratch database, then remove the passfile and download.
    with contextlib.ExitStack() as stack:
        try:
            _drill(config, report, stack)
        except OpsError as err:
            report.add("error", False, str(err))
    report.seconds = time.monotonic() - started
    return report


def _drill(config: DrillConfig, report: DrillReport, stack: contextlib.ExitStack) -> None:
    tools = pg.PgTools(config.pg_bin_dir)
    db = vault.check_source_db(config.db_name)
    if config.version_id and not config.key:
        raise OpsError("--version-id needs --key (the version of which backup?)")
    endpoint = pg.make_endpoint(
        config.host, config.port, config.sslmode, config.ca_bundle, option="--target-host"
    )
    scratch = pg.check_db_name(
        config.scratch_db or default_scratch_name(config.clock()), "--scratch-db"
    )
    report.scratch_db = scratch
    creds = _target_credentials(
        config, lambda: awsenv.client("secretsmanager", config.region, config.endpoint_url)
    )
    s3 = awsenv.client("s3", config.region, config.endpoint_url)

    ref = vault.resolve_backup(s3, config.bucket, db, config.key, config.version_id)
    report.backup = ref.label if config.version_id else f"s3://{ref.bucket}/{ref.key}"
    age = config.clock() - ref.dumped_at
    report.add(
        "locate",
        True,
        f"{ref.label}, dumped {ref.dumped_at:%Y-%m-%dT%H:%M:%SZ} "
        f"({age_text(age)} ago), {ref.size} bytes",
    )

    # 1. checksum, before anything else looks at the bytes
    workdir = Path(tempfile.mkdtemp(prefix="ops-drill-", dir=config.work_dir))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    dump_path = workdir / "backup.dump"
    mark = time.monotonic()
    with open(dump_path, "wb") as sink:
        download = vault.stream_object(s3, ref.bucket, ref.key, ref.version_id, sink)
    report.timings["download"] = time.monotonic() - mark
    if not download.metadata_sha256:
        report.add("checksum", False, f"{ref.key} has no sha256 metadata to verify against")
        return
    if download.sha256_hex != download.metadata_sha256:
        report.add(
            "checksum",
            False,
            f"sha256 mismatch: object is {download.sha256_hex} ({download.size} bytes), "
            f"metadata says {download.metadata_sha256}; the backup is damaged",
        )
        return
    report.add("checksum", True, f"sha256 {download.sha256_hex} matches ({download.size} bytes)")

    # 2. table of contents
    try:
        toc = pg.list_toc(tools, dump_path)
    except OpsError as err:
        report.add("toc", False, str(err))
        return
    if toc.header.get("Format") != "CUSTOM" or toc.dbname != db:
        report.add(
            "toc",
            False,
            f"archive is format {toc.header.get('Format')} of database {toc.dbname}; "
            f"expected CUSTOM of {db}",
        )
        return
    report.add(
        "toc",
        True,
        f"{len(toc.entries)} entries, {toc.tables} tables, {toc.table_data} with data "
        f"(dumped from {toc.header.get('Dumped from database version', '?')} by pg_dump "
        f"{toc.header.get('Dumped by pg_dump version', '?')})",
    )

    # 3. the archive's own row counts (also proves every data block decompresses)
    try:
        expected = pg.archive_row_counts(tools, dump_path)
    except OpsError as err:
        report.add("archive-data", False, str(err))
        return
    if len(expected) != toc.table_data:
        report.add(
            "archive-data",
            False,
            f"{toc.table_data} TABLE DATA entries but {len(expected)} data blocks decoded",
        )
        return
    report.add(
        "archive-data",
        True,
        f"{len(expected)} tables, {sum(expected.values())} rows decoded from the archive",
    )

    # 4. a fresh scratch database, never an existing one
    env = stack.enter_context(
        pg.libpq_env(endpoint, creds, config.maintenance_db, app="groundwork-restore-drill")
    )
    if pg.database_exists(tools, env, scratch, config.maintenance_db):
        report.add(
            "scratch-db", False, f"refusing: database {scratch} already exists on {endpoint.label}"
        )
        return
    pg.run_psql(
        tools, env, f'CREATE DATABASE "{scratch}" TEMPLATE template0;', config.maintenance_db
    )
    # Registered only once CREATE DATABASE succeeded: the drill drops nothing it did not make.
    stack.callback(_cleanup, report, tools, env, config, scratch)
    report.add("scratch-db", True, f"created {scratch} on {endpoint.label}")

    # 5. restore
    mark = time.monotonic()
    try:
        pg.restore_archive(tools, env, dump_path, scratch)
    except OpsError as err:
        report.add("restore", False, str(err))
        return
    report.timings["restore"] = time.monotonic() - mark
    report.add("restore", True, f"restored into {scratch} in {report.timings['restore']:.1f}s")

    # 6. compare row counts
    actual = pg.table_row_counts(tools, env, scratch, list(expected))
    wrong = count_differences(expected, actual)
    if wrong:
        report.add("row-counts", False, f"{len(wrong)} table(s) differ: {'; '.join(wrong)}")
        return
    report.tables = len(expected)
    report.rows = sum(actual.values())
    report.add("row-counts", True, f"{len(expected)}/{len(expected)} tables match the archive")


def count_differences(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    """One entry per table whose restored row count is not the archive's."""
    return [
        f"{table}: archive {count}, restored {actual.get(table, 'missing')}"
        for table, count in expected.items()
        if actual.get(table) != count
    ]


def _cleanup(
    report: DrillReport, tools: pg.PgTools, env: dict[str, str], config: DrillConfig, scratch: str
) -> None:
    """Drop the scratch database this run created (and only that), unless --keep."""
    if config.keep:
        report.add("cleanup", True, f"kept {scratch} (--keep); drop it when done")
        return
    try:
        pg.run_psql(
            tools, env, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE);', config.maintenance_db
        )
        report.add("cleanup", True, f"dropped {scratch}")
    except OpsError as err:
        report.add("cleanup", False, f"could not drop {scratch}: {err}")


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m ops.restore_drill",
        description=(
            "Restore the newest (or a given) logical backup from the vault into a fresh scratch "
            "database, verify checksum, table of contents and per-table row counts against the "
            "archive, report the time taken and drop the scratch database (unless --keep). "
            "Exit 0 when every step passes, 1 otherwise."
        ),
    )
    parser.add_argument(
        "--bucket",
        default=env("BACKUP_BUCKET"),
        required=env("BACKUP_BUCKET") is None,
        help="backup vault bucket [BACKUP_BUCKET]",
    )
    parser.add_argument(
        "--db-name",
        default=env("DB_NAME"),
        required=env("DB_NAME") is None,
        help="source database whose backups to use (postgres/<db>/) [DB_NAME]",
    )
    parser.add_argument("--key", help="a specific backup key (default: the newest)")
    parser.add_argument("--version-id", help="a specific version of --key")
    parser.add_argument(
        "--target-host", required=True, help="server to create the scratch database on"
    )
    parser.add_argument("--target-port", default="5432", help="its port (5432)")
    parser.add_argument(
        "--target-secret-arn", help="secret with the target login (JSON username/password)"
    )
    parser.add_argument("--target-user", help="target login user (instead of a secret)")
    parser.add_argument(
        "--target-password-env",
        metavar="VAR",
        help="name of the environment variable holding --target-user's password",
    )
    parser.add_argument(
        "--maintenance-db",
        default="postgres",
        help="database to connect to for CREATE/DROP DATABASE (postgres)",
    )
    parser.add_argument(
        "--scratch-db", help="scratch database name (default restore_drill_<UTC time>)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch database for inspection"
    )
    parser.add_argument(
        "--ca-bundle", help="CA bundle to verify the target server (sslmode verify-full)"
    )
    parser.add_argument(
        "--sslmode",
        choices=pg.SSLMODES,
        help="override sslmode; disable/allow/prefer only for a local server",
    )
    parser.add_argument("--region", help="AWS region [AWS_REGION, AWS_DEFAULT_REGION]")
    parser.add_argument("--endpoint-url", help="AWS endpoint override [AWS_ENDPOINT_URL]")
    parser.add_argument(
        "--pg-bin-dir",
        default=env("PG_BIN_DIR"),
        help="directory with pg_restore and psql (default: PATH) [PG_BIN_DIR]",
    )
    parser.add_argument("--work-dir", help="where the backup is downloaded (default: TMPDIR)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = DrillConfig(
        bucket=args.bucket,
        db_name=args.db_name,
        host=args.target_host,
        port=args.target_port,
        secret_arn=args.target_secret_arn,
        user=args.target_user,
        password_env=args.target_password_env,
        maintenance_db=args.maintenance_db,
        key=args.key,
        version_id=args.version_id,
        scratch_db=args.scratch_db,
        keep=args.keep,
        sslmode=args.sslmode,
        ca_bundle=args.ca_bundle,
        region=args.region,
        endpoint_url=args.endpoint_url,
        pg_bin_dir=args.pg_bin_dir,
        work_dir=args.work_dir,
    )
    report = run_drill(config)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
