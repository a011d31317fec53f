"""The scheduled logical backup: pg_dump -Fc of one database into the object-locked vault.

Runs inside the backup job (CodeBuild in the VPC, started by EventBridge Scheduler) as
`python -m ops.backup`; every option also has an environment variable so the buildspec can
pass configuration as plain environment. Steps:

1. check the vault's default object lock (before dumping: no unlocked backup is ever made);
2. log in: an IAM database authentication token for `--iam-auth-user` (the read-only
   backup role; the job never holds the master secret), else the RDS-managed secret;
3. `pg_dump --format=custom` over TLS into a private temp directory, under the no-progress
   watchdog (`--stall-timeout-seconds`);
4. prove the dump before it counts: `pg_restore --list` reads its header and table of
   contents, which must name the database (zero tables is valid);
5. only then hash it and upload to `postgres/<db>/<UTC timestamp>.dump` with SSE-KMS under
   the given key, the SHA-256 as S3 checksum (S3 rejects a body that does not match) and as
   metadata `sha256`, and If-None-Match so an existing key is never replaced;
6. read the stored version back: size, checksum, encryption, and a retain-until date in the
   future from the vault's default object lock.

Prints one line (`OK ...` or `FAIL ...`) and exits 0 or 1, also on SIGTERM/SIGINT (pg_dump
stopped, the local dump removed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from ops import awsenv, pg, runctl, vault
from ops.awsenv import OpsError


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BackupConfig:
    secret_arn: str | None
    host: str
    db_name: str
    bucket: str
    kms_key_id: str
    port: int | str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    sslmode: str | None = None
    ca_bundle: str | None = None
    pg_bin_dir: str | None = None
    work_dir: str | None = None
    multipart_threshold: int = vault.MULTIPART_THRESHOLD
    part_size: int = vault.PART_SIZE
    iam_auth_user: str | None = None
    stall_seconds: float = runctl.DEFAULT_STALL_SECONDS
    clock: Callable[[], datetime] = field(default=utcnow, repr=False)
    auth_token: Callable[[BackupConfig, pg.Endpoint], str] = field(
        default=lambda config, endpoint: rds_auth_token(config, endpoint), repr=False
    )


@dataclass(frozen=True)
class BackupResult:
    bucket: str
    key: str
    version_id: str | None
    size: int
    sha256_hex: str
    parts: int
    lock_mode: str
    retain_until: datetime
    seconds: float

    def line(self) -> str:
        return (
            f"OK backup s3://{self.bucket}/{self.key} version={self.version_id} "
            f"size={self.size} bytes parts={self.parts} sha256={self.sha256_hex} "
            f"lock={self.lock_mode} until {self.retain_until.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} "
            f"in {self.seconds:.1f}s"
        )


def _credentials(config: BackupConfig, endpoint: pg.Endpoint) -> pg.DbCredentials:
    """The login: an IAM authentication token for --iam-auth-user, else the secret's."""
    if config.iam_auth_user and config.secret_arn:
        raise OpsError("give either --iam-auth-user or --secret-arn, not both")
    if config.iam_auth_user:
        if endpoint.sslmode in pg.WEAK_SSLMODES and not pg.is_local_host(endpoint.host):
            raise OpsError("IAM database authentication needs TLS (sslmode require or stronger)")
        return pg.DbCredentials(config.iam_auth_user, config.auth_token(config, endpoint))
    if not config.secret_arn:
        raise OpsError("a login is required: --iam-auth-user (DB_IAM_USER) or --secret-arn")
    secrets = awsenv.client("secretsmanager", config.region, config.endpoint_url)
    return pg.read_credentials(secrets, config.secret_arn)


def rds_auth_token(config: BackupConfig, endpoint: pg.Endpoint) -> str:
    """A 15-minute IAM database authentication token, signed locally with the job's role
    credentials (needs rds-db:connect on the user); libpq sends it as the password.
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html
    """
    rds = awsenv.client("rds", config.region, config.endpoint_url)
    return rds.generate_db_auth_token(
        DBHostname=endpoint.host,
        Port=endpoint.port,
        DBUsername=config.iam_auth_user,
        Region=awsenv.resolve_region(config.region),
    )


def check_vault_lock(s3: Any, bucket: str) -> vault.LockRule:
    """Before dumping: a vault without a default lock would receive an unlocked backup."""
    enabled, rule = vault.default_lock(s3, bucket)
    if not enabled or rule is None:
        raise OpsError(
            f"vault {bucket} has no default object-lock retention, so a backup would not be "
            "immutable; nothing was dumped"
        )
    return rule


def _dump_proven(
    tools: pg.PgTools, env: dict[str, str], path: Path, db: str, stall_seconds: float
) -> tuple[int, pg.Toc]:
    """pg_dump into `path`; its size and table of contents, once pg_restore has read them."""
    size = pg.dump_database(tools, env, path, stall_seconds)
    # Proven readable, and of the right database, before it gets a checksum: a dump
    # pg_restore cannot read must never become the newest "backup".
    toc = pg.list_toc(tools, path, stall_seconds)
    if problem := toc.problem(db):
        raise OpsError(f"pg_dump output is not a usable backup: {problem}")
    return size, toc


def _metadata(
    db: str, dumped_at: datetime, pg_dump_version: str, toc: pg.Toc, sha256_hex: str
) -> dict[str, str]:
    """The object metadata a backup carries (what verification and the drill read back)."""
    return {
        "sha256": sha256_hex,
        "database": db,
        "dumped-at": dumped_at.strftime(vault.TIMESTAMP_FORMAT),
        "pg-dump-version": pg_dump_version,
        "server-version": toc.header.get("Dumped from database version", "?"),
        "format": "custom",
        "toc-entries": str(len(toc.entries)),
        "tables": str(toc.tables),
    }


def run_backup(config: BackupConfig, log: Callable[[str], None] = lambda _: None) -> BackupResult:
    """Check, dump, validate, hash, upload and verify one backup; raises OpsError."""
    started = time.monotonic()
    db = vault.check_source_db(config.db_name)
    if not config.bucket:
        raise OpsError("--bucket (BACKUP_BUCKET) is required")
    if not config.kms_key_id:
        raise OpsError("--kms-key-id (BACKUP_KMS_KEY_ID) is required")
    endpoint = pg.make_endpoint(config.host, config.port, config.sslmode, config.ca_bundle)
    tools = pg.PgTools(config.pg_bin_dir)
    pg_dump_version = tools.version("pg_dump")
    s3 = awsenv.client("s3", config.region, config.endpoint_url)
    check_vault_lock(s3, config.bucket)
    creds = _credentials(config, endpoint)

    dumped_at = config.clock().replace(microsecond=0)
    key = vault.backup_key(db, dumped_at)
    workdir = runctl.private_dir("ops-backup-", config.work_dir)
    try:
        log(f"dumping {db} from {endpoint.label} (sslmode {endpoint.sslmode}, "
            f"pg_dump {pg_dump_version}, login {creds.username})")  # fmt: skip
        env = pg.libpq_env(endpoint, creds, db, app="groundwork-backup")
        path = workdir / "backup.dump"
        size, toc = _dump_proven(tools, env, path, db, config.stall_seconds)
        sha256 = pg.sha256_file(path)
        log(f"uploading {size} bytes to s3://{config.bucket}/{key}")
        metadata = _metadata(db, dumped_at, pg_dump_version, toc, sha256.hex())
        upload = vault.upload_file(
            s3,
            path,
            config.bucket,
            key,
            sha256=sha256,
            kms_key_id=config.kms_key_id,
            metadata=metadata,
            multipart_threshold=config.multipart_threshold,
            part_size=config.part_size,
        )
    finally:
        runctl.remove_dir(workdir)

    mode, until = verify_stored(s3, config, key, upload, size, sha256.hex())
    return BackupResult(
        config.bucket,
        key,
        upload.version_id,
        size,
        sha256.hex(),
        upload.parts,
        mode,
        until,
        time.monotonic() - started,
    )


def verify_stored(
    s3: Any,
    config: BackupConfig,
    key: str,
    upload: vault.Upload,
    size: int,
    sha256_hex: str,
) -> tuple[str, datetime]:
    """Check the stored version is the dump, encrypted with the key and locked."""
    where = f"s3://{config.bucket}/{key} version {upload.version_id}"
    head = vault.head_object(s3, config.bucket, key, upload.version_id)
    problems: list[str] = []
    if head.get("ContentLength") != size:
        problems.append(f"size {head.get('ContentLength')} != {size}")
    if head.get("Metadata", {}).get("sha256") != sha256_hex:
        problems.append("metadata sha256 differs from the dump's")
    # Multipart objects' composite checksum may come back with or without the "-<parts>"
    # suffix (base64 never contains "-"), so compare the digest part.
    if (head.get("ChecksumSHA256") or "").split("-")[0] != upload.s3_checksum.split("-")[0]:
        problems.append(
            f"S3 checksum {head.get('ChecksumSHA256')} != expected {upload.s3_checksum}"
        )
    if head.get("ServerSideEncryption") != "aws:kms":
        problems.append(f"encryption is {head.get('ServerSideEncryption')}, not aws:kms")
    elif vault.kms_key_matches(config.kms_key_id, head.get("SSEKMSKeyId")) is False:
        problems.append(f"encrypted with {head.get('SSEKMSKeyId')}, not {config.kms_key_id}")
    if problems:
        raise OpsError(f"uploaded {where} but it does not verify: {'; '.join(problems)}")

    enabled, rule = vault.default_lock(s3, config.bucket)
    if not enabled or rule is None:
        raise OpsError(
            f"uploaded {where} but vault {config.bucket} has no default object-lock retention, "
            "so the backup is not immutable"
        )
    retention = vault.retention_from_head(head)
    now = config.clock()
    if retention is None:
        raise OpsError(
            f"uploaded {where} but the version shows no retain-until date "
            "(or this role lacks s3:GetObjectRetention)"
        )
    mode, until = retention
    if until <= now:
        raise OpsError(
            f"uploaded {where} but its retain-until date {until:%Y-%m-%dT%H:%M:%SZ} has passed"
        )
    return mode, until


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise OpsError(f"{name} must be an integer (got {raw!r})") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.backup",
        description=(
            "Dump one PostgreSQL database with pg_dump -Fc and upload it to the object-locked "
            "backup vault as postgres/<db>/<UTC timestamp>.dump (SSE-KMS, SHA-256 checked by "
            "S3 and kept in metadata 'sha256'), then verify the stored, locked version. Every "
            "option defaults to the environment variable shown. Exit 0 on success, 1 on failure."
        ),
    )
    # The order of the options is the order of --help.
    _add_login_options(parser)
    _add_vault_options(parser)
    _add_transport_options(parser)
    _add_staging_options(parser)
    return parser


def _add_login_options(parser: argparse.ArgumentParser) -> None:
    connection = partial(pg.add_connection_option, parser)
    connection(
        "--secret-arn",
        "RDS-managed master-user secret (JSON username/password) [DB_SECRET_ARN]",
    )
    connection(
        "--iam-auth-user",
        "log in as this database user with an IAM authentication token (rds-db:connect) "
        "instead of a secret; needs TLS [DB_IAM_USER]",
    )
    connection(
        "--host",
        "database endpoint address, or host:port as the stack output gives it [DB_HOST]",
    )
    connection("--port", "database port [DB_PORT, 5432]")


def _add_vault_options(parser: argparse.ArgumentParser) -> None:
    """The dump's stall timeout, the database to dump and where it goes."""
    env = os.environ.get
    pg.add_stall_option(
        parser,
        "stop pg_dump after this long without progress "
        f"[BACKUP_STALL_SECONDS, {runctl.DEFAULT_STALL_SECONDS:g}]",
        default=None,
    )
    parser.add_argument("--db-name", default=env("DB_NAME"), help="database to dump [DB_NAME]")
    parser.add_argument(
        "--bucket", default=env("BACKUP_BUCKET"), help="backup vault bucket [BACKUP_BUCKET]"
    )
    parser.add_argument(
        "--kms-key-id",
        default=env("BACKUP_KMS_KEY_ID"),
        help="KMS key (ARN or id) for SSE-KMS [BACKUP_KMS_KEY_ID]",
    )


def _add_transport_options(parser: argparse.ArgumentParser) -> None:
    """TLS to the database, the AWS endpoint and the PostgreSQL client programs."""
    connection = partial(pg.add_connection_option, parser)
    connection(
        "--ca-bundle",
        "CA bundle (RDS) to verify the server; turns on sslmode verify-full [DB_CA_BUNDLE]",
    )
    connection(
        "--sslmode",
        "override libpq sslmode; disable/allow/prefer only for a local server [DB_SSLMODE]",
    )
    pg.add_aws_options(
        parser,
        region_help="AWS region [AWS_REGION, AWS_DEFAULT_REGION]",
        endpoint_help="AWS endpoint override, e.g. a test server [AWS_ENDPOINT_URL]",
    )
    connection("--pg-bin-dir", "directory with pg_dump (default: PATH) [PG_BIN_DIR]")


def _add_staging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--work-dir",
        default=os.environ.get("BACKUP_WORK_DIR"),
        help="where the dump is staged before upload (default: TMPDIR) [BACKUP_WORK_DIR]",
    )
    parser.add_argument(
        "--multipart-threshold-mb",
        type=int,
        default=None,
        help=f"upload in parts above this size [BACKUP_MULTIPART_THRESHOLD_MB, "
        f"{vault.MULTIPART_THRESHOLD // 2**20}]",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    db = args.db_name or "?"
    try:
        with runctl.signals_as_errors():
            result = run_backup(_config(args), _logger(args.verbose))
    except runctl.Interrupted as err:
        print(
            f"FAIL backup of {db}: {err}; stopped pg_dump and removed the local dump "
            "(an upload in progress was aborted, a finished one stays)"
        )
        return 1
    except OpsError as err:
        print(f"FAIL backup of {db}: {err}")
        return 1
    except OSError as err:
        print(f"FAIL backup of {db}: {err.strerror or err} ({err.filename or 'no file'})")
        return 1
    except Exception as err:  # the job's contract is one line, even for the unforeseen
        print(f"FAIL backup of {db}: unexpected {type(err).__name__}: {err}")
        return 1
    print(result.line())
    return 0


def _logger(verbose: bool) -> Callable[[str], None]:
    return (lambda text: print(text, file=sys.stderr)) if verbose else (lambda _: None)


def _config(args: argparse.Namespace) -> BackupConfig:
    threshold_mb = (
        args.multipart_threshold_mb
        if args.multipart_threshold_mb is not None
        else _env_int("BACKUP_MULTIPART_THRESHOLD_MB", vault.MULTIPART_THRESHOLD // 2**20)
    )
    if threshold_mb < 5:
        raise OpsError(f"multipart threshold must be >= 5 MB (got {threshold_mb})")
    stall = args.stall_timeout_seconds
    if stall is None:
        stall = _env_int("BACKUP_STALL_SECONDS", int(runctl.DEFAULT_STALL_SECONDS))
    if stall <= 0:
        raise OpsError(f"stall timeout must be > 0 seconds (got {stall})")
    missing = [
        flag
        for flag, value in (
            ("--secret-arn/DB_SECRET_ARN or --iam-auth-user/DB_IAM_USER",
             args.secret_arn or args.iam_auth_user),
            ("--host/DB_HOST", args.host),
            ("--db-name/DB_NAME", args.db_name),
            ("--bucket/BACKUP_BUCKET", args.bucket),
            ("--kms-key-id/BACKUP_KMS_KEY_ID", args.kms_key_id),
        )
        if not value
    ]  # fmt: skip
    if missing:
        raise OpsError(f"missing required setting(s): {', '.join(missing)}")
    return BackupConfig(
        secret_arn=args.secret_arn,
        iam_auth_user=args.iam_auth_user,
        host=args.host,
        port=args.port,
        db_name=args.db_name,
        bucket=args.bucket,
        kms_key_id=args.kms_key_id,
        region=args.region,
        endpoint_url=args.endpoint_url,
        sslmode=args.sslmode,
        ca_bundle=args.ca_bundle,
        pg_bin_dir=args.pg_bin_dir,
        work_dir=args.work_dir,
        multipart_threshold=threshold_mb * 2**20,
        stall_seconds=float(stall),
    )


if __name__ == "__main__":
    sys.exit(main())
