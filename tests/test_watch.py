"""The watch mode re-runs program and policies on a change and shows only what changed.

A copy of the project is edited between runs, the way a user edits theirs; each run is
started by the test (no timers), so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import io
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline.watch import WatchSession, diff, watch
from tests.conftest import ROOT

IGNORE = shutil.ignore_patterns("venv", ".git", "tests", "out", "__pycache__", "*.pyc", "bench")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A copy of the project; the modules a session loads from it are gone afterwards, and
    the ones other tests in this process had loaded are back."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=IGNORE)
    saved = dict(sys.modules)
    yield copy
    sys.modules.clear()
    sys.modules.update(saved)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found; update the test's edit"
    path.write_text(text.replace(old, new, 1))


def test_a_component_edit_shows_up_and_nothing_leaks(project: Path) -> None:
    session = WatchSession("dev", project)
    try:
        _, _, changes = session.run()
        assert changes is None, "the first run is reported in full"
        assert session.pending() == [], "nothing changed yet"
        network = project / "components" / "network.py"
        _edit(network, "enable_dns_hostnames=True", "enable_dns_hostnames=False")
        assert session.pending() == [network]
        second, _, changes = session.run()
        vpc = next(r for r in second if r.type == "aws:ec2/vpc:Vpc")
        assert vpc.input("enableDnsHostnames") is False, (
            f"{vpc.urn}: the edited component was not re-imported (module state leaked)"
        )
        assert changes == [f"~ {vpc.urn} (enableDnsHostnames)"], changes
        assert session.pack_starts == 1, "a component edit must not restart the pack"
        _, _, again = session.run()
        assert again == [], "an unchanged re-run must report no change"
    finally:
        session.close()


def test_a_stack_file_edit_reports_verdicts_from_the_same_pack(project: Path) -> None:
    session = WatchSession("dev", project)
    try:
        session.run()
        # dev opts out of the final snapshot, which the pack reports; opting back in clears it.
        _edit(project / "Pulumi.dev.yaml", "finalSnapshot: false", "finalSnapshot: true")
        recording, result, changes = session.run()
        assert session.pack_starts == 1, "a stack-file edit reaches the running pack"
        db = next(r for r in recording if r.type == "aws:rds/instance:Instance")
        assert any(c.startswith(f"~ {db.urn} (") for c in changes or []), changes
        assert result is not None
        gone = [c for c in changes or [] if c.startswith("- [") and db.urn in c]
        assert gone, f"{db.urn}: the final-snapshot verdict must be reported gone: {changes}"
    finally:
        session.close()


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


def test_watch_loop_prints_full_then_changes(project: Path) -> None:
    session = WatchSession("dev", project, policies=False)
    out = io.StringIO()
    stop = threading.Event()
    runs: list[int] = []
    original = session.run

    def run_and_edit():  # the user's edit happens right after the first run
        result = original()
        runs.append(1)
        if len(runs) == 1:
            _edit(project / "Pulumi.dev.yaml", "maxSize: 2", "maxSize: 3")
        else:
            stop.set()
        return result

    session.run = run_and_edit  # type: ignore[method-assign]
    try:
        watch(session, out, stop, interval=0.01)
    finally:
        session.close()
    text = out.getvalue()
    assert "(maxSize)" in text and text.count("watching") == 2, text[-800:]
