"""ops.backup_role against a real PostgreSQL and the RDS-managed secret in moto.

The database is set up the way RDS sets one up: the master login is not a superuser (it has
CREATEROLE and CREATEDB, and may grant `rds_iam` and the predefined roles), `rds_iam` exists,
and the app's tables belong to another role. The setup must create a role that logs in
without a password, reads every table (also ones created later, by another owner, in a new
schema), can write nothing, and comes out the same when run again.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from backup_testkit import Moto, PgServer

from ops import backup_role
from ops.awsenv import OpsError

MASTER_PASSWORD = "master:pw'with\\odd"


@dataclass(frozen=True)
class RdsLike:
    db: str
    master: str
    owner: str
    secret_arn: str


@pytest.fixture
def rds_like(postgres: PgServer, moto: Moto) -> Iterator[RdsLike]:
    tag = uuid.uuid4().hex[:8]
    db, master, owner = f"roleapp_{tag}", f"rdsmaster_{tag}", f"appowner_{tag}"
    literal = MASTER_PASSWORD.replace("'", "''")
    postgres.psql(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
                CREATE ROLE rds_iam NOLOGIN;
            END IF;
        END $$;
        CREATE ROLE {master} LOGIN CREATEDB CREATEROLE PASSWORD '{literal}';
        GRANT rds_iam TO {master} WITH ADMIN OPTION;
        GRANT pg_read_all_data TO {master} WITH ADMIN OPTION;
        CREATE ROLE {owner} LOGIN PASSWORD 'owner';
        CREATE DATABASE {db} OWNER {master};
        """
    )
    postgres.psql(
        f"""
        CREATE TABLE master_made (id int PRIMARY KEY, note text);
        INSERT INTO master_made VALUES (1, 'one');
        CREATE SCHEMA app AUTHORIZATION {owner};
        GRANT CREATE ON SCHEMA public TO {owner};
        """,
        db=db,
    )
    postgres.psql(
        "CREATE TABLE app.accounts (id serial PRIMARY KEY, name text);"
        "INSERT INTO app.accounts (name) VALUES ('alice');",
        db=db,
        user=owner,
        password="owner",
    )
    secret = moto.client("secretsmanager").create_secret(
        Name=f"rds-master-{tag}",
        SecretString=json.dumps({"username": master, "password": MASTER_PASSWORD}),
    )["ARN"]
    yield RdsLike(db, master, owner, secret)
    postgres.psql(f"DROP DATABASE {db} WITH (FORCE);")


def run_setup(
    postgres: PgServer, moto: Moto, rds: RdsLike, role: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    code = backup_role.main(
        [
            "--secret-arn", rds.secret_arn,
            "--host", postgres.host,
            "--port", str(postgres.port),
            "--db-name", rds.db,
            "--role-name", role,
            "--sslmode", "disable",
            "--endpoint-url", moto.endpoint,
            "--pg-bin-dir", postgres.bin_dir,
        ]
    )  # fmt: skip
    return code, capsys.readouterr().out.strip()


STATE_SQL = """
SELECT r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolbypassrls,
       r.rolreplication, a.rolpassword IS NULL, coalesce(array_to_string(r.rolconfig, ','), ''),
       (SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m
          JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid)
FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = '{role}';
"""


def role_state(postgres: PgServer, role: str) -> str:
    return postgres.psql(STATE_SQL.format(role=role)).strip()


EXPECTED_STATE = "t|f|f|f|f|f|t|default_transaction_read_only=on|pg_read_all_data,rds_iam"


def test_setup_creates_a_read_only_iam_role_and_reruns_the_same(
    postgres: PgServer, moto: Moto, rds_like: RdsLike, capsys: pytest.CaptureFixture[str]
) -> None:
    role = f"backup_{uuid.uuid4().hex[:8]}"
    code, out = run_setup(postgres, moto, rds_like, role, capsys)
    assert code == 0 and out.startswith(f"OK backup role {role}"), out
    assert role_state(postgres, role) == EXPECTED_STATE
    privileges = postgres.psql(
        f"SELECT has_database_privilege('{role}', '{rds_like.db}', 'CONNECT');"
    ).strip()
    assert privileges == "t"

    code, out = run_setup(postgres, moto, rds_like, role, capsys)
    assert code == 0, f"rerun: {out}"
    assert role_state(postgres, role) == EXPECTED_STATE, "a rerun changed the role"
    assert "\n" not in out


def test_a_rerun_repairs_a_changed_role(
    postgres: PgServer, moto: Moto, rds_like: RdsLike, capsys: pytest.CaptureFixture[str]
) -> None:
    role = f"backup_{uuid.uuid4().hex[:8]}"
    assert run_setup(postgres, moto, rds_like, role, capsys)[0] == 0
    postgres.psql(
        f"ALTER ROLE {role} CREATEDB PASSWORD 'guessable';"
        f"ALTER ROLE {role} RESET default_transaction_read_only;"
    )
    assert role_state(postgres, role) != EXPECTED_STATE
    assert run_setup(postgres, moto, rds_like, role, capsys)[0] == 0
    assert role_state(postgres, role) == EXPECTED_STATE


def test_the_role_reads_everything_and_writes_nothing(
    postgres: PgServer, moto: Moto, rds_like: RdsLike, capsys: pytest.CaptureFixture[str]
) -> None:
    role = f"backup_{uuid.uuid4().hex[:8]}"
    assert run_setup(postgres, moto, rds_like, role, capsys)[0] == 0
    # Created after the setup, by another owner, in a new schema: still readable.
    postgres.psql(f"CREATE SCHEMA later AUTHORIZATION {rds_like.owner};", db=rds_like.db)
    postgres.psql(
        "CREATE TABLE later.events (id int); INSERT INTO later.events VALUES (7);",
        db=rds_like.db,
        user=rds_like.owner,
        password="owner",
    )
    # The test logs in with a password (RDS would take an IAM token); superuser-only step.
    postgres.psql(f"ALTER ROLE {role} PASSWORD 'test-only';")

    def as_role(sql: str) -> str:
        return postgres.psql(sql, db=rds_like.db, user=role, password="test-only")

    assert as_role("SELECT count(*) FROM app.accounts;").strip() == "1"
    assert as_role("SELECT id FROM later.events;").strip() == "7"
    assert as_role("SELECT note FROM master_made;").strip() == "one"
    writes = [
        "INSERT INTO app.accounts (name) VALUES ('mallory');",
        "UPDATE master_made SET note = 'x';",
        "DELETE FROM later.events;",
        "CREATE TABLE public.mine (id int);",
        "SELECT nextval('app.accounts_id_seq');",
        # The read-only default is a second guard; privileges hold without it.
        "SET default_transaction_read_only = off; INSERT INTO later.events VALUES (8);",
        "SET default_transaction_read_only = off; TRUNCATE app.accounts;",
        f"CREATE DATABASE other_{uuid.uuid4().hex[:6]};",
        "CREATE ROLE sneaky;",
    ]
    for sql in writes:
        with pytest.raises(AssertionError, match=r"permission denied|read-only transaction"):
            as_role(sql)
    assert as_role("SELECT count(*) FROM later.events;").strip() == "1", "a write got through"

    dump = subprocess.run(
        [
            f"{postgres.bin_dir}/pg_dump", "--format=custom", "--no-password",
            f"--host={postgres.host}", f"--port={postgres.port}", f"--username={role}",
            f"--dbname={rds_like.db}",
        ],
        capture_output=True,
        env={"PGPASSWORD": "test-only", "PATH": "/usr/bin:/bin"},
        check=False,
    )  # fmt: skip
    assert dump.returncode == 0, dump.stderr.decode()
    assert dump.stdout.startswith(b"PGDMP")


@pytest.mark.parametrize("name", ["Backup", "backup; DROP TABLE x", "pg_backup", "postgres", ""])
def test_unsafe_role_names_are_refused(name: str) -> None:
    with pytest.raises(OpsError, match="--role-name"):
        backup_role.setup_sql(name or "-", "app")


def test_failures_are_one_fail_line(
    postgres: PgServer, moto: Moto, rds_like: RdsLike, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_setup(postgres, moto, rds_like, "Robert'); --", capsys)
    assert code == 1 and out.startswith("FAIL backup role") and "\n" not in out, out
    bad = RdsLike(rds_like.db, rds_like.master, rds_like.owner, rds_like.secret_arn + "-gone")
    code, out = run_setup(postgres, moto, bad, "backup_x", capsys)
    assert code == 1 and out.startswith("FAIL backup role backup_x: cannot read secret"), out
    # The master lacks a grant the setup needs (as if rds_iam were missing): a FAIL, no role.
    postgres.psql(f"REVOKE rds_iam FROM {rds_like.master};")
    role = f"backup_{uuid.uuid4().hex[:8]}"
    code, out = run_setup(postgres, moto, rds_like, role, capsys)
    assert code == 1 and "FAIL backup role" in out and "\n" not in out, out
    # One transaction: nothing half-made is left behind.
    assert postgres.psql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{role}';").strip() == "0"
    postgres.psql(f"GRANT rds_iam TO {rds_like.master} WITH ADMIN OPTION;")
    assert run_setup(postgres, moto, rds_like, role, capsys)[0] == 0
    assert role_state(postgres, role) == EXPECTED_STATE
