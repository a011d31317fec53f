"""The watch mode re-runs program and policies on a change and shows only what changed.

A copy of the project is edited between runs, the way a user edits theirs; each run is
started by the test (no timers), so nothing here depends on how fast the machine is. The
loop itself (full report, wait for a change, report changes, survive a broken edit) is driven
by a scripted session that returns the shared dev recording: the real runs are proven above
it, and recording dev again would only repeat them.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from offline import tree
from offline.model import Recording
from offline.watch import WatchSession, diff, watch
from tests.conftest import ROOT
from tests.watch_session import edit, up_to_date, watching


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, dev: Recording) -> Iterator[WatchSession]:
    """One watch session (and its pack) over a copy of the project, shared by the tests below:
    each starts from the session's last run, edits the copy, and asserts on what the next run
    reports; the pack's start costs as much as a run, and a user's session sees many edits.

    Afterwards the modules the session loaded from the copy are gone, and the project modules
    other tests in this process had loaded are back. Modules from outside the project (the
    SDK) stay loaded: the watch mode keeps them too. `dev` is recorded first, so that no
    in-process recording of the real project can pick up the copy's modules.
    """
    with watching(tmp_path_factory, "watch") as session:
        _, _, changes = session.run()
        assert changes is None, "the first run is reported in full"
        yield session


def test_a_component_edit_shows_up_and_nothing_leaks(session: WatchSession) -> None:
    up_to_date(session)
    starts = session.pack_starts
    assert session.pending() == [], "nothing changed yet"
    network = session.project_dir / "components" / "network.py"
    edit(network, "enable_dns_hostnames=True", "enable_dns_hostnames=False")
    assert session.pending() == [network]
    second, _, changes = session.run()
    vpc = next(r for r in second if r.type == "aws:ec2/vpc:Vpc")
    assert vpc.input("enableDnsHostnames") is False, (
        f"{vpc.urn}: the edited component was not re-imported (module state leaked)"
    )
    assert changes == [f"~ {vpc.urn} (enableDnsHostnames)"], changes
    assert session.pack_starts == starts, "a component edit must not restart the pack"


def test_a_stack_file_edit_reports_verdicts_from_the_same_pack(session: WatchSession) -> None:
    up_to_date(session)
    starts, pid = session.pack_starts, session.pack_pid
    # dev opts out of the final snapshot, which the pack reports; opting back in clears it.
    stack_file = session.project_dir / "Pulumi.dev.yaml"
    edit(stack_file, "finalSnapshot: false", "finalSnapshot: true")
    assert session.pending() == [stack_file], "the stack-file edit was not seen"
    recording, result, changes = session.run()
    assert session.pack_starts == starts and session.pack_pid == pid, (
        f"a stack-file edit reaches the running pack (pid {pid} -> {session.pack_pid})"
    )
    db = next(r for r in recording if r.type == "aws:rds/instance:Instance")
    assert any(c.startswith(f"~ {db.urn} (") for c in changes or []), changes
    # The other ~250 resources ran again unchanged: a re-run reports none of them.
    others = [c for c in changes or [] if db.urn not in c]
    assert others == [], f"an unchanged resource must not be reported on a re-run: {others}"
    assert result is not None
    gone = [c for c in changes or [] if c.startswith("- [") and db.urn in c]
    assert gone, f"{db.urn}: the final-snapshot verdict must be reported gone: {changes}"


def test_diff_lists_added_removed_and_changed() -> None:
    from offline.watch import Snapshot

    before = Snapshot({"a": '{"x": 1}', "b": "{}"}, {("advisory", "p", "a", "m")})
    after = Snapshot({"a": '{"x": 2}', "c": "{}"}, set())
    assert diff(before, after) == [
        "+ c",
        "- b",
        "~ a (x)",
        "- [advisory] p: a: m",
    ]
    assert diff(after, after) == []


def _shipping(path: str) -> Recording:
    """A recording of one function whose code is an archive of one file asset (wire form)."""
    from offline.model import ARCHIVE_SIG, ASSET_SIG, SIG_KEY, RecordedResource

    asset = {SIG_KEY: ASSET_SIG, "path": path}
    code = {SIG_KEY: ARCHIVE_SIG, "assets": {"handler.py": asset}}
    fn = RecordedResource(
        "aws:lambda/function:Function", "fn", "urn:fn", True, "", (), {}, None, None, (), "",
        {"code": code, "runtime": "python3.13"},
    )  # fmt: skip
    return Recording("p", "dev", False, [fn], {}, "urn:stack")


def test_an_edit_to_a_shipped_file_is_a_change(tmp_path: Path) -> None:
    """The engine diffs a file asset by its bytes: an ops/ edit changes the function's code."""
    from offline.watch import Snapshot

    (tmp_path / "ops").mkdir()
    handler = tmp_path / "ops" / "handler.py"
    handler.write_text("def handler(event, context): ...\n")
    before = Snapshot.of(_shipping("ops/handler.py"), None, tmp_path)
    assert diff(before, Snapshot.of(_shipping("ops/handler.py"), None, tmp_path)) == []
    handler.write_text("def handler(event, context): return 1\n")
    after = Snapshot.of(_shipping("ops/handler.py"), None, tmp_path)
    assert diff(before, after) == ["~ urn:fn (code)"], "urn:fn: an ops/handler.py edit"
    # Without the program's directory only the path is compared: the edit would be missed.
    blind = Snapshot.of(_shipping("ops/handler.py"), None)
    assert diff(blind, blind) == [] and "contentDigest" not in blind.inputs["urn:fn"]


class ScriptedSession:
    """Stands in for a WatchSession in the loop: each run returns (or raises) the next
    scripted result; an edit is pending only on the second look after a run (the loop must
    wait for it, not re-run at once); the last run stops the loop."""

    def __init__(self, project_dir: Path, script: list, stop: threading.Event) -> None:
        self.project_dir, self.script, self.stop = project_dir, script, stop
        self.runs, self.looks = 0, 0

    def run(self):
        self.runs, self.looks = self.runs + 1, 0
        if len(self.script) == 1:
            self.stop.set()
        result = self.script.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def pending(self) -> list[Path]:
        self.looks += 1
        return [self.project_dir / "Pulumi.dev.yaml"] if self.looks >= 2 else []

    def settle(self) -> None:
        """The real session's idle-time work (forget and re-import modules): none here."""
        self.settled = getattr(self, "settled", 0) + 1


def test_watch_loop_prints_full_then_changes(dev: Recording) -> None:
    stop = threading.Event()
    vpc = next(r for r in dev.resources if r.type == "aws:ec2/vpc:Vpc")
    script = [
        (dev, None, None),
        ValueError("groundwork:hosting.maxSize must be >= 1 (got 0)"),
        (dev, None, [f"~ {vpc.urn} (cidrBlock)"]),
        (dev, None, []),
    ]
    session = ScriptedSession(ROOT, script, stop)
    out = io.StringIO()
    watch(cast(WatchSession, session), out, stop, interval=0)
    text = out.getvalue()
    assert session.runs == 4 and stop.is_set(), f"the loop ran {session.runs} times:\n{text}"
    full, broken, changed, unchanged, end = text.split("watching ")[0:5]
    assert full.startswith(tree.render(dev)), "the first run is reported in full"
    assert broken == (
        f"{ROOT} for changes (Ctrl-C to stop)\n"
        "error: groundwork:hosting.maxSize must be >= 1 (got 0)\n"
    ), f"a broken edit is one error line, and the loop goes on: {broken!r}"
    assert changed.endswith(f"\n~ {vpc.urn} (cidrBlock)\n"), changed
    assert tree.render(dev) not in changed + unchanged, "a re-run prints only the changes"
    assert unchanged.endswith("\n(no change in resources or verdicts)\n"), unchanged
    assert end == f"{ROOT} for changes (Ctrl-C to stop)\n", end


def test_watch_loop_waits_for_a_change_before_running_again(dev: Recording) -> None:
    """The must-fail side: with nothing pending the loop looks again and does not re-run."""
    stop = threading.Event()

    class Idle(ScriptedSession):
        def pending(self) -> list[Path]:
            self.looks += 1
            if self.looks == 5:
                stop.set()  # the user pressed Ctrl-C while nothing changed
            return []

    session = Idle(ROOT, [(dev, None, None), (dev, None, [])], stop)
    out = io.StringIO()
    watch(cast(WatchSession, session), out, stop, interval=0)
    assert session.runs == 1 and session.looks == 5, (session.runs, session.looks)
    assert out.getvalue().count("watching") == 1, out.getvalue()[-300:]
