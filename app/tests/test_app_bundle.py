"""The CodeDeploy bundle: appspec.yml, the hook scripts, the systemd unit and buildspec.yml
agree with each other and with the app, and validate.sh really waits for /health.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from app_harness import BUNDLE_ROOT
from webapp.logs import DEFAULT_LOG_DIR

SCRIPTS = BUNDLE_ROOT / "scripts"
HOOKS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")
APPSPEC = yaml.safe_load((BUNDLE_ROOT / "appspec.yml").read_text())
BUILDSPEC = yaml.safe_load((BUNDLE_ROOT / "buildspec.yml").read_text())
SHELL_FILES = sorted(SCRIPTS.glob("*.sh"))


def unit() -> dict[str, str]:
    """The [Service] settings of the systemd unit (last value wins, as in systemd)."""
    text = (SCRIPTS / "groundwork-app.service").read_text()
    service = text.split("[Service]")[1].split("[Install]")[0]
    return dict(
        line.split("=", 1) for line in service.splitlines() if "=" in line and line[0] != "#"
    )


def common(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", (SCRIPTS / "common.sh").read_text(), re.M)
    assert match, f"scripts/common.sh does not set {name}"
    return match.group(1)


@pytest.mark.parametrize("script", SHELL_FILES, ids=lambda p: p.name)
def test_scripts_parse_with_bash_n(script: Path):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, f"{script.name}: {result.stderr}"


def test_bash_n_catches_a_broken_script(tmp_path: Path):
    broken = tmp_path / "broken.sh"
    broken.write_text("#!/usr/bin/env bash\nif true; then\n  echo unterminated\n")
    assert subprocess.run(["bash", "-n", str(broken)], capture_output=True).returncode != 0


def test_appspec_runs_every_hook_with_a_timeout_and_user():
    assert (APPSPEC["version"], APPSPEC["os"]) == (0.0, "linux")
    assert APPSPEC["files"] == [{"source": "/", "destination": "/opt/groundwork-app"}]
    assert set(APPSPEC["hooks"]) == set(HOOKS), f"appspec hooks {set(APPSPEC['hooks'])}"
    for hook in HOOKS:
        [step] = APPSPEC["hooks"][hook]
        script = BUNDLE_ROOT / step["location"]
        assert script.is_file(), f"appspec {hook}: {step['location']} is not in the bundle"
        assert 0 < step["timeout"] <= 3600, f"appspec {hook}: timeout {step['timeout']}"
        assert step["runas"] == "root", f"appspec {hook}: runas {step['runas']}"
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash\n"), f"{step['location']}: shebang"
        assert "\nset -euo pipefail\n" in text, f"{step['location']}: no set -euo pipefail"


def test_unit_runs_the_app_unprivileged_with_restart():
    service = unit()
    assert service["User"] == common("APP_USER") != "root", f"unit User={service['User']}"
    assert service["Restart"] == "on-failure"
    assert service["WorkingDirectory"] == APPSPEC["files"][0]["destination"]
    assert service["ExecStart"] == f"{common('PYTHON')} -m webapp"
    assert service["ReadWritePaths"] == DEFAULT_LOG_DIR == common("LOG_DIR")
    assert (
        "PYTHONPATH=/opt/groundwork-app/vendor" in (SCRIPTS / "groundwork-app.service").read_text()
    )
    assert common("UNIT") == "groundwork-app.service"


def test_buildspec_tests_reports_and_passes_the_bundle_on():
    assert str(BUILDSPEC["version"]) == "0.2"
    python = str(BUILDSPEC["phases"]["install"]["runtime-versions"]["python"])
    assert tuple(map(int, python.split("."))) >= (3, 11), f"buildspec python {python}"
    commands = " ".join(BUILDSPEC["phases"]["build"]["commands"])
    assert "pytest" in commands and "--junitxml=reports/junit.xml" in commands
    [(group, report)] = BUILDSPEC["reports"].items()
    assert group == "app-tests" and report["file-format"] == "JUNITXML"
    assert report["base-directory"] == "reports" and report["files"] == ["junit.xml"]
    files = BUILDSPEC["artifacts"]["files"]
    for needed in ("appspec.yml", "scripts/**/*", "webapp/**/*", "vendor/**/*"):
        assert needed in files, f"buildspec artifacts.files lacks {needed}"
    assert "env" not in BUILDSPEC, "buildspec must not carry variables or secrets"


def _validate(tmp_path: Path, port: int | None, timeout: int) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "app.json"
    if port is not None:
        config.write_text(json.dumps({"region": "eu-west-1", "environment": "t", "appPort": port}))
    env = {
        **os.environ,
        "GROUNDWORK_APP_CONFIG": str(config),
        "VALIDATE_TIMEOUT": str(timeout),
        "VALIDATE_INTERVAL": "0.2",
    }
    return subprocess.run(
        ["bash", str(SCRIPTS / "validate.sh")], env=env, capture_output=True, text=True, timeout=30
    )


def test_validate_passes_when_health_answers_200(start_app, tmp_path):
    port = int(start_app().url.rsplit(":", 1)[1])
    result = _validate(tmp_path, port, timeout=5)
    assert result.returncode == 0, f"validate.sh on a healthy app: {result.stderr}"
    assert f"http://127.0.0.1:{port}/health answered 200" in result.stdout


def test_validate_fails_after_its_timeout_when_nothing_answers(start_app, tmp_path):
    running = start_app()
    port = int(running.url.rsplit(":", 1)[1])
    running.server.shutdown()
    running.server.server_close()  # the port is now closed
    # A zero timeout: the first refused poll is past the deadline, so no wall-clock wait. A
    # script that ignored its timeout would poll on until _validate's hang guard ends it.
    result = _validate(tmp_path, port, timeout=0)
    assert result.returncode == 1, "validate.sh must fail when /health does not answer"
    assert f"127.0.0.1:{port}/health did not answer 200 within 0s" in result.stderr, result.stderr


def test_validate_fails_clearly_without_the_app_config(tmp_path):
    result = _validate(tmp_path, None, timeout=1)
    assert result.returncode == 1, "validate.sh must fail without the app config"
    assert "app.json is missing" in result.stderr, result.stderr
