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
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])
PULL_REQUEST = WORKFLOW_DIR / "pull-request.yml"
DEPLOY = WORKFLOW_DIR / "deploy.yml"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
CI_DOC = ROOT / "docs" / "ci.md"
STACK_TARGET = ROOT / ".github" / "scripts" / "stack_target.py"
STACKS = ("dev", "prod")

SHA = re.compile(r"^[0-9a-f]{40}$")
SEVERITIES = ("Unknown", "Informational", "Low", "Medium", "High")
BLOCKING = {"Medium", "High"}

# zizmor findings of medium or high severity that are accepted, keyed by (audit, file name),
# each with the reason. Empty: the workflows pass zizmor's auditor persona cleanly. An entry
# that no longer matches a finding fails test_zizmor_allow_list_has_no_stale_entries.
ZIZMOR_ALLOWED: dict[tuple[str, str], str] = {}

# Writes a job may hold, and what in the job justifies each.
ALLOWED_WRITES = {
    "id-token": "aws-actions/configure-aws-credentials",  # OIDC token for AssumeRoleWithWebIdentity
    "pull-requests": "pulumi/actions",  # the preview comment (comment-on-pr)
}


# --------------------------------------------------------------------------- helpers


def tool(name: str) -> str:
    """Path of a checker installed next to the interpreter running the tests."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed in {Path(sys.executable).parent}; run `make test`")
    return found


def offline_env() -> dict[str, str]:
    """The environment for the checkers: no GitHub token, and any network use fails fast."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN"}
    }
    blackhole = "http://127.0.0.1:9"
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[var] = blackhole
    env["NO_PROXY"] = env["no_proxy"] = ""
    env["ZIZMOR_OFFLINE"] = "true"
    env["NO_COLOR"] = "1"
    return env


def load(text: str) -> dict[str, Any]:
    """Parse a workflow; YAML 1.1 reads the `on` key as True, so put it back."""
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict), "a workflow must be a mapping"
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def jobs(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return wf.get("jobs") or {}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps") or []


def action_of(uses: str) -> str:
    """`owner/repo` of a `uses:` reference (drops any sub-path and the ref)."""
    return "/".join(uses.split("@", 1)[0].split("/")[:2])


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if "uses" in s and action_of(s["uses"]) == action]


def truthy(value: Any) -> bool:
    return value is True or value == "true"


def triggers(wf: dict[str, Any]) -> dict[str, Any]:
    on = wf.get("on")
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on or {}


def environment_name(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    if isinstance(env, dict):
        return env.get("name")
    return env


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


# ------------------------------------------------------------------------- checkers


def schema_errors(paths: list[Path], schema: str = "vendor.github-workflows") -> list[str]:
    """Validate files against a schema bundled with check-jsonschema (no download)."""
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, "-o", "json", *map(str, paths)],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=120,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"check-jsonschema gave no report (exit {proc.returncode}): {proc.stderr}")
    errors = [
        f"{Path(e['filename']).name}: {e['path']}: "
        f"{(e.get('best_match') or {}).get('message') or e['message']}"
        for e in report.get("errors", [])
    ]
    errors += [
        f"{Path(e['filename']).name}: {e['message']}" for e in report.get("parse_errors", [])
    ]
    if proc.returncode != 0 and not errors:
        pytest.fail(f"check-jsonschema failed (exit {proc.returncode}): {proc.stderr}")
    return errors


@dataclass(frozen=True)
class Finding:
    ident: str
    severity: str
    file: str
    line: int
    note: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.ident} ({self.severity}): {self.note}"


def zizmor_findings(paths: list[Path]) -> list[Finding]:
    """Audit with zizmor offline, auditor persona, ignoring inline ignore comments and configs.

    --strict-collection makes a file zizmor cannot parse an error instead of a skipped input.
    """
    proc = subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--persona=auditor",
            "--no-config",
            "--no-ignores",
            "--strict-collection",
            "--no-exit-codes",
            "--no-progress",
            "--format=json",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=120,
    )
    if proc.returncode != 0:
        pytest.fail(f"zizmor failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    found = []
    for item in json.loads(proc.stdout):
        primary = next(
            (loc for loc in item["locations"] if loc["symbolic"]["kind"] == "Primary"),
            item["locations"][0],
        )
        key = primary["symbolic"]["key"]
        path = key["Local"]["verbatim_path"] if "Local" in key else str(key)
        found.append(
            Finding(
                ident=item["ident"],
                severity=item["determinations"]["severity"],
                file=Path(path).name,
                line=primary["concrete"]["location"]["start_point"]["row"] + 1,
                note=primary["symbolic"]["annotation"],
            )
        )
    return found


def blocking(findings: list[Finding], allowed: dict[tuple[str, str], str]) -> list[Finding]:
    """Findings of medium or high severity that the allow-list does not accept."""
    return [f for f in findings if f.severity in BLOCKING and (f.ident, f.file) not in allowed]


def stale_allowances(
    findings: list[Finding], allowed: dict[tuple[str, str], str]
) -> list[tuple[str, str]]:
    seen = {(f.ident, f.file) for f in findings}
    return [key for key in allowed if key not in seen]


def unpinned_uses(wf: dict[str, Any], label: str) -> list[str]:
    """Every non-local action or reusable workflow must be pinned to a full commit SHA."""
    problems = []
    for job_id, job in jobs(wf).items():
        refs = [("job", job["uses"])] if "uses" in job else []
        refs += [(f"step {i}", s["uses"]) for i, s in enumerate(steps(job)) if "uses" in s]
        for where, uses in refs:
            if uses.startswith("./"):
                continue
            if uses.startswith("docker://"):
                if "@sha256:" not in uses:
                    problems.append(f"{label}: jobs.{job_id} {where}: {uses} has no image digest")
                continue
            ref = uses.rpartition("@")[2] if "@" in uses else ""
            if not SHA.match(ref):
                problems.append(
                    f"{label}: jobs.{job_id} {where}: {uses} is not pinned to a 40-hex commit SHA"
                )
    return problems


USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*['\"]?([^\s'\"#]+)['\"]?\s*(#.*)?$")
VERSION_COMMENT = re.compile(r"^#\s*(v\d+\.\d+\.\d+)\s*$")


def pins(text: str) -> list[tuple[int, str, str, str | None]]:
    """(line, action, ref, version comment) for each non-local `uses:` line of a workflow."""
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        m = USES_LINE.match(line)
        if not m or m.group(1).startswith(("./", "docker://")):
            continue
        uses, comment = m.group(1), (m.group(2) or "").strip()
        version = VERSION_COMMENT.match(comment)
        found.append((n, action_of(uses), uses.rpartition("@")[2], version and version.group(1)))
    return found


def version_comment_problems(text: str, label: str) -> list[str]:
    return [
        f"{label}:{n}: {action}@{ref} has no '# vX.Y.Z' comment naming the pinned release"
        for n, action, ref, version in pins(text)
        if version is None
    ]


def inconsistent_pins(texts: dict[str, str]) -> list[str]:
    """One action, one pin: the same action at two SHAs or versions is a half-done bump."""
    seen: dict[str, set[tuple[str, str | None]]] = {}
    for text in texts.values():
        for _, action, ref, version in pins(text):
            seen.setdefault(action, set()).add((ref, version))
    return [
        f"{action} is pinned several ways: {sorted(refs, key=str)}"
        for action, refs in seen.items()
        if len(refs) > 1
    ]


def permission_problems(wf: dict[str, Any], label: str) -> list[str]:
    """Top level grants nothing; each job states its permissions; writes only where needed."""
    problems = []
    if "permissions" not in wf:
        problems.append(f"{label}: no top-level permissions (the token would get the defaults)")
    else:
        top = wf["permissions"]
        if not isinstance(top, dict) or any(v not in ("read", "none") for v in top.values()):
            problems.append(f"{label}: top-level permissions must be {{}} or read-only, got {top}")
    for job_id, job in jobs(wf).items():
        perms = job.get("permissions")
        if not isinstance(perms, dict):
            problems.append(f"{label}: jobs.{job_id} must state its permissions as a mapping")
            continue
        for scope, level in perms.items():
            if level != "write":
                continue
            needs = ALLOWED_WRITES.get(scope)
            if needs is None:
                problems.append(f"{label}: jobs.{job_id} has {scope}: write, which no job needs")
            elif not steps_using(job, needs):
                problems.append(
                    f"{label}: jobs.{job_id} has {scope}: write but does not use {needs}"
                )
            elif scope == "pull-requests" and not any(
                truthy((s.get("with") or {}).get("comment-on-pr")) for s in steps_using(job, needs)
            ):
                problems.append(
                    f"{label}: jobs.{job_id} has pull-requests: write but posts no PR comment"
                )
        if steps_using(job, "aws-actions/configure-aws-credentials") and (
            perms.get("id-token") != "write"
        ):
            problems.append(f"{label}: jobs.{job_id} assumes an AWS role without id-token: write")
    return problems


EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def run_expansions(wf: dict[str, Any], label: str) -> list[str]:
    """No `${{ }}` inside run scripts: values reach scripts through env, never as code."""
    problems = []
    for job_id, job in jobs(wf).items():
        for i, s in enumerate(steps(job)):
            script = str(s.get("run", ""))
            if "${{" in script:
                found = ", ".join(EXPRESSION.findall(script)) or "${{"
                problems.append(
                    f"{label}: jobs.{job_id} step {i} ({s.get('name', 'unnamed')}) expands "
                    f"{found} inside run:"
                )
    return problems


def checkout_problems(wf: dict[str, Any], label: str) -> list[str]:
    return [
        f"{label}: jobs.{job_id} step {i}: actions/checkout without persist-credentials: false"
        for job_id, job in jobs(wf).items()
        for i, s in enumerate(steps(job))
        if "uses" in s
        and action_of(s["uses"]) == "actions/checkout"
        and (s.get("with") or {}).get("persist-credentials") not in (False, "false")
    ]


FORBIDDEN_TRIGGERS = {
    "pull_request_target": "runs fork code with the base repository's secrets and write token",
    "workflow_run": "runs with secrets after workflows that fork pull requests can trigger",
}


def trigger_problems(wf: dict[str, Any], label: str) -> list[str]:
    return [
        f"{label}: trigger {name} is not allowed: it {why}"
        for name, why in FORBIDDEN_TRIGGERS.items()
        if name in triggers(wf)
    ]


GENERIC_CHECKS: list[Callable[[dict[str, Any], str], list[str]]] = [
    unpinned_uses,
    permission_problems,
    run_expansions,
    checkout_problems,
    trigger_problems,
]


def pulumi_step(job: dict[str, Any]) -> dict[str, Any] | None:
    found = steps_using(job, "pulumi/actions")
    return found[0] if len(found) == 1 else None


def pulumi_inputs_problems(
    job_id: str, job: dict[str, Any], command: str, config: str
) -> list[str]:
    step = pulumi_step(job)
    if step is None:
        return [f"jobs.{job_id}: needs exactly one pulumi/actions step"]
    inputs = step.get("with") or {}
    problems = []
    expected = {"command": command, "policyPacks": "policies", "policyPackConfigs": config}
    for key, want in expected.items():
        if inputs.get(key) != want:
            problems.append(
                f"jobs.{job_id}: pulumi/actions {key} must be {want!r}, got {inputs.get(key)!r}"
            )
    if "secrets.PULUMI_ACCESS_TOKEN" not in str((step.get("env") or {}).get("PULUMI_ACCESS_TOKEN")):
        problems.append(f"jobs.{job_id}: pulumi/actions must get PULUMI_ACCESS_TOKEN from secrets")
    aws = steps_using(job, "aws-actions/configure-aws-credentials")
    if len(aws) != 1 or steps(job).index(aws[0]) > steps(job).index(step):
        problems.append(f"jobs.{job_id}: must assume its AWS role (OIDC) before pulumi runs")
    elif "role-to-assume" not in (aws[0].get("with") or {}) or any(
        k in (aws[0].get("with") or {}) for k in ("aws-access-key-id", "aws-secret-access-key")
    ):
        problems.append(f"jobs.{job_id}: AWS credentials must come from role-to-assume (OIDC)")
    return problems


def deploy_problems(wf: dict[str, Any]) -> list[str]:
    """deploy.yml: main only, dev then prod, prod behind its environment, one update per stack."""
    problems = []
    on = triggers(wf)
    if "main" not in ((on.get("push") or {}).get("branches") or []):
        problems.append("deploy: must run on push to main")
    if "workflow_dispatch" not in on:
        problems.append("deploy: must allow workflow_dispatch")
    by_env = {environment_name(j): (job_id, j) for job_id, j in jobs(wf).items()}
    for stack in STACKS:
        if stack not in by_env:
            problems.append(f"deploy: no job deploys stack {stack} in environment {stack!r}")
            continue
        job_id, job = by_env[stack]
        problems += pulumi_inputs_problems(job_id, job, "up", f"policies/config/{stack}.json")
        conc = job.get("concurrency")
        if not isinstance(conc, dict) or conc.get("cancel-in-progress") is not False:
            problems.append(
                f"deploy: jobs.{job_id} needs a concurrency group with cancel-in-progress: false"
            )
        if "refs/heads/main" not in str(job.get("if", "")):
            problems.append(f"deploy: jobs.{job_id} must only run for refs/heads/main")
    if {"dev", "prod"} <= by_env.keys():
        groups = [by_env[s][1].get("concurrency", {}).get("group") for s in STACKS]
        if len(set(map(str, groups))) != len(groups):
            problems.append(f"deploy: each stack needs its own concurrency group, got {groups}")
        prod_id, prod = by_env["prod"]
        dev_id, dev = by_env["dev"]
        needs = prod.get("needs") or []
        if dev_id not in ([needs] if isinstance(needs, str) else needs):
            problems.append(f"deploy: jobs.{prod_id} (prod) must need jobs.{dev_id} (dev)")
        dev_needs = dev.get("needs") or []
        dev_needs = [dev_needs] if isinstance(dev_needs, str) else dev_needs
        if not any(
            "make test" in str(s.get("run", ""))
            for n in dev_needs
            for s in steps(jobs(wf).get(n, {}))
        ):
            problems.append(f"deploy: jobs.{dev_id} must need a job that runs `make test`")
    return problems


def make_test_job_problems(wf: dict[str, Any]) -> list[str]:
    job = jobs(wf).get("test")
    if job is None:
        return ["pull-request: no job `test`"]
    problems = []
    if not any(s.get("run", "").strip() == "make test" for s in steps(job)):
        problems.append("pull-request: jobs.test must run `make test`")
    setup = steps_using(job, "actions/setup-python")
    if not setup or str((setup[0].get("with") or {}).get("python-version")) != "3.11":
        problems.append("pull-request: jobs.test must set up Python 3.11 with actions/setup-python")
    return problems


def offline_preview_problems(wf: dict[str, Any]) -> list[str]:
    job = jobs(wf).get("offline-preview")
    if job is None:
        return ["pull-request: no job `offline-preview`"]
    problems = []
    if (job.get("strategy") or {}).get("matrix", {}).get("stack") != list(STACKS):
        problems.append(f"pull-request: jobs.offline-preview must run for stacks {list(STACKS)}")
    runs = " ".join(str(s.get("run", "")) for s in steps(job))
    if not re.search(r"make preview STACK=\"?\$STACK\"? PREVIEW_ARGS=\"--json ", runs):
        problems.append(
            "pull-request: jobs.offline-preview must run `make preview STACK=<stack>` "
            "with a --json report"
        )
    if not steps_using(job, "actions/upload-artifact"):
        problems.append("pull-request: jobs.offline-preview must upload the JSON report")
    # Forks get no secrets: the offline preview must not need any, nor any token write.
    if "secrets." in json.dumps(job):
        problems.append("pull-request: jobs.offline-preview must not use secrets (forks)")
    if job.get("permissions") != {"contents": "read"}:
        problems.append("pull-request: jobs.offline-preview needs only contents: read")
    return problems


SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"


def pulumi_preview_problems(wf: dict[str, Any]) -> list[str]:
    job = jobs(wf).get("pulumi-preview")
    if job is None:
        return ["pull-request: no job `pulumi-preview`"]
    problems = []
    if SAME_REPO not in " ".join(str(job.get("if", "")).split()):
        problems.append(f"pull-request: jobs.pulumi-preview must be guarded by `{SAME_REPO}`")
    if (job.get("strategy") or {}).get("matrix", {}).get("stack") != list(STACKS):
        problems.append(f"pull-request: jobs.pulumi-preview must run for stacks {list(STACKS)}")
    problems += [
        f"pull-request: {p}"
        for p in pulumi_inputs_problems(
            "pulumi-preview", job, "preview", "policies/config/${{ matrix.stack }}.json"
        )
    ]
    step = pulumi_step(job) or {}
    for key in ("comment-on-pr", "edit-pr-comment"):
        if not truthy((step.get("with") or {}).get(key)):
            problems.append(f"pull-request: jobs.pulumi-preview pulumi/actions needs {key}: true")
    # Unconfigured repositories skip cleanly: every step after the gate depends on it.
    all_steps = steps(job)
    gate = next((i for i, s in enumerate(all_steps) if s.get("id") == "gate"), None)
    if gate is None:
        problems.append("pull-request: jobs.pulumi-preview needs a `gate` step")
    else:
        for i, s in enumerate(all_steps[gate + 1 :], gate + 1):
            if "steps.gate.outputs.enabled == 'true'" not in str(s.get("if", "")):
                problems.append(f"pull-request: jobs.pulumi-preview step {i} is not gated")
    return problems


def makefile_preview_problems(text: str) -> list[str]:
    """The offline-preview job relies on `make preview` passing PREVIEW_ARGS through."""
    recipe = re.search(r"^preview:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    if recipe is None:
        return ["Makefile: no preview target"]
    body = recipe.group(1)
    problems = []
    if "-m offline preview --stack $(STACK)" not in body:
        problems.append("Makefile: preview must run `-m offline preview --stack $(STACK)`")
    if "$(PREVIEW_ARGS)" not in body:
        problems.append("Makefile: preview must pass $(PREVIEW_ARGS) (CI adds --json <file>)")
    return problems


PIN_ROW = re.compile(r"^\|\s*`([\w.-]+/[\w.-]+)`\s*\|\s*(v\d+\.\d+\.\d+)\s*\|\s*`([0-9a-f]{40})`")


def documented_pins(markdown: str) -> dict[str, tuple[str, str]]:
    return {
        m.group(1): (m.group(3), m.group(2)) for m in map(PIN_ROW.match, markdown.splitlines()) if m
    }


def pin_doc_problems(texts: dict[str, str], markdown: str) -> list[str]:
    used = {(action, ref, version) for t in texts.values() for _, action, ref, version in pins(t)}
    documented = {(a, sha, v) for a, (sha, v) in documented_pins(markdown).items()}
    return [f"docs/ci.md does not list pin {p}" for p in sorted(used - documented, key=str)] + [
        f"docs/ci.md lists a pin no workflow uses: {p}" for p in sorted(documented - used, key=str)
    ]


def virtualenv_of(doc: Any) -> str | None:
    runtime = (doc or {}).get("runtime")
    if not isinstance(runtime, dict):
        return None
    return (runtime.get("options") or {}).get("virtualenv")


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


def iter_workflows(texts: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, text in texts.items():
        yield name, load(text)


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


def referenced_policy_configs(texts: dict[str, str]) -> set[str]:
    found = set()
    for _, wf in iter_workflows(texts):
        for job in jobs(wf).values():
            step = pulumi_step(job)
            config = ((step or {}).get("with") or {}).get("policyPackConfigs")
            if config:
                found |= {config.replace("${{ matrix.stack }}", s) for s in STACKS}
    return found


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
