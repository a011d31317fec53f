"""PostgreSQL client side of the backup tools: credentials, libpq environment, pg_dump,
pg_restore (table of contents, row counts read from an archive, restore) and psql.

Everything connection-related reaches the client programs through libpq environment
variables and a private 0600 password file, never through the command line, so no password
shows up in `ps`, in CodeBuild's command echo or in an error message.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ops.awsenv import OpsError

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Modes that may fall back to clear text: only for a server on this machine.
WEAK_SSLMODES = ("disable", "allow", "prefer")
DUMP_MAGIC = b"PGDMP"
CHUNK = 1024 * 1024
# The scratch/target database names the tools create or drop: plain lower-case identifiers,
# so they never need quoting tricks and cannot smuggle SQL.
SAFE_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# `COPY <qualified name> (<columns>) FROM stdin;` as pg_restore writes it. The pattern
# admits only identifiers (quoted or plain), so the captured name is safe to reuse as SQL.
_IDENT = r'(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*)'
_COPY_LINE = re.compile(rf"^COPY ({_IDENT}(?:\.{_IDENT})?) (?:\(.*\) )?FROM stdin;$")


@dataclass(frozen=True)
class DbCredentials:
    """The login from an RDS-managed master-user secret (password never printed)."""

    username: str
    password: str = field(repr=False)


def read_credentials(secrets: Any, secret_arn: str) -> DbCredentials:
    """Read `username`/`password` from a Secrets Manager secret (the RDS-managed JSON shape)."""
    try:
        response = secrets.get_secret_value(SecretId=secret_arn)
    except ClientError as err:
        error = err.response.get("Error", {})
        raise OpsError(
            f"cannot read secret {secret_arn}: {error.get('Code')}: {error.get('Message')}"
        ) from None
    except BotoCoreError as err:
        raise OpsError(f"cannot read secret {secret_arn}: {err}") from None
    raw = response.get("SecretString")
    if raw is None:
        raise OpsError(
            f"secret {secret_arn} has no SecretString (binary secrets are not supported)"
        )
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise OpsError(
            f"secret {secret_arn} is not JSON; expected the RDS-managed shape "
            '{"username": ..., "password": ...}'
        ) from None
    if not isinstance(value, dict):
        raise OpsError(f"secret {secret_arn} is not a JSON object with username and password")
    missing = [k for k in ("username", "password") if not isinstance(value.get(k), str)]
    if missing:
        raise OpsError(
            f"secret {secret_arn} lacks string key(s) {', '.join(missing)}; expected the "
            'RDS-managed shape {"username": ..., "password": ...}'
        )
    if not value["username"] or "\n" in value["password"] or "\n" in value["username"]:
        raise OpsError(f"secret {secret_arn} has an empty username or a line break in a value")
    return DbCredentials(value["username"], value["password"])


def is_local_host(host: str) -> bool:
    """True for a loopback address, `localhost` or a Unix-socket directory."""
    if host.startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Endpoint:
    """Where a server is and how to reach it safely."""

    host: str
    port: int
    sslmode: str
    sslrootcert: str | None = None

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def make_endpoint(
    host: str | None,
    port: int | str | None,
    sslmode: str | None = None,
    ca_bundle: str | None = None,
    *,
    option: str = "--host",
) -> Endpoint:
    """Validate connection settings; TLS is required unless the server is on this machine.

    Without a CA bundle the default is `require` (encrypted, server not authenticated); with
    one it is `verify-full` (the RDS CA bundle and the instance's endpoint name).
    """
    if not host:
        raise OpsError(f"{option} is required (the database server's host name)")
    try:
        port_number = int(port if port is not None else 5432)
    except ValueError:
        raise OpsError(f"port must be an integer 1-65535 (got {port!r})") from None
    if not 1 <= port_number <= 65535:
        raise OpsError(f"port must be an integer 1-65535 (got {port_number})")
    mode = sslmode or ("verify-full" if ca_bundle else "require")
    if mode not in SSLMODES:
        raise OpsError(f"sslmode must be one of {', '.join(SSLMODES)} (got {mode!r})")
    if mode in WEAK_SSLMODES and not is_local_host(host):
        raise OpsError(
            f"sslmode {mode!r} is only allowed for a local server; {host} needs require, "
            "verify-ca or verify-full"
        )
    if mode in ("verify-ca", "verify-full") and not ca_bundle:
        raise OpsError(f"sslmode {mode!r} needs a CA bundle (--ca-bundle, e.g. the RDS bundle)")
    if ca_bundle and not Path(ca_bundle).is_file():
        raise OpsError(f"CA bundle {ca_bundle} does not exist or is not a file")
    return Endpoint(host, port_number, mode, ca_bundle)


def _passfile_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


@contextlib.contextmanager
def libpq_env(
    endpoint: Endpoint, creds: DbCredentials, dbname: str, *, app: str = "groundwork-ops"
) -> Iterator[dict[str, str]]:
    """Environment for a libpq client: connection via PG* variables, password via a private
    0600 passfile that is removed afterwards.

    Inherited PG* variables are dropped so an operator's PGPASSWORD, PGSERVICE or PGSSLMODE
    cannot silently change where or how the tools connect.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    workdir = tempfile.mkdtemp(prefix="ops-pg-")  # mkdtemp makes it 0700
    passfile = os.path.join(workdir, "pgpass")
    try:
        fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(
                f"{_passfile_escape(endpoint.host)}:{endpoint.port}:*:"
                f"{_passfile_escape(creds.username)}:{_passfile_escape(creds.password)}\n"
            )
        env.update(
            PGHOST=endpoint.host,
            PGPORT=str(endpoint.port),
            PGDATABASE=dbname,
            PGUSER=creds.username,
            PGPASSFILE=passfile,
            PGSSLMODE=endpoint.sslmode,
            PGCONNECT_TIMEOUT="20",
            PGAPPNAME=app,
        )
        if endpoint.sslrootcert:
            env["PGSSLROOTCERT"] = endpoint.sslrootcert
        yield env
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class PgTools:
    """Locates the PostgreSQL client programs: --pg-bin-dir / PG_BIN_DIR, else PATH."""

    bin_dir: str | None = None

    def path(self, name: str) -> str:
        if self.bin_dir:
            candidate = Path(self.bin_dir) / name
            if not os.access(candidate, os.X_OK):
                raise OpsError(f"{name} not found or not executable in {self.bin_dir}")
            return str(candidate)
        found = shutil.which(name)
        if not found:
            raise OpsError(
                f"{name} not found on PATH; install the PostgreSQL client matching the server "
                "(Amazon Linux 2023: dnf install -y postgresql16) or pass --pg-bin-dir"
            )
        return found

    def version(self, name: str = "pg_dump") -> str:
        """The program's version string, e.g. `16.6`."""
        out = subprocess.run(
            [self.path(name), "--version"], capture_output=True, text=True, check=False
        )
        match = re.search(r"(\d+(?:\.\d+)*)", out.stdout)
        if out.returncode != 0 or not match:
            raise OpsError(f"{name} --version failed: {summarize(out.stderr or out.stdout)}")
        return match.group(1)


def summarize(stderr: str, limit: int = 400) -> str:
    """One line from a client program's stderr: its error lines, else its last lines."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    text = " | ".join(errors or lines[-3:]) or "(no output)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class DumpFile:
    path: Path
    size: int
    sha256: bytes  # raw digest

    @property
    def sha256_hex(self) -> str:
        return self.sha256.hex()


def dump_database(tools: PgTools, env: Mapping[str, str], out_path: Path) -> DumpFile:
    """Run `pg_dump -Fc` for env's PGDATABASE, streaming its output into out_path while
    hashing it, so the checksum is of exactly the bytes that will be uploaded."""
    command = [
        tools.path("pg_dump"),
        "--format=custom",
        "--no-password",
        # Wait at most five minutes for a table lock rather than hang the job.
        "--lock-wait-timeout=300000",
    ]
    digest = hashlib.sha256()
    size = 0
    with tempfile.TemporaryFile() as errors, open(out_path, "wb") as out:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=dict(env))
        assert process.stdout is not None
        while chunk := process.stdout.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        returncode = process.wait()
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace")
    if returncode != 0:
        raise OpsError(f"pg_dump exited {returncode}: {summarize(stderr)}")
    with open(out_path, "rb") as check:
        if check.read(len(DUMP_MAGIC)) != DUMP_MAGIC:
            raise OpsError("pg_dump output is not a custom-format archive (no PGDMP header)")
    return DumpFile(out_path, size, digest.digest())


@dataclass(frozen=True)
class TocEntry:
    dump_id: int
    text: str  # "<type> <schema> <name> <owner>" as pg_restore --list prints it

    @property
    def is_table_data(self) -> bool:
        return self.text.startswith("TABLE DATA ")

    @property
    def is_table(self) -> bool:
        return self.text.startswith("TABLE ") and not self.is_table_data


@dataclass(frozen=True)
class Toc:
    """A custom-format archive's table of contents (`pg_restore --list`)."""

    header: dict[str, str]
    entries: list[TocEntry]

    @property
    def dbname(self) -> str | None:
        return self.header.get("dbname")

    @property
    def tables(self) -> int:
        return sum(1 for e in self.entries if e.is_table)

    @property
    def table_data(self) -> int:
        return sum(1 for e in self.entries if e.is_table_data)


_TOC_ENTRY = re.compile(r"^(\d+); \d+ \d+ (.+)$")
_TOC_HEADER = re.compile(r"^;\s+([A-Za-z][A-Za-z_ ]*?):\s*(.*)$")


def list_toc(tools: PgTools, dump_path: Path) -> Toc:
    """Read the archive's table of contents; a damaged header fails here."""
    result = subprocess.run(
        [tools.path("pg_restore"), "--list", str(dump_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise OpsError(f"pg_restore --list failed: {summarize(result.stderr)}")
    header: dict[str, str] = {}
    entries: list[TocEntry] = []
    for line in result.stdout.splitlines():
        if entry := _TOC_ENTRY.match(line):
            entries.append(TocEntry(int(entry.group(1)), entry.group(2)))
        elif head := _TOC_HEADER.match(line):
            header[head.group(1)] = head.group(2).strip()
    if not entries:
        raise OpsError("pg_restore --list found no entries in the archive")
    return Toc(header, entries)


def archive_row_counts(tools: PgTools, dump_path: Path) -> dict[str, int]:
    """Row count per table as stored in the archive, read by decoding every data block.

    pg_restore writes each table's data as a COPY block (one line per row; line breaks
    inside values are escaped), so counting lines is an exact row count, and decoding every
    block also proves the whole archive decompresses. Keys are the qualified names as SQL.
    """
    counts: dict[str, int] = {}
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [tools.path("pg_restore"), "--data-only", "--file=-", str(dump_path)],
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert process.stdout is not None
        current: str | None = None
        for raw in process.stdout:
            line = raw.rstrip(b"\n")
            if current is not None:
                if line == b"\\.":
                    current = None
                else:
                    counts[current] += 1
            elif line.startswith(b"COPY "):
                match = _COPY_LINE.match(line.decode("utf-8", "replace"))
                if match:
                    current = match.group(1)
                    counts.setdefault(current, 0)
        returncode = process.wait()
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace")
    if returncode != 0:
        raise OpsError(f"pg_restore could not read the archive's data: {summarize(stderr)}")
    if current is not None:
        raise OpsError(f"archive data ends inside the COPY block of {current}")
    return counts


def run_psql(tools: PgTools, env: Mapping[str, str], sql: str, dbname: str) -> list[str]:
    """Run SQL (stopping at the first error) in dbname; returns unaligned result lines."""
    result = subprocess.run(
        [tools.path("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "--no-password"],
        input=sql,
        capture_output=True,
        text=True,
        env={**env, "PGDATABASE": dbname},
        check=False,
    )
    if result.returncode != 0:
        raise OpsError(f"psql in database {dbname} failed: {summarize(result.stderr)}")
    return [line for line in result.stdout.splitlines() if line != ""]


def check_db_name(name: str, option: str) -> str:
    if not SAFE_DB_NAME.match(name):
        raise OpsError(
            f"{option} must be a lower-case identifier matching {SAFE_DB_NAME.pattern} "
            f"(got {name!r})"
        )
    return name


def database_exists(tools: PgTools, env: Mapping[str, str], name: str, maintenance_db: str) -> bool:
    check_db_name(name, "database name")
    rows = run_psql(
        tools, env, f"SELECT count(*) FROM pg_database WHERE datname = '{name}';", maintenance_db
    )
    return rows == ["1"]


def restore_archive(tools: PgTools, env: Mapping[str, str], dump_path: Path, dbname: str) -> None:
    """Restore into an existing, empty database in one transaction (all or nothing).

    Ownership and grants are left out: the roles of the source server need not exist on the
    drill's target, and the drill proves the data, not the role setup.
    """
    check_db_name(dbname, "restore database")
    result = subprocess.run(
        [
            tools.path("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--no-password",
            f"--dbname={dbname}",
            str(dump_path),
        ],
        capture_output=True,
        text=True,
        env=dict(env),
        check=False,
    )
    if result.returncode != 0:
        raise OpsError(f"pg_restore into {dbname} failed: {summarize(result.stderr)}")


def table_row_counts(
    tools: PgTools, env: Mapping[str, str], dbname: str, tables: list[str]
) -> dict[str, int]:
    """count(*) of each table itself (ONLY: inheritance children are counted on their own,
    as their rows sit in their own COPY block)."""
    if not tables:
        return {}
    sql = "".join(f"SELECT count(*) FROM ONLY {table};\n" for table in tables)
    rows = run_psql(tools, env, sql, dbname)
    if len(rows) != len(tables):
        raise OpsError(f"expected {len(tables)} counts from {dbname}, got {len(rows)}")
    return {table: int(row) for table, row in zip(tables, rows, strict=True)}
