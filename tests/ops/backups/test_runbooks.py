"""The restore runbooks work as written: every `python -m ops.*` and `aws s3api` command in
the README's runbook and in docs/backups.md runs against moto and the real PostgreSQL, and
every `aws rds` command (which needs real AWS: point-in-time recovery, waiters) is checked
against botocore's service model: the operation exists, each option is one of its
parameters (or a CLI-wide option), the required ones are there and `--query` parses.

The only changes made to a command are the `<placeholder>` values (each one must be known
here, so a new placeholder in the docs fails until it is mapped) and `--ca-bundle rds-ca.pem`
replaced by `--sslmode disable`, because the embedded server has no TLS.
"""

from __future__ import annotations

import functools
import hashlib
import re
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import jmespath
import pytest
from backup_testkit import Moto, PgServer, Source, backup_config, rds_instance
from botocore import xform_name

from ops import backup, restore_drill, vault, verify_backups

REPO = Path(__file__).resolve().parents[3]
DOC_KEY = "postgres/app/20261126T104515Z.dump"  # the example key the docs restore
# The RDS trust store as AWS documents it: one global bundle, or one per region.
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html
TRUST_STORE = re.compile(
    r"^https://truststore\.pki\.rds\.amazonaws\.com/"
    r"(global/global-bundle\.pem|([a-z0-9-]+)/\2-bundle\.pem)$"
)
CLI_GLOBALS = {"--region", "--query", "--output", "--profile", "--no-cli-pager"}


def runbook_commands() -> list[tuple[str, str]]:
    """(source, command) for every command line in the runbooks' sh blocks."""
    found = []
    readme = (REPO / "README.md").read_text()
    section = readme.split("Restore runbook", 1)[1].split("### ", 1)[0]
    docs = (REPO / "docs" / "backups.md").read_text()
    for name, text in (("README.md", section), ("docs/backups.md", docs)):
        for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
            joined = re.sub(r"\\\n\s*", " ", block)
            for line in joined.splitlines():
                if line.strip() and not line.strip().startswith("#"):
                    found.append((name, line.strip()))
    return found


COMMANDS = runbook_commands()


def split(command: str) -> list[str]:
    return shlex.split(command, comments=True)


def kind(argv: list[str]) -> str:
    if argv[:2] == ["python", "-m"] and argv[2].startswith("ops."):
        return argv[2]
    if argv[0] == "aws":
        return f"aws {argv[1]}"
    return argv[0]


def test_the_runbooks_have_the_commands_this_test_runs():
    kinds = [kind(split(command)) for _, command in COMMANDS]
    for expected, least in (
        ("ops.restore_drill", 3),
        ("ops.verify_backups", 2),
        ("aws s3api", 2),
        ("aws rds", 5),
        ("curl", 2),
    ):
        assert kinds.count(expected) >= least, f"runbooks have {kinds.count(expected)} {expected}"
    sources = {source for source, command in COMMANDS if "ops.restore_drill" in command}
    assert sources == {"README.md", "docs/backups.md"}, sources


def test_no_runbook_restores_into_the_production_instance():
    for source, command in COMMANDS:
        if "ops.restore_drill" in command:
            argv = split(command)
            target = argv[argv.index("--target-host") + 1]
            assert "scratch" in target, f"{source}: restore targets {target}: {command}"


# --- aws rds: checked against botocore's service model --------------------------------


@functools.cache
def _model(service: str):
    """botocore's model of a service, parsed once per process (the rds one is large); the
    checks only read it."""
    return botocore.session.get_session().get_service_model(service)


@functools.cache
def _waiters(service: str):
    return botocore.session.get_session().get_waiter_model(service)


def check_aws_command(argv: list[str]) -> list[str]:
    """Problems of an `aws <service> <operation> ...` command per botocore's model."""
    name = {"s3api": "s3"}.get(argv[1], argv[1])  # the CLI's name for the S3 API commands
    service = _model(name)
    operations = {xform_name(name, "-"): name for name in service.operation_names}
    if argv[2] == "wait":
        waiters = _waiters(name)
        names = {xform_name(name, "-"): name for name in waiters.waiter_names}
        if argv[3] not in names:
            return [f"no waiter {argv[3]}"]
        operation = service.operation_model(waiters.get_waiter(names[argv[3]]).operation)
        options = argv[4:]
    else:
        if argv[2] not in operations:
            return [f"no operation {argv[2]}"]
        operation = service.operation_model(operations[argv[2]])
        options = argv[3:]
    members = operation.input_shape.members if operation.input_shape else {}
    flags = {f"--{xform_name(name, '-')}": shape for name, shape in members.items()}
    problems, given = [], set()
    for index, option in enumerate(options):
        if not option.startswith("--"):
            continue
        if option in CLI_GLOBALS:
            if option == "--query":
                try:
                    jmespath.compile(options[index + 1])
                except jmespath.exceptions.JMESPathError as err:
                    problems.append(f"--query does not parse: {err}")
            continue
        negated = "--" + option.removeprefix("--no-")
        if option in flags:
            given.add(option)
        elif option.startswith("--no-") and flags.get(negated) is not None:
            if flags[negated].type_name != "boolean":
                problems.append(f"{option}: {negated} is not a boolean")
            given.add(negated)
        else:
            problems.append(f"{option} is not a parameter of {operation.name}")
    required = operation.input_shape.required_members if operation.input_shape else []
    for name in required:
        if f"--{xform_name(name, '-')}" not in given:
            problems.append(f"required --{xform_name(name, '-')} missing")
    return problems


RDS_COMMANDS = [(s, c) for s, c in COMMANDS if kind(split(c)) == "aws rds"]


@pytest.mark.parametrize(("source", "command"), RDS_COMMANDS)
def test_aws_rds_commands_match_the_service_model(source: str, command: str):
    problems = check_aws_command(split(command))
    assert problems == [], f"{source}: {command}: {problems}"


def test_the_model_check_catches_mistakes():
    bad = [
        "aws rds restore-db-instance-to-point-in-time --target-db-instance-identifier x "
        "--restore-tme 2026-11-26T10:40:00Z",
        "aws rds restore-db-instance-to-point-in-time --source-db-instance-identifier a",
        "aws rds describe-db-instances --query 'DBInstances[0'",
        "aws rds wait db-instance-ready --db-instance-identifier x",
        "aws rds restore-db-instance-to-point-in-time --target-db-instance-identifier x "
        "--no-target-db-instance-identifier",
    ]
    for command in bad:
        assert check_aws_command(split(command)), f"not caught: {command}"


@pytest.mark.parametrize(
    ("source", "command"), [(s, c) for s, c in COMMANDS if c.startswith("curl ")]
)
def test_trust_store_urls_are_the_documented_ones(source: str, command: str):
    urls = [arg for arg in split(command) if arg.startswith("http")]
    assert urls, f"{source}: no URL in {command}"
    for url in urls:
        filled = url.replace("${AWS_REGION}", "eu-west-1")
        assert TRUST_STORE.match(filled), f"{source}: {url} is not an RDS trust store bundle"


# --- ops.* and aws s3api: run against moto and PostgreSQL ----------------------------------


@pytest.fixture(scope="module")
def stack(moto: Moto, postgres: PgServer, source: Source, make_vault, aws_scratch):
    """A vault holding a fresh backup and the docs' example key (a backup made by the job
    with its clock at that time), a scratch RDS instance id with free storage, and the value
    of every placeholder."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        from backup_testkit import set_aws_test_env

        set_aws_test_env(monkeypatch, aws_scratch)
        # prod's values, which the runbooks use: 35 days of RDS retention and of lock
        restore_vault, fresh_vault = make_vault(days=35), make_vault(days=35)
        when = datetime.strptime(DOC_KEY.split("/")[-1], "%Y%m%dT%H%M%SZ.dump").replace(tzinfo=UTC)
        example = backup.run_backup(
            backup_config(source, postgres, restore_vault, moto, clock=lambda: when)
        )
        assert example.key == DOC_KEY, example.key
        backup.run_backup(backup_config(source, postgres, restore_vault, moto))
        backup.run_backup(backup_config(source, postgres, fresh_vault, moto))
    moto.client("cloudwatch").put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[{
            "MetricName": "FreeStorageSpace", "Value": 20e9, "Unit": "Bytes",
            "Timestamp": datetime.now(UTC) - timedelta(minutes=5),
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "app-db-scratch"}],
        }],
    )  # fmt: skip
    values = {
        "<databaseIdentifier>": rds_instance(moto, BackupRetentionPeriod=35),
        "<databaseName>": source.db_name,
        "<scratch identifier>": "app-db-scratch",
        "<scratch address>": postgres.host,
        "<scratch port>": str(postgres.port),
        "<scratch secret ARN>": source.secret_arn,
        "<version>": example.version_id,
    }
    return {"restore": restore_vault.bucket, "verify": fresh_vault.bucket, "values": values}


def fill(command: str, values: dict[str, str], bucket: str) -> list[str]:
    text = command.replace("<backupVaultBucket>", bucket)
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    unknown = re.findall(r"<[^>]+>", text)
    assert not unknown, f"placeholders this test does not know: {unknown} in {command}"
    argv = split(text)
    if "--ca-bundle" in argv:
        at = argv.index("--ca-bundle")
        argv[at : at + 2] = ["--sslmode", "disable"]  # the embedded server has no TLS
    return argv


@pytest.fixture
def tool_env(moto: Moto, postgres: PgServer, monkeypatch, tmp_path):
    """What an operator's shell provides: region, credentials, and here the moto endpoint
    and the PostgreSQL programs' directory through their standard variables."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    monkeypatch.setenv("PG_BIN_DIR", postgres.bin_dir)
    monkeypatch.chdir(tmp_path)
    return tmp_path


OPS_COMMANDS = [(s, c) for s, c in COMMANDS if kind(split(c)).startswith("ops.")]


@pytest.mark.parametrize(("doc", "command"), OPS_COMMANDS)
def test_ops_commands_run_as_written(
    doc: str, command: str, stack, postgres: PgServer, tool_env, capsys
):
    argv = split(command)
    module = {"ops.restore_drill": restore_drill, "ops.verify_backups": verify_backups}[argv[2]]
    bucket = stack["verify" if module is verify_backups else "restore"]
    filled = fill(command, stack["values"], bucket)[3:]
    databases = postgres.databases()
    try:
        code = module.main(filled)
        out = capsys.readouterr().out
        assert code == 0, f"{doc}: {command}\n{out}"
        assert not [line for line in out.splitlines() if line.startswith("FAIL")], out
    finally:
        for name in postgres.databases() - databases:
            postgres.psql(f'DROP DATABASE "{name}";')


S3API_COMMANDS = [(s, c) for s, c in COMMANDS if kind(split(c)) == "aws s3api"]


def run_s3api(argv: list[str], moto: Moto, cwd: Path) -> tuple[Any, Path | None]:
    """An `aws s3api` command through botocore (the AWS CLI's own engine): options mapped to
    the operation's parameters by the service model, a positional outfile for streaming
    output, `--query` applied with JMESPath."""
    assert not check_aws_command(argv), check_aws_command(argv)
    service = _model("s3")
    operations = {xform_name(name, "-"): name for name in service.operation_names}
    operation = service.operation_model(operations[argv[2]])
    members = operation.input_shape.members
    by_flag = {f"--{xform_name(name, '-')}": name for name in members}
    params: dict[str, Any] = {}
    outfile, query, rest = None, None, argv[3:]
    while rest:
        option = rest.pop(0)
        if option == "--query":
            query = rest.pop(0)
        elif option == "--output":
            rest.pop(0)
        elif option.startswith("--"):
            params[by_flag[option]] = rest.pop(0)
        else:
            outfile = cwd / option
    response = getattr(moto.client("s3"), xform_name(operations[argv[2]]))(**params)
    if outfile is not None:
        outfile.write_bytes(response.pop("Body").read())
    return (jmespath.search(query, response) if query else response), outfile


@pytest.mark.parametrize(("doc", "command"), S3API_COMMANDS)
def test_s3api_commands_run_as_written(doc: str, command: str, stack, moto: Moto, tmp_path):
    argv = fill(command, stack["values"], stack["restore"])
    result, outfile = run_s3api(argv, moto, tmp_path)
    if argv[2] == "list-object-versions":
        keys = [row[0] for row in result]
        assert DOC_KEY in keys and len(result[0]) == 4, f"{doc}: {result}"
    elif argv[2] == "get-object":
        assert outfile is not None, f"{doc}: get-object without an outfile"
        digest = hashlib.sha256(outfile.read_bytes()).hexdigest()
        assert result == digest, f"{doc}: printed {result}, the file hashes to {digest}"
    else:
        pytest.fail(f"{doc}: no expectation for {command}")


def test_unknown_placeholders_fail_the_runbook_test(stack):
    with pytest.raises(AssertionError, match="placeholders this test does not know"):
        fill("python -m ops.restore_drill --target-host <prod endpoint>", stack["values"], "b")


def test_key_layout_in_the_docs_is_the_tools_layout():
    docs = (REPO / "docs" / "backups.md").read_text()
    keys = set(re.findall(r"postgres/app/\S+?\.dump", docs))
    assert keys and all(vault.parse_backup_key(key) for key in keys), keys
