"""`SettingsError` and the wording of field errors: one line per problem, naming the full key,
the value and what is allowed."""

from __future__ import annotations

import difflib
import json
from typing import Any

from pydantic import BaseModel, ValidationError

from settings.models import _Group


class SettingsError(ValueError):
    """Every problem found in the stack config, one per line."""

    def __init__(self, stack: str, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid configuration for stack {stack!r} ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}):\n{lines}"
        )


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_TYPE_NAMES: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "a value")


_TYPE_WORDS = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean (true or false)",
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
}


def _describe(error: Any, model: type[BaseModel] | None, value: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        allowed = sorted(f.alias or n for n, f in (model.model_fields if model else {}).items())
        hint = difflib.get_close_matches(str(error["loc"][-1]), allowed, n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        return f"is not a known key (allowed: {', '.join(allowed)}){suggestion}"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]} (got {_show(got)}, {_type_name(got)})"
    if kind == "log_retention":  # settings.models.LogRetentionDays words its own message
        return str(error["msg"])
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_show(got)})"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">",
              "less_than_equal": "<=", "less_than": "<"}[kind]  # fmt: skip
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound} (got {_show(got)})"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')} (got {_show(got)})"
    if kind == "string_too_short":
        return f"must not be empty (got {_show(got)})"
    return f"{error['msg'].lower()} (got {_show(got)})"


def _field_errors(prefix: str, model: type[_Group], exc: ValidationError, raw: Any) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        # Name the key the user wrote: list items as `emails[1]`.
        key = prefix
        for part in loc:
            key += f"[{part}]" if part.isdigit() else f".{part}"
        problems.append(f"{key} {_describe(error, model, raw)}")
    return problems
