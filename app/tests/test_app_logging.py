"""The log files follow docs/contracts.md: JSON lines, the fields, the error file's levels."""

from __future__ import annotations

import logging
import re

import pytest
from alb_tokens import auth_config
from app_harness import reset_logging, wait_for
from webapp.logs import configure_logging
from webapp.routes import ROUTES

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
CONTRACT_FIELDS = {
    "time", "level", "logger", "message", "requestId", "clientId",
    "method", "path", "status", "durationMs", "exception",
}  # fmt: skip


def access_records(app) -> list[dict]:
    return [r for r in app.log("runtime.log") if r["logger"] == "access"]


def test_every_runtime_line_is_a_contract_record(start_app):
    app = start_app()
    app.request("GET", "/health")
    app.request("GET", "/nope")
    wait_for(lambda: len(access_records(app)) == 2, what="two access records")
    for line in app.raw_log("runtime.log").splitlines():
        assert line.startswith("{") and line.endswith("}"), f"not one JSON object: {line!r}"
    for record in app.log("runtime.log"):
        assert TIME.match(record["time"]), f"time {record['time']!r} is not ISO 8601 UTC ms"
        assert record["level"] in LEVELS, f"level {record['level']!r}"
        assert isinstance(record["logger"], str) and isinstance(record["message"], str)
        assert set(record) <= CONTRACT_FIELDS, f"fields outside the contract: {set(record)}"


def test_one_access_record_per_request_with_its_fields(start_app, key_endpoint):
    app = start_app({"auth": auth_config(key_endpoint)})  # no token: the report is a 401
    app.request("GET", "/health", headers={"X-Request-Id": "req-1"})
    app.request("POST", "/api/reports", body=b"{}", headers={"X-Request-Id": "req-2"})
    records = wait_for(lambda: len(access_records(app)) >= 2 and access_records(app))
    assert len(records) == 2, f"expected one access record per request, got {records}"
    # The record is written once the response is sent, so two requests' records may land in
    # either order on a loaded machine: match them by request id, not by position.
    records = sorted(records, key=lambda r: r["requestId"])
    first, second = records
    assert (first["method"], first["path"], first["status"]) == ("GET", "/health", 200)
    assert (second["method"], second["path"], second["status"]) == ("POST", "/api/reports", 401)
    assert [r["requestId"] for r in records] == ["req-1", "req-2"]
    for record in records:
        assert isinstance(record["durationMs"], int | float) and record["durationMs"] >= 0
        assert "clientId" not in record, "no user, so no clientId"


def test_query_string_never_reaches_the_log(start_app):
    app = start_app()
    app.request("GET", "/health?email=alice@example.com")
    wait_for(lambda: access_records(app), what="the access record")
    assert access_records(app)[0]["path"] == "/health"
    assert "alice" not in app.raw_log("runtime.log"), "the query string was logged"


def test_error_file_gets_only_error_and_above(start_app):
    def broken(app, request):
        raise RuntimeError("boom")

    app = start_app(routes={**ROUTES, ("GET", "/broken"): broken})
    app.request("GET", "/nope")  # INFO access record
    app.request("GET", "/broken", headers={"X-Request-Id": "req-broken"})
    logging.getLogger("webapp").warning("a warning")
    wait_for(lambda: len(access_records(app)) == 2, what="two access records")

    errors = app.log("error.log")
    assert errors, "the unhandled error must reach error.log"
    assert {r["level"] for r in errors} <= {"ERROR", "CRITICAL"}, f"error.log has {errors}"
    [error] = errors
    assert error["requestId"] == "req-broken", "the error record carries the request id"
    assert "RuntimeError: boom" in error["exception"], "the error record carries the traceback"
    runtime = app.log("runtime.log")
    assert any(r["level"] == "WARNING" for r in runtime), "runtime.log gets WARNING records"
    assert error in runtime, "runtime.log gets the ERROR record too"
    broken_access = [r for r in access_records(app) if r["path"] == "/broken"]
    assert broken_access[0]["status"] == 500 and broken_access[0]["level"] == "WARNING"


def test_debug_only_when_enabled(tmp_path):
    try:
        configure_logging(tmp_path / "info", "INFO")
        logging.getLogger("webapp").debug("hidden")
        configure_logging(tmp_path / "debug", "DEBUG")
        logging.getLogger("webapp").debug("shown")
    finally:
        reset_logging()
    assert "hidden" not in (tmp_path / "info" / "runtime.log").read_text()
    assert "shown" in (tmp_path / "debug" / "runtime.log").read_text()
    assert "shown" not in (tmp_path / "debug" / "error.log").read_text()


def test_bad_log_level_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"GROUNDWORK_LOG_LEVEL must be DEBUG or INFO.*'LOUD'"):
        configure_logging(tmp_path, "loud")
