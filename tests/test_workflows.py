"""Audits the GitHub Actions workflows in .github/workflows and the contracts they rely on.

Every check is a function over a workflow's text or its parsed form. Each runs on the real
files (which must pass) and on a deliberately bad workflow or a mutated copy of the real one
(which it must catch), so no check can pass by looking at nothing.

External checkers run from this venv with the network blocked: check-jsonschema against its
bundled GitHub workflow schema and zizmor with --offline (so zizmor's online audits, which
resolve tags and commits through the GitHub API, do not run here; the pins were verified
when they were chosen, see docs/ci.md).
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.workflow_checks import (
    CI_DOC,
    DEPENDABOT,
    DEPLOY,
    GENERIC_CHECKS,
    PULL_REQUEST,
    ROOT,
    STACK_TARGET,
    STACKS,
    WORKFLOW_DIR,
    WORKFLOW_FILES,
    Finding,
    blocking,
    checkout_problems,
    deploy_problems,
    environment_name,
    inconsistent_pins,
    iter_workflows,
    jobs,
    load,
    make_test_job_problems,
    makefile_preview_problems,
    offline_preview_problems,
    permission_problems,
    pin_doc_problems,
    pulumi_preview_problems,
    pulumi_step,
    referenced_policy_configs,
    run_expansions,
    schema_errors,
    stale_allowances,
    steps_using,
    trigger_problems,
    triggers,
    unpinned_uses,
    version_comment_problems,
    virtualenv_of,
    zizmor_findings,
)

# zizmor findings of medium or high severity that are accepted, keyed by (audit, file name),
# each with the reason. Empty: the workflows pass zizmor's auditor persona cleanly. An entry
# that no longer matches a finding fails test_zizmor_allow_list_has_no_stale_entries.
ZIZMOR_ALLOWED: dict[tuple[str, str], str] = {}


# -------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def workflows() -> dict[str, str]:
    assert WORKFLOW_FILES, f"no workflow files in {WORKFLOW_DIR}"
    return {p.name: p.read_text() for p in WORKFLOW_FILES}


@pytest.fixture(scope="module")
def pull_request() -> dict[str, Any]:
    return load(PULL_REQUEST.read_text())


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return load(DEPLOY.read_text())


# ------------------------------------------------------------------- bad workflows

BAD_WORKFLOW = """\
name: bad
on:
  pull_request_target:
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
"""

SCHEMA_INVALID_WORKFLOW = """\
name: invalid
on: push
jobs:
  build:
    steps:
      - run: echo hi
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def mutated(wf: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(wf)
    change(copied)
    return copied


# ---------------------------------------------------------------------- schema


def test_workflows_match_github_workflow_schema() -> None:
    assert schema_errors(WORKFLOW_FILES) == []


def test_schema_check_reports_an_invalid_workflow(tmp_path: Path) -> None:
    errors = schema_errors([write(tmp_path, "invalid.yml", SCHEMA_INVALID_WORKFLOW)])
    assert any("invalid.yml: $.jobs.build" in e for e in errors), errors


def test_dependabot_config_matches_schema_and_covers_actions(tmp_path: Path) -> None:
    assert schema_errors([DEPENDABOT], "vendor.dependabot") == []
    ecosystems = [u["package-ecosystem"] for u in yaml.safe_load(DEPENDABOT.read_text())["updates"]]
    assert "github-actions" in ecosystems, "dependabot must keep the action pins current"
    bad = write(tmp_path, "dependabot.yml", "version: 2\nupdates:\n  - directory: /\n")
    assert schema_errors([bad], "vendor.dependabot"), "a config without an ecosystem must fail"


# ---------------------------------------------------------------------- zizmor


@pytest.fixture(scope="module")
def real_findings() -> list[Finding]:
    return zizmor_findings(WORKFLOW_FILES)


def test_zizmor_finds_nothing_medium_or_high(real_findings: list[Finding]) -> None:
    found = blocking(real_findings, ZIZMOR_ALLOWED)
    assert found == [], "\n".join(map(str, found))


def test_zizmor_allow_list_has_no_stale_entries(real_findings: list[Finding]) -> None:
    assert stale_allowances(real_findings, ZIZMOR_ALLOWED) == []
    assert all(reason.strip() for reason in ZIZMOR_ALLOWED.values()), "every entry needs a reason"


def test_zizmor_reports_an_insecure_workflow(tmp_path: Path) -> None:
    findings = zizmor_findings([write(tmp_path, "bad.yml", BAD_WORKFLOW)])
    idents = {f.ident for f in blocking(findings, {})}
    assert {
        "template-injection",
        "unpinned-uses",
        "artipacked",
        "dangerous-triggers",
        "excessive-permissions",
    } <= idents, [str(f) for f in findings]


def test_allow_list_accepts_only_what_it_names() -> None:
    findings = [
        Finding("template-injection", "High", "a.yml", 3, "x"),
        Finding("artipacked", "Medium", "a.yml", 5, "y"),
        Finding("concurrency-limits", "Low", "a.yml", 1, "z"),
    ]
    allowed = {("artipacked", "a.yml"): "reason", ("unpinned-uses", "b.yml"): "reason"}
    assert [f.ident for f in blocking(findings, allowed)] == ["template-injection"]
    assert stale_allowances(findings, allowed) == [("unpinned-uses", "b.yml")]


# --------------------------------------------------------------- generic checks


@pytest.mark.parametrize("check", GENERIC_CHECKS, ids=lambda c: c.__name__)
def test_real_workflows_pass(
    check: Callable[[dict[str, Any], str], list[str]], workflows: dict[str, str]
) -> None:
    problems = [p for name, wf in iter_workflows(workflows) for p in check(wf, name)]
    assert problems == []


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        (unpinned_uses, "actions/checkout@v4 is not pinned"),
        (permission_problems, "no top-level permissions"),
        (run_expansions, "${{ github.event.pull_request.title }} inside run:"),
        (checkout_problems, "without persist-credentials: false"),
        (trigger_problems, "trigger pull_request_target is not allowed"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_checks_report_the_bad_workflow(
    check: Callable[[dict[str, Any], str], list[str]], expected: str
) -> None:
    problems = check(load(BAD_WORKFLOW), "bad.yml")
    assert any(expected in p for p in problems), problems


def test_permission_check_reports_unneeded_writes(deploy: dict[str, Any]) -> None:
    def grant_too_much(wf: dict[str, Any]) -> None:
        wf["permissions"] = {"contents": "write"}
        wf["jobs"]["test"]["permissions"]["id-token"] = "write"
        wf["jobs"]["deploy-dev"]["permissions"]["packages"] = "write"
        del wf["jobs"]["deploy-prod"]["permissions"]["id-token"]

    problems = permission_problems(mutated(deploy, grant_too_much), "deploy.yml")
    expected = [
        "top-level permissions must be {} or read-only",
        "jobs.test has id-token: write but does not use aws-actions/configure-aws-credentials",
        "jobs.deploy-dev has packages: write, which no job needs",
        "jobs.deploy-prod assumes an AWS role without id-token: write",
    ]
    for text in expected:
        assert any(text in p for p in problems), (text, problems)


def test_pull_request_write_only_where_the_comment_is_posted(
    pull_request: dict[str, Any],
) -> None:
    def grant(wf: dict[str, Any]) -> None:
        wf["jobs"]["offline-preview"]["permissions"]["pull-requests"] = "write"
        step = pulumi_step(wf["jobs"]["pulumi-preview"])
        assert step is not None
        step["with"]["comment-on-pr"] = False

    problems = permission_problems(mutated(pull_request, grant), "pull-request.yml")
    assert any(
        "jobs.offline-preview has pull-requests: write but does not use" in p for p in problems
    ), problems
    assert any(
        "jobs.pulumi-preview has pull-requests: write but posts no PR comment" in p
        for p in problems
    ), problems


def test_every_pin_names_its_release(workflows: dict[str, str]) -> None:
    problems = [p for name, text in workflows.items() for p in version_comment_problems(text, name)]
    assert problems == []
    assert version_comment_problems(
        "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1\n", "bad.yml"
    ), "a SHA pin without its release comment must be reported"


def test_each_action_is_pinned_one_way(workflows: dict[str, str]) -> None:
    assert inconsistent_pins(workflows) == []
    split = {
        "a.yml": "  - uses: actions/checkout@" + "a" * 40 + " # v7.0.1\n",
        "b.yml": "  - uses: actions/checkout@" + "b" * 40 + " # v7.0.0\n",
    }
    assert inconsistent_pins(split), "two pins of one action must be reported"


def test_docs_list_exactly_the_pins_in_use(workflows: dict[str, str]) -> None:
    markdown = CI_DOC.read_text()
    assert pin_doc_problems(workflows, markdown) == []
    checkout_sha = "3d3c42e5aac5ba805825da76410c181273ba90b1"
    assert checkout_sha in markdown
    stale = markdown.replace(checkout_sha, "0" * 40)
    assert any(
        "does not list pin ('actions/checkout'" in p for p in pin_doc_problems(workflows, stale)
    ), "a stale doc pin must be reported"


# ------------------------------------------------------------ pull-request.yml


def test_pull_request_runs_on_pull_requests(pull_request: dict[str, Any]) -> None:
    assert "pull_request" in triggers(pull_request)


def test_test_job_runs_make_test_on_python_311(pull_request: dict[str, Any]) -> None:
    assert make_test_job_problems(pull_request) == []

    def break_it(wf: dict[str, Any]) -> None:
        wf["jobs"]["test"]["steps"][-1]["run"] = "pytest"
        steps_using(wf["jobs"]["test"], "actions/setup-python")[0]["with"]["python-version"] = "3.9"

    assert len(make_test_job_problems(mutated(pull_request, break_it))) == 2


def test_offline_preview_needs_no_secrets_and_uploads_its_report(
    pull_request: dict[str, Any],
) -> None:
    assert offline_preview_problems(pull_request) == []

    def leak(wf: dict[str, Any]) -> None:
        wf["jobs"]["offline-preview"]["env"] = {"TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
        wf["jobs"]["offline-preview"]["steps"] = [
            s
            for s in wf["jobs"]["offline-preview"]["steps"]
            if "upload-artifact" not in s.get("uses", "")
        ]

    problems = offline_preview_problems(mutated(pull_request, leak))
    assert any("must not use secrets" in p for p in problems), problems
    assert any("must upload the JSON report" in p for p in problems), problems


def test_pulumi_preview_passes_the_stack_policy_config(pull_request: dict[str, Any]) -> None:
    assert pulumi_preview_problems(pull_request) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["with"].pop("policyPackConfigs"), "policyPackConfigs must be"),
        (lambda s: s["with"].update(policyPacks="other"), "policyPacks must be 'policies'"),
        (lambda s: s["with"].update(command="up"), "command must be 'preview'"),
        (lambda s: s["with"].update({"edit-pr-comment": False}), "needs edit-pr-comment: true"),
        (lambda s: s.pop("env"), "PULUMI_ACCESS_TOKEN from secrets"),
        (lambda s: s.pop("if"), "is not gated"),
    ],
    ids=[
        "no-pack-config",
        "other-pack",
        "up-not-preview",
        "new-comment-each-run",
        "no-token",
        "ungated",
    ],
)
def test_pulumi_preview_check_reports_a_broken_step(
    pull_request: dict[str, Any], change: Callable[[dict[str, Any]], Any], expected: str
) -> None:
    def apply(wf: dict[str, Any]) -> None:
        step = pulumi_step(wf["jobs"]["pulumi-preview"])
        assert step is not None
        change(step)

    problems = pulumi_preview_problems(mutated(pull_request, apply))
    assert any(expected in p for p in problems), problems


def test_pulumi_preview_is_skipped_for_forks(pull_request: dict[str, Any]) -> None:
    def unguard(wf: dict[str, Any]) -> None:
        wf["jobs"]["pulumi-preview"]["if"] = "github.event_name == 'pull_request'"

    assert any(
        "must be guarded" in p for p in pulumi_preview_problems(mutated(pull_request, unguard))
    )


# ------------------------------------------------------------------- deploy.yml


def test_deploy_shape(deploy: dict[str, Any]) -> None:
    assert deploy_problems(deploy) == []


def test_prod_deploy_uses_the_prod_environment(deploy: dict[str, Any]) -> None:
    prod = [j for j in jobs(deploy).values() if environment_name(j) == "prod"]
    assert len(prod) == 1, "exactly one job deploys into environment prod"
    step = pulumi_step(prod[0])
    assert step is not None and step["with"]["policyPackConfigs"] == "policies/config/prod.json"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda wf: wf["jobs"]["deploy-prod"].pop("environment"),
            "no job deploys stack prod in environment 'prod'",
        ),
        (
            lambda wf: wf["jobs"]["deploy-prod"].pop("needs"),
            "jobs.deploy-prod (prod) must need jobs.deploy-dev (dev)",
        ),
        (
            lambda wf: wf["jobs"]["deploy-dev"]["concurrency"].update({"cancel-in-progress": True}),
            "jobs.deploy-dev needs a concurrency group with cancel-in-progress: false",
        ),
        (
            lambda wf: wf["jobs"]["deploy-prod"]["concurrency"].update(group="pulumi-up-dev"),
            "each stack needs its own concurrency group",
        ),
        (
            lambda wf: pulumi_step(wf["jobs"]["deploy-prod"])["with"].update(  # type: ignore[index]
                policyPackConfigs="policies/config/dev.json"
            ),
            "policyPackConfigs must be 'policies/config/prod.json'",
        ),
        (lambda wf: wf["jobs"]["deploy-prod"].pop("if"), "must only run for refs/heads/main"),
        (lambda wf: wf["on"].pop("workflow_dispatch"), "must allow workflow_dispatch"),
        (lambda wf: wf["jobs"]["deploy-dev"].pop("needs"), "must need a job that runs `make test`"),
        (
            lambda wf: steps_using(
                wf["jobs"]["deploy-dev"], "aws-actions/configure-aws-credentials"
            )[0]["with"].update({"aws-access-key-id": "x"}),
            "must come from role-to-assume",
        ),
    ],
    ids=[
        "prod-without-environment",
        "prod-before-dev",
        "cancels-running-update",
        "shared-group",
        "prod-with-dev-policies",
        "any-branch",
        "no-dispatch",
        "untested",
        "static-keys",
    ],
)
def test_deploy_check_reports_a_broken_deploy(
    deploy: dict[str, Any], change: Callable[[dict[str, Any]], Any], expected: str
) -> None:
    problems = deploy_problems(mutated(deploy, change))
    assert any(expected in p for p in problems), problems


# ----------------------------------------------------------- contracts elsewhere


def test_makefile_passes_preview_args() -> None:
    assert makefile_preview_problems((ROOT / "Makefile").read_text()) == []
    old = "preview: $(STAMP)\n\t$(PY) -m offline preview --stack $(STACK)\n"
    assert makefile_preview_problems(old) == [
        "Makefile: preview must pass $(PREVIEW_ARGS) (CI adds --json <file>)"
    ]


def test_workflows_reference_each_stack_policy_config(workflows: dict[str, str]) -> None:
    expected = {f"policies/config/{s}.json" for s in STACKS}
    assert referenced_policy_configs(workflows) == expected
    if not (ROOT / "policies" / "config").is_dir():
        pytest.skip("policies/config is not in this tree yet (the policy pack lands separately)")
    missing = sorted(p for p in expected if not (ROOT / p).is_file())
    assert missing == [], f"workflows pass policy configs that do not exist: {missing}"


@pytest.mark.parametrize(
    ("file", "why"),
    [
        ("Pulumi.yaml", "the workflows install the program's requirements into ./venv"),
        ("policies/PulumiPolicy.yaml", "the workflows install the pack's into policies/venv"),
    ],
)
def test_virtualenv_contract(file: str, why: str) -> None:
    path = ROOT / file
    if not path.is_file():
        pytest.skip(f"{file} is not in this tree yet")
    assert virtualenv_of(yaml.safe_load(path.read_text())) == "venv", (
        f"{file}: runtime.options.virtualenv must be 'venv': {why}"
    )


def test_virtualenv_contract_detects_a_missing_option() -> None:
    assert virtualenv_of({"runtime": "python"}) is None
    assert virtualenv_of({"runtime": {"name": "python", "options": {"toolchain": "pip"}}}) is None
    good = {"runtime": {"name": "python", "options": {"virtualenv": "venv"}}}
    assert virtualenv_of(good) == "venv"


# ------------------------------------------------------------ stack_target.py


@pytest.fixture(scope="module")
def stack_target_module() -> Any:
    spec = importlib.util.spec_from_file_location("stack_target", STACK_TARGET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_stack(tmp_path: Path, stack: str, region: Any) -> None:
    config = {"aws:region": region} if region is not None else {}
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))


def test_stack_target_reads_region_and_prefixes_org(
    stack_target_module: Any, tmp_path: Path
) -> None:
    write_stack(tmp_path, "prod", "eu-west-1")
    target = stack_target_module.stack_target
    assert target("prod", tmp_path) == {"region": "eu-west-1", "stack-name": "prod"}
    assert target("prod", tmp_path, "acme")["stack-name"] == "acme/prod"


@pytest.mark.parametrize(
    ("region", "org", "expected"),
    [
        (None, "", "aws:region must be an AWS region name such as eu-west-1 (got None)"),
        ("eu-west-1\nstack-name=evil", "", "aws:region must be an AWS region name"),
        ("eu-west-1", "acme\nregion=us-east-1", "PULUMI_ORG must be a Pulumi organisation name"),
    ],
    ids=["missing-region", "newline-in-region", "newline-in-org"],
)
def test_stack_target_rejects_bad_values(
    stack_target_module: Any, tmp_path: Path, region: Any, org: str, expected: str
) -> None:
    write_stack(tmp_path, "dev", region)
    with pytest.raises(stack_target_module.TargetError, match=re.escape(expected)):
        stack_target_module.stack_target("dev", tmp_path, org)


def test_stack_target_cli_writes_output_lines(tmp_path: Path) -> None:
    write_stack(tmp_path, "dev", "us-east-2")
    env = {**os.environ, "PULUMI_ORG": "acme"}
    ok = subprocess.run(
        [sys.executable, str(STACK_TARGET), "dev"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (ok.returncode, ok.stdout) == (0, "region=us-east-2\nstack-name=acme/dev\n"), ok.stderr
    missing = subprocess.run(
        [sys.executable, str(STACK_TARGET), "staging"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and missing.stdout == ""
    assert "no stack file Pulumi.staging.yaml for stack 'staging'" in missing.stderr
