"""Lifecycle expiry rules are built by one helper, `buckets.expiry_rule`.

An AST walk over `components/` finds any hand-built `"expiration": {"days": ...}` rule; it
runs also on a broken snippet. The behaviour snapshot proves the rules stayed the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

from components import buckets

ROOT = Path(__file__).resolve().parent.parent


def _days_expiry(key: ast.expr | None, value: ast.expr) -> bool:
    """`"expiration"` paired with a `{"days": ...}` dict."""
    return (
        isinstance(key, ast.Constant)
        and key.value == "expiration"
        and isinstance(value, ast.Dict)
        and any(isinstance(k, ast.Constant) and k.value == "days" for k in value.keys)
    )


def hand_built_expiry(source: str, module: str) -> list[str]:
    """`module:line` of every `"expiration": {"days": ...}` written by hand, as a dict entry or
    as `rule["expiration"] = {"days": ...}`: such a rule is built by `buckets.expiry_rule`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            pairs = list(zip(node.keys, node.values, strict=True))
        elif isinstance(node, ast.Assign):
            pairs = [(t.slice, node.value) for t in node.targets if isinstance(t, ast.Subscript)]
        else:
            continue
        found.extend(f"{module}:{node.lineno}" for key, value in pairs if _days_expiry(key, value))
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
    # The conditional shape the pipeline's buckets once had.
    assigned = 'rule = {"id": "x"}\nif expire:\n    rule["expiration"] = {"days": days}'
    assert hand_built_expiry(assigned, "broken.py") == ["broken.py:3"]
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


def test_an_expiry_rule_without_days_keeps_current_objects() -> None:
    rule = buckets.expiry_rule("releases", None, noncurrent_days=30, abort_upload_days=7)
    assert "expiration" not in rule, rule
    assert rule["noncurrent_version_expiration"] == {"noncurrent_days": 30}, rule
    assert buckets.expiry_rule("releases", 30)["expiration"] == {"days": 30}
