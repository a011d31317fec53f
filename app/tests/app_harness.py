"""Test harness for the app: run it on 127.0.0.1:0 in a thread, call it, read its logs.

Named uniquely (not `helpers`) because pytest puts this folder on sys.path next to the
repository's own tests.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webapp.config import parse_config
from webapp.logs import configure_logging
from webapp.routes import ROUTES
from webapp.server import App, AppServer, create_server

BUNDLE_ROOT = Path(__file__).resolve().parents[1]
BASE_CONFIG: dict[str, Any] = {"region": "eu-west-1", "environment": "test", "appPort": 8080}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RunningApp:
    url: str
    log_dir: Path
    app: App
    server: AppServer

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        req = urllib.request.Request(
            self.url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return Reply(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return Reply(err.code, dict(err.headers), err.read())

    def log(self, name: str) -> list[dict[str, Any]]:
        """Every record of runtime.log or error.log, each line parsed as JSON."""
        path = self.log_dir / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    def raw_log(self, name: str) -> str:
        path = self.log_dir / name
        return path.read_text(encoding="utf-8") if path.exists() else ""


# Only a bound for a failing test: a passing one returns as soon as the condition holds. Long,
# because the suite runs on loaded machines (a load of 20 on 2 cores took a moto round trip
# past 5 s).
WAIT_SECONDS = 30.0


def wait_for(
    predicate: Callable[[], Any], timeout: float = WAIT_SECONDS, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class AppRunner:
    """Starts apps for one test and stops them all afterwards."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[RunningApp] = []

    def __call__(
        self, config: dict[str, Any] | None = None, routes: dict | None = None
    ) -> RunningApp:
        log_dir = self.tmp_path / f"logs{len(self.started)}"
        configure_logging(log_dir, "INFO")
        app = App(parse_config({**BASE_CONFIG, **(config or {})}))
        server = create_server(app, "127.0.0.1", 0, ROUTES if routes is None else routes)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        app.start()
        running = RunningApp(f"http://127.0.0.1:{server.server_address[1]}", log_dir, app, server)
        self.started.append(running)
        return running

    def stop_all(self) -> None:
        for running in self.started:
            running.server.shutdown()
            running.server.server_close()
            running.app.stop(timeout=1.0)
        reset_logging()


def reset_logging() -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_groundwork", False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.WARNING)
