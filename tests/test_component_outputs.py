"""Every component registers all its declared outputs, through one helper."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from components.outputs import declared_outputs, public_outputs

ROOT = Path(__file__).resolve().parent.parent
COMPONENT_MODULES = sorted(p for p in (ROOT / "components").glob("*.py") if p.name != "outputs.py")


def _component_classes(tree: ast.Module) -> list[ast.ClassDef]:
    return [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(base).endswith("ComponentResource") for base in node.bases)
    ]


def _calls(node: ast.AST, name: str) -> list[ast.Call]:
    return [
        call
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and ast.unparse(call.func).endswith(name)
    ]


def registration_problems(source: str, module: str) -> list[str]:
    """Components that register by hand, or whose `__init__` does not call register_all."""
    tree = ast.parse(source)
    problems = [
        f"{module}:{call.lineno} registers a hand-picked dict (use register_all(self))"
        for call in _calls(tree, "register_outputs")
    ]
    for cls in _component_classes(tree):
        init = next(
            (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
        )
        if init is None or not _calls(init, "register_all"):
            problems.append(f"{module}.{cls.name}.__init__ does not call register_all(self)")
    return problems


def test_every_component_registers_through_the_helper() -> None:
    problems = [
        problem
        for path in COMPONENT_MODULES
        for problem in registration_problems(path.read_text(), f"components.{path.stem}")
    ]
    assert not problems, problems
    assert any(_component_classes(ast.parse(p.read_text())) for p in COMPONENT_MODULES)


def test_a_hand_picked_dict_or_a_missing_call_is_reported() -> None:
    by_hand = (
        "class C(pulumi.ComponentResource):\n"
        "    def __init__(self):\n"
        "        self.register_outputs({'x': 1})\n"
    )
    assert len(registration_problems(by_hand, "m")) == 2


class _Base:
    shared: str


class _Component(_Base):
    bucket_name: str
    named_query_ids: dict[str, str]
    _private: int

    def __init__(self, *, complete: bool) -> None:
        self.shared = "s"
        self.bucket_name = "b"
        self._private = 1
        if complete:
            self.named_query_ids = {"dau": "q"}


def test_every_declared_public_attribute_is_an_output_under_its_camel_case_name() -> None:
    component = _Component(complete=True)
    assert declared_outputs(component) == ["shared", "bucket_name", "named_query_ids"]
    assert public_outputs(component) == {
        "shared": "s",
        "bucketName": "b",
        "namedQueryIds": {"dau": "q"},
    }


def test_a_declared_output_never_set_is_an_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="named_query_ids"):
        public_outputs(_Component(complete=False))
