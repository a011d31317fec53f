"""A watch session over a copy of the project, for tests/test_watch.py and test_watch_config.py.

`watching()` copies the project (optionally with another `__main__.py`) and yields a session
over the copy (the caller makes its first run). Afterwards it closes the session and puts back
the modules the copy shadowed: the modules loaded from the copy are gone (asserted); the SDK
modules a run imported stay (pulumi refuses a second import of a provider package in one
process, and the watch mode keeps them too).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from offline.watch import WatchSession, forget_project_modules
from tests.conftest import ROOT

IGNORE = shutil.ignore_patterns("venv", ".git", "tests", "out", "__pycache__", "*.pyc", "bench")


@contextmanager
def watching(
    tmp_path_factory: pytest.TempPathFactory, name: str, program: Path | None = None
) -> Iterator[WatchSession]:
    """A session over a fresh copy of the project; closed and cleaned up afterwards."""
    copy = tmp_path_factory.mktemp(name) / "project"
    shutil.copytree(ROOT, copy, ignore=IGNORE)
    if program is not None:
        shutil.copy(program, copy / "__main__.py")
    saved = dict(sys.modules)
    session = WatchSession("dev", copy)
    try:
        yield session
    finally:
        session.close()
    forget_project_modules(copy.resolve())
    sys.modules.update(saved)
    prefixes = (f"{copy}{os.sep}", f"{copy.resolve()}{os.sep}")
    loaded_from_copy = [
        name
        for name, module in sys.modules.items()
        if (getattr(module, "__file__", None) or "").startswith(prefixes)
    ]
    assert loaded_from_copy == [], f"modules of the copy still loaded: {loaded_from_copy}"


def up_to_date(session: WatchSession) -> None:
    """Whatever another test left pending is run first, so this test's edit is the only change."""
    if session.pending():
        session.run()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found; update the test's edit"
    path.write_text(text.replace(old, new, 1))
