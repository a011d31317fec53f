"""The HTTP surface: health, routing, the example feature endpoints, error handling."""

from __future__ import annotations

import json
import socket

import pytest
from alb_tokens import AlbSigner, auth_config
from webapp.routes import ROUTES
from webapp.server import MAX_BODY


@pytest.fixture
def signed(start_app, key_endpoint):
    """The app with ALB authentication, and the headers of a signed-in pro user."""
    app = start_app({"auth": auth_config(key_endpoint)})
    return app, {"x-amzn-oidc-data": AlbSigner(key_endpoint).token()}


def test_health_is_200_with_small_json(start_app):
    app = start_app()
    reply = app.request("GET", "/health")
    assert reply.status == 200, f"GET /health returned {reply.status}"
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json()["status"] == "ok", f"GET /health body {reply.body!r}"
    assert len(reply.body) < 200, "the health body should stay small"


def test_unknown_path_is_404_and_wrong_method_405(start_app):
    app = start_app()
    assert app.request("GET", "/nope").status == 404, "GET /nope"
    assert app.request("POST", "/health", body=b"").status == 405, "POST /health"
    assert app.request("DELETE", "/").status == 405, "DELETE /"


def test_request_id_is_echoed_when_plain_and_replaced_otherwise(start_app):
    app = start_app()
    given = app.request("GET", "/health", headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123", "a plain X-Request-Id must be kept"
    odd = app.request("GET", "/health", headers={"X-Request-Id": "x" * 300})
    assert odd.headers["X-Request-Id"] != "x" * 300, "an over-long X-Request-Id must be replaced"
    assert len(odd.headers["X-Request-Id"]) == 32, "the replacement is a uuid4 hex"


def test_feature_endpoints_need_a_user(signed):
    app, _ = signed
    assert app.request("POST", "/api/reports", body=b'{"title": "t"}').status == 401
    assert app.request("GET", "/api/plan").status == 401


def test_create_report_validates_its_body(signed):
    app, USER = signed
    ok = app.request("POST", "/api/reports", body=b'{"title": "Q3"}', headers=USER)
    assert ok.status == 201, f"POST /api/reports returned {ok.status}: {ok.body!r}"
    assert ok.json()["title"] == "Q3"
    for bad in (b"not json", b'{"title": ""}', b'{"title": 5}', b"[]", b"{}"):
        reply = app.request("POST", "/api/reports", body=bad, headers=USER)
        assert reply.status == 400, f"POST /api/reports with {bad!r} returned {reply.status}"


def test_plan_lists_the_plans_features(signed):
    app, USER = signed
    reply = app.request("GET", "/api/plan", headers=USER)
    assert reply.status == 200
    assert reply.json() == {"plan": "pro", "features": ["reports", "exports", "sso"]}


def test_body_over_the_limit_is_refused(signed):
    app, USER = signed
    reply = app.request("POST", "/api/reports", body=b"x" * (MAX_BODY + 1), headers=USER)
    assert reply.status == 413, f"a {MAX_BODY + 1}-byte body returned {reply.status}"


def test_unhandled_error_is_a_500_without_details(start_app):
    def broken(app, request):
        raise RuntimeError("secret detail")

    app = start_app(routes={**ROUTES, ("GET", "/broken"): broken})
    reply = app.request("GET", "/broken")
    assert reply.status == 500, f"GET /broken returned {reply.status}"
    assert json.loads(reply.body) == {"error": "internal error"}
    assert b"secret detail" not in reply.body, "the traceback must not reach the client"


def test_invalid_content_length_is_400(start_app):
    app = start_app()
    with socket.create_connection(("127.0.0.1", int(app.url.rsplit(":", 1)[1])), 5) as conn:
        conn.sendall(b"POST /api/reports HTTP/1.0\r\nContent-Length: lots\r\n\r\n")
        reply = conn.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.0 400 "), f"reply {reply[:60]!r}"
