"""The shared recording cache: one recording per key, and a key that follows every input."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.model import Recording
from tests import recordings


def _project(root: Path) -> Path:
    (root / "components").mkdir(parents=True)
    (root / "__main__.py").write_text("print('program')\n")
    (root / "components" / "web.py").write_text("SIZE = 1\n")
    (root / "Pulumi.dev.yaml").write_text("config: {}\n")
    return root


def test_key_follows_sources_stack_file_and_options(tmp_path: Path) -> None:
    root = _project(tmp_path)
    key = recordings.recording_key(root, "dev", None)
    assert recordings.recording_key(root, "dev", None) == key, "same inputs, same key"
    (root / "components" / "__pycache__").mkdir()
    (root / "components" / "__pycache__" / "web.cpython-311.pyc").write_bytes(b"x")
    assert recordings.recording_key(root, "dev", None) == key, "bytecode is not an input"
    assert recordings.recording_key(root, "dev", None, preview=True) != key, "preview"
    assert recordings.recording_key(root, "dev", None, preview=False) == key, "the default"
    (root / "Pulumi.dev.yaml").write_text("config: {a: 1}\n")
    changed_stack = recordings.recording_key(root, "dev", None)
    assert changed_stack != key, "Pulumi.dev.yaml changed"
    (root / "Pulumi.dev.yaml").write_text("# the same config, other layout\nconfig:\n  a: 1\n")
    assert recordings.recording_key(root, "dev", None) == changed_stack, "comments, layout"
    (root / "components" / "web.py").write_text("SIZE = 2\n")
    assert recordings.recording_key(root, "dev", None) != changed_stack, "components/web.py"


def test_a_key_is_recorded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path / "project")
    calls: list[str] = []

    def fake_record(stack: str, **_: object) -> Recording:
        calls.append(stack)
        return Recording("p", stack, False, [], {"n": len(calls)}, "urn")

    monkeypatch.setattr(recordings, "record", fake_record)
    cache = tmp_path / "cache"
    first = recordings.shared_record(cache, root, "dev")
    second = recordings.shared_record(cache, root, "dev")
    assert calls == ["dev"], "the second caller must read the shared recording"
    assert second.outputs == first.outputs == {"n": 1}
    (root / "components" / "web.py").write_text("SIZE = 3\n")
    assert recordings.shared_record(cache, root, "dev").outputs == {"n": 2}, "a new key records"


def test_the_suite_runs_with_its_collector_settings() -> None:
    """tests/conftest.py sets the collector's thresholds and freezes what collection imported
    (a fifth of the suite's CPU otherwise); dropping either hook fails here, not silently."""
    import gc

    from tests.conftest import GC_THRESHOLDS

    assert gc.get_threshold() == GC_THRESHOLDS, f"gc thresholds {gc.get_threshold()}"
    assert gc.get_freeze_count() > 0, "nothing was frozen after collection"
