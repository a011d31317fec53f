"""Instance bootstrap: the user data every web-tier instance runs on first boot (pure).

It writes the app's config (`/etc/groundwork/app.json`, see docs/contracts.md), prepares the
log directory, installs and starts the CloudWatch agent with its config fetched from an SSM
parameter, and installs the CodeDeploy agent. Both agents come from the region's own
buckets, derived from `region`, so they download through the VPC's S3 endpoint even without
a NAT gateway.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

APP_CONFIG_PATH = "/etc/groundwork/app.json"
APP_LOG_DIR = "/var/log/app"
APP_USER = "groundwork"


@dataclass(frozen=True)
class Bootstrap:
    region: str
    app_config: Mapping[str, Any] = field(default_factory=dict)
    cloudwatch_agent_parameter: str | None = None
    install_codedeploy_agent: bool = False
    # A digest of the agent config the parameter holds: rendered into the script so that a
    # config change changes the launch template and the group rolls its instances.
    cloudwatch_agent_config_digest: str | None = None


def _codedeploy_install_url(region: str) -> str:
    return f"https://aws-codedeploy-{region}.s3.{region}.amazonaws.com/latest/install"


def _cloudwatch_agent_url(region: str, arch_var: str) -> str:
    return (
        f"https://amazoncloudwatch-agent-{region}.s3.{region}.amazonaws.com/"
        f"amazon_linux/{arch_var}/latest/amazon-cloudwatch-agent.rpm"
    )


_HEADER = """#!/bin/bash
# groundwork instance bootstrap, rendered by components/bootstrap.py.
set -euo pipefail
exec > >(tee -a /var/log/groundwork-bootstrap.log) 2>&1

# Retry a command with backoff: package mirrors and S3 can be briefly unreachable at boot.
retry() {
  local attempt
  for attempt in 1 2 3 4 5; do
    if "$@"; then return 0; fi
    echo "attempt $attempt of $* failed; retrying" >&2
    sleep $((attempt * 5))
  done
  return 1
}

case "$(uname -m)" in
  aarch64) AGENT_ARCH=arm64 ;;
  *) AGENT_ARCH=amd64 ;;
esac
"""


def render(spec: Bootstrap) -> str:
    """The user data script (plain text; the launch template base64-encodes it)."""
    app_json = json.dumps(dict(spec.app_config), indent=2, sort_keys=True)
    lines = [
        _HEADER,
        f"REGION={shlex.quote(spec.region)}",
        "",
        "# App user, log directory and config (docs/contracts.md).",
        f"id -u {APP_USER} >/dev/null 2>&1 || useradd --system --no-create-home "
        f"--shell /sbin/nologin {APP_USER}",
        f"install -d -m 0755 -o {APP_USER} -g {APP_USER} {APP_LOG_DIR}",
        "install -d -m 0755 /etc/groundwork",
        f"cat > {APP_CONFIG_PATH} <<'GROUNDWORK_APP_JSON'",
        app_json,
        "GROUNDWORK_APP_JSON",
        f"chmod 0644 {APP_CONFIG_PATH}",
        "",
    ]
    if spec.cloudwatch_agent_parameter:
        url = _cloudwatch_agent_url("${REGION}", "${AGENT_ARCH}")
        lines += [
            "# CloudWatch agent from the region's own bucket; config from SSM.",
            *(
                [f"# agent config digest: {spec.cloudwatch_agent_config_digest}"]
                if spec.cloudwatch_agent_config_digest
                else []
            ),
            f'retry curl -fsSL -o /tmp/amazon-cloudwatch-agent.rpm "{url}"',
            "retry dnf install -y /tmp/amazon-cloudwatch-agent.rpm",
            "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config "
            f"-m ec2 -s -c ssm:{shlex.quote(spec.cloudwatch_agent_parameter)}",
            "",
        ]
    if spec.install_codedeploy_agent:
        url = _codedeploy_install_url("${REGION}")
        lines += [
            "# CodeDeploy agent from the region's own bucket. Once it runs, the deployment",
            "# group's launch hook installs the last successful revision on this instance.",
            "retry dnf install -y ruby",
            f'retry curl -fsSL -o /tmp/codedeploy-install "{url}"',
            "chmod +x /tmp/codedeploy-install",
            "retry /tmp/codedeploy-install auto",
            "systemctl enable --now codedeploy-agent",
            "",
        ]
    lines.append('echo "groundwork bootstrap finished"')
    return "\n".join(lines) + "\n"
