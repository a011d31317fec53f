"""Lifecycle expiry rules are built by one helper, `buckets.expiry_rule`.

An AST walk over `components/` finds any hand-built `"expiration": {"days": ...}` rule; it
runs also on a broken snippet. The behaviour snapshot proves the rules stayed the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

from components import buckets

ROOT = Path(__file__).resolve().parent.parent


def hand_built_expiry(source: str, module: str) -> list[str]:
    """`module:line` of every dict literal with an `"expiration": {"days": ...}` entry: such a
    rule is built by `buckets.expiry_rule`, not by hand."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values, strict=True):
            if (
                isinstance(key, ast.Constant)
                and key.value == "expiration"
                and isinstance(value, ast.Dict)
                and any(isinstance(k, ast.Constant) and k.value == "days" for k in value.keys)
            ):
                found.append(f"{module}:{node.lineno}")
    return found


def test_expiry_rules_come_from_the_one_helper() -> None:
    helper = ROOT / "components" / "buckets.py"
    problems = [
        p
        for f in sorted((ROOT / "components").glob("*.py"))
        if f != helper
        for p in hand_built_expiry(f.read_text(), f.name)
    ]
    assert not problems, problems


def test_a_hand_built_expiry_rule_is_found() -> None:
    broken = 'rules = [{"id": "x", "status": "Enabled", "expiration": {"days": 7}}]'
    assert hand_built_expiry(broken, "broken.py") == ["broken.py:1"]
    markers = '{"id": "m", "expiration": {"expired_object_delete_marker": True}}'
    assert hand_built_expiry(markers, "ok.py") == [], markers


def test_expiry_rule_shape() -> None:
    assert buckets.expiry_rule("logs", 30) == {
        "id": "logs",
        "status": "Enabled",
        "filter": {"prefix": ""},
        "expiration": {"days": 30},
    }
    rule = buckets.expiry_rule("runs", 14, prefix="runs/", noncurrent_days=2, abort_upload_days=1)
    assert rule["filter"] == {"prefix": "runs/"}, rule
    assert rule["noncurrent_version_expiration"] == {"noncurrent_days": 2}, rule
    assert rule["abort_incomplete_multipart_upload"] == {"days_after_initiation": 1}, rule
