"""The offline engine itself: engine-shaped URNs, preview unknowns, exports, secrets, CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys

import pytest
import yaml

from offline import stackfile, tree
from offline.model import SECRET_SIG, SIG_KEY, UNKNOWN, Recording, plain
from offline.recorder import record
from tests.conftest import PROD_ALTERED, ROOT, stack_config, write_stack_file


def test_urns_follow_the_engine(prod: Recording) -> None:
    vpc = prod.one("aws:ec2/vpc:Vpc")
    assert vpc.urn == (
        "urn:pulumi:prod::groundwork::groundwork:network:Network$aws:ec2/vpc:Vpc::network-vpc"
    )
    component = prod.by_urn(vpc.parent)
    assert component.urn == "urn:pulumi:prod::groundwork::groundwork:network:Network::network"
    assert component.parent == prod.stack_urn
    assert prod.stack_urn == "urn:pulumi:prod::groundwork::pulumi:pulumi:Stack::groundwork-prod"


def test_urns_are_unique(prod: Recording) -> None:
    urns = [r.urn for r in prod]
    assert len(urns) == len(set(urns))


def test_full_mode_knows_outputs(prod: Recording, dev: Recording) -> None:
    assert prod.outputs["region"] == "eu-west-1"
    assert prod.outputs["url"] == "https://app.northwind-saas.com"
    assert dev.outputs["url"].startswith("http://")
    assert UNKNOWN not in json.dumps(prod.one("aws:autoscaling/group:Group").inputs)


def test_preview_mode_leaves_computed_values_unknown(prod_preview: Recording) -> None:
    asg = prod_preview.one("aws:autoscaling/group:Group")
    assert asg.inputs["vpcZoneIdentifiers"] == [UNKNOWN] * 3, asg.urn
    assert prod_preview.outputs["albDnsName"] == UNKNOWN
    # The url is the configured domain: known before anything exists.
    assert prod_preview.outputs["url"] == "https://app.northwind-saas.com"
    # Values known before apply stay known.
    assert asg.inputs["healthCheckType"] == "ELB"
    assert prod_preview.outputs["region"] == "eu-west-1"


def test_preview_registers_the_same_resources(prod: Recording, prod_preview: Recording) -> None:
    assert sorted(r.urn for r in prod) == sorted(r.urn for r in prod_preview)


def test_secure_values_reach_the_program_as_secrets(tmp_path, record_variant) -> None:
    # prod with other groups changed too (PROD_ALTERED): one recording for several files.
    # Its only secrets are the on-call address and the provider's external ID.
    assert PROD_ALTERED["groundwork:alerts"] == {"emails": [{"secure": "v1:AAAAbase64"}]}
    loaded = stackfile.load("prod", ROOT, write_stack_file(tmp_path, "prod", PROD_ALTERED))
    assert loaded.secret_keys == ("aws:assumeRoles", "groundwork:alerts")
    assert stackfile.SECRET_PLACEHOLDER in loaded.values["groundwork:alerts"]
    # The documented form (one address per secret) previews offline: the stand-in is an
    # address, and the subscription carries it as a secret.
    rec = record_variant("prod", PROD_ALTERED)
    (sub,) = rec.of_type("aws:sns/topicSubscription:TopicSubscription")
    endpoint = sub.inputs["endpoint"]
    assert isinstance(endpoint, dict) and endpoint.get(SIG_KEY) == SECRET_SIG, (
        f"{sub.urn}: the secret address reached the subscription as {endpoint!r}, not a secret"
    )


def test_a_secret_of_another_shape_is_still_validated(tmp_path) -> None:
    """The stand-in is checked like any value: an ARN key refuses it, naming the key."""
    config = stack_config("dev")
    config["groundwork:backups"] = {"breakGlassRoleArn": {"secure": "v1:AAAAbase64"}}
    path = tmp_path / "Pulumi.dev.secret.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    with pytest.raises(Exception, match=r"groundwork:backups.breakGlassRoleArn"):
        record("dev", project_dir=ROOT, stack_file=path)


def test_plain_unwraps_secrets_and_keeps_unknowns() -> None:
    wrapped = {"a": {SIG_KEY: SECRET_SIG, "value": {"b": [1, UNKNOWN]}}}
    assert plain(wrapped) == {"a": {"b": [1, UNKNOWN]}}
    assert plain({SIG_KEY: "not-the-signature", "value": 1}) != 1


def test_stack_file_errors_are_clear(tmp_path) -> None:
    with pytest.raises(stackfile.StackFileError, match="no stack file"):
        stackfile.load("nope", ROOT)
    bad = tmp_path / "bad.yaml"
    bad.write_text("config: [1, 2]\n")
    with pytest.raises(stackfile.StackFileError, match="must be a mapping"):
        stackfile.load("dev", ROOT, bad)


def test_tree_is_stable_and_grouped(prod: Recording) -> None:
    text = tree.render(prod)
    # Registration order varies with scheduling; the printed tree must not. The orders a
    # scheduler could produce, made here on purpose instead of hoped for in a second run.
    for order in (
        list(reversed(prod.resources)),
        random.Random(15).sample(prod.resources, k=len(prod.resources)),
    ):
        assert [r.urn for r in order] != [r.urn for r in prod.resources]
        assert text == tree.render(dataclasses.replace(prod, resources=order))
    lines = text.splitlines()
    network = lines.index("  + groundwork:network:Network  network")
    assert lines[network + 1].startswith("    - aws:"), "children follow their component"
    assert lines[-1].startswith(f"{len(prod.resources)} resources")


def test_cli_preview_prints_tree_and_json(tmp_path) -> None:
    out = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "offline",
            "preview",
            "--stack",
            "dev",
            "--preview",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "groundwork:hosting:WebTier  web" in result.stdout
    # Tree first, then the pack's verdicts and summary; preview-mode unknowns do not crash it.
    tree_at = result.stdout.index("groundwork:hosting:WebTier")
    pack_at = result.stdout.index("Policy pack groundwork-guardrails")
    assert tree_at < pack_at < result.stdout.index("PASS: 0 mandatory")
    report = json.loads(out.read_text())
    assert report["stack"] == "dev" and report["preview"] is True
    assert report["policies"]["ok"] is True and report["policies"]["summary"]["mandatory"] == 0
    assert report["resources"] == sorted(report["resources"], key=lambda r: r["urn"])


@pytest.mark.parametrize(
    ("argv", "status", "stderr"),
    [
        (["preview", "--stack", "nosuch"], 1, "error: no stack file"),
        (["preview", "--bogus"], 2, "unrecognized arguments: --bogus"),
        (["--help"], 0, ""),
    ],
    ids=["error", "usage", "help"],
)
def test_the_process_ends_with_the_commands_status_and_output(argv, status, stderr) -> None:
    """`python -m offline` skips the interpreter's teardown (offline.__main__.exit_now): the
    exit status, and everything written to stdout and stderr, must still get out. Run with
    buffered output, as a pipe normally is (this suite's environment may say otherwise)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run(
        [sys.executable, "-m", "offline", *argv], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == status, f"{argv}: exit {done.returncode}, stderr {done.stderr!r}"
    assert stderr in done.stderr, f"{argv}: {done.stderr!r}"
    if argv == ["--help"]:
        assert done.stdout.startswith("usage: python -m offline"), done.stdout
