"""A stack-file edit reaches the watch session's running pack; a `policies/` edit restarts it.

The pack judges some rules by the stack config itself (the dev budget, the phase, default
tags), so a pack that kept the config it started with would miss a verdict the edit changes.
Which process judged each run is read from the pack's process id and the session's start
counter, never from timing. Each run is started by the test; nothing waits on a clock.

The session here watches a copy of the project whose `__main__.py` is a small program
(tests/programs/watch_small: the real settings, network, alerts topic and app bundle), so each
of the runs below costs a fraction of the whole dev program; tests/test_watch.py runs the
whole dev program through the watch.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from offline import stackfile
from offline.analyzer import PolicyPackProcess, load_policy_config
from offline.watch import STACK_CONFIG_SOURCE_ENV, WatchSession
from tests.conftest import ROOT
from tests.watch_session import edit, up_to_date, watching

BUDGET_POLICY = "dev-cost-within-budget"
SMALL_PROGRAM = ROOT / "tests" / "programs" / "watch_small" / "__main__.py"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WatchSession]:
    """One watch session (and its pack) over a copy of the project running the small program,
    shared by the tests below: each starts from the session's last run and asserts on what its
    own edit does, the way a user's session sees edit after edit. Afterwards the modules
    loaded from the copy are gone and the ones it shadowed are back; the SDK modules a run
    imported stay (pulumi refuses a second import of a provider package in one process). No
    test here records the real project while the session runs, so none can pick up the copy's
    modules."""
    with watching(tmp_path_factory, "watch-config", SMALL_PROGRAM) as session:
        recording, _, _ = session.run()
        assert [r for r in recording if r.type == "aws:ec2/natGateway:NatGateway"], (
            "the small program must register the NAT gateway the dev budget prices"
        )
        yield session


def _budget_verdicts(lines: list[str] | None) -> list[str]:
    return [c for c in lines or [] if f"] {BUDGET_POLICY}: " in c]


def test_a_stack_file_edit_changes_a_verdict_without_restarting_the_pack(
    session: WatchSession,
) -> None:
    up_to_date(session)
    assert session.last is not None, "the session has run once"
    assert not [v for v in session.last.verdicts if v[1] == BUDGET_POLICY], (
        f"{BUDGET_POLICY}: the estimate must fit groundwork:cost.monthlyBudgetUsd 200"
    )
    starts, pid = session.pack_starts, session.pack_pid
    # The pack reads the budget from the stack config, not from a resource: only a pack
    # that took the edited config reports the estimate over the lowered budget.
    stack_file = session.project_dir / "Pulumi.dev.yaml"
    before = stackfile.load("dev", session.project_dir)
    edit(stack_file, "monthlyBudgetUsd: 200", "monthlyBudgetUsd: 20")
    recording, result, changes = session.run()
    assert session.pack_starts == starts and session.pack_pid == pid, (
        f"a stack-file edit restarted the pack (pid {pid} -> {session.pack_pid})"
    )
    added = [c for c in _budget_verdicts(changes) if c.startswith("+ [mandatory]")]
    assert added and "groundwork:cost.monthlyBudgetUsd" in added[0], (
        f"{recording.stack_urn}: groundwork:cost.monthlyBudgetUsd lowered to 20 must be "
        f"reported by {BUDGET_POLICY}: {changes}"
    )
    assert result is not None and result.of(BUDGET_POLICY, recording.stack_urn)

    # The broken copy: a pack as the Pulumi CLI starts it (stack config from PULUMI_CONFIG at
    # start, no opt-in) is sent the same edited config and keeps judging by the old budget,
    # so the check above fails for a pack that did not take the new config.
    after = stackfile.load("dev", session.project_dir)
    assert before.values != after.values, "the edit must change the stack config"
    with PolicyPackProcess(before, pack_dir=session.pack_dir, dry_run=False) as cli_pack:
        cli_pack.configure_stack(after)
        stale = cli_pack.run(recording, load_policy_config(session.policy_path))
    assert not stale.of(BUDGET_POLICY), (
        f"{BUDGET_POLICY}: a pack started the CLI's way must keep PULUMI_CONFIG's budget: "
        f"{stale.of(BUDGET_POLICY)}"
    )


def test_a_policies_edit_restarts_the_pack(session: WatchSession) -> None:
    up_to_date(session)
    starts, pid = session.pack_starts, session.pack_pid
    rule = session.pack_dir / "rules" / "observability.py"
    edit(
        rule,
        "nobody would hear them (subscribe at least one address)",
        "nobody would hear the alarms (subscribe at least one address)",
    )
    assert rule in session.pending()
    _, result, changes = session.run()
    assert session.pack_starts == starts + 1 and session.pack_pid not in (None, pid), (
        f"a policies/ edit must start a new pack (pid {pid} -> {session.pack_pid})"
    )
    assert result is not None
    messages = [v.message for v in result.of("alerts-topic-subscribed")]
    assert any("nobody would hear the alarms" in m for m in messages), (
        f"alerts-topic-subscribed: the edited rule did not run: {messages}"
    )
    assert any(c.startswith("- [advisory] alerts-topic-subscribed") for c in changes or [])


def test_settle_imports_fresh_modules_that_only_a_stack_file_edit_reuses(
    session: WatchSession,
) -> None:
    up_to_date(session)
    name = "components.network"
    ran = sys.modules[name]
    session.settle()
    fresh = sys.modules.get(name)
    assert fresh is not None and fresh is not ran, (
        f"{name}: settle() must import a module that has not run the program"
    )
    edit(session.project_dir / "Pulumi.dev.yaml", "cidr: 10.20.0.0/16", "cidr: 10.21.0.0/16")
    _, _, changes = session.run()
    assert sys.modules[name] is fresh, f"{name}: a stack-file edit must reuse the fresh module"
    assert any(c.endswith("(cidrBlock)") for c in changes or []), (
        f"groundwork:network.cidr: the edit must change the VPC's cidrBlock: {changes}"
    )

    # Any other source edit after settle(): the fresh modules are stale, import again.
    session.settle()
    stale = sys.modules[name]
    edit(
        session.project_dir / "components" / "network.py",
        "enable_dns_hostnames=True",
        "enable_dns_hostnames=False",
    )
    recording, _, _ = session.run()
    assert sys.modules[name] is not stale, f"{name}: an edited component must be re-imported"
    vpc = next(r for r in recording if r.type == "aws:ec2/vpc:Vpc")
    assert vpc.input("enableDnsHostnames") is False, f"{vpc.urn}: the edit did not take"


def test_settle_survives_a_broken_edit_and_the_run_reports_it(session: WatchSession) -> None:
    up_to_date(session)
    network = session.project_dir / "components" / "network.py"
    source = network.read_text()
    network.write_text("def broken(:\n")
    try:
        session.settle()  # must not raise: the run reports the error
        assert "components.network" not in sys.modules, "a failed import must be forgotten"
        with pytest.raises(Exception, match="network"):
            session.run()
    finally:
        network.write_text(source)  # the next test's session runs the copy again


def test_edits_to_settings_blueprint_ops_and_app_are_rerun_and_others_are_not(
    session: WatchSession,
) -> None:
    """Everything the recording depends on is watched; a file it does not depend on is not."""
    up_to_date(session)
    project = session.project_dir
    blueprint, server = project / "blueprint.py", project / "app" / "webapp" / "server.py"
    ops, models = project / "ops" / "backup.py", project / "settings" / "models.py"
    edit(blueprint, '"alerts",', '"team-alerts",')
    server.write_text(server.read_text() + "# an edit the bundle carries\n")
    ops.write_text(ops.read_text() + "# an edit the backup job's archive carries\n")
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "an edit no resource depends on\n")
    assert session.pending() == sorted([blueprint, server, ops]), (
        f"blueprint.py, app/ and ops/ edits must be pending, README.md not: {session.pending()}"
    )
    recording, _, changes = session.run()
    topic = next(r for r in recording if r.type == "aws:sns/topic:Topic")
    assert topic.name == "team-alerts-topic" and f"+ {topic.urn}" in (changes or []), (
        f"{topic.urn}: the blueprint edit did not take: {changes}"
    )
    release = next(r for r in recording if r.name == "reference-release")
    assert f"~ {release.urn} (sourceHash)" in (changes or []), (
        f"{release.urn}: the app/ edit must change the bundle's digest: {changes}"
    )
    job_source = next(r for r in recording if r.name == "backup-job-source-code")
    assert f"~ {job_source.urn} (source)" in (changes or []), (
        f"{job_source.urn}: the ops/ edit must change the archive the job ships: {changes}"
    )
    assert session.pending() == [], "README.md is not watched"

    # A settings edit: the run validates with the edited model (dev has 2 AZs).
    edit(models, "3, ge=2, le=6", "3, ge=3, le=6")
    assert session.pending() == [models], "the settings edit was not seen"
    with pytest.raises(Exception, match=r"groundwork:network\.availabilityZones must be >= 3"):
        session.run()
    edit(models, "3, ge=3, le=6", "3, ge=2, le=6")


def test_the_pack_takes_stack_config_from_configure_stack_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Pulumi CLI path keeps PULUMI_CONFIG; only the opt-in makes ConfigureStack count."""
    from pulumi.runtime.proto import analyzer_pb2

    from policies.rules import sdk

    monkeypatch.setattr(sdk._Settings, "_requested", None)
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"groundwork:phase": "early"}))
    monkeypatch.setenv("PULUMI_STACK", "dev")
    monkeypatch.delenv(sdk.STACK_CONFIG_SOURCE_ENV, raising=False)
    request = analyzer_pb2.AnalyzerStackConfigureRequest(
        stack="dev", project="groundwork", config={"groundwork:phase": "growth"}
    )
    assert not sdk._Settings.configure_stack(request)
    assert sdk._Settings.get().phase == "early", "groundwork:phase: PULUMI_CONFIG must win"
    monkeypatch.setenv(sdk.STACK_CONFIG_SOURCE_ENV, sdk.STACK_CONFIG_FROM_REQUEST)
    assert sdk._Settings.configure_stack(request)
    assert sdk._Settings.get().phase == "growth", "groundwork:phase: the request must win"
    assert STACK_CONFIG_SOURCE_ENV == sdk.STACK_CONFIG_SOURCE_ENV, "the driver's switch name"
