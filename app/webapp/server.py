"""HTTP plumbing: request ids, the caller, routing, error handling and the access record.

Endpoints themselves live in routes.py. The server is the standard library's
ThreadingHTTPServer (one thread per request), behind the ALB.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import parse_qs, urlsplit

from webapp.auth import HEADER, AlbVerifier, Identity, InvalidToken, KeyUnavailable, anonymous
from webapp.config import AppConfig
from webapp.events import Event, EventSender
from webapp.logs import client_id_var, request_id_var

log = logging.getLogger("webapp")
access_log = logging.getLogger("access")

MAX_BODY = 64 * 1024
# A request id from outside is kept only if it is short and plain (it lands in logs).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


# The caller; routes read `request.user` (see auth.py for where it comes from).
User = Identity


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    user: User | None


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, doc: object) -> Response:
    return Response(status, json.dumps(doc).encode("utf-8"))


class App:
    """What every request can reach: the config, the analytics sender and the verifier."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.events = EventSender(config.analytics, config.region) if config.analytics else None
        self.verifier = AlbVerifier(config.auth) if config.auth else None

    def start(self) -> None:
        if self.events:
            self.events.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self.events:
            self.events.stop(timeout)

    def emit(self, event: Event) -> None:
        if self.events:
            self.events.emit(event)

    def identify(self, headers: dict[str, str]) -> User | None:
        """The caller: the identity the load balancer signed, None when there is none or it
        does not verify (the routes answer 401), or an anonymous session without `auth`.
        Identity headers a client sends itself (X-User-Id, ...) are never read."""
        if self.verifier is None:
            return anonymous()
        token = headers.get(HEADER)
        if not token:
            return None
        try:
            return self.verifier.identity(token)
        except InvalidToken as exc:
            log.warning("rejected %s: %s", HEADER, exc)
        except KeyUnavailable as exc:
            log.error("cannot authenticate: %s", exc)
        return None


Route = Callable[[App, Request], Response]


class AppServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App, routes: dict[tuple[str, str], Route]):
        self.app = app
        self.routes = routes
        super().__init__(address, Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        log.exception("error while serving a connection")


class Handler(BaseHTTPRequestHandler):
    server_version = "groundwork-app"
    # HTTP/1.0: one request per connection, so the ALB never reuses a connection the app
    # is closing (the keep-alive race that shows up as sporadic 502s).
    protocol_version = "HTTP/1.0"
    # A client that stops sending mid-request gives up its thread after this many seconds.
    timeout = 30

    def do_GET(self) -> None:
        self._handle()

    # Every method goes through _handle, so each request gets its access record.
    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    @property
    def app_server(self) -> AppServer:
        # socketserver types `server` as any BaseServer; AppServer is the only one built with
        # this handler (a narrower `server` annotation would be an unsound override).
        return cast(AppServer, self.server)

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def log_message(self, format: str, *args: object) -> None:
        pass  # replaced by the JSON access record in _handle

    def _handle(self) -> None:
        started = time.monotonic()
        incoming = self.headers.get("X-Request-Id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        user = self.app_server.app.identify(headers)
        events = self.app_server.app.events
        client_id = events.pseudonym(user.user_id) if user and events else None
        tokens = (request_id_var.set(request_id), client_id_var.set(client_id))
        status = 500
        try:
            response = self._dispatch(url.path, url.query, headers, user)
            response.headers["X-Request-Id"] = request_id
            status = response.status
            try:
                self._write(response)
            except (BrokenPipeError, ConnectionResetError):
                log.info("client closed the connection before the response was sent")
        finally:
            # The query string is left out on purpose: it may carry personal data. A 5xx
            # is a WARNING here: its cause is the one ERROR record, so each failure counts
            # once in the error metrics.
            level = logging.WARNING if status >= 500 else logging.INFO
            access_log.log(
                level,
                "%s %s %d",
                self.command,
                url.path,
                status,
                extra={
                    "method": self.command,
                    "path": url.path,
                    "status": status,
                    "durationMs": round((time.monotonic() - started) * 1000, 1),
                },
            )
            request_id_var.reset(tokens[0])
            client_id_var.reset(tokens[1])

    def _dispatch(
        self, path: str, query: str, headers: dict[str, str], user: User | None
    ) -> Response:
        route = self.app_server.routes.get((self.command, path))
        if route is None:
            if any(p == path for _, p in self.app_server.routes):
                return json_response(405, {"error": "method not allowed"})
            return json_response(404, {"error": "not found"})
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return json_response(400, {"error": "invalid Content-Length"})
        if length > MAX_BODY:
            return json_response(413, {"error": f"body larger than {MAX_BODY} bytes"})
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            return json_response(408, {"error": "request body not received in time"})
        request = Request(self.command, path, parse_qs(query), headers, body, user)
        try:
            return route(self.app_server.app, request)
        except Exception:
            log.exception("unhandled error in %s %s", self.command, path)
            return json_response(500, {"error": "internal error"})

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


def create_server(
    app: App, host: str, port: int, routes: dict[tuple[str, str], Route]
) -> AppServer:
    """Bind the server to `routes` (port 0 picks a free port; see `server.server_address`).

    The routes are passed in: routes.py builds on this module, not the other way round.
    """
    return AppServer((host, port), app, routes)
