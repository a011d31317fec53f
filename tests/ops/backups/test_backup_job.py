"""The scheduled backup job (ops.backup) against moto over HTTP and a real PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from backup_testkit import Moto, PgServer, Source, backup_config, backup_env, stamp

from ops import backup, pg, restore_drill, vault, verify_backups
from ops.awsenv import OpsError

REPO = Path(__file__).resolve().parents[3]


def run_job(monkeypatch: pytest.MonkeyPatch, capsys, env: dict[str, str]) -> tuple[int, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = backup.main([])
    return code, capsys.readouterr().out.strip()


def test_backup_from_env_uploads_locked_checksummed_dump(
    moto: Moto, postgres: PgServer, source: Source, make_vault, monkeypatch, capsys
):
    vault_ = make_vault(mode="COMPLIANCE", days=30)
    before = datetime.now(UTC).replace(microsecond=0)
    code, out = run_job(monkeypatch, capsys, backup_env(source, postgres, vault_, moto))
    after = datetime.now(UTC)
    assert code == 0, f"backup into {vault_.bucket} failed: {out}"
    assert out.startswith("OK backup s3://") and "\n" not in out, f"not one OK line: {out}"

    s3 = moto.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=vault_.bucket).get("Contents", [])]
    assert len(keys) == 1, f"expected one object in {vault_.bucket}, got {keys}"
    key = keys[0]
    parsed = vault.parse_backup_key(key)
    assert parsed is not None and parsed[0] == "app", f"{key} is not postgres/app/<ts>.dump"
    assert before <= parsed[1] <= after, f"{key} timestamp not the run's UTC time"

    head = s3.head_object(Bucket=vault_.bucket, Key=key, ChecksumMode="ENABLED")
    body = s3.get_object(Bucket=vault_.bucket, Key=key)["Body"].read()
    digest = hashlib.sha256(body)
    assert body.startswith(b"PGDMP"), f"{key} is not a custom-format archive"
    assert head["Metadata"]["sha256"] == digest.hexdigest(), f"{key} metadata sha256 wrong"
    assert head["ChecksumSHA256"] == base64.b64encode(digest.digest()).decode(), (
        f"{key} has no S3 SHA-256 checksum of its content"
    )
    assert head["ServerSideEncryption"] == "aws:kms", f"{key} not SSE-KMS"
    assert head["SSEKMSKeyId"] == vault_.kms_key_arn, f"{key} encrypted with the wrong key"
    # moto does not serve GetObjectRetention; HeadObject carries the same lock fields.
    assert head["ObjectLockMode"] == "COMPLIANCE", f"{key} version not COMPLIANCE-locked"
    assert head["ObjectLockRetainUntilDate"] > after + timedelta(days=29), f"{key} lock too short"
    assert key in out and head["VersionId"] in out, f"report does not name {key}: {out}"


def test_backup_dump_holds_the_source_rows(
    moto: Moto, postgres: PgServer, source: Source, make_vault, tmp_path
):
    """The uploaded archive decodes to the source's exact row counts."""
    vault_ = make_vault()
    result = backup.run_backup(backup_config(source, postgres, vault_, moto))
    dump = tmp_path / "x.dump"
    dump.write_bytes(
        moto.client("s3").get_object(Bucket=vault_.bucket, Key=result.key)["Body"].read()
    )
    counts = pg.archive_row_counts(pg.PgTools(postgres.bin_dir), dump)
    expected = {
        "public.accounts": 500,
        "public.events": 3000,
        '"Reporting Data"."Daily Totals"': 200,
        "public.audit_log": 1,
        "public.audit_log_archive": 2,
        "public.empty_table": 0,
    }
    assert counts == expected, f"archive row counts of {result.key}: {counts}"


def test_backup_fails_when_vault_has_no_default_lock(
    moto: Moto, postgres: PgServer, source: Source, make_vault, monkeypatch, capsys
):
    vault_ = make_vault(lock=False)
    code, out = run_job(monkeypatch, capsys, backup_env(source, postgres, vault_, moto))
    assert code == 1, f"backup into unlocked {vault_.bucket} passed: {out}"
    assert out.startswith("FAIL backup of app:") and "no default object-lock retention" in out, out


def test_backup_never_replaces_an_existing_key(
    moto: Moto, postgres: PgServer, source: Source, make_vault
):
    vault_ = make_vault()
    fixed = datetime(2026, 11, 26, 10, 45, 15, tzinfo=UTC)
    cfg = backup_config(source, postgres, vault_, moto, clock=lambda: fixed)
    first = backup.run_backup(cfg)
    assert first.key == "postgres/app/20261126T104515Z.dump", first.key
    with pytest.raises(OpsError, match="exists already"):
        backup.run_backup(cfg)
    versions = moto.client("s3").list_object_versions(Bucket=vault_.bucket).get("Versions", [])
    assert len(versions) == 1, f"{first.key} got a second version: {versions}"


def test_wrong_password_fails_clearly_and_uploads_nothing(
    moto: Moto, postgres: PgServer, source: Source, make_vault, monkeypatch, capsys
):
    vault_ = make_vault()
    wrong = "not-the-password-4711"
    arn = moto.client("secretsmanager").create_secret(
        Name="wrong-login", SecretString=json.dumps({"username": "admin", "password": wrong})
    )["ARN"]
    env = backup_env(source, postgres, vault_, moto) | {"DB_SECRET_ARN": arn}
    code, out = run_job(monkeypatch, capsys, env)
    assert code == 1, f"backup with a wrong password passed: {out}"
    assert "password authentication failed" in out, out
    assert wrong not in out, "the report leaks the password"
    listed = moto.client("s3").list_objects_v2(Bucket=vault_.bucket).get("KeyCount")
    assert listed == 0, f"{vault_.bucket} got an object from a failed dump"


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("not json", "is not JSON"),
        (json.dumps({"username": "admin"}), "lacks string key(s) password"),
        (json.dumps(["admin", "pw"]), "not a JSON object"),
    ],
)
def test_bad_secret_shapes_are_named(moto: Moto, secret: str, message: str):
    client = moto.client("secretsmanager")
    arn = client.create_secret(Name=f"bad-{abs(hash(secret))}", SecretString=secret)["ARN"]
    with pytest.raises(OpsError) as err:
        pg.read_credentials(client, arn)
    assert message in str(err.value) and arn in str(err.value), str(err.value)


def test_rds_shaped_secret_is_read(moto: Moto, source: Source):
    creds = pg.read_credentials(moto.client("secretsmanager"), source.secret_arn)
    assert (creds.username, creds.password) == (source.username, source.password)
    assert source.password not in repr(creds), "credentials repr shows the password"


def test_missing_secret_is_named(moto: Moto):
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nope-AbCdEf"
    with pytest.raises(OpsError, match=r"cannot read secret .*nope-AbCdEf.*ResourceNotFound"):
        pg.read_credentials(moto.client("secretsmanager"), arn)


@pytest.fixture(scope="module")
def big_db(postgres: PgServer, source: Source) -> str:
    """A database whose dump (~7 MB of random bytes) needs two 5 MiB parts."""
    postgres.psql(f'CREATE DATABASE big OWNER "{source.username}";')
    postgres.psql(
        "CREATE TABLE blobs AS SELECT g AS id, "
        "decode(string_agg(md5(random()::text || g || i), ''), 'hex') AS data "
        "FROM generate_series(1, 6000) g, generate_series(1, 64) i GROUP BY g;",
        db="big",
        user=source.username,
        password=source.password,
    )
    return "big"


def test_large_dump_goes_up_in_checksummed_parts(
    moto: Moto, postgres: PgServer, source: Source, make_vault, big_db: str, tmp_path
):
    """Over the threshold the upload is multipart with a SHA-256 per part; the object's S3
    checksum is the composite one and the metadata keeps the whole-object SHA-256.

    This drives vault.upload_file rather than the whole job: moto does not apply a bucket's
    default object lock to multipart uploads (real S3 does), so the job's lock check would
    fail here for moto's sake, not the code's.
    """
    vault_ = make_vault()
    tools = pg.PgTools(postgres.bin_dir)
    endpoint = pg.make_endpoint(postgres.host, postgres.port, "disable")
    creds = pg.DbCredentials(source.username, source.password)
    env = pg.libpq_env(endpoint, creds, big_db)
    path = tmp_path / "big.dump"
    size = pg.dump_database(tools, env, path, stall_seconds=60)
    sha256 = pg.sha256_file(path)
    key = "postgres/big/20261126T104515Z.dump"
    upload = vault.upload_file(
        moto.client("s3"),
        path,
        vault_.bucket,
        key,
        sha256=sha256,
        kms_key_id=vault_.kms_key_arn,
        metadata={"sha256": sha256.hex()},
        multipart_threshold=5 * 2**20,
        part_size=5 * 2**20,
    )
    assert upload.parts == 2, f"{key} ({size} bytes) went up in {upload.parts} part(s)"
    s3 = moto.client("s3")
    body = s3.get_object(Bucket=vault_.bucket, Key=key)["Body"].read()
    assert body == path.read_bytes(), f"{key} content differs from the dump"
    assert hashlib.sha256(body).hexdigest() == sha256.hex(), f"{key} dump hash wrong"
    head = s3.head_object(Bucket=vault_.bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].split("-")[0] == composite(body, 5 * 2**20), (
        f"{key} S3 checksum is not the composite of its parts"
    )
    assert upload.s3_checksum == f"{composite(body, 5 * 2**20)}-2", upload.s3_checksum
    assert head["SSEKMSKeyId"] == vault_.kms_key_arn, f"{key} not under the vault key"
    uploads = s3.list_multipart_uploads(Bucket=vault_.bucket).get("Uploads", [])
    assert uploads == [], f"unfinished uploads left in {vault_.bucket}: {uploads}"


def composite(body: bytes, part: int) -> str:
    digests = b"".join(
        hashlib.sha256(body[i : i + part]).digest() for i in range(0, len(body), part)
    )
    return base64.b64encode(hashlib.sha256(digests).digest()).decode()


def test_backup_key_layout():
    when = datetime(2026, 11, 26, 10, 45, 15, tzinfo=UTC)
    assert vault.backup_key("app", when) == "postgres/app/20261126T104515Z.dump"
    assert stamp(when) == "20261126T104515Z"
    assert vault.parse_backup_key("postgres/app/20261126T104515Z.dump") == ("app", when)
    assert vault.parse_backup_key("postgres/app/20261126T104515Z.dump.tmp") is None
    assert vault.parse_backup_key("postgres/app/latest.dump") is None
    with pytest.raises(OpsError, match="timezone-aware"):
        vault.backup_key("app", datetime(2026, 11, 26))
    with pytest.raises(OpsError, match="database name must match"):
        vault.backup_key("../etc", when)


@pytest.mark.parametrize(
    ("host", "mode", "ca", "expected"),
    [
        ("db.abc.eu-west-1.rds.amazonaws.com", None, None, "require"),
        ("db.abc.eu-west-1.rds.amazonaws.com", None, "CA", "verify-full"),
        ("127.0.0.1", "disable", None, "disable"),
        ("localhost", "prefer", None, "prefer"),
    ],
)
def test_tls_defaults(host, mode, ca, expected, tmp_path):
    bundle = None
    if ca:
        bundle = tmp_path / "rds-ca.pem"
        bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    endpoint = pg.make_endpoint(host, "5432", mode, str(bundle) if bundle else None)
    assert endpoint.sslmode == expected, f"sslmode for {host} with ca={ca}"


@pytest.mark.parametrize(
    ("host", "port", "mode", "ca", "message"),
    [
        ("db.example.com", 5432, "disable", None, "only allowed for a local server"),
        ("10.0.3.7", 5432, "prefer", None, "only allowed for a local server"),
        ("db.example.com", 5432, "verify-full", None, "needs a CA bundle"),
        ("db.example.com", 5432, None, "/nonexistent/ca.pem", "does not exist"),
        ("db.example.com", 70000, None, None, "port must be an integer 1-65535"),
        ("db.example.com", "x", None, None, "port must be an integer 1-65535"),
        ("db.example.com", 5432, "sometimes", None, "sslmode must be one of"),
        ("", 5432, None, None, "--host is required"),
    ],
)
def test_unsafe_or_bad_connection_settings_are_refused(host, port, mode, ca, message):
    with pytest.raises(OpsError, match=message):
        pg.make_endpoint(host, port, mode, ca)


def test_password_travels_only_in_the_childs_environment(monkeypatch):
    """The password reaches libpq as PGPASSWORD of the child's environment: no passfile,
    nothing on disk, nothing inherited from the operator's shell."""
    monkeypatch.setenv("PGPASSWORD", "from-the-operator-shell")
    monkeypatch.setenv("PGSERVICE", "elsewhere")
    endpoint = pg.make_endpoint("127.0.0.1", 5432, "disable")
    creds = pg.DbCredentials("ad:min", r"pa:ss\word")
    env = pg.libpq_env(endpoint, creds, "app")
    assert env["PGPASSWORD"] == creds.password and env["PGUSER"] == "ad:min", "login not passed"
    assert "PGSERVICE" not in env and "PGPASSFILE" not in env, "inherited or file-based login"
    assert os.environ["PGPASSWORD"] == "from-the-operator-shell", "the tool's own env changed"


def test_host_port_as_the_stack_output_gives_it():
    endpoint = pg.make_endpoint("db.abc.eu-west-1.rds.amazonaws.com:5433", None)
    assert (endpoint.host, endpoint.port) == ("db.abc.eu-west-1.rds.amazonaws.com", 5433)
    same = pg.make_endpoint("db.abc.eu-west-1.rds.amazonaws.com:5433", "5433")
    assert same == endpoint, same
    with pytest.raises(OpsError, match="names port 5433, but the port option says 5432"):
        pg.make_endpoint("db.abc.eu-west-1.rds.amazonaws.com:5433", "5432")


def test_tls_settings_reach_libpq(tmp_path):
    """What the embedded server (built without TLS) cannot show: the CA bundle and
    verify-full are what libpq is told to use."""
    bundle = tmp_path / "rds-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    endpoint = pg.make_endpoint("db.abc.eu-west-1.rds.amazonaws.com", 5432, None, str(bundle))
    creds = pg.DbCredentials("admin", "pw")
    env = pg.libpq_env(endpoint, creds, "app")
    assert env["PGSSLMODE"] == "verify-full" and env["PGSSLROOTCERT"] == str(bundle), env
    assert env["PGHOST"] == "db.abc.eu-west-1.rds.amazonaws.com", env
    plain = pg.make_endpoint("db.abc.eu-west-1.rds.amazonaws.com", 5432)
    env = pg.libpq_env(plain, creds, "app")
    assert env["PGSSLMODE"] == "require" and "PGSSLROOTCERT" not in env, env


def test_missing_settings_are_listed(monkeypatch, capsys):
    code = backup.main(["--host", "db.example.com"])
    out = capsys.readouterr().out.strip()
    assert code == 1, out
    for name in ("DB_SECRET_ARN", "DB_NAME", "BACKUP_BUCKET", "BACKUP_KMS_KEY_ID"):
        assert name in out, f"{name} not reported missing: {out}"
    assert "DB_HOST" not in out, f"DB_HOST given but reported missing: {out}"


def test_missing_pg_dump_is_explained(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(OpsError, match="postgresql16"):
        pg.PgTools().path("pg_dump")


def test_cli_help_of_the_real_entry_point():
    """`python -m ops.backup --help` as the buildspec starts it: a real process, no PG env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DB_", "BACKUP_"))}
    result = subprocess.run(
        [sys.executable, "-m", "ops.backup", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert result.returncode == 0, f"ops.backup --help: {result.stderr}"
    assert "python -m ops.backup" in result.stdout, result.stdout


@pytest.mark.parametrize("tool", [backup, verify_backups, restore_drill], ids=lambda m: m.__name__)
def test_cli_help(tool, monkeypatch, capsys):
    """Every tool's --help, in-process (each tool's `__main__` also runs as a real process in
    the signal tests of test_faults.py)."""
    for name in list(os.environ):
        if name.startswith(("PG", "DB_", "BACKUP_")):
            monkeypatch.delenv(name)
    with pytest.raises(SystemExit) as exit_:
        tool.main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0, f"{tool.__name__} --help exited {exit_.value.code}"
    assert f"python -m {tool.__name__}" in out, out


def test_iam_auth_token_is_a_signed_connect_url(moto: Moto):
    """What libpq gets as the password for --iam-auth-user: RDS's presigned `connect` URL
    for exactly this host, port and user, signed locally (no call to AWS)."""
    endpoint = pg.make_endpoint("db.abc.eu-west-1.rds.amazonaws.com:5432", None)
    config = backup.BackupConfig(
        secret_arn=None, host=endpoint.host, db_name="app", bucket="b", kms_key_id="k",
        iam_auth_user="backup_reader", endpoint_url=moto.endpoint,
    )  # fmt: skip
    token = backup.rds_auth_token(config, endpoint)
    assert token.startswith(
        "db.abc.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=backup_reader&"
    ), token
    assert "X-Amz-Signature=" in token and "eu-west-1%2Frds-db%2Faws4_request" in token, token


def test_iam_auth_user_backs_up_without_the_master_secret(
    moto: Moto, postgres: PgServer, source: Source, make_vault, monkeypatch, capsys
):
    """The token reaches libpq as the password of the read-only role; no secret is read."""
    token = "iam-token-" + "x" * 700  # RDS tokens are long; the plumbing must carry them
    roles = postgres.psql("SELECT rolname FROM pg_roles;").split()
    if "backup_reader" not in roles:
        postgres.psql(f"CREATE ROLE backup_reader LOGIN PASSWORD '{token}';")
        postgres.psql("GRANT pg_read_all_data TO backup_reader;")
    vault_ = make_vault()
    seen: list[tuple[str, str, int]] = []

    def fake_token(config: backup.BackupConfig, endpoint: pg.Endpoint) -> str:
        seen.append((config.iam_auth_user or "", endpoint.host, endpoint.port))
        return token

    config = backup_config(
        source, postgres, vault_, moto, secret_arn=None, iam_auth_user="backup_reader",
        auth_token=fake_token,
    )  # fmt: skip
    result = backup.run_backup(config)
    assert seen == [("backup_reader", postgres.host, postgres.port)], seen
    assert result.key.startswith("postgres/app/") and result.size > 0, result
    both = backup_config(source, postgres, vault_, moto, iam_auth_user="backup_reader")
    with pytest.raises(OpsError, match="either --iam-auth-user or --secret-arn"):
        backup.run_backup(both)
    env = backup_env(source, postgres, vault_, moto)
    del env["DB_SECRET_ARN"]
    code, out = run_job(monkeypatch, capsys, env)
    assert code == 1 and "DB_SECRET_ARN or --iam-auth-user/DB_IAM_USER" in out, out
