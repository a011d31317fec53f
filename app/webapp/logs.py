"""Structured logging: the JSON-lines files of docs/contracts.md.

Every record goes to `runtime.log` (INFO and above, DEBUG with GROUNDWORK_LOG_LEVEL=DEBUG);
ERROR and above also go to `error.log`. The CloudWatch agent ships both files. The request
id and the caller's pseudonymous id ride along from the request being served (context
variables), so any log call made while handling a request carries them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
import os
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_LOG_DIR = "/var/log/app"
RUNTIME_FILE = "runtime.log"
ERROR_FILE = "error.log"

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
client_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_id", default=None
)

# Optional fields of the contract, passed with `extra={...}` on the access record.
_EXTRA_FIELDS = ("method", "path", "status", "durationMs")


class _ContractFileHandler(logging.handlers.WatchedFileHandler):
    """A contract file's handler, marked so that a second setup replaces it (and only it)."""

    _groundwork = True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line, with the fields of the log contract."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, tz=UTC)
        doc: dict[str, object] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "requestId", None) or request_id_var.get()
        client_id = getattr(record, "clientId", None) or client_id_var.get()
        if request_id:
            doc["requestId"] = request_id
        if client_id:
            doc["clientId"] = client_id
        for field in _EXTRA_FIELDS:
            if hasattr(record, field):
                doc[field] = getattr(record, field)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        # json.dumps escapes newlines, so a traceback never splits a record over lines.
        return json.dumps(doc, ensure_ascii=False, default=str)


def log_dir() -> Path:
    return Path(os.environ.get("GROUNDWORK_LOG_DIR", DEFAULT_LOG_DIR))


def configure_logging(directory: Path | None = None, level: str | None = None) -> None:
    """Send every logger's records to the two contract files (replacing earlier setup)."""
    directory = directory or log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    level_name = (level or os.environ.get("GROUNDWORK_LOG_LEVEL", "INFO")).upper()
    if level_name not in ("DEBUG", "INFO"):
        raise ValueError(f"GROUNDWORK_LOG_LEVEL must be DEBUG or INFO (got {level_name!r})")

    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_groundwork", False)]:
        root.removeHandler(handler)
        handler.close()

    formatter = JsonFormatter()
    # WatchedFileHandler reopens the file after logrotate renames it.
    for name, handler_level in ((RUNTIME_FILE, level_name), (ERROR_FILE, "ERROR")):
        handler = _ContractFileHandler(directory / name, encoding="utf-8")
        handler.setLevel(handler_level)
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level_name)
    # botocore's DEBUG output would include request bodies; keep AWS libraries at INFO.
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.INFO)
