"""The ops tools take their shared connection options from one definition (`ops.pg`).

Each flag of `pg.CONNECTION_ENV` a tool offers must fall back to that environment variable
(the buildspecs configure the tools through it) and `--sslmode` must accept libpq's modes
only; the restore drill's target never reads the backed-up database's DB_* settings. The
check runs also on a broken parser, so it cannot pass vacuously.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import pytest

from ops import backup, backup_role, pg, restore_drill

Parser = Callable[[], argparse.ArgumentParser]


def _marker(var: str) -> str:
    return "require" if var == "DB_SSLMODE" else f"from-{var}"


def env_problems(
    build: Parser, monkeypatch: pytest.MonkeyPatch, *, from_env: set[str]
) -> list[str]:
    """Shared flags of `build`'s parser that do not (or, outside `from_env`, do) fall back to
    their CONNECTION_ENV variable, or whose --sslmode accepts other modes."""
    for var in pg.CONNECTION_ENV.values():
        monkeypatch.setenv(var, _marker(var))
    parser = build()
    problems = []
    for action in parser._actions:
        [flag, *_] = action.option_strings or [""]
        if flag not in pg.CONNECTION_ENV:
            continue
        var = pg.CONNECTION_ENV[flag]
        reads_env = action.default == _marker(var)
        if reads_env != (flag in from_env):
            problems.append(f"{parser.prog} {flag}: default {action.default!r}, env {var}")
        if flag == "--sslmode" and tuple(action.choices or ()) != pg.SSLMODES:
            problems.append(f"{parser.prog} --sslmode: choices {action.choices!r}")
    return problems


ALL_FLAGS = set(pg.CONNECTION_ENV)


@pytest.mark.parametrize(
    ("build", "from_env"),
    [
        (backup.build_parser, ALL_FLAGS),
        (backup_role.build_parser, ALL_FLAGS),
        (restore_drill.build_parser, {"--pg-bin-dir"}),
    ],
    ids=["backup", "backup_role", "restore_drill"],
)
def test_each_tool_takes_the_shared_options_from_one_definition(
    build: Parser, from_env: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = {s for a in build()._actions for s in a.option_strings} & ALL_FLAGS
    assert "--sslmode" in flags and "--pg-bin-dir" in flags, flags
    assert env_problems(build, monkeypatch, from_env=from_env) == []


def _broken_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="broken")
    parser.add_argument("--host", default=os.environ.get("HOST"))
    parser.add_argument("--sslmode", choices=("require", "whatever"))
    return parser


def test_a_flag_reading_another_variable_or_modes_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOST", "elsewhere")
    problems = env_problems(_broken_parser, monkeypatch, from_env=ALL_FLAGS)
    assert any("--host" in p for p in problems), problems
    assert any("--sslmode: choices" in p for p in problems), problems


def test_an_unknown_flag_is_refused() -> None:
    with pytest.raises(ValueError, match="--target-host is not a shared connection option"):
        pg.add_connection_option(argparse.ArgumentParser(), "--target-host")
