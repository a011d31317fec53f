"""The type checker `make test` runs is set up to catch a wrong pulumi_aws (or pulumi_policy)
argument type.

Running the checker here would double its ~20 s in the suite, so `make test` runs it once
(before pytest) over pyrightconfig.json's `include`, which holds tests/typecheck: there every
wrong argument is silenced by an ignore that the checker must find necessary. These tests keep
that arrangement from being undone quietly. Manual deliberate break: fix one wrong argument in
tests/typecheck/wrong_aws_arguments.py (e.g. force_destroy=True) and `make typecheck` fails
with "Unnecessary # pyright: ignore rule". The pack's canary,
tests/typecheck/wrong_policy_arguments.py, breaks the same way (e.g. enforcement_level=
EnforcementLevel.MANDATORY).
"""

from __future__ import annotations

import json
import re

from tests.conftest import ROOT

CANARY = "tests/typecheck/wrong_aws_arguments.py"
POLICY_CANARY = "tests/typecheck/wrong_policy_arguments.py"
# Production code the checker covers: the program, the pack, the ops tools, the app, the benchmarks.
CHECKED = (
    *("components", "blueprint.py", "settings", "__main__.py"),
    *("ops", "policies", "app", "bench"),
)


def test_the_checker_covers_the_program_and_the_canary_and_refuses_needless_ignores() -> None:
    config = json.loads((ROOT / "pyrightconfig.json").read_text())
    for path in (*CHECKED, "tests/typecheck"):
        assert path in config["include"], f"pyrightconfig.json include lacks {path}"
        assert (ROOT / path).exists(), f"pyrightconfig.json include names a missing {path}"
    assert config.get("reportUnnecessaryTypeIgnoreComment") == "error", (
        "pyrightconfig.json: reportUnnecessaryTypeIgnoreComment must be 'error', or the "
        f"canary {CANARY} proves nothing"
    )
    assert config.get("typeCheckingMode") in ("standard", "strict", "all", "recommended"), config


def test_make_test_runs_ruff_then_the_checker_then_pytest() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest: ", 1)[1].split("\n\n", 1)[0]
    steps = [line.strip() for line in recipe.splitlines()[1:]]
    order = [
        next(i for i, s in enumerate(steps) if word in s)
        for word in ("ruff", "basedpyright", "pytest")
    ]
    assert order == sorted(order), f"Makefile test recipe order: {steps}"


def test_every_canary_line_is_a_silenced_argument_error() -> None:
    text = (ROOT / CANARY).read_text()
    ignores = re.findall(r"# pyright: ignore\[(\w+)\]", text)
    assert len(ignores) >= 3 and set(ignores) == {"reportArgumentType"}, ignores


def test_every_policy_canary_line_is_a_silenced_error() -> None:
    text = (ROOT / POLICY_CANARY).read_text()
    ignores = re.findall(r"# pyright: ignore\[(\w+)\]", text)
    assert len(ignores) >= 4, ignores
    assert set(ignores) <= {"reportArgumentType", "reportCallIssue"}, ignores
    assert "pulumi_policy" in text, POLICY_CANARY
