"""Checks of the GitHub Actions workflows in .github/workflows and the contracts they rely on.

Each is a function over a workflow's text or parsed form (or the files, for the external
checkers) that returns what is wrong: schema errors (check-jsonschema, bundled schema), zizmor
findings (offline, auditor persona), unpinned or inconsistently pinned actions and their
documentation in docs/ci.md, job permissions, checkout and expression hygiene, forbidden
triggers, and the preview/deploy/test job contracts. The checkers run from this venv with the
network blocked. tests/test_workflows.py runs them on the real files and on bad copies.
"""

from __future__ import annotations

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
# Writes a job may hold, and what in the job justifies each.
ALLOWED_WRITES = {
    "id-token": "aws-actions/configure-aws-credentials",  # OIDC token for AssumeRoleWithWebIdentity
    "pull-requests": "pulumi/actions",  # the preview comment (comment-on-pr)
}


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


def iter_workflows(texts: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, text in texts.items():
        yield name, load(text)


def referenced_policy_configs(texts: dict[str, str]) -> set[str]:
    found = set()
    for _, wf in iter_workflows(texts):
        for job in jobs(wf).values():
            step = pulumi_step(job)
            config = ((step or {}).get("with") or {}).get("policyPackConfigs")
            if config:
                found |= {config.replace("${{ matrix.stack }}", s) for s in STACKS}
    return found
