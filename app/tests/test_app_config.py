"""The app config (docs/contracts.md) and `python -m webapp` as systemd runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from app_harness import BUNDLE_ROOT
from webapp.config import ConfigError, load_config, parse_config

# Not a speed target: only a stuck app ever waits this long, and then the test fails.
HANG_GUARD_S = 300

FULL = {
    "region": "eu-west-1",
    "environment": "prod",
    "appPort": 9000,
    "analytics": {"streamName": "events", "pseudonymKeySecretArn": "arn:aws:secretsmanager:x"},
    "rum": {
        "appMonitorId": "m", "identityPoolId": "p", "guestRoleArn": "r",
        "region": "eu-west-1", "sessionSampleRate": 0.1, "allowCookies": False,
    },
}  # fmt: skip


def test_full_config_parses():
    config = parse_config(FULL)
    assert config.app_port == 9000
    assert config.analytics and config.analytics.stream_name == "events"
    assert config.rum and config.rum.session_sample_rate == 0.1
    assert config.rum.allow_cookies is False


def test_analytics_and_rum_are_optional_and_port_defaults_to_8080():
    config = parse_config({"region": "eu-west-1", "environment": "dev"})
    assert (config.app_port, config.analytics, config.rum) == (8080, None, None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"appPort": 0}, "appPort must be an integer from 1 to 65535 (got 0)"),
        ({"appPort": "8080"}, "appPort must be an integer from 1 to 65535 (got '8080')"),
        ({"region": ""}, "region must be a non-empty string (got '')"),
        ({"analytics": {"streamName": "s"}}, "analytics.pseudonymKeySecretArn must be"),
        ({"analytics": "on"}, "analytics must be an object (got 'on')"),
        ({"rum": {**FULL["rum"], "sessionSampleRate": 1.5}}, "rum.sessionSampleRate must be a"),
        ({"rum": {**FULL["rum"], "allowCookies": "no"}}, "rum.allowCookies must be true or false"),
    ],
)
def test_bad_values_are_named(change, message):
    with pytest.raises(ConfigError) as err:
        parse_config({**FULL, **change})
    assert message in str(err.value), f"for {change}: {err.value}"


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        parse_config({"appPort": -1})
    for key in ("region", "environment", "appPort"):
        assert key in str(err.value), f"{key} missing from {err.value}"


def test_missing_or_broken_file_names_the_path(tmp_path):
    with pytest.raises(ConfigError, match=r"app config not found at .*nope.json"):
        load_config(tmp_path / "nope.json")
    broken = tmp_path / "app.json"
    broken.write_text("{")
    with pytest.raises(ConfigError, match=r"app.json is not valid JSON"):
        load_config(broken)


def _run_webapp(tmp_path: Path, config: dict, **kwargs) -> subprocess.Popen:
    config_file = tmp_path / "app.json"
    config_file.write_text(json.dumps(config))
    env = {
        **os.environ,
        "GROUNDWORK_APP_CONFIG": str(config_file),
        "GROUNDWORK_LOG_DIR": str(tmp_path / "logs"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "webapp"], cwd=BUNDLE_ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs,
    )  # fmt: skip


def test_main_refuses_a_bad_config_with_exit_1(tmp_path):
    proc = _run_webapp(tmp_path, {"region": "eu-west-1", "environment": "x", "appPort": 70000})
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 1, f"exit {proc.returncode}, stderr {stderr}"
    assert "appPort must be an integer from 1 to 65535 (got 70000)" in stderr


def test_main_serves_and_stops_cleanly_on_sigterm(tmp_path):
    with socket.socket() as probe:  # a free port for the app's fixed appPort
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = _run_webapp(tmp_path, {"region": "eu-west-1", "environment": "t", "appPort": port})
    runtime_log = tmp_path / "logs" / "runtime.log"
    # Only a hang fires this: it kills the app, which ends the wait below as an exit would.
    guard = threading.Timer(HANG_GUARD_S, proc.kill)
    guard.start()
    try:
        # The event: the app logs "listening" once its socket is bound (webapp/__main__.py).
        while "listening on port" not in (runtime_log.read_text() if runtime_log.exists() else ""):
            assert proc.poll() is None, f"webapp exited before listening: {proc.communicate()}"
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=HANG_GUARD_S) as r:
            assert r.status == 200, f"/health answered {r.status}"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait() == 0, "SIGTERM must stop the app with exit 0 (or the hang guard fired)"
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
    runtime = (tmp_path / "logs" / "runtime.log").read_text()
    assert '"message": "stopped"' in runtime, "the app logs its clean stop"


def test_app_without_analytics_never_imports_boto3():
    # In a fresh interpreter, because this test session has boto3 loaded already.
    code = (
        "import sys, urllib.request\n"
        "from webapp.config import parse_config\n"
        "from webapp.routes import ROUTES\n"
        "from webapp.server import App, create_server\n"
        "import threading\n"
        "app = App(parse_config({'region': 'eu-west-1', 'environment': 't'}))\n"
        "server = create_server(app, '127.0.0.1', 0, ROUTES)\n"
        "threading.Thread(target=server.serve_forever, daemon=True).start()\n"
        "app.start()\n"
        "url = 'http://127.0.0.1:%d' % server.server_address[1]\n"
        "for path in ('/health', '/'):\n"
        "    urllib.request.urlopen(url + path).read()\n"
        "print('boto3' in sys.modules, 'botocore' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=BUNDLE_ROOT, capture_output=True, text=True, timeout=20
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"], "boto3 was imported without analytics"


def test_analytics_without_boto3_fails_with_a_clear_message():
    # python -S: no site-packages, so boto3 is not importable, as on a bare instance.
    code = (
        "from webapp.config import AnalyticsConfig\n"
        "from webapp.events import EventSender\n"
        "try:\n"
        "    EventSender(AnalyticsConfig('s', 'arn:x'), 'eu-west-1')._session()\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=BUNDLE_ROOT, capture_output=True, text=True
    )
    assert "boto3 is not importable" in out.stdout, out.stdout + out.stderr
