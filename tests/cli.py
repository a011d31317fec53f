"""`python -m offline ...` run inside the test process.

Only the entry point's own behaviour needs a fresh interpreter, and tests/test_offline.py
keeps one such end-to-end run. Every other CLI test calls `offline.__main__.main` here: the
same argument parsing, stack-file and policy-config checks, recording, pack process, printing
and exit status, without paying interpreter start and the SDK import again (several seconds
each on a loaded machine). An unexpected exception propagates and fails the test, as a
traceback on stderr would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from offline.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


def run_offline(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `python -m offline <argv>` run from the project root."""
    capsys.readouterr()  # only this run's output
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = main(argv)
    finally:
        os.chdir(cwd)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
