"""PostgreSQL client side of the backup tools: credentials, libpq environment, pg_dump,
pg_restore (table of contents, row counts read from an archive, restore) and psql.

Everything connection-related reaches the client programs through libpq environment
variables of the child alone (the password in PGPASSWORD, which libpq reads), never through
the command line or a file, so no password shows up in `ps`, in CodeBuild's command echo, in
an error message or on disk. Every child runs under `ops.runctl` (watchdog, always stopped).
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ops import runctl
from ops.awsenv import OpsError

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Modes that may fall back to clear text: only for a server on this machine.
WEAK_SSLMODES = ("disable", "allow", "prefer")
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


_HOST_PORT = re.compile(r"^(?P<host>[^:\[\]/]+):(?P<port>\d+)$")


def split_host_port(host: str, port: int | str | None, option: str) -> tuple[str, int | str | None]:
    """Accept `host:port` as the stack output `databaseEndpoint` gives it (RDS's `endpoint`
    attribute), alongside a separate port; the two must agree when both are given."""
    match = _HOST_PORT.match(host)
    if not match:
        return host, port
    given = int(match.group("port"))
    if port not in (None, "") and str(port) != str(given):
        raise OpsError(f"{option} {host} names port {given}, but the port option says {port}")
    return match.group("host"), given


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
    host, port = split_host_port(host, port, option)
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


# The connection options the ops tools share, each with the environment variable it falls
# back to, defined once here (the buildspecs pass configuration as plain environment). Each
# tool keeps its own help wording; a tool whose target is not the backed-up database (the
# restore drill) takes the flags without the fallbacks.
CONNECTION_ENV = {
    "--secret-arn": "DB_SECRET_ARN",
    "--iam-auth-user": "DB_IAM_USER",
    "--host": "DB_HOST",
    "--port": "DB_PORT",
    "--ca-bundle": "DB_CA_BUNDLE",
    "--sslmode": "DB_SSLMODE",
    "--pg-bin-dir": "PG_BIN_DIR",
}


def add_connection_option(
    parser: argparse.ArgumentParser,
    flag: str,
    help_text: str | None = None,
    *,
    from_env: bool = True,
    fallback: str | None = None,
) -> None:
    """Add `flag` (a key of CONNECTION_ENV), defaulting to its environment variable (then
    `fallback`) when `from_env`; `--sslmode` accepts only libpq's modes."""
    if flag not in CONNECTION_ENV:
        raise ValueError(f"{flag} is not a shared connection option ({', '.join(CONNECTION_ENV)})")
    default = os.environ.get(CONNECTION_ENV[flag], fallback) if from_env else fallback
    choices = SSLMODES if flag == "--sslmode" else None
    parser.add_argument(flag, default=default, choices=choices, help=help_text)


def add_stall_option(
    parser: argparse.ArgumentParser, help_text: str, default: float | None
) -> None:
    """--stall-timeout-seconds: how long a client program may go without progress (runctl)."""
    parser.add_argument("--stall-timeout-seconds", type=float, default=default, help=help_text)


def add_aws_options(parser: argparse.ArgumentParser, region_help: str, endpoint_help: str) -> None:
    """--region and --endpoint-url. No default here: ops.awsenv falls back to AWS_REGION,
    AWS_DEFAULT_REGION and AWS_ENDPOINT_URL when a client is made."""
    parser.add_argument("--region", default=None, help=region_help)
    parser.add_argument("--endpoint-url", default=None, help=endpoint_help)


def libpq_env(
    endpoint: Endpoint, creds: DbCredentials, dbname: str, *, app: str = "groundwork-ops"
) -> dict[str, str]:
    """Environment for a libpq client: the connection via PG* variables, the password in
    PGPASSWORD of the child's environment only (never written to disk, never on a command
    line).

    Inherited PG* variables are dropped so an operator's PGPASSWORD, PGSERVICE or PGSSLMODE
    cannot silently change where or how the tools connect.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGHOST=endpoint.host,
        PGPORT=str(endpoint.port),
        PGDATABASE=dbname,
        PGUSER=creds.username,
        PGPASSWORD=creds.password,
        PGSSLMODE=endpoint.sslmode,
        PGCONNECT_TIMEOUT="20",
        PGAPPNAME=app,
    )
    if endpoint.sslrootcert:
        env["PGSSLROOTCERT"] = endpoint.sslrootcert
    return env


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


def summarize(stderr: str, limit: int = 500) -> str:
    """One line from a client program's stderr: its error lines with their detail and hint
    lines (a version mismatch names both versions in `detail:`), else its last lines."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    marks = ("error", "fatal", "detail:", "hint:", "panic")
    errors = [line for line in lines if any(mark in line.lower() for mark in marks)]
    text = " | ".join(errors or lines[-3:])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def failure(program: str, done: runctl.Finished, stall_seconds: float) -> str:
    """Why a client program failed, in one line: a stall, a crash (signal) or its errors."""
    if done.stalled:
        return (
            f"{program} made no progress for {stall_seconds:g}s (database or network stalled); "
            "stopped it"
        )
    said = summarize(done.stderr)
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return f"{program} crashed (killed by {name})" + (f": {said}" if said else "")
    return f"{program} exited {done.returncode}: {said or '(no message on stderr)'}"


def major(version: str) -> int:
    """The major version of `16.6`, `9.6.24` (9), `18beta1`."""
    match = re.match(r"(\d+)", version)
    if not match:
        raise OpsError(f"cannot read a PostgreSQL version from {version!r}")
    return int(match.group(1))


def dump_database(
    tools: PgTools, env: Mapping[str, str], out_path: Path, stall_seconds: float
) -> int:
    """Run `pg_dump -Fc` for env's PGDATABASE into out_path (written by pg_dump itself, so
    the archive carries data offsets); returns its size. The watchdog ends a stalled dump."""
    command = [
        tools.path("pg_dump"),
        "--format=custom",
        "--no-password",
        # Wait at most five minutes for a table lock rather than hang the job.
        "--lock-wait-timeout=300000",
        f"--file={out_path}",
    ]
    done = runctl.run(command, env=env, stall_seconds=stall_seconds, watch=out_path)
    if done.returncode != 0:
        raise OpsError(failure("pg_dump", done, stall_seconds))
    return out_path.stat().st_size


def sha256_file(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.digest()


@dataclass(frozen=True)
class TocEntry:
    dump_id: int
    text: str  # "<type> <schema> <name> <owner>" as pg_restore --list prints it

    @property
    def is_table_data(self) -> bool:
        return self.text.startswith("TABLE DATA ")

    @property
    def is_table(self) -> bool:
        # `TABLE ATTACH` (a partition attached to its parent) is not a table of its own.
        return self.text.startswith("TABLE ") and not self.text.startswith(
            ("TABLE DATA ", "TABLE ATTACH ")
        )


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

    def problem(self, expected_db: str) -> str | None:
        """Why this is not a custom-format archive of expected_db, or None."""
        fmt, dbname = self.header.get("Format"), self.dbname
        if fmt != "CUSTOM" or dbname != expected_db:
            return f"archive is format {fmt} of database {dbname}; expected CUSTOM of {expected_db}"
        return None


_TOC_ENTRY = re.compile(r"^(\d+); \d+ \d+ (.+)$")
_TOC_HEADER = re.compile(r"^;\s+([A-Za-z][A-Za-z_ ]*?):\s*(.*)$")


def list_toc(tools: PgTools, dump_path: Path, stall_seconds: float = 60.0) -> Toc:
    """Read the archive's header and table of contents; a damaged header fails here. An
    archive of an empty database has a header and no entries, and is valid."""
    lines: list[str] = []
    done = runctl.run(
        [tools.path("pg_restore"), "--list", str(dump_path)],
        stall_seconds=stall_seconds,
        on_stdout=lambda out: lines.extend(out.read().decode("utf-8", "replace").splitlines()),
    )
    if done.returncode != 0:
        raise OpsError(f"pg_restore --list failed: {failure('pg_restore', done, stall_seconds)}")
    header: dict[str, str] = {}
    entries: list[TocEntry] = []
    for line in lines:
        if entry := _TOC_ENTRY.match(line):
            entries.append(TocEntry(int(entry.group(1)), entry.group(2)))
        elif head := _TOC_HEADER.match(line):
            header[head.group(1)] = head.group(2).strip()
    if "dbname" not in header or "Format" not in header:
        raise OpsError("pg_restore --list printed no archive header (not a pg_dump archive?)")
    return Toc(header, entries)


def archive_row_counts(
    tools: PgTools, dump_path: Path, stall_seconds: float = runctl.DEFAULT_STALL_SECONDS
) -> dict[str, int]:
    """Row count per table as stored in the archive, read by decoding every data block.

    pg_restore writes each table's data as a COPY block (one line per row; line breaks
    inside values are escaped), so counting lines is an exact row count, and decoding every
    block also proves the whole archive is there and decompresses. Keys are the qualified
    names as SQL.
    """
    counts: dict[str, int] = {}
    state: dict[str, str | None] = {"current": None}

    def consume(stream: Any) -> None:
        current: str | None = None
        for raw in stream:
            line = raw.rstrip(b"\n")
            if current is not None:
                if line == b"\\.":
                    current = None
                else:
                    counts[current] += 1
            elif line.startswith(b"COPY "):
                match = _COPY_LINE.match(line.decode("utf-8", "replace"))
                if match:
                    table: str = match.group(1)  # the pattern's group always takes part
                    current = table
                    counts.setdefault(table, 0)
        state["current"] = current

    done = runctl.run(
        [tools.path("pg_restore"), "--data-only", "--file=-", str(dump_path)],
        stall_seconds=stall_seconds,
        on_stdout=consume,
    )
    if done.returncode != 0:
        raise OpsError(
            "pg_restore could not read the archive's data: "
            + failure("pg_restore", done, stall_seconds)
        )
    if state["current"] is not None:
        raise OpsError(f"archive data ends inside the COPY block of {state['current']}")
    return counts


def run_psql(
    tools: PgTools,
    env: Mapping[str, str],
    sql: str,
    dbname: str,
    stall_seconds: float = runctl.PSQL_STALL_SECONDS,
) -> list[str]:
    """Run SQL (stopping at the first error) in dbname; returns unaligned result lines."""
    out: list[str] = []
    done = runctl.run(
        [tools.path("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "--no-password"],
        env={**env, "PGDATABASE": dbname},
        stall_seconds=stall_seconds,
        stdin_text=sql,
        on_stdout=lambda stream: out.extend(stream.read().decode("utf-8", "replace").splitlines()),
    )
    if done.returncode != 0:
        raise OpsError(f"psql in database {dbname} failed: {failure('psql', done, stall_seconds)}")
    return [line for line in out if line != ""]


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


def restore_archive(
    tools: PgTools,
    env: Mapping[str, str],
    dump_path: Path,
    dbname: str,
    *,
    jobs: int = 1,
    stall_seconds: float = runctl.DEFAULT_STALL_SECONDS,
) -> None:
    """Restore into an existing, empty database. One job: a single transaction (all or
    nothing). Several jobs (`pg_restore --jobs` cannot be combined with
    `--single-transaction`): the caller drops the database on any failure instead.

    Ownership and grants are left out: the roles of the source server need not exist on the
    drill's target, and the drill proves the data, not the role setup.
    """
    check_db_name(dbname, "restore database")
    mode = ["--single-transaction"] if jobs == 1 else [f"--jobs={jobs}"]
    command = [
        tools.path("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        *mode,
        "--no-password",
        f"--dbname={dbname}",
        str(dump_path),
    ]
    done = runctl.run(command, env=env, stall_seconds=stall_seconds)
    if done.returncode != 0:
        raise OpsError(
            f"pg_restore into {dbname} failed: {failure('pg_restore', done, stall_seconds)}"
        )


def table_row_counts(
    tools: PgTools, env: Mapping[str, str], dbname: str, tables: list[str]
) -> dict[str, int]:
    """count(*) of each table itself (ONLY: inheritance children are counted on their own,
    as their rows sit in their own COPY block)."""
    if not tables:
        return {}
    sql = "".join(f"SELECT count(*) FROM ONLY {table};\n" for table in tables)
    rows = run_psql(tools, env, sql, dbname, runctl.DEFAULT_STALL_SECONDS)
    if len(rows) != len(tables):
        raise OpsError(f"expected {len(tables)} counts from {dbname}, got {len(rows)}")
    return {table: int(row) for table, row in zip(tables, rows, strict=True)}
