"""Restore drill: prove a logical backup in the vault restores, and time it.

`python -m ops.restore_drill` takes the newest valid backup of a database (or a given key and
version), and in this order, stopping at the first failure:

1. locate: the newest backup by S3's LastModified; keys whose timestamp disagrees with it
   (a job clock that ran fast or slow) are skipped with a WARN line;
2. preflight, before any download: pg_restore is new enough for the object's pg_dump
   version, the target accepts the login, the login has CREATEDB, the scratch name is free,
   the work directory has room for the object, and (for RDS, `--target-db-instance-id`)
   the target's FreeStorageSpace has room for the restored data;
3. downloads it (resuming a cut transfer by byte range), hashing as it goes, and compares
   with the object's `sha256` metadata;
4. reads its table of contents (`pg_restore --list`): a custom-format archive of the
   expected database;
5. decodes every data block of the archive and counts each table's rows in it;
6. creates a fresh scratch database on the target server (refusing one that exists);
7. restores into it: one transaction, or `--jobs N` in parallel (then atomic by dropping the
   scratch database on any failure);
8. counts each table's rows in the restored database and compares with the archive's counts;
9. drops the scratch database (unless `--keep`).

SIGTERM/SIGINT stop the running child, drop the scratch database this run made and remove the
download; a child that makes no progress for `--stall-timeout-seconds` is stopped. Prints
one PASS/WARN line per step, then one summary line (`OK ...` or the single `FAIL ...`);
exits 0 or 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from ops import awsenv, pg, runctl, vault
from ops.awsenv import OpsError


def utcnow() -> datetime:
    return datetime.now(UTC)


# Room the download needs in the work directory: the object, plus a margin.
WORK_DIR_FACTOR = 1.1
# Room the restore needs on the target, as a multiple of the (compressed) object: table
# data typically expands 3-5x from a compressed custom-format dump, plus indexes.
TARGET_SPACE_FACTOR = 5.0


@dataclass(frozen=True)
class DrillConfig:
    bucket: str
    db_name: str  # the source database: backups live under postgres/<db_name>/
    host: str  # the target server the scratch database is created on (host or host:port)
    port: int | str | None = None
    secret_arn: str | None = None  # target login from a secret (username/password JSON)...
    user: str | None = None  # ...or a user, with the password in env var password_env
    password_env: str | None = None
    maintenance_db: str = "postgres"
    key: str | None = None
    version_id: str | None = None
    scratch_db: str | None = None
    keep: bool = False
    jobs: int = 1
    sslmode: str | None = None
    ca_bundle: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    pg_bin_dir: str | None = None
    work_dir: str | None = None
    target_db_instance_id: str | None = None
    stall_seconds: float = runctl.DEFAULT_STALL_SECONDS
    upload_tolerance: timedelta = vault.DEFAULT_UPLOAD_TOLERANCE
    clock: Callable[[], datetime] = field(default=utcnow, repr=False)


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str
    warn: bool = False

    def line(self) -> str:
        status = "WARN" if self.warn else ("PASS" if self.ok else "FAIL")
        return f"{status} {self.name:<14} {self.detail}"


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

    def warn(self, name: str, detail: str) -> None:
        self.steps.append(Step(name, True, detail, warn=True))

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
        """PASS/WARN lines, then the summary: a failure is reported once, in the summary
        (a later failure, e.g. of the cleanup, is appended to it)."""
        failed = [step for step in self.steps if not step.ok]
        summary = self.summary()
        if len(failed) > 1:
            summary += "; then " + "; ".join(f"{s.name}: {s.detail}" for s in failed[1:])
        return [step.line() for step in self.steps if step.ok] + [summary]


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


@dataclass
class _Run:
    """What one drill has in hand as it goes (for the steps and for the cleanup)."""

    config: DrillConfig
    report: DrillReport
    stack: contextlib.ExitStack
    tools: pg.PgTools
    endpoint: pg.Endpoint
    env: dict[str, str]
    scratch: str


def run_drill(config: DrillConfig) -> DrillReport:
    """Run the drill; every outcome, including errors and signals, ends up in the report."""
    report = DrillReport()
    started = time.monotonic()
    current = ["setup"]
    with runctl.signals_as_errors():
        try:
            # Unwinds in reverse: drop the scratch database, then remove the download.
            with contextlib.ExitStack() as stack:
                try:
                    _drill(config, report, stack, current)
                except runctl.Interrupted as err:
                    report.add(
                        "interrupted",
                        False,
                        f"{err} during {current[0]}; stopped its child program, cleaned up "
                        "what this run made (see the cleanup lines)",
                    )
                except OpsError as err:
                    report.add(current[0], False, str(err))
                except OSError as err:
                    report.add(current[0], False, f"{err.strerror or err} ({err.filename})")
                except Exception as err:  # one FAIL line, even for the unforeseen
                    report.add(current[0], False, f"unexpected {type(err).__name__}: {err}")
        except runctl.Interrupted as err:  # a signal held back during the cleanup
            report.add("interrupted", False, f"{err} during cleanup")
    report.seconds = time.monotonic() - started
    return report


def _drill(
    config: DrillConfig, report: DrillReport, stack: contextlib.ExitStack, current: list[str]
) -> None:
    run = _setup(config, report, stack)
    ref, head = _locate(run, current)
    current[0] = "preflight"
    _preflight(run, ref, head)
    current[0] = "checksum"
    workdir = runctl.private_dir("ops-drill-", config.work_dir)
    stack.callback(_remove_workdir, report, workdir)
    dump_path = workdir / "backup.dump"
    if not _download(run, ref, dump_path):
        return
    current[0] = "toc"
    expected = _read_archive(run, dump_path, current)
    if expected is None:
        return
    current[0] = "scratch-db"
    _create_scratch(run)
    current[0] = "restore"
    mark = time.monotonic()
    pg.restore_archive(
        run.tools, run.env, dump_path, run.scratch,
        jobs=config.jobs, stall_seconds=config.stall_seconds,
    )  # fmt: skip
    report.timings["restore"] = time.monotonic() - mark
    how = "in one transaction" if config.jobs == 1 else f"with {config.jobs} jobs"
    report.add("restore", True, f"restored into {run.scratch} {how} in "
               f"{report.timings['restore']:.1f}s")  # fmt: skip
    current[0] = "row-counts"
    actual = pg.table_row_counts(run.tools, run.env, run.scratch, list(expected))
    wrong = count_differences(expected, actual)
    if wrong:
        report.add("row-counts", False, f"{len(wrong)} table(s) differ: {'; '.join(wrong)}")
        return
    report.tables = len(expected)
    report.rows = sum(actual.values())
    report.add("row-counts", True, f"{len(expected)}/{len(expected)} tables match the archive")


def _setup(config: DrillConfig, report: DrillReport, stack: contextlib.ExitStack) -> _Run:
    tools = pg.PgTools(config.pg_bin_dir)
    vault.check_source_db(config.db_name)
    if config.version_id and not config.key:
        raise OpsError("--version-id needs --key (the version of which backup?)")
    if config.jobs < 1:
        raise OpsError(f"--jobs must be >= 1 (got {config.jobs})")
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
    env = pg.libpq_env(endpoint, creds, config.maintenance_db, app="groundwork-restore-drill")
    return _Run(config, report, stack, tools, endpoint, env, scratch)


def _locate(run: _Run, current: list[str]) -> tuple[vault.BackupRef, dict]:
    current[0] = "locate"
    config, report = run.config, run.report
    s3 = awsenv.client("s3", config.region, config.endpoint_url)
    db = config.db_name
    if config.key is None:
        listing = vault.list_backups(s3, config.bucket, db, config.upload_tolerance)
        for _ref, reason in listing.defects:
            report.warn("locate", f"skipped {reason}")
    ref, head = vault.resolve_backup(
        s3, config.bucket, db, config.key, config.version_id, config.upload_tolerance
    )
    if config.key is not None and (reason := vault.key_time_defect(ref, config.upload_tolerance)):
        report.warn("locate", f"restoring it as asked, but {reason}")
    report.backup = ref.label if config.version_id else f"s3://{ref.bucket}/{ref.key}"
    stored = ref.last_modified or ref.dumped_at
    report.add(
        "locate",
        True,
        f"{ref.label}, dumped {ref.dumped_at:%Y-%m-%dT%H:%M:%SZ}, stored "
        f"{stored:%Y-%m-%dT%H:%M:%SZ} ({vault.format_age(config.clock() - stored)} ago), "
        f"{ref.size} bytes",
    )
    return ref, head


def _download(run: _Run, ref: vault.BackupRef, dump_path: Path) -> bool:
    config, report = run.config, run.report
    s3 = awsenv.client("s3", config.region, config.endpoint_url)
    mark = time.monotonic()
    download = vault.stream_object(s3, ref.bucket, ref.key, ref.version_id, dump_path)
    report.timings["download"] = time.monotonic() - mark
    if not download.metadata_sha256:
        return report.add("checksum", False, f"{ref.key} has no sha256 metadata to verify against")
    if download.sha256_hex != download.metadata_sha256:
        return report.add(
            "checksum",
            False,
            f"sha256 mismatch: object is {download.sha256_hex} ({download.size} bytes), "
            f"metadata says {download.metadata_sha256}; the backup is damaged",
        )
    resumed = f", resumed {download.resumed}x by byte range" if download.resumed else ""
    return report.add(
        "checksum", True, f"sha256 {download.sha256_hex} matches ({download.size} bytes{resumed})"
    )


def _read_archive(run: _Run, dump_path: Path, current: list[str]) -> dict[str, int] | None:
    """The archive's table of contents and its own row counts (which also proves every data
    block is there and decompresses); None after a FAIL step."""
    config, report, tools = run.config, run.report, run.tools
    toc = pg.list_toc(tools, dump_path, config.stall_seconds)
    if problem := toc.problem(config.db_name):
        report.add("toc", False, problem)
        return None
    report.add(
        "toc",
        True,
        f"{len(toc.entries)} entries, {toc.tables} tables, {toc.table_data} with data "
        f"(dumped from {toc.header.get('Dumped from database version', '?')} by pg_dump "
        f"{toc.header.get('Dumped by pg_dump version', '?')})",
    )
    current[0] = "archive-data"
    expected = pg.archive_row_counts(tools, dump_path, config.stall_seconds)
    if len(expected) != toc.table_data:
        report.add(
            "archive-data",
            False,
            f"{toc.table_data} TABLE DATA entries but {len(expected)} data blocks decoded",
        )
        return None
    report.add(
        "archive-data",
        True,
        f"{len(expected)} tables, {sum(expected.values())} rows decoded from the archive",
    )
    return expected


def _create_scratch(run: _Run) -> None:
    """A fresh scratch database, never an existing one; the drop is registered in the same
    uninterruptible step, so the drill drops exactly what it made."""
    config = run.config
    if pg.database_exists(run.tools, run.env, run.scratch, config.maintenance_db):
        raise OpsError(
            f"refusing: database {run.scratch} already exists on {run.endpoint.label}; "
            "choose another --scratch-db"
        )
    with runctl.shielded():
        pg.run_psql(
            run.tools,
            run.env,
            f'CREATE DATABASE "{run.scratch}" TEMPLATE template0;',
            config.maintenance_db,
        )
        run.stack.callback(_cleanup, run)
    run.report.add("scratch-db", True, f"created {run.scratch} on {run.endpoint.label}")


def count_differences(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    """One entry per table whose restored row count is not the archive's."""
    return [
        f"{table}: archive {count}, restored {actual.get(table, 'missing')}"
        for table, count in expected.items()
        if actual.get(table) != count
    ]


def _cleanup(run: _Run) -> None:
    """Drop the scratch database this run created (and only that), unless --keep on success
    (a failed or interrupted restore is never kept: a half-restored database is no backup)."""
    config, report, scratch = run.config, run.report, run.scratch
    if config.keep and report.ok:
        report.add("cleanup", True, f"kept {scratch} (--keep); drop it when done")
        return
    with runctl.shielded():
        try:
            pg.run_psql(
                run.tools,
                run.env,
                f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE);',
                config.maintenance_db,
            )
            report.add("cleanup", True, f"dropped {scratch}")
        except OpsError as err:
            report.add("cleanup", False, f"could not drop {scratch}: {err}")


def _remove_workdir(report: DrillReport, workdir: Path) -> None:
    runctl.remove_dir(workdir)
    if workdir.exists():
        report.add("cleanup", False, f"could not remove the download in {workdir}")
    elif not report.ok:
        report.add("cleanup", True, "removed the downloaded backup")


def _preflight(run: _Run, ref: vault.BackupRef, head: dict) -> None:
    """Everything that can be known before the download, each failure naming what to fix."""
    config, label = run.config, run.endpoint.label
    made_by = (head.get("Metadata") or {}).get("pg-dump-version")
    local = run.tools.version("pg_restore")
    if made_by and pg.major(local) < pg.major(made_by):
        raise OpsError(
            f"pg_restore {local} is older than pg_dump {made_by}, which made {ref.key} "
            f"(object metadata pg-dump-version); install pg_restore {pg.major(made_by)} or "
            "newer, or pass --pg-bin-dir"
        )
    sql = (
        "SELECT current_user, (rolcreatedb OR rolsuper), current_setting('server_version'), "
        f"(SELECT count(*) FROM pg_database WHERE datname = '{run.scratch}') "
        "FROM pg_roles WHERE rolname = current_user;"
    )
    try:
        rows = pg.run_psql(run.tools, run.env, sql, config.maintenance_db)
    except OpsError as err:
        raise OpsError(
            f"the target {label} does not accept the login ({err}); check --target-host, "
            "--target-port, the login (--target-secret-arn or --target-user) and --maintenance-db"
        ) from None
    user, createdb, version, taken = rows[0].split("|")
    if createdb != "t":
        raise OpsError(
            f"login {user} on {label} lacks CREATEDB: ALTER ROLE {user} CREATEDB, or use the "
            "instance's master user"
        )
    if taken != "0":
        raise OpsError(
            f"refusing: database {run.scratch} already exists on {label}; choose another "
            "--scratch-db"
        )
    dumped_from = (head.get("Metadata") or {}).get("server-version")
    if dumped_from and pg.major(version) < pg.major(dumped_from):
        run.report.warn(
            "preflight",
            f"{label} runs PostgreSQL {version}, the backup was dumped from {dumped_from} "
            "(object metadata server-version): objects using newer features may not restore",
        )
    size = ref.size or 0
    where = Path(config.work_dir or tempfile.gettempdir())
    if not where.is_dir():
        raise OpsError(f"--work-dir {where} does not exist or is not a directory")
    free, need = runctl.free_bytes(where), int(size * WORK_DIR_FACTOR)
    if free < need:
        raise OpsError(
            f"work directory {where} has {free} bytes free, the download needs {need} "
            f"({WORK_DIR_FACTOR:g} x {size}); free space there or pass --work-dir"
        )
    room = _target_room(run, size)
    run.report.add(
        "preflight",
        True,
        f"{user} may CREATEDB on {label} (PostgreSQL {version}), {run.scratch} is free, "
        f"pg_restore {local} reads pg_dump {made_by or '?'}, work dir {free} bytes free, {room}",
    )


def _target_room(run: _Run, size: int) -> str:
    """The target's free storage from RDS's FreeStorageSpace metric (the newest datapoint of
    the last hour); PostgreSQL itself has no query for free disk space.
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html
    """
    config = run.config
    if not config.target_db_instance_id:
        return "target free space not checked (pass --target-db-instance-id for RDS)"
    need = int(size * TARGET_SPACE_FACTOR)
    now = config.clock()
    cloudwatch = awsenv.client("cloudwatch", config.region, config.endpoint_url)
    try:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/RDS",
            MetricName="FreeStorageSpace",
            Dimensions=[{"Name": "DBInstanceIdentifier", "Value": config.target_db_instance_id}],
            StartTime=now - timedelta(hours=1),
            EndTime=now,
            Period=300,
            Statistics=["Minimum"],
        ).get("Datapoints", [])
    except (ClientError, BotoCoreError) as err:
        raise OpsError(
            f"cannot read FreeStorageSpace of {config.target_db_instance_id}: "
            f"{vault.aws_error(err)}"
        ) from None
    if not points:
        raise OpsError(
            f"no FreeStorageSpace datapoint for {config.target_db_instance_id} in the last hour; "
            "check --target-db-instance-id"
        )
    free = int(max(points, key=lambda p: p["Timestamp"])["Minimum"])
    if free < need:
        raise OpsError(
            f"target {config.target_db_instance_id} has {free} bytes free (FreeStorageSpace), the "
            f"restore may need {need} ({TARGET_SPACE_FACTOR:g} x the {size}-byte backup); grow "
            "its storage or restore elsewhere"
        )
    return f"target {free} bytes free (needs ~{need})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.restore_drill",
        description=(
            "Restore the newest valid (or a given) logical backup from the vault into a fresh "
            "scratch database after a preflight of the target, verify checksum, table of "
            "contents and per-table row counts against the archive, report the time taken and "
            "drop the scratch database (unless --keep). Exit 0 when every step passes, 1 "
            "otherwise."
        ),
    )
    # The order of the options is the order of --help.
    _add_backup_options(parser)
    _add_target_options(parser)
    _add_restore_options(parser)
    _add_transport_options(parser)
    _add_run_options(parser)
    return parser


def _add_backup_options(parser: argparse.ArgumentParser) -> None:
    """Which backup: the vault and source database (from the job's environment), a key."""
    env = os.environ.get
    add = parser.add_argument
    add(
        "--bucket",
        default=env("BACKUP_BUCKET"),
        required=env("BACKUP_BUCKET") is None,
        help="backup vault bucket [BACKUP_BUCKET]",
    )
    add(
        "--db-name",
        default=env("DB_NAME"),
        required=env("DB_NAME") is None,
        help="source database whose backups to use (postgres/<db>/) [DB_NAME]",
    )
    add("--key", help="a specific backup key (default: the newest valid one)")
    add("--version-id", help="a specific version of --key")


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    """Where to restore, and the login there."""
    add = parser.add_argument
    add(
        "--target-host",
        required=True,
        help="server to create the scratch database on: host, or host:port as the stack "
        "output databaseEndpoint gives it",
    )
    add("--target-port", default=None, help="its port (5432, or the one in --target-host)")
    add("--target-secret-arn", help="secret with the target login (JSON username/password)")
    add("--target-user", help="target login user (instead of a secret)")
    add(
        "--target-password-env",
        metavar="VAR",
        help="name of the environment variable holding --target-user's password",
    )
    add(
        "--target-db-instance-id",
        help="the target's RDS instance id: its FreeStorageSpace is checked before download",
    )


def _add_restore_options(parser: argparse.ArgumentParser) -> None:
    """The scratch database and how the restore runs."""
    add = parser.add_argument
    add(
        "--maintenance-db",
        default="postgres",
        help="database to connect to for CREATE/DROP DATABASE (postgres)",
    )
    add("--scratch-db", help="scratch database name (default restore_drill_<UTC time>)")
    add("--keep", action="store_true", help="keep the scratch database after a successful restore")
    add(
        "--jobs",
        type=int,
        default=1,
        help="parallel pg_restore jobs (1: one transaction; more: faster, the scratch "
        "database is dropped on any failure)",
    )


def _add_transport_options(parser: argparse.ArgumentParser) -> None:
    """TLS to the target, the AWS endpoint and the PostgreSQL client programs."""
    # The target is a scratch server, not the backed-up database: its TLS settings come from
    # the command line only, never from the backup job's DB_* environment.
    target = partial(pg.add_connection_option, parser, from_env=False)
    target("--ca-bundle", "CA bundle to verify the target server (sslmode verify-full)")
    target("--sslmode", "override sslmode; disable/allow/prefer only for a local server")
    pg.add_aws_options(
        parser,
        region_help="AWS region [AWS_REGION, AWS_DEFAULT_REGION]",
        endpoint_help="AWS endpoint override [AWS_ENDPOINT_URL]",
    )
    pg.add_connection_option(
        parser, "--pg-bin-dir", "directory with pg_restore and psql (default: PATH) [PG_BIN_DIR]"
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", help="where the backup is downloaded (default: TMPDIR)")
    pg.add_stall_option(
        parser,
        "stop a client program after this long without progress "
        f"({runctl.DEFAULT_STALL_SECONDS:g}; longer than the biggest index build)",
        default=runctl.DEFAULT_STALL_SECONDS,
    )
    tolerance = vault.DEFAULT_UPLOAD_TOLERANCE.total_seconds() / 60
    parser.add_argument(
        "--upload-tolerance-minutes",
        type=float,
        default=tolerance,
        help="how far a key's time may trail S3's LastModified (the job's timeout plus a "
        f"margin; {tolerance:g})",
    )


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
        jobs=args.jobs,
        sslmode=args.sslmode,
        ca_bundle=args.ca_bundle,
        region=args.region,
        endpoint_url=args.endpoint_url,
        pg_bin_dir=args.pg_bin_dir,
        work_dir=args.work_dir,
        target_db_instance_id=args.target_db_instance_id,
        stall_seconds=args.stall_timeout_seconds,
        upload_tolerance=timedelta(minutes=args.upload_tolerance_minutes),
    )
    report = run_drill(config)
    print("\n".join(report.lines()), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
