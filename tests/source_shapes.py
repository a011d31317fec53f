"""Finders for repeated resource shapes built by hand instead of through their one helper.

Each finder reads one module's source and returns `module:line` for every place that builds
the shape itself; the tests run them over `components/` and the wiring (the helper's own module
excepted), and over a broken snippet, so that no finder can pass vacuously.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ROOT / "components"

Finder = Callable[[str, str], list[str]]


def _calls_to(tree: ast.AST, class_name: str) -> Iterator[ast.Call]:
    """Calls of `class_name`, however it is reached (`aws.x.Class(`, `x.Class(`, `Class(`)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == class_name) or (
            isinstance(func, ast.Name) and func.id == class_name
        ):
            yield node


def _text_lines(source: str, text: str) -> Iterator[int]:
    for number, line in enumerate(source.splitlines(), start=1):
        if text in line:
            yield number


def hand_built_log_groups(source: str, module: str) -> list[str]:
    """A `LogGroup` constructed, or the log-class tag key spelled, outside `loggroups`."""
    found = [
        f"{module}:{c.lineno}: LogGroup(...)" for c in _calls_to(ast.parse(source), "LogGroup")
    ]
    found += [
        f"{module}:{n}: groundwork:logClass" for n in _text_lines(source, "groundwork:logClass")
    ]
    return sorted(found)


def hand_built_arns(source: str, module: str) -> list[str]:
    """A string that starts an ARN (`"arn:"`, `f"arn:{partition}..."`) or names a literal
    partition (`arn:aws`), outside `context`, whose helpers spell every ARN."""
    return sorted(
        f"{module}:{node.lineno}: {node.value[:40]!r}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (node.value.startswith("arn:") or "arn:aws" in node.value)
    )


def hand_built_role_policies(source: str, module: str) -> list[str]:
    """An inline policy (`RolePolicy`) constructed outside `iam`, whose helpers make a role
    with its policies (or a policy for another component's role)."""
    return [
        f"{module}:{c.lineno}: RolePolicy(...)" for c in _calls_to(ast.parse(source), "RolePolicy")
    ]


SECURITY_GROUP_CLASSES = ("SecurityGroup", "SecurityGroupIngressRule", "SecurityGroupEgressRule")


def hand_built_security_groups(source: str, module: str) -> list[str]:
    """A security group or one of its rules constructed outside `secgroups`."""
    tree = ast.parse(source)
    return sorted(
        f"{module}:{c.lineno}: {cls}(...)"
        for cls in SECURITY_GROUP_CLASSES
        for c in _calls_to(tree, cls)
    )


def outside(helper_module: str, finder: Finder) -> list[str]:
    """`finder` over every module in `components/` and the wiring, but the helper's own."""
    return [
        problem
        for path in [*sorted(COMPONENTS.glob("*.py")), ROOT / "blueprint.py"]
        if path.name != helper_module
        for problem in finder(path.read_text(), path.name)
    ]
