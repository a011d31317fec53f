"""Components' `*Args` carry no defaults that settings owns.

settings (settings/models.py) owns every config key's default; a component's Args repeating
one would be a second copy nothing keeps in step. Two rules, over the source (an AST walk, so
a deliberately broken copy can be checked without importing it):

- a field named like a settings field has no default at all (blueprint passes it);
- no field defaults to a literal equal to a settings-owned default (catches a renamed copy,
  e.g. `default_instance_warmup_seconds = 300` beside `scaling.instanceWarmupSeconds`).

Defaults that remain are not config: inputs that are None or empty when a feature is off, and
code constants no config key sets.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from settings import models

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "components").glob("*.py"))
_NO_DEFAULT = object()


def settings_defaults() -> dict[str, Any]:
    """Every settings field name (the whole model tree, and the scalar keys) -> its default,
    or `_NO_DEFAULT` when the key is required."""
    found: dict[str, Any] = {}

    def walk(model: type[BaseModel]) -> None:
        for name, info in model.model_fields.items():
            default = info.default if info.default is not PydanticUndefined else _NO_DEFAULT
            found.setdefault(name, default)
            annotation = info.annotation
            for arg in (annotation, *getattr(annotation, "__args__", ())):
                if inspect.isclass(arg) and issubclass(arg, BaseModel):
                    walk(arg)

    walk(models.Settings)
    for name, (kind, default, _) in models.SCALARS.items():
        found[name] = default == "true" if kind == "boolean" else default
    return found


def _default_node(statement: ast.AnnAssign) -> ast.expr | None:
    """The default's expression: `x: T = value`, or `field(default=value)`."""
    value = statement.value
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "field":
        for keyword in value.keywords:
            if keyword.arg in ("default", "default_factory"):
                return keyword.value
        return None
    return value


def args_default_problems(source: str, module: str, owned: dict[str, Any]) -> list[str]:
    """One line per Args field in `source` that repeats a default settings owns."""
    literals = [v for v in owned.values() if v is not _NO_DEFAULT and v is not None]
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ClassDef) and node.name.endswith("Args")):
            continue
        for statement in node.body:
            if not (isinstance(statement, ast.AnnAssign) and statement.value is not None):
                continue
            default = _default_node(statement)
            name = f"{module}.{node.name}.{ast.unparse(statement.target)}"
            if ast.unparse(statement.target) in owned:
                problems.append(f"{name}: settings owns this field; pass it, no default")
            elif isinstance(default, ast.Constant) and default.value is not None:
                value = default.value
                if any(type(value) is type(v) and value == v for v in literals):
                    problems.append(f"{name} = {value!r}: a default settings owns")
    return problems


def all_problems() -> list[str]:
    owned = settings_defaults()
    return [
        problem
        for path in SOURCES
        for problem in args_default_problems(path.read_text(), path.stem, owned)
    ]


def test_no_args_field_repeats_a_default_settings_owns() -> None:
    problems = all_problems()
    assert not problems, "\n".join(problems)


def test_the_walk_sees_the_args_and_the_settings_fields() -> None:
    owned = settings_defaults()
    # Nested groups and scalar keys alike, with their defaults.
    assert owned["protect"] is True and owned["lock_days"] == 30, owned
    assert owned["instance_warmup_seconds"] == 300, owned
    classes = {
        node.name
        for path in SOURCES
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name.endswith("Args")
    }
    assert {"DatabaseArgs", "WebTierArgs", "DeployPipelineArgs"} <= classes, classes


def _broken(path: str, old: str, new: str) -> list[str]:
    source = (ROOT / path).read_text()
    assert old in source, f"{path} no longer has {old!r}: update this test"
    return args_default_problems(source.replace(old, new, 1), Path(path).stem, settings_defaults())


def test_a_settings_field_given_a_default_fails() -> None:
    old = "    protect: bool\n"
    problems = _broken("components/database.py", old, "    protect: bool = True\n")
    assert problems == [
        "database.DatabaseArgs.protect: settings owns this field; pass it, no default"
    ]


def test_a_settings_field_given_any_default_fails_even_none() -> None:
    old = "    replica_region: str | None\n"
    problems = _broken("components/backup_vault.py", old, "    replica_region: str | None = None\n")
    assert problems == [
        "backup_vault.BackupVaultArgs.replica_region: settings owns this field; pass it, no default"
    ]


def test_a_renamed_copy_of_a_settings_default_fails() -> None:
    old = "    default_instance_warmup_seconds: int"
    problems = _broken("components/webtier.py", old, f"{old} = 300")
    assert problems == [
        "webtier.WebTierArgs.default_instance_warmup_seconds = 300: a default settings owns"
    ]
    via_field = _broken("components/webtier.py", old, f"{old} = field(default=300)")
    assert via_field == problems


def test_a_default_that_is_not_config_passes() -> None:
    # None when the feature is off, under a name no settings field has: not config.
    old = "    default_instance_warmup_seconds: int\n"
    new = old + "    feature_arn: str | None = None\n"
    assert _broken("components/webtier.py", old, new) == []
