"""Components take the files they upload from their Args; none locates a file itself.

A component that builds a path from a literal (`Path("ops")`, `FileAsset("ops/x.py")`) or
from the working directory finds its files only when the program happens to run from the
project directory, and hides where its sources come from. Blueprint passes the ops
directory (or the files) in. An AST walk over `components/`, run also on broken copies.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = sorted((ROOT / "components").glob("*.py"))
# Calls that turn a string into a file location or read the working directory.
PATH_CALLS = {"Path", "PurePath", "FileAsset", "FileArchive", "open"}
CWD_CALLS = {"cwd", "getcwd"}


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def located_files(source: str, module: str) -> list[str]:
    """`module:line` and the call, for every file located from a literal or the cwd."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _called_name(node)
        literal = (
            node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        )
        if (name in PATH_CALLS and literal) or name in CWD_CALLS:
            found.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_component_locates_files_itself() -> None:
    assert COMPONENTS, "no components found"
    problems = [p for f in COMPONENTS for p in located_files(f.read_text(), f.name)]
    assert not problems, problems


@pytest.mark.parametrize(
    "broken",
    [
        'SOURCE = Path("ops") / "handler.py"',
        "SOURCE = Path('ops') / 'handler.py'",
        'code = pulumi.AssetArchive({"h.py": pulumi.FileAsset("ops/h.py")})',
        "here = pathlib.Path.cwd() / 'ops'",
        "here = os.getcwd()",
        'text = open("ops/h.py").read()',
    ],
)
def test_a_file_located_from_a_literal_or_the_cwd_is_found(broken: str) -> None:
    assert located_files(broken, "broken.py"), broken


def test_a_file_passed_in_through_args_is_allowed() -> None:
    allowed = "code = sources.handler_archive(args.ops_dir / HANDLER_FILE)"
    assert located_files(allowed, "ok.py") == [], allowed
