"""The shipped stacks through the real policy pack, and a weakened prod that must be refused."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from offline import stackfile
from offline.analyzer import PACK_DIR, AnalysisResult, PolicyPackProcess, load_policy_config
from offline.model import Recording
from tests.cli import run_offline
from tests.conftest import ROOT, write_stack_file


def _judge(recording: Recording, stack: str) -> AnalysisResult:
    config = stackfile.load(stack, ROOT)
    with PolicyPackProcess(config, dry_run=recording.preview) as pack:
        return pack.run(recording, load_policy_config(PACK_DIR / "config" / f"{stack}.json"))


@pytest.fixture(scope="module")
def verdicts(dev: Recording, prod: Recording, prod_preview: Recording) -> Iterator[dict]:
    yield {
        "dev": _judge(dev, "dev"),
        "prod": _judge(prod, "prod"),
        "prod-preview": _judge(prod_preview, "prod"),
    }


@pytest.mark.parametrize("which", ["dev", "prod", "prod-preview"])
def test_shipped_stacks_have_no_mandatory_violation(verdicts: dict, which: str) -> None:
    result = verdicts[which]
    assert [(v.policy, v.urn) for v in result.mandatory] == [], which
    assert len(result.policies) >= 40, "the pack ran its policies"


def test_prod_runs_every_policy_mandatory(verdicts: dict) -> None:
    levels = verdicts["prod"].levels
    # The cheap-dev policies are disabled in prod: they never judge a prod stack.
    assert {lvl for n, lvl in levels.items() if not n.startswith("dev-")} == {"mandatory"}
    assert {lvl for n, lvl in levels.items() if n.startswith("dev-")} == {"disabled"}
    assert not [n for n in verdicts["prod"].policies if n.startswith("dev-")]
    dev = verdicts["dev"].levels
    assert {lvl for n, lvl in dev.items() if not n.startswith("dev-")} == {"advisory"}
    assert {lvl for n, lvl in dev.items() if n.startswith("dev-")} == {"mandatory"}


def test_dev_opt_outs_show_up_as_advice(verdicts: dict) -> None:
    """dev keeps no final snapshot on purpose; the pack says so, without blocking."""
    advice = {v.policy for v in verdicts["dev"].violations if v.level == "advisory"}
    assert "rds-final-snapshot" in advice


def test_weakened_prod_is_refused(tmp_path, capsys) -> None:
    weakened = write_stack_file(
        tmp_path,
        "prod",
        {
            "groundwork:database": {"backupRetentionDays": 1},
            "groundwork:backups": {"lockMode": "GOVERNANCE"},
            "groundwork:logging": {"runtimeRetentionDays": 1},
        },
    )
    report = tmp_path / "report.json"
    code, out, err = run_offline(
        ["preview", "--stack", "prod", "--stack-file", str(weakened), "--json", str(report)],
        capsys,
    )
    assert code == 1, out[-2000:] + err
    mandatory = {
        v["policy"]
        for v in json.loads(report.read_text())["policies"]["violations"]
        if v["level"] == "mandatory"
    }
    assert {"rds-backup-retention", "s3-object-lock-retention", "log-group-retention"} <= (
        mandatory
    ), mandatory
    assert "MANDATORY" in out and "FAIL:" in out
    assert "[rds-backup-retention] urn:pulumi:prod::groundwork::" in out
