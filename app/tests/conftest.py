"""Fixtures for the app tests: the app running in a thread, and a moto server for AWS.

The tests run from the repository root (`make test`) and from the bundle root in CodeBuild;
both need the bundle root (the folder holding `webapp/`) importable.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BUNDLE_ROOT = Path(__file__).resolve().parents[1]
if str(BUNDLE_ROOT) not in sys.path:
    sys.path.insert(0, str(BUNDLE_ROOT))

from app_harness import AppRunner  # noqa: E402


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[AppRunner]:
    """`start_app(config_overrides, routes=None)` starts the app; all are stopped afterwards."""
    runner = AppRunner(tmp_path)
    yield runner
    runner.stop_all()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> str:
    """Point boto3 (the app's and the test's) at the moto server with fake credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint


@pytest.fixture
def key_endpoint() -> Iterator[object]:
    """A local stand-in for the regional ELB public-key endpoint."""
    from alb_tokens import KeyEndpoint

    endpoint = KeyEndpoint()
    yield endpoint
    endpoint.close()
