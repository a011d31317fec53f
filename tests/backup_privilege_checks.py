"""Least privilege of the logical backup job, as check functions.

- secret_problems: only the one-off setup project's role may read the database's master
  secret; the nightly job logs in as the IAM-authenticated user the setup creates.
- setup_run_problems: `pulumi up` runs the setup through a Lambda invocation that may start
  only that project, reruns it when its code changes, and the schedule waits for it.
- pinned_problems, pin_file_problems: the job installs Python packages only from a hash-pinned
  file holding exactly boto3's dependency closure, and only the PostgreSQL client from dnf.
- parliament_problems: a policy document judged by AWS's IAM database (parliament), less the
  known false positives in ACCEPTED.

Recording checks return problems naming the URN (empty = fine);
tests/test_backup_least_privilege.py runs them on the shipped stacks and on broken copies.
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from typing import Any

from packaging.requirements import Requirement

from components import backup_job
from offline.model import RecordedResource, Recording
from tests.recording_queries import as_list, deps

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


# ---- only the setup holds the master secret ----------------------------------------------


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


# ---- pulumi up runs the setup, before the first scheduled run ----------------------------


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


# ---- pinned dependencies -----------------------------------------------------------------

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


# ---- AWS's own action and condition database (parliament) --------------------------------

# Known parliament false positives: it wants log-stream ARNs for CreateLogStream/PutLogEvents
# (our `<log group>:*` covers them), and CodeBuild's VPC actions are on `*` by necessity.
ACCEPTED = {
    ("RESOURCE_MISMATCH", "logs:CreateLogStream"),
    ("RESOURCE_MISMATCH", "logs:PutLogEvents"),
    *(("RESOURCE_STAR", a) for a in backup_job.VPC_BUILD_ACTIONS),
}


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
