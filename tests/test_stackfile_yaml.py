"""Stack files read through libyaml (settings.stackfile.LOADER) mean exactly what the pure
Python loader reads, and a broken one is refused with the message the pure loader gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from settings import stackfile
from tests.conftest import (
    DEV_ALTERED,
    DEV_NEWER_REGION,
    ELSEWHERE,
    GROWTH_ALTERED,
    OWN_CERTIFICATE,
    PROD_ALTERED,
    ROOT,
    merge,
    shipped_stack_config,
    stack_config,
    write_stack_file,
)

# Every stack file, overlay and project file in the repository.
SHIPPED = sorted(
    {
        *ROOT.glob("Pulumi*.yaml"),
        *(ROOT / "tests" / "stacks").glob("*.yaml"),
        *(ROOT / "tests" / "programs").glob("*/Pulumi*.yaml"),
    }
)
# The variants several test files record, written as the tests write them.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "dev-altered": ("dev", DEV_ALTERED),
    "prod-altered": ("prod", PROD_ALTERED),
    "growth-altered": ("prod", {"groundwork:phase": "growth", **GROWTH_ALTERED}),
    "own-certificate": ("prod", OWN_CERTIFICATE),
    "elsewhere": ("prod", ELSEWHERE),
    "dev-newer-region": ("dev", DEV_NEWER_REGION),
}
BROKEN = {
    "unclosed-list": "config:\n  groundwork:alerts: {emails: [a@b.example\n",
    "bad-indent": "config:\n  groundwork:phase: early\n bad: 1\n",
    "tab": "config:\n\tgroundwork:phase: early\n",
    "python-tag": "config:\n  groundwork:phase: !!python/object:os.system early\n",
    "unclosed-quote": "config:\n  groundwork:phase: 'early\n",
    "nested-colon": "config:\n  groundwork:phase: early: growth\n",
}


def _typed(value: Any) -> Any:
    """`value` with every scalar's type spelled out: True, 1 and "1" are three things."""
    if isinstance(value, dict):
        return {_typed(k): _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stackfile, "LOADER", yaml.SafeLoader)


def test_libyaml_is_used_where_pyyaml_has_it() -> None:
    expected = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert stackfile.LOADER is expected, stackfile.LOADER


def test_typed_tells_scalars_apart() -> None:
    # What the comparisons below rest on: plain == takes True for 1.
    assert _typed({"a": [True]}) != _typed({"a": [1]}) and {"a": [True]} == {"a": [1]}
    assert _typed({"a": 1}) != _typed({"a": "1"})


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_both_loaders_read_the_same_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(SHIPPED) >= 8, SHIPPED
    text = path.read_text()
    fast = _typed(yaml.load(text, Loader=stackfile.LOADER))
    assert fast == _typed(yaml.load(text, Loader=yaml.SafeLoader)), path
    config = stackfile.read_config(path)
    _pure(monkeypatch)
    assert _typed(config) == _typed(stackfile.read_config(path)), path


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_both_loaders_load_the_same_stack(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    overlay = ROOT / "tests" / "stacks" / "prod.operator.yaml" if stack == "prod" else None
    fast = stackfile.load(stack, ROOT, overlay=overlay)
    _pure(monkeypatch)
    assert fast == stackfile.load(stack, ROOT, overlay=overlay), stack


@pytest.mark.parametrize("name", VARIANTS)
def test_both_loaders_read_the_shared_variants(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, overrides = VARIANTS[name]
    path = write_stack_file(tmp_path, stack, overrides)
    # libyaml wrote it (tests.conftest): the file holds exactly the merged config.
    written = _typed(merge(stack_config(stack), overrides))
    assert _typed(stackfile.read_config(path)) == written, name
    fast = stackfile.load(stack, ROOT, path)
    _pure(monkeypatch)
    assert fast == stackfile.load(stack, ROOT, path), name


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_file_gets_the_pure_loaders_message(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(BROKEN[name])
    with pytest.raises(yaml.YAMLError):
        yaml.load(BROKEN[name], Loader=stackfile.LOADER)  # libyaml refuses it too
    with pytest.raises(stackfile.StackFileError) as fast:
        stackfile.read_config(path)
    _pure(monkeypatch)
    with pytest.raises(stackfile.StackFileError) as pure:
        stackfile.read_config(path)
    assert str(fast.value) == str(pure.value), name
    # One message: the file, what is wrong, and where, with the offending line shown.
    assert str(fast.value).startswith(f"{path} is not valid YAML: "), str(fast.value)
    assert "line " in str(fast.value) and "^" in str(fast.value), str(fast.value)


def test_shipped_config_is_a_copy_each_time() -> None:
    first = shipped_stack_config("prod")
    first["groundwork:phase"] = "growth"
    first["groundwork:database"]["multiAz"] = "changed"
    again = shipped_stack_config("prod")
    assert again["groundwork:phase"] == "early", "a test's change leaked into the next read"
    assert again["groundwork:database"]["multiAz"] != "changed", "a nested change leaked"
    assert _typed(again) == _typed(stackfile.read_config(ROOT / "Pulumi.prod.yaml"))
    overlaid = stack_config("prod")
    overlaid["groundwork:alerts"]["emails"].append("x@northwind-saas.com")
    assert "x@northwind-saas.com" not in stack_config("prod")["groundwork:alerts"]["emails"]
