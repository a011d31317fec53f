"""ops.restore_drill: round trip through the vault, and damaged backups that must fail safely."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from backup_testkit import (
    SUPERUSER_PASSWORD,
    Moto,
    PgServer,
    Source,
    Vault,
    backup_config,
    put_backup,
    set_aws_test_env,
    stamp,
    table_contents,
)

from ops import backup, pg, restore_drill
from ops.awsenv import OpsError


def job_backup(moto: Moto, postgres: PgServer, source: Source, vault_: Vault) -> str:
    """Run the backup job into vault_; returns the key."""
    return backup.run_backup(backup_config(source, postgres, vault_, moto)).key


@pytest.fixture(scope="module")
def backed_up(
    moto: Moto, postgres: PgServer, source: Source, make_vault, aws_scratch
) -> tuple[Vault, str]:
    """A vault holding one backup of `app` made by the backup job (tests only read it)."""
    vault_ = make_vault()
    with pytest.MonkeyPatch.context() as monkeypatch:
        set_aws_test_env(monkeypatch, aws_scratch)
        return vault_, job_backup(moto, postgres, source, vault_)


def drill(moto: Moto, postgres: PgServer, source: Source, bucket: str, *extra: str, capsys):
    argv = [
        "--bucket", bucket,
        "--db-name", "app",
        "--target-host", postgres.host,
        "--target-port", str(postgres.port),
        "--target-secret-arn", source.secret_arn,
        "--sslmode", "disable",
        "--endpoint-url", moto.endpoint,
        "--pg-bin-dir", postgres.bin_dir,
        *extra,
    ]  # fmt: skip
    code = restore_drill.main(argv)
    return code, capsys.readouterr().out


def steps(out: str) -> dict[str, str]:
    """{step: PASS/WARN/FAIL}: the step lines, plus the failed step named by the summary
    (a failure is printed once, as the summary)."""
    lines = out.strip().splitlines()
    result = {line.split()[1]: line.split()[0] for line in lines[:-1]}
    if lines and lines[-1].startswith("FAIL"):
        result[lines[-1].split(" at ", 1)[1].split(":", 1)[0]] = "FAIL"
    return result


def test_round_trip_restores_every_row(
    moto: Moto, postgres: PgServer, source: Source, backed_up, capsys
):
    vault_, key = backed_up
    code, out = drill(
        moto, postgres, source, vault_.bucket, "--scratch-db", "restore_drill_roundtrip",
        "--keep", capsys=capsys,
    )  # fmt: skip
    try:
        assert code == 0, f"drill of {key} failed:\n{out}"
        assert steps(out) == {
            name: "PASS"
            for name in (
                "locate", "preflight", "checksum", "toc", "archive-data", "scratch-db", "restore",
                "row-counts", "cleanup",
            )
        }, out  # fmt: skip
        summary = out.strip().splitlines()[-1]
        assert summary.startswith(f"OK restore drill of s3://{vault_.bucket}/{key}"), summary
        assert "6 tables, 3703 rows" in summary and "took" in summary, summary

        original = table_contents(postgres, "app")
        restored = table_contents(postgres, "restore_drill_roundtrip")
        assert set(restored) == set(original), f"tables differ: {set(original) ^ set(restored)}"
        for table, rows in original.items():
            assert restored[table] == rows, f"{table}: restored rows differ from the source"
        sequence = "SELECT last_value FROM invoice_numbers;"
        assert postgres.psql(sequence, db="restore_drill_roundtrip") == postgres.psql(
            sequence, db="app"
        ), "sequence invoice_numbers not restored"
        constraints = "SELECT count(*) FROM pg_constraint WHERE conrelid = 'events'::regclass;"
        assert postgres.psql(constraints, db="restore_drill_roundtrip") == postgres.psql(
            constraints, db="app"
        ), "constraints of events not restored"
    finally:
        postgres.psql('DROP DATABASE IF EXISTS "restore_drill_roundtrip";')


def test_drill_drops_its_scratch_database(
    moto: Moto, postgres: PgServer, source: Source, backed_up, capsys
):
    vault_, _ = backed_up
    before = postgres.databases()
    code, out = drill(moto, postgres, source, vault_.bucket, capsys=capsys)
    assert code == 0, out
    scratch = next(line for line in out.splitlines() if line.startswith("PASS scratch-db"))
    name = scratch.split("created ")[1].split()[0]
    assert name.startswith("restore_drill_"), scratch
    assert f"dropped {name}" in out, out
    assert postgres.databases() == before, f"{name} left behind"


def test_row_count_comparison_detects_missing_rows(
    moto: Moto, postgres: PgServer, source: Source, backed_up, capsys, tmp_path
):
    """The comparison is between the archive's rows and the restored table's rows: a row
    missing from the restored database is reported against the table."""
    vault_, key = backed_up
    code, out = drill(
        moto, postgres, source, vault_.bucket, "--scratch-db", "restore_drill_counts", "--keep",
        capsys=capsys,
    )  # fmt: skip
    try:
        assert code == 0, out
        dump = tmp_path / "app.dump"
        dump.write_bytes(moto.client("s3").get_object(Bucket=vault_.bucket, Key=key)["Body"].read())
        tools = pg.PgTools(postgres.bin_dir)
        expected = pg.archive_row_counts(tools, dump)
        postgres.psql("DELETE FROM events WHERE id = 17;", db="restore_drill_counts")
        endpoint = pg.make_endpoint(postgres.host, postgres.port, "disable")
        creds = pg.DbCredentials(source.username, source.password)
        env = pg.libpq_env(endpoint, creds, "postgres")
        actual = pg.table_row_counts(tools, env, "restore_drill_counts", list(expected))
        assert restore_drill.count_differences(expected, actual) == [
            "public.events: archive 3000, restored 2999"
        ]
        assert restore_drill.count_differences(expected, expected) == []
    finally:
        postgres.psql('DROP DATABASE IF EXISTS "restore_drill_counts";')


def _app_fingerprint(postgres: PgServer) -> str:
    return hashlib.sha256(repr(table_contents(postgres, "app")).encode()).hexdigest()


@pytest.mark.parametrize(
    ("damage", "honest_checksum", "failed_step", "message"),
    [
        ("truncate", False, "checksum", "sha256 mismatch"),
        ("corrupt", False, "checksum", "sha256 mismatch"),
        # Damaged before it was hashed (a checksum that matches the broken bytes): the
        # archive itself must give it away, still before any database is created.
        ("truncate", True, "archive-data", "could not read from input file"),
        ("corrupt", True, "archive-data", "pg_restore could not read the archive's data"),
        ("header", True, "toc", "pg_restore --list failed"),
        ("empty", True, "toc", "pg_restore --list failed"),
    ],
)
def test_damaged_backup_fails_clearly_and_touches_nothing(
    damage: str,
    honest_checksum: bool,
    failed_step: str,
    message: str,
    moto: Moto,
    postgres: PgServer,
    source: Source,
    make_vault,
    reference_dump: bytes,
    capsys,
):
    vault_ = make_vault()
    data = bytearray(reference_dump)
    if damage == "truncate":
        data = data[: len(data) * 2 // 3]
    elif damage == "corrupt":
        middle = len(data) // 2
        data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    elif damage == "empty":
        data = bytearray()
    else:
        data = data[:200]
    digest = hashlib.sha256(bytes(data if honest_checksum else reference_dump)).hexdigest()
    key = f"postgres/app/{stamp(datetime.now(UTC))}.dump"
    put_backup(moto, vault_, key, bytes(data), sha256_hex=digest)

    databases = postgres.databases()
    fingerprint = _app_fingerprint(postgres)
    code, out = drill(moto, postgres, source, vault_.bucket, capsys=capsys)
    assert code == 1, f"damaged ({damage}) {key} passed the drill:\n{out}"
    assert steps(out).get(failed_step) == "FAIL", out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith(f"FAIL restore drill of s3://{vault_.bucket}/{key} at {failed_step}")
    assert message in summary, summary
    assert "scratch-db" not in steps(out), f"a database was created for a damaged backup:\n{out}"
    assert postgres.databases() == databases, "databases changed"
    assert _app_fingerprint(postgres) == fingerprint, "the source database changed"


def test_refuses_an_existing_database(
    moto: Moto, postgres: PgServer, source: Source, backed_up, capsys
):
    vault_, _ = backed_up
    fingerprint = _app_fingerprint(postgres)
    code, out = drill(moto, postgres, source, vault_.bucket, "--scratch-db", "app", capsys=capsys)
    assert code == 1, out
    assert steps(out)["preflight"] == "FAIL", out
    assert "refusing: database app already exists" in out, out
    assert "checksum" not in steps(out), f"downloaded before the preflight failed:\n{out}"
    assert "cleanup" not in steps(out), (
        f"the drill tried to drop a database it did not make:\n{out}"
    )
    assert "app" in postgres.databases() and _app_fingerprint(postgres) == fingerprint


def test_backup_of_another_database_is_refused(
    moto: Moto, postgres: PgServer, source: Source, make_vault, reference_dump, capsys
):
    """The archive says which database it holds; a key that claims otherwise fails."""
    vault_ = make_vault()
    put_backup(moto, vault_, f"postgres/billing/{stamp(datetime.now(UTC))}.dump", reference_dump)
    code, out = drill(moto, postgres, source, vault_.bucket, "--db-name", "billing", capsys=capsys)
    assert code == 1 and steps(out).get("toc") == "FAIL", out
    assert "of database app; expected CUSTOM of billing" in out, out


def test_a_given_key_and_version_is_restored(
    moto: Moto, postgres: PgServer, source: Source, make_vault, reference_dump, capsys
):
    """--key picks an older backup over the newest one (which is damaged here)."""
    vault_ = make_vault()
    key = job_backup(moto, postgres, source, vault_)
    newer = f"postgres/app/{stamp(datetime.now(UTC) + timedelta(minutes=1))}.dump"
    put_backup(moto, vault_, newer, reference_dump[:1000], hashlib.sha256(b"x").hexdigest())
    version = moto.client("s3").head_object(Bucket=vault_.bucket, Key=key)["VersionId"]
    code, out = drill(
        moto, postgres, source, vault_.bucket, "--key", key, "--version-id", version,
        capsys=capsys,
    )  # fmt: skip
    assert code == 0, out
    assert f"{key} (version {version})" in out, out
    code, out = drill(moto, postgres, source, vault_.bucket, capsys=capsys)
    assert code == 1 and newer in out, f"the newest ({newer}) was not the default:\n{out}"


def test_target_login_without_a_secret(
    moto: Moto, postgres: PgServer, source: Source, backed_up, capsys, monkeypatch
):
    """An operator's own server: user plus a password from a named environment variable
    (the superuser's password has ':' and '\\', which must reach libpq intact)."""
    vault_, _ = backed_up
    monkeypatch.setenv("DRILL_PW", SUPERUSER_PASSWORD)
    argv = [
        "--bucket", vault_.bucket, "--db-name", "app",
        "--target-host", postgres.host, "--target-port", str(postgres.port),
        "--target-user", "postgres", "--target-password-env", "DRILL_PW",
        "--sslmode", "disable", "--endpoint-url", moto.endpoint, "--pg-bin-dir", postgres.bin_dir,
    ]  # fmt: skip
    assert restore_drill.main(argv) == 0, capsys.readouterr().out
    monkeypatch.setenv("DRILL_PW", "wrong")
    assert restore_drill.main(argv) == 1
    out = capsys.readouterr().out
    assert "password authentication failed" in out and "wrong" not in out.split("FAIL")[-1], out


def test_bad_drill_settings_are_named(moto: Moto, postgres: PgServer, source, capsys):
    code, out = drill(
        moto, postgres, source, "any-bucket", "--scratch-db", "Drop Me;", capsys=capsys
    )
    assert code == 1 and "--scratch-db must be a lower-case identifier" in out, out
    argv = ["--bucket", "b", "--db-name", "app", "--target-host", "db.example.com",
            "--target-user", "u", "--sslmode", "disable"]  # fmt: skip
    assert restore_drill.main(argv) == 1
    assert "only allowed for a local server" in capsys.readouterr().out
    code, out = drill(moto, postgres, source, "any-bucket", "--version-id", "v1", capsys=capsys)
    assert code == 1 and "--version-id needs --key" in out, out
    key = "postgres/billing/20261126T104515Z.dump"
    code, out = drill(moto, postgres, source, "any-bucket", "--key", key, capsys=capsys)
    assert code == 1 and f"{key} is a backup of database billing, not app" in out, out
    code, out = drill(moto, postgres, source, "any-bucket", "--key", "app.dump", capsys=capsys)
    assert code == 1 and "app.dump is not a backup key" in out, out


def test_table_of_contents_is_read(postgres: PgServer, reference_dump: bytes, tmp_path):
    dump = tmp_path / "app.dump"
    dump.write_bytes(reference_dump)
    tools = pg.PgTools(postgres.bin_dir)
    toc = pg.list_toc(tools, dump)
    version = subprocess.run(
        [f"{postgres.bin_dir}/pg_dump", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    assert toc.dbname == "app", toc.header
    assert toc.header["Format"] == "CUSTOM", toc.header
    assert toc.header["Dumped by pg_dump version"] == version, toc.header
    assert (toc.tables, toc.table_data) == (6, 6), [e.text for e in toc.entries]
    garbage = tmp_path / "garbage.dump"
    garbage.write_bytes(b"PGDMP" + b"\0" * 64)
    with pytest.raises(OpsError, match="pg_restore --list failed"):
        pg.list_toc(tools, garbage)
