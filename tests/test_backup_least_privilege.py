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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components import backup_job
from offline.model import Recording
from tests.backup_privilege_checks import (
    iam_user,
    parliament_problems,
    pin_file_problems,
    pinned_problems,
    projects,
    secret_problems,
    setup_run_problems,
)
from tests.checks import edit_named, without_named
from tests.conftest import ROOT
from tests.recording_queries import as_list, by_name

Check = Callable[[Recording], list[str]]


CHECKS: dict[str, Check] = {
    "secret": secret_problems,
    "setup-run": setup_run_problems,
    "pinned": pinned_problems,
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
def test_shipped_stacks_hold(stack: str, check: str, request: pytest.FixtureRequest) -> None:
    assert CHECKS[check](request.getfixturevalue(stack)) == []


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
    sched = by_name(rec, "backup-job-schedule")
    kept = tuple(u for u in sched.dependencies if not u.endswith("backup-job-setup-run"))
    resources = [dataclasses.replace(r, dependencies=kept) if r is sched else r for r in rec]
    return dataclasses.replace(rec, resources=resources)


def _early_run(rec: Recording) -> Recording:
    run = by_name(rec, "backup-job-setup-run")
    kept = tuple(u for u in run.dependencies if "aws:ec2/route:Route" not in u)
    resources = [dataclasses.replace(r, dependencies=kept) if r is run else r for r in rec]
    return dataclasses.replace(rec, resources=resources)


def _any_project(stmts: list[dict[str, Any]]) -> None:
    for s in stmts:
        if "codebuild:StartBuild" in as_list(s["Action"]):
            s["Resource"] = ["arn:aws:codebuild:eu-west-1:123456789012:project/*"]


def _stale(inputs: dict[str, Any]) -> None:
    inputs["input"] = json.dumps({**json.loads(inputs["input"]), "sourceVersion": "old"})


def _replace_install(spec: dict[str, Any]) -> None:
    spec["phases"]["install"]["commands"][2] = "pip install -r x.txt"


def _no_gpg(spec: dict[str, Any]) -> None:
    spec["phases"]["install"]["commands"][0] = "dnf install -y -q --nogpgcheck postgresql16"


STARTER_POLICY = "backup-job-setup-starter-policy"
BROKEN: dict[str, tuple[str, Callable[[Recording], Recording]]] = {
    "web-reads-secret": ("secret", edit_named("web-logs-agent", _policy(_grant_secret))),
    "job-reads-secret": ("secret", edit_named("backup-job-policy", _policy(_grant_secret))),
    "setup-other-role": ("secret", edit_named("backup-job-setup", _other_role)),
    "no-run": ("setup-run", without_named("backup-job-setup-run")),
    "schedule-first": ("setup-run", _unordered),
    "setup-before-nat": ("setup-run", _early_run),
    "starter-runs-anything": ("setup-run", edit_named(STARTER_POLICY, _policy(_any_project))),
    "stale-setup": ("setup-run", edit_named("backup-job-setup-run", _stale)),
    "unpinned-pip": ("pinned", edit_named("backup-job-project", _install("pip install boto3"))),
    "setup-unpinned": ("pinned", edit_named("backup-job-setup", _buildspec(_replace_install))),
    "no-gpg-check": ("pinned", edit_named("backup-job-setup", _buildspec(_no_gpg))),
    "extra-package": ("pinned", edit_named("backup-job-project", _install("dnf install -y -q jq"))),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_copies_are_reported(case: str, prod: Recording) -> None:
    check, breaker = BROKEN[case]
    assert CHECKS[check](prod) == [], f"{check} fails on the shipped prod"
    assert CHECKS[check](breaker(prod)), f"{check} misses {case}"


def test_every_check_has_a_failing_counterpart() -> None:
    assert {check for check, _ in BROKEN.values()} == set(CHECKS)


# ---- the pinned file itself ----------------------------------------------------------------


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

CHECKED_POLICIES = (
    "backup-job-policy",
    "backup-job-setup-policy",
    "backup-job-setup-starter-policy",
    "vault-replication-policy",
)


@pytest.mark.parametrize("name", CHECKED_POLICIES)
def test_policies_pass_parliament(name: str, prod: Recording) -> None:
    policy = by_name(prod, name).input("policy")
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
