"""The read-only database role the nightly backup connects as (IAM database authentication).

The nightly job must not hold the master secret: whoever controls its code or its package
index would then own the database. So it logs in as a role that can read everything and
change nothing, authenticated by an IAM token (`rds-db:connect` on exactly this role), and
this module creates that role. It runs once per deploy, inside the VPC, as the only holder of
the master secret (the backup job's setup run, started by `pulumi up`), and is idempotent:
a rerun leaves the same role with the same grants, and resets attributes someone changed.

The role:

- `LOGIN`, no password (`PASSWORD NULL`), member of `rds_iam`: RDS then accepts only an IAM
  token for it
  (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.DBAccounts.html);
- member of the predefined role `pg_read_all_data` (PostgreSQL 14+): `SELECT` on every table,
  view and sequence and `USAGE` on every schema, present and future, whoever owns them
  (https://www.postgresql.org/docs/16/predefined-roles.html). That is the read-only grant
  including default privileges: `ALTER DEFAULT PRIVILEGES` covers only objects created later
  by the roles and in the schemas it names, so a table an app migration creates under another
  owner or schema would make the dump fail; `pg_read_all_data` has no such gap;
- no `CREATEDB`/`CREATEROLE`, no write privilege anywhere, and `default_transaction_read_only`
  on, so even a grant added by mistake later cannot be used by a plain session;
- `CONNECT` on the one database it dumps.

The master user of RDS is not a superuser (it is `rds_superuser`, with CREATEROLE), so the SQL
uses only what such a role may do: attributes like SUPERUSER, REPLICATION and BYPASSRLS can
only be changed by a superuser, and new roles never have them.

Run as `python -m ops.backup_role`; prints one line (`OK ...` or `FAIL ...`), exit 0 or 1.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from functools import partial

from ops import awsenv, pg
from ops.awsenv import OpsError

# A plain identifier: never needs quoting, cannot smuggle SQL.
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED = ("postgres", "rdsadmin", "rds_superuser", "rds_iam", "public")


def check_role_name(name: str) -> str:
    if not ROLE_NAME.match(name) or name in RESERVED or name.startswith("pg_"):
        raise OpsError(
            f"--role-name must be a lower-case identifier matching {ROLE_NAME.pattern}, not a "
            f"reserved or pg_ role (got {name!r})"
        )
    return name


def setup_sql(role: str, database: str) -> str:
    """The idempotent SQL that creates or repairs the backup role (names validated first)."""
    check_role_name(role)
    pg.check_db_name(database, "--db-name")
    # One transaction: role DDL and grants are transactional in PostgreSQL, so a failed run
    # leaves no half-made role behind.
    return f"""
BEGIN;
DO $setup$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE {role} LOGIN;
    END IF;
END
$setup$;
ALTER ROLE {role} WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT PASSWORD NULL;
ALTER ROLE {role} SET default_transaction_read_only = on;
GRANT rds_iam TO {role};
GRANT pg_read_all_data TO {role};
GRANT CONNECT ON DATABASE {database} TO {role};
COMMIT;
"""


def ensure_role(tools: pg.PgTools, env: dict[str, str], role: str, database: str) -> list[str]:
    """Run the setup in `database` with the master login in `env`; returns psql's lines."""
    return pg.run_psql(tools, env, setup_sql(role, database), database)


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m ops.backup_role",
        description=(
            "Create or repair the read-only, IAM-authenticated role the nightly backup "
            "connects as, logged in with the RDS-managed master secret. Idempotent. Every "
            "option defaults to the environment variable shown. Exit 0 on success, 1 on failure."
        ),
    )
    connection = partial(pg.add_connection_option, parser)
    connection("--secret-arn", "[DB_SECRET_ARN]")
    connection("--host", "endpoint address [DB_HOST]")
    connection("--port", "[DB_PORT, 5432]", fallback="5432")
    parser.add_argument("--db-name", default=env("DB_NAME"), help="database [DB_NAME]")
    parser.add_argument(
        "--role-name", default=env("BACKUP_DB_USER"), help="role to create [BACKUP_DB_USER]"
    )
    connection("--ca-bundle", "[DB_CA_BUNDLE]")
    connection("--sslmode")
    pg.add_aws_options(parser, "AWS region [AWS_REGION]", "AWS endpoint override")
    connection("--pg-bin-dir", "[PG_BIN_DIR]")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    role = args.role_name or "?"
    try:
        missing = [
            flag
            for flag, value in (
                ("--secret-arn/DB_SECRET_ARN", args.secret_arn),
                ("--host/DB_HOST", args.host),
                ("--db-name/DB_NAME", args.db_name),
                ("--role-name/BACKUP_DB_USER", args.role_name),
            )
            if not value
        ]
        if missing:
            raise OpsError(f"missing required setting(s): {', '.join(missing)}")
        check_role_name(args.role_name)
        pg.check_db_name(args.db_name, "--db-name")
        endpoint = pg.make_endpoint(args.host, args.port, args.sslmode, args.ca_bundle)
        secrets = awsenv.client("secretsmanager", args.region, args.endpoint_url)
        creds = pg.read_credentials(secrets, args.secret_arn)
        tools = pg.PgTools(args.pg_bin_dir)
        # The password reaches psql through its environment only (ops.pg.libpq_env).
        env = pg.libpq_env(endpoint, creds, args.db_name, app="groundwork-backup-role")
        ensure_role(tools, env, args.role_name, args.db_name)
    except OpsError as err:
        print(f"FAIL backup role {role}: {err}")
        return 1
    print(f"OK backup role {role} in database {args.db_name}: read-only, IAM authentication")
    return 0


if __name__ == "__main__":
    sys.exit(main())
