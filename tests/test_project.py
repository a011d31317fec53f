"""The project's own files: Pulumi.yaml, the generated schema and reference, make targets."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

import settings
from tests.conftest import ROOT


def test_pulumi_yaml_declares_the_runtime_and_scalar_keys() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "groundwork"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": "venv"},
    }
    declared = project["config"]
    assert set(declared) == set(settings.SCALARS), "Pulumi.yaml config must match settings.SCALARS"
    for key, (type_, default, description) in settings.SCALARS.items():
        assert declared[key]["type"] == type_, f"groundwork:{key} type"
        assert str(declared[key]["default"]).lower() == default, f"groundwork:{key} default"
        assert declared[key]["description"].split() == description.split(), f"groundwork:{key}"


def test_stack_files_hold_values_only() -> None:
    for stack in ("dev", "prod"):
        doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
        assert set(doc) == {"config"}, f"Pulumi.{stack}.yaml has {set(doc) - {'config'}}"


def test_schema_file_is_current() -> None:
    committed = json.loads((ROOT / "schema" / "pulumi-stack.schema.json").read_text())
    assert committed == settings.stack_file_schema(), "run `make schema`"


def test_readme_config_reference_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme == settings.readme_with_reference(readme), "run `make schema`"
    assert "`groundwork:backups.lockMode` | `COMPLIANCE`" in readme


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_validate_against_schema(stack: str) -> None:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    jsonschema.validate(doc, settings.stack_file_schema())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("groundwork:hostng", {"minSize": 1}),
        ("groundwork:hosting", {"minSzie": 1}),
        ("groundwork:hosting", {"minSize": "2"}),
        ("groundwork:backups", {"lockMode": "STRICT"}),
        ("groundwork:phase", "beta"),
    ],
)
def test_schema_rejects_what_settings_rejects(key: str, value: object) -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    doc["config"][key] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, settings.stack_file_schema())


def test_schema_allows_other_namespaces_and_secrets() -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    doc["config"]["random:seed"] = "x"
    doc["config"]["groundwork:alerts"] = {"secure": "v1:abc"}
    jsonschema.validate(doc, settings.stack_file_schema())
    doc["config"]["groundwork:alerts"] = {"secure": "v1:abc", "extra": 1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, settings.stack_file_schema())


def test_ci_runs_exactly_make_test() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in script.splitlines()
        if line.strip() and not line.strip().startswith(("#", "set ", "cd "))
    ]
    assert commands == ["make test"]


def test_readme_quick_start_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make preview" in quick and "make test" in quick
    for step in (
        "pulumi login",
        "pulumi stack select dev",
        "pulumi config set --secret",
        "pulumi up",
    ):
        assert step in readme, step
