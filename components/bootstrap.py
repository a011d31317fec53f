"""Instance bootstrap: the app's config and the user data every web-tier instance runs on
first boot. Rendering is pure; `user_data` only waits for the values it renders.

It writes the app's config (`/etc/groundwork/app.json`, see docs/contracts.md), creates the
app's user and log directory, installs what the app's deploy bundle expects on the host
(Python 3.11, see app/scripts/common.sh), installs and starts the CloudWatch agent with its
config fetched from an SSM parameter, and installs the CodeDeploy agent. Both agents come
from the region's own buckets, with URLs built from `region`, so they download through the
VPC's S3 gateway endpoint even without a NAT gateway.

The CodeDeploy agent is started last, once the app config and Python are in place: as soon
as it polls, the deployment group's launch hook installs the last successful revision, and
that revision's BeforeInstall hook refuses to run without `/etc/groundwork/app.json`.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import context
from components.contracts import APP_LOG_DIR

APP_CONFIG_PATH = "/etc/groundwork/app.json"
# The unprivileged user the app's systemd unit runs as (app/scripts/common.sh: APP_USER).
APP_USER = "groundwork-app"
# The interpreter the app's unit runs (app/scripts/common.sh: PYTHON); AL2023's own python3
# stays at 3.9, 3.11 comes from the distribution's repositories.
APP_PYTHON_PACKAGE = "python3.11"
CODEDEPLOY_AGENT_CONFIG = "/etc/codedeploy-agent/conf/codedeployagent.yml"


@dataclass(frozen=True)
class Bootstrap:
    region: str
    app_config: Mapping[str, Any] = field(default_factory=dict)
    cloudwatch_agent_parameter: str | None = None
    install_codedeploy_agent: bool = False
    # A digest of the agent config the parameter holds: rendered into the script so that a
    # config change changes the launch template and the group rolls its instances.
    cloudwatch_agent_config_digest: str | None = None
    # SSM parameter naming the reference release ({"bucket", "key"}) the instance serves
    # until CodeDeploy installs a deployed one (docs/day-one.md); None: serve nothing.
    seed_parameter: str | None = None


def codedeploy_install_url(region: str) -> str:
    """The CodeDeploy agent installer in the region's own bucket."""
    suffix = context.dns_suffix_of(region)
    return f"https://aws-codedeploy-{region}.s3.{region}.{suffix}/latest/install"


def cloudwatch_agent_url(region: str, arch: str) -> str:
    """The CloudWatch agent RPM in the region's own bucket (`arch`: amd64 or arm64)."""
    suffix = context.dns_suffix_of(region)
    return (
        f"https://amazoncloudwatch-agent-{region}.s3.{region}.{suffix}/"
        f"amazon_linux/{arch}/latest/amazon-cloudwatch-agent.rpm"
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


def _cloudwatch_agent_lines(spec: Bootstrap, parameter: str) -> list[str]:
    # Both architectures' URLs are spelled out so the script carries literal,
    # region-derived locations; the running machine picks its own.
    amd64 = shlex.quote(cloudwatch_agent_url(spec.region, "amd64"))
    arm64 = shlex.quote(cloudwatch_agent_url(spec.region, "arm64"))
    return [
        "# CloudWatch agent from the region's own bucket; config from SSM.",
        *(
            [f"# agent config digest: {spec.cloudwatch_agent_config_digest}"]
            if spec.cloudwatch_agent_config_digest
            else []
        ),
        'if [ "$AGENT_ARCH" = arm64 ]; then',
        f"  CW_AGENT_URL={arm64}",
        "else",
        f"  CW_AGENT_URL={amd64}",
        "fi",
        'retry curl -fsSL -o /tmp/amazon-cloudwatch-agent.rpm "$CW_AGENT_URL"',
        "retry dnf install -y /tmp/amazon-cloudwatch-agent.rpm",
        "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config "
        f"-m ec2 -s -c ssm:{shlex.quote(parameter)}",
        "",
    ]


def _codedeploy_agent_lines(region: str) -> list[str]:
    url = shlex.quote(codedeploy_install_url(region))
    return [
        "# CodeDeploy agent from the region's own bucket. Its installer is a Ruby script;",
        "# AWS_REGION keeps it from guessing the region over IMDSv1, which is disabled.",
        "retry dnf install -y ruby",
        f"retry curl -fsSL -o /tmp/codedeploy-install {url}",
        "chmod 0755 /tmp/codedeploy-install",
        'retry env AWS_REGION="$REGION" /tmp/codedeploy-install auto',
        "# Talk to the IAM-authorised command service (codedeploy-commands-secure), so the",
        "# instance role's policy decides what the agent may do.",
        f"if grep -q '^:enable_auth_policy:' {CODEDEPLOY_AGENT_CONFIG}; then",
        "  sed -i 's/^:enable_auth_policy:.*/:enable_auth_policy: true/' "
        f"{CODEDEPLOY_AGENT_CONFIG}",
        "else",
        f"  echo ':enable_auth_policy: true' >> {CODEDEPLOY_AGENT_CONFIG}",
        "fi",
        "systemctl enable codedeploy-agent",
        "# Once it polls, the deployment group's launch hook installs the last successful",
        "# revision on this instance before it takes traffic.",
        "systemctl restart codedeploy-agent",
        "",
    ]


def app_config(
    *,
    region: str,
    environment: str,
    app_port: int,
    stream_name: pulumi.Input[str],
    pseudonym_key_secret_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """The reference app's config (`/etc/groundwork/app.json`, docs/contracts.md)."""
    return {
        "region": region,
        "environment": environment,
        "appPort": app_port,
        "analytics": {
            "streamName": stream_name,
            "pseudonymKeySecretArn": pseudonym_key_secret_arn,
        },
    }


def rum_config(
    *,
    app_monitor_id: pulumi.Input[str],
    identity_pool_id: pulumi.Input[str],
    guest_role_arn: pulumi.Input[str],
    region: str,
    session_sample_rate: float,
    allow_cookies: bool,
) -> dict[str, Any]:
    """The app config's `rum`: what the page's RUM snippet needs."""
    return {
        "appMonitorId": app_monitor_id,
        "identityPoolId": identity_pool_id,
        "guestRoleArn": guest_role_arn,
        "region": region,
        "sessionSampleRate": session_sample_rate,
        "allowCookies": allow_cookies,
    }


def auth_config(
    *, alb_arn: pulumi.Input[str], region: str, issuer: str, client_id: str
) -> dict[str, Any]:
    """The app config's `auth`: which load balancer's signature it accepts, where the region's
    ELB public keys are, and the issuer and client the tokens must name.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html
    """
    return {
        "albArn": alb_arn,
        "publicKeyEndpoint": f"https://public-keys.auth.elb.{region}.{context.dns_suffix_of(region)}",
        "issuer": issuer,
        "clientId": client_id,
    }


def user_data(
    *,
    region: str,
    config: Mapping[str, Any],
    agent_parameter: pulumi.Input[str],
    agent_digest: pulumi.Input[str],
    seed_parameter: str,
) -> pulumi.Output[str]:
    """The rendered script once the config's and the agent parameter's values are known."""
    return pulumi.Output.all(
        pulumi.Output.from_input(dict(config)), agent_parameter, agent_digest
    ).apply(
        lambda values: render(
            Bootstrap(
                region=region,
                app_config=values[0],
                cloudwatch_agent_parameter=values[1],
                cloudwatch_agent_config_digest=values[2],
                install_codedeploy_agent=True,
                # Serve the reference release until CodeDeploy installs a deployed one.
                seed_parameter=seed_parameter,
            )
        )
    )


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
        "# The app's interpreter, so a deploy never waits on the package mirrors.",
        f"retry dnf install -y {APP_PYTHON_PACKAGE}",
        "",
    ]
    if spec.cloudwatch_agent_parameter:
        lines += _cloudwatch_agent_lines(spec, spec.cloudwatch_agent_parameter)
    if spec.seed_parameter:
        lines += _seed_lines(spec.seed_parameter)
    if spec.install_codedeploy_agent:
        lines += _codedeploy_agent_lines(spec.region)
    lines.append('echo "groundwork bootstrap finished"')
    return "\n".join(lines) + "\n"


# How long the first boot waits for the pipeline to publish the seed (it is created in the same
# `pulumi up`, after the group): 60 tries, 10 s apart.
SEED_WAIT_TRIES = 60
# What the seed installs: the files CodeDeploy would (app/buildspec.yml's artifact list,
# without vendor/, which only CodeBuild builds; the app runs without it, analytics off).
SEED_PATHS = ("appspec.yml", "scripts", "webapp")
SEED_HOOKS = ("prepare", "install", "start", "validate")
SEED_SCRIPT = "/usr/local/sbin/groundwork-seed"


def _seed_lines(parameter: str) -> list[str]:
    """Serve the reference release at boot, the way CodeDeploy would install it, so an
    instance is healthy (and serving a real app) before the first deployment has run. The
    CodeDeploy agent, started after this, replaces it with the last deployed release before
    the instance takes traffic (the deployment group's launch hook). Its own script, so a
    failure there never stops the bootstrap (the agent still gets installed)."""
    paths = " ".join(f"/tmp/groundwork-seed/{p}" for p in SEED_PATHS)
    hooks = " ".join(SEED_HOOKS)
    field = "python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])'"
    return [
        "# Day one: serve the reference release the pipeline starts from, until CodeDeploy",
        "# installs a deployed one (docs/day-one.md). No seed, no harm: the instance then",
        "# waits for the deployment group's launch hook as before.",
        f"cat > {SEED_SCRIPT} <<'GROUNDWORK_SEED'",
        "#!/bin/bash",
        "set -euo pipefail",
        'REGION="$1"',
        f"SEED_PARAMETER={shlex.quote(parameter)}",
        'SEED=""',
        f"for attempt in $(seq 1 {SEED_WAIT_TRIES}); do",
        '  if SEED=$(aws ssm get-parameter --region "$REGION" --name "$SEED_PARAMETER" '
        "--query Parameter.Value --output text 2>/dev/null); then break; fi",
        '  SEED=""',
        "  sleep 10",
        "done",
        '[ -n "$SEED" ] || { echo "seed: $SEED_PARAMETER not found" >&2; exit 1; }',
        f'BUCKET=$({field} bucket <<<"$SEED")',
        f'KEY=$({field} key <<<"$SEED")',
        "rm -rf /tmp/groundwork-seed /tmp/groundwork-seed.zip",
        'aws s3api get-object --region "$REGION" --bucket "$BUCKET" --key "$KEY" '
        "/tmp/groundwork-seed.zip >/dev/null",
        "python3 -m zipfile -e /tmp/groundwork-seed.zip /tmp/groundwork-seed",
        "install -d -m 0755 /opt/groundwork-app",
        f"cp -R {paths} /opt/groundwork-app/",
        "find /opt/groundwork-app -type d -exec chmod 0755 {} +",
        "find /opt/groundwork-app -type f -exec chmod 0644 {} +",
        f'for hook in {hooks}; do bash "/opt/groundwork-app/scripts/$hook.sh"; done',
        "GROUNDWORK_SEED",
        f'bash {SEED_SCRIPT} "$REGION" || echo "seed: the reference release is not served" >&2',
        "",
    ]
