"""Instance user data (components/bootstrap.py): valid bash, both agents from the region's own
buckets, and what the app's deploy bundle expects on the host in place before the CodeDeploy
agent starts.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from components import bootstrap
from tests.conftest import ROOT

PARAMETER = "/groundwork/prod/cloudwatch-agent"
# Any AWS region name, as it would appear in a URL or an assignment.
REGION_RE = re.compile(r"\b[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d\b")


def render(region: str, **flags: object) -> str:
    spec = bootstrap.Bootstrap(
        region=region,
        app_config={"region": region, "environment": "prod", "appPort": 8080},
        cloudwatch_agent_parameter=PARAMETER if flags.get("cloudwatch", True) else None,
        install_codedeploy_agent=bool(flags.get("codedeploy", True)),
    )
    return bootstrap.render(spec)


def bash_n(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)


def foreign_regions(text: str, region: str) -> set[str]:
    return {m for m in REGION_RE.findall(text) if m != region}


def urls(text: str) -> set[str]:
    return set(re.findall(r"https://[^\s'\"]+", text))


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2"])
def test_user_data_with_both_agents_is_valid_bash(region: str):
    result = bash_n(render(region))
    assert result.returncode == 0, f"{region}: {result.stderr}"


def test_bash_n_rejects_a_broken_script():
    text = render("eu-west-1")
    broken = text.replace("\nfi\n", "\n", 1)  # an if without its fi
    assert broken != text
    assert bash_n(broken).returncode != 0


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2"])
def test_agents_come_from_the_regions_own_buckets(region: str):
    text = render(region)
    assert urls(text) == {
        f"https://aws-codedeploy-{region}.s3.{region}.amazonaws.com/latest/install",
        f"https://amazoncloudwatch-agent-{region}.s3.{region}.amazonaws.com/amazon_linux/amd64/"
        "latest/amazon-cloudwatch-agent.rpm",
        f"https://amazoncloudwatch-agent-{region}.s3.{region}.amazonaws.com/amazon_linux/arm64/"
        "latest/amazon-cloudwatch-agent.rpm",
    }
    assert foreign_regions(text, region) == set(), region


def test_region_check_sees_a_hard_coded_region():
    text = render("ap-southeast-2").replace(
        "aws-codedeploy-ap-southeast-2.s3.ap-southeast-2", "aws-codedeploy-us-east-1.s3.us-east-1"
    )
    assert foreign_regions(text, "ap-southeast-2") == {"us-east-1"}


def test_china_regions_use_their_own_domain():
    text = render("cn-north-1")
    assert "https://aws-codedeploy-cn-north-1.s3.cn-north-1.amazonaws.com.cn/latest/install" in text
    assert all(u.split("/")[2].endswith(".amazonaws.com.cn") for u in urls(text)), urls(text)


def test_agents_are_only_installed_when_asked():
    text = render("eu-west-1", cloudwatch=False, codedeploy=False)
    assert urls(text) == set()
    assert "codedeploy-agent" not in text and "amazon-cloudwatch-agent" not in text
    assert bash_n(text).returncode == 0


def test_codedeploy_agent_starts_after_what_the_bundle_needs():
    text = render("eu-west-1")
    lines = text.splitlines()

    def first(pattern: str) -> int:
        for i, line in enumerate(lines):
            if re.search(pattern, line):
                return i
        raise AssertionError(f"no line matches {pattern!r}")

    start = first(r"systemctl restart codedeploy-agent")
    assert first(rf"cat > {re.escape(bootstrap.APP_CONFIG_PATH)}") < start
    assert first(rf"dnf install -y {bootstrap.APP_PYTHON_PACKAGE}\b") < start
    assert first(rf"useradd .* {bootstrap.APP_USER}$") < start
    assert first(r"dnf install -y ruby") < first(r"/tmp/codedeploy-install auto") < start
    # The installer learns the region from us, not from IMDSv1 (disabled on these instances).
    assert 'AWS_REGION="$REGION" /tmp/codedeploy-install auto' in text
    assert first(r":enable_auth_policy: true") < start
    assert f"-c ssm:{PARAMETER}" in text


def test_app_config_is_written_verbatim():
    text = render("eu-west-1")
    body = text.split("<<'GROUNDWORK_APP_JSON'\n", 1)[1].split("\nGROUNDWORK_APP_JSON\n", 1)[0]
    assert json.loads(body) == {"region": "eu-west-1", "environment": "prod", "appPort": 8080}


def _app_script_value(name: str) -> str:
    common = ROOT / "app" / "scripts" / "common.sh"
    if not common.exists():
        pytest.skip(
            "no app/scripts/common.sh in this checkout (the reference app lands separately)"
        )
    match = re.search(rf"^{name}=(\S+)$", common.read_text(), re.M)
    assert match, f"{common} does not set {name}"
    return match.group(1)


def test_bootstrap_prepares_the_user_and_python_the_app_runs_with():
    assert _app_script_value("APP_USER") == bootstrap.APP_USER
    assert Path(_app_script_value("PYTHON")).name == bootstrap.APP_PYTHON_PACKAGE


SEED = "/groundwork/prod/release/seed"


def _seed_script(text: str) -> str:
    """The seed script the user data writes (between its heredoc markers)."""
    start = text.index("<<'GROUNDWORK_SEED'\n") + len("<<'GROUNDWORK_SEED'\n")
    return text[start : text.index("\nGROUNDWORK_SEED\n")]


def test_seed_is_served_before_the_codedeploy_agent_starts_and_never_stops_the_bootstrap():
    spec = bootstrap.Bootstrap(
        region="eu-west-1",
        app_config={"region": "eu-west-1", "appPort": 8080},
        install_codedeploy_agent=True,
        seed_parameter=SEED,
    )
    text = bootstrap.render(spec)
    assert bash_n(text).returncode == 0
    script = _seed_script(text)
    assert bash_n(script).returncode == 0 and script.startswith("#!/bin/bash\nset -euo pipefail")
    assert f"SEED_PARAMETER={SEED}" in script
    # CodeDeploy's hooks, in CodeDeploy's order, on the files CodeDeploy would install.
    assert "for hook in prepare install start validate" in script
    assert all(f"/tmp/groundwork-seed/{p}" in script for p in bootstrap.SEED_PATHS)
    # Its own process: a failed seed is reported and the bootstrap carries on to the agent.
    run = f'bash {bootstrap.SEED_SCRIPT} "$REGION" || echo'
    assert run in text and text.index(run) < text.index("systemctl restart codedeploy-agent")
    # Without a parameter, no seed (the broken copy of the check above).
    assert "GROUNDWORK_SEED" not in render("eu-west-1")


@pytest.mark.parametrize(
    ("region", "endpoint"),
    [
        ("eu-west-1", "https://public-keys.auth.elb.eu-west-1.amazonaws.com"),
        ("cn-north-1", "https://public-keys.auth.elb.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_auth_config_names_the_regions_key_endpoint(region: str, endpoint: str) -> None:
    """The app fetches the ALB's signing keys from its own region's (and partition's) host."""
    auth = bootstrap.auth_config(alb_arn="arn:alb", region=region, issuer="i", client_id="c")
    assert auth == {
        "albArn": "arn:alb",
        "publicKeyEndpoint": endpoint,
        "issuer": "i",
        "clientId": "c",
    }, f"auth config for {region}: {auth}"
