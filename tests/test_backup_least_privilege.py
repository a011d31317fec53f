"""Least privilege for the logical backup: the nightly job never holds the master secret.

- The nightly job connects as a read-only role with IAM database authentication (its
  `rds-db:connect` is checked in test_data_protection.py's job-role check).
- A one-off setup, in the same subnets and security group, is the only role of the stack that
  may read the master secret; `pulumi up` runs it through a Lambda invocation, and the nightly
  schedule exists only after that invocation (day one: the first run finds the role).
- The job's Python dependencies are installed only from a hash-pinned file, shipped in the
  job's source archive; the PostgreSQL client comes from the Amazon Linux repository.

Each property is a check over a recording that returns its problems (naming the URN); the
shipped stacks must give none, and a deliberately broken copy must give some.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from components import backup_job
from offline.model import RecordedResource, Recording
from tests.checks import replace_inputs
from tests.conftest import ROOT

PROJECT = "aws:codebuild/project:Project"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FUNCTION = "aws:lambda/function:Function"
INVOCATION = "aws:lambda/invocation:Invocation"
SCHEDULE = "aws:scheduler/schedule:Schedule"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
RDS = "aws:rds/instance:Instance"
ROUTE = "aws:ec2/route:Route"
JOB = "groundwork:data:BackupJob"

Check = Callable[[Recording], list[str]]


def deps(r: RecordedResource, key: str) -> tuple[str, ...]:
    return r.property_dependencies.get(key, ())


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(rec: Recording, role_urn: str) -> list[dict[str, Any]]:
    docs = [
        json.loads(p.input("policy"))
        for p in rec.of_type(ROLE_POLICY)
        if role_urn in deps(p, "role")
    ]
    return [s for d in docs for s in as_list(d["Statement"])]


def projects(rec: Recording) -> dict[str, RecordedResource]:
    """The job's projects by the ops module their build runs."""
    found = {}
    for p in rec.children_of(JOB, PROJECT):
        match = re.search(r"python -m (ops\.\w+)", p.input("source", "buildspec", default=""))
        if match:
            found[match.group(1)] = p
    return found


def role_of(rec: Recording, project: RecordedResource) -> str:
    roles = [u for u in deps(project, "serviceRole") if rec.by_urn(u).type == ROLE]
    return roles[0] if len(roles) == 1 else ""


def iam_user(project: RecordedResource) -> str | None:
    match = re.search(r"--iam-auth-user (\w+)", project.input("source", "buildspec", default=""))
    return match.group(1) if match else None


# ---- only the setup holds the master secret ------------------------------------------------


def secret_problems(rec: Recording) -> list[str]:
    secret = rec.one(RDS).outputs["masterUserSecrets"][0]["secretArn"]
    found = projects(rec)
    setup = found.get("ops.backup_role")
    if setup is None or "ops.backup" not in found:
        return [
            f"{rec.stack_urn}: projects {sorted(found)}, expected ops.backup and ops.backup_role"
        ]
    problems = []
    readers = {
        role.urn
        for role in rec.of_type(ROLE)
        for s in policy_statements(rec, role.urn)
        if s.get("Effect") == "Allow"
        and any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))
        and any(r in (secret, "*") or r.endswith("secret:*") for r in as_list(s["Resource"]))
    }
    if readers != {role_of(rec, setup)}:
        problems.append(
            f"{rec.stack_urn}: roles reading the master secret {sorted(readers)}, "
            "expected only the setup's"
        )
    setup_env = {v["name"]: v["value"] for v in setup.input("environment", "environmentVariables")}
    if setup_env.get("DB_SECRET_ARN") != secret:
        problems.append(f"{setup.urn}: is not given the master secret")
    nightly = found["ops.backup"]
    wanted = f"--role-name {iam_user(nightly)}"
    if iam_user(nightly) is None or wanted not in setup.input("source", "buildspec"):
        problems.append(f"{setup.urn}: does not create the role the nightly job logs in as")
    for key in ("vpcConfig",):
        if set(deps(setup, key)) != set(deps(nightly, key)):
            problems.append(f"{setup.urn}: not in the nightly job's subnets and security group")
    for s in policy_statements(rec, role_of(rec, setup)):
        if any(a.startswith(("s3:Put", "rds-db:")) for a in as_list(s["Action"])):
            problems.append(f"{setup.urn}: its role may also {s['Action']}")
    return problems


# ---- pulumi up runs the setup, before the first scheduled run -------------------------------


def setup_run_problems(rec: Recording) -> list[str]:
    found = projects(rec)
    setup = found.get("ops.backup_role")
    if setup is None:
        return [f"{rec.stack_urn}: no setup project"]
    runs = [
        i for i in rec.children_of(JOB, INVOCATION)
        if json.loads(i.input("input")).get("projectName") == setup.outputs["name"]
    ]  # fmt: skip
    if len(runs) != 1:
        return [f"{setup.urn}: {len(runs)} invocations run it, expected 1"]
    run, problems = runs[0], []
    functions = [rec.by_urn(u) for u in deps(run, "functionName") if rec.by_urn(u).type == FUNCTION]
    if len(functions) != 1 or functions[0].input("handler") != backup_job.STARTER_HANDLER:
        problems.append(f"{run.urn}: does not invoke the build starter")
    else:
        grants = [
            (sorted(as_list(s["Action"])), as_list(s["Resource"]))
            for u in deps(functions[0], "role")
            for s in policy_statements(rec, u)
            if any(a.startswith("codebuild:") for a in as_list(s["Action"]))
        ]
        if grants != [
            (["codebuild:BatchGetBuilds", "codebuild:StartBuild"], [setup.outputs["arn"]])
        ]:
            problems.append(f"{functions[0].urn}: may run {grants}, not only the setup project")
    source = [o for o in rec.children_of(JOB, OBJECT)]
    version = source[0].outputs.get("versionId") if len(source) == 1 else None
    if json.loads(run.input("input")).get("sourceVersion") != version:
        problems.append(f"{run.urn}: does not rerun when the setup's code changes")
    # It installs packages: the private subnets' way out must exist before it starts.
    nat_routes = [r.urn for r in rec.of_type(ROUTE) if r.input("natGatewayId")]
    if not nat_routes or not set(nat_routes) <= set(run.dependencies):
        problems.append(f"{run.urn}: may start before the private subnets can reach out")
    schedules = rec.children_of(JOB, SCHEDULE)
    if not schedules or any(run.urn not in s.dependencies for s in schedules):
        problems.append(f"{run.urn}: the schedule may fire before the role exists")
    return problems


# ---- pinned dependencies -------------------------------------------------------------------

PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+) --hash=sha256:[0-9a-f]{64}$")


def pinned_problems(rec: Recording) -> list[str]:
    problems = []
    found = projects(rec)
    if len(found) != 2:
        return [f"{rec.stack_urn}: projects {sorted(found)}"]
    wanted = f"--require-hashes --no-deps --only-binary=:all: -r {backup_job.REQUIREMENTS_FILE}"
    for module, project in sorted(found.items()):
        spec = json.loads(project.input("source", "buildspec"))
        commands = [c for phase in spec["phases"].values() for c in phase["commands"]]
        installs = [c for c in commands if re.search(r"\bpip\b.*\binstall\b", c)]
        if len(installs) != 1 or not installs[0].endswith(wanted):
            problems.append(f"{project.urn} ({module}): pip installs {installs}, not only {wanted}")
        if [c for c in commands if c.startswith("dnf ")] != [
            "dnf install -y -q --setopt=gpgcheck=1 postgresql16"
        ]:
            problems.append(f"{project.urn}: installs other system packages than the PG client")
    objects = rec.children_of(JOB, OBJECT)
    assets = objects[0].input("source", "assets", default={}) if len(objects) == 1 else {}
    if backup_job.REQUIREMENTS_FILE not in assets:
        problems.append(f"{rec.stack_urn}: the job's source lacks {backup_job.REQUIREMENTS_FILE}")
    return problems


CHECKS: dict[str, Check] = {
    "secret": secret_problems,
    "setup-run": setup_run_problems,
    "pinned": pinned_problems,
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
def test_shipped_stacks_hold(stack: str, check: str, request: pytest.FixtureRequest) -> None:
    assert CHECKS[check](request.getfixturevalue(stack)) == []


def _named(rec: Recording, name: str) -> RecordedResource:
    found = [r for r in rec if r.name == name]
    assert len(found) == 1, f"no single {name} in {rec.stack}"
    return found[0]


def edit(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Recording], Recording]:
    return lambda rec: replace_inputs(rec, _named(rec, name).urn, change)


def _policy(change: Callable[[list[dict[str, Any]]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(inputs: dict[str, Any]) -> None:
        doc = json.loads(inputs["policy"])
        change(doc["Statement"])
        inputs["policy"] = json.dumps(doc)

    return apply


def _buildspec(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(inputs: dict[str, Any]) -> None:
        spec = json.loads(inputs["source"]["buildspec"])
        change(spec)
        inputs["source"]["buildspec"] = json.dumps(spec)

    return apply


def _install(command: str) -> Callable[[dict[str, Any]], None]:
    return _buildspec(lambda s: s["phases"]["install"]["commands"].append(command))


def _grant_secret(stmts: list[dict[str, Any]]) -> None:
    stmts.append({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"})


def _other_role(inputs: dict[str, Any]) -> None:
    inputs["source"]["buildspec"] = inputs["source"]["buildspec"].replace(
        "--role-name groundwork_backup", "--role-name someone_else"
    )


def _unordered(rec: Recording) -> Recording:
    sched = _named(rec, "backup-job-schedule")
    kept = tuple(u for u in sched.dependencies if not u.endswith("backup-job-setup-run"))
    resources = [dataclasses.replace(r, dependencies=kept) if r is sched else r for r in rec]
    return dataclasses.replace(rec, resources=resources)


def _early_run(rec: Recording) -> Recording:
    run = _named(rec, "backup-job-setup-run")
    kept = tuple(u for u in run.dependencies if "aws:ec2/route:Route" not in u)
    resources = [dataclasses.replace(r, dependencies=kept) if r is run else r for r in rec]
    return dataclasses.replace(rec, resources=resources)


def _any_project(stmts: list[dict[str, Any]]) -> None:
    for s in stmts:
        if "codebuild:StartBuild" in as_list(s["Action"]):
            s["Resource"] = ["arn:aws:codebuild:eu-west-1:123456789012:project/*"]


def _without(name: str) -> Callable[[Recording], Recording]:
    return lambda rec: dataclasses.replace(rec, resources=[r for r in rec if r.name != name])


def _stale(inputs: dict[str, Any]) -> None:
    inputs["input"] = json.dumps({**json.loads(inputs["input"]), "sourceVersion": "old"})


def _replace_install(spec: dict[str, Any]) -> None:
    spec["phases"]["install"]["commands"][2] = "pip install -r x.txt"


def _no_gpg(spec: dict[str, Any]) -> None:
    spec["phases"]["install"]["commands"][0] = "dnf install -y -q --nogpgcheck postgresql16"


STARTER_POLICY = "backup-job-setup-starter-policy"
BROKEN: dict[str, tuple[str, Callable[[Recording], Recording]]] = {
    "web-reads-secret": ("secret", edit("web-logs-agent", _policy(_grant_secret))),
    "job-reads-secret": ("secret", edit("backup-job-policy", _policy(_grant_secret))),
    "setup-other-role": ("secret", edit("backup-job-setup", _other_role)),
    "no-run": ("setup-run", _without("backup-job-setup-run")),
    "schedule-first": ("setup-run", _unordered),
    "setup-before-nat": ("setup-run", _early_run),
    "starter-runs-anything": ("setup-run", edit(STARTER_POLICY, _policy(_any_project))),
    "stale-setup": ("setup-run", edit("backup-job-setup-run", _stale)),
    "unpinned-pip": ("pinned", edit("backup-job-project", _install("pip install boto3"))),
    "setup-unpinned": ("pinned", edit("backup-job-setup", _buildspec(_replace_install))),
    "no-gpg-check": ("pinned", edit("backup-job-setup", _buildspec(_no_gpg))),
    "extra-package": ("pinned", edit("backup-job-project", _install("dnf install -y -q jq"))),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_copies_are_reported(case: str, prod: Recording) -> None:
    check, breaker = BROKEN[case]
    assert CHECKS[check](prod) == [], f"{check} fails on the shipped prod"
    assert CHECKS[check](breaker(prod)), f"{check} misses {case}"


def test_every_check_has_a_failing_counterpart() -> None:
    assert {check for check, _ in BROKEN.values()} == set(CHECKS)


# ---- the pinned file itself ----------------------------------------------------------------


def pin_file_problems(text: str, root: str = "boto3") -> list[str]:
    """Every line pinned to one version with a SHA-256; exactly the dependency closure of
    `root` (as the installed distributions declare it), so --no-deps misses nothing."""
    pins: dict[str, str] = {}
    problems = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line)
        if not match:
            problems.append(f"{backup_job.REQUIREMENTS_FILE}: not pinned with a hash: {line!r}")
            continue
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    closure, todo = set(), [root]
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        closure.add(name)
        for raw in metadata.requires(name) or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"python_version": "3.11", "extra": ""}):
                todo.append(req.name.lower().replace("_", "-"))
    if set(pins) != closure:
        problems.append(f"pinned {sorted(pins)}, but {root} needs {sorted(closure)}")
    return problems


def test_the_job_requirements_are_pinned_with_hashes() -> None:
    text = (ROOT / backup_job.REQUIREMENTS_FILE).read_text()
    assert pin_file_problems(text) == []
    unhashed = text.replace(" --hash=sha256:", " # ")
    assert pin_file_problems(unhashed), "a line without a hash passes"
    dropped = "\n".join(line for line in text.splitlines() if not line.startswith("six=="))
    assert pin_file_problems(dropped), "a missing dependency passes"
    ranged = text.replace("boto3==", "boto3>=")
    assert pin_file_problems(ranged), "a version range passes"


def test_the_source_archive_ships_the_requirements(tmp_path: Path) -> None:
    sources = backup_job.ops_sources(ROOT / "ops")
    assert backup_job.REQUIREMENTS_FILE in sources
    assert "ops/run_build.py" in sources and "ops/backup_role.py" in sources


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_backup_user_is_exported(stack: str, request: pytest.FixtureRequest) -> None:
    rec = request.getfixturevalue(stack)
    found = projects(rec)
    assert rec.outputs["backupDbUser"] == iam_user(found["ops.backup"]), rec.stack_urn
    assert rec.outputs["backupSetupJobName"] == found["ops.backup_role"].outputs["name"]
    assert rec.outputs["backupDbUser"] != iam_user(
        dataclasses.replace(
            found["ops.backup"], inputs={"source": {"buildspec": "--iam-auth-user x"}}
        )
    )


# ---- AWS's own action and condition database (parliament) -----------------------------------

# Known parliament false positives: it wants log-stream ARNs for CreateLogStream/PutLogEvents
# (our `<log group>:*` covers them), and CodeBuild's VPC actions are on `*` by necessity.
ACCEPTED = {
    ("RESOURCE_MISMATCH", "logs:CreateLogStream"),
    ("RESOURCE_MISMATCH", "logs:PutLogEvents"),
    *(("RESOURCE_STAR", a) for a in backup_job.VPC_BUILD_ACTIONS),
}
CHECKED_POLICIES = (
    "backup-job-policy",
    "backup-job-setup-policy",
    "backup-job-setup-starter-policy",
    "vault-replication-policy",
)


def parliament_problems(policy_text: str) -> list[str]:
    import parliament

    problems = []
    for finding in parliament.analyze_policy_string(policy_text).findings:
        detail = finding.detail
        items = detail if isinstance(detail, list) else [detail]
        for item in items:
            action = item.get("action") if isinstance(item, dict) else item
            if (finding.issue, action) not in ACCEPTED:
                problems.append(f"{finding.issue}: {item}")
    return problems


@pytest.mark.parametrize("name", CHECKED_POLICIES)
def test_policies_pass_parliament(name: str, prod: Recording) -> None:
    policy = _named(prod, name).input("policy")
    assert parliament_problems(policy) == [], name
    doc = json.loads(policy)
    doc["Statement"][-1]["Action"] = ["rds-db:Conect"]
    assert parliament_problems(json.dumps(doc)), f"{name}: a misspelt action passes"


def test_the_key_guard_passes_parliament(prod: Recording) -> None:
    from components import kms

    guard = kms.deny_destruction_statement("arn:aws:iam::444455556666:role/backup-break-glass")
    doc = {"Version": "2012-10-17", "Statement": [guard]}
    assert parliament_problems(json.dumps(doc)) == []
    guard["Condition"] = {"ArnNotEquals": {"aws:PrincipleArn": "x"}}
    assert parliament_problems(json.dumps(doc)), "a misspelt condition key passes"
