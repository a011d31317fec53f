"""The app/infrastructure contracts of docs/contracts.md, as data (pure).

One definition of the log files, their JSON fields and the product-event fields, shared by the
CloudWatch agent config, the metric filters and saved queries, the Glue table, the Athena named
queries and the tests, so none of them can drift from the others or from the docs.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---- log files ---------------------------------------------------------------------------

# Where the app writes its logs on an instance; user data creates it (components/bootstrap.py).
APP_LOG_DIR = "/var/log/app"

RUNTIME_LOG_PATH = f"{APP_LOG_DIR}/runtime.log"
ERROR_LOG_PATH = f"{APP_LOG_DIR}/error.log"

# The `time` field, `2026-11-26T10:45:15.123Z`, in the CloudWatch agent's strftime dialect
# (`%f` is the fractional second). The agent uses the parsed value as the event timestamp.
LOG_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ERROR_LEVELS: tuple[str, ...] = ("ERROR", "CRITICAL")

# Every JSON field a log record may carry (docs/contracts.md, "Log files").
LOG_FIELDS: tuple[str, ...] = (
    "time",
    "level",
    "logger",
    "message",
    "requestId",
    "clientId",
    "method",
    "path",
    "status",
    "durationMs",
    "exception",
)
# The `logger` of the one access record per request (it carries method/path/status/duration).
ACCESS_LOGGER = "access"


# ---- product events ----------------------------------------------------------------------


@dataclass(frozen=True)
class EventField:
    """One field of a product event: its JSON key (= Glue column) and Glue/Hive type."""

    name: str
    glue_type: str
    comment: str


# The product event, in the order of docs/contracts.md. Personal data is absent by design:
# `user_id` is an HMAC pseudonym, and there is no IP address, e-mail or name column, so a
# field the app sends by mistake is dropped by the Parquet conversion (the schema is an
# allow-list).
EVENT_FIELDS: tuple[EventField, ...] = (
    EventField("event_time", "timestamp", "When it happened (UTC)"),
    EventField("event_name", "string", "What happened (page_view, report_created, ...)"),
    EventField("feature", "string", "The product feature it belongs to"),
    EventField("user_id", "string", "Pseudonymous user id (hex HMAC-SHA256, pseudonym key)"),
    EventField("account_id", "string", "The customer account (tenant) id"),
    EventField("plan", "string", "The account's plan"),
    EventField("properties", "map<string,string>", "Anything else, no personal data"),
)

# Fields that must never become columns (what the privacy choices exclude).
FORBIDDEN_EVENT_FIELDS: tuple[str, ...] = ("ip", "ip_address", "email", "e_mail", "name")

# Firehose writes events under `events/dt=YYYY-MM-DD/` (arrival date, UTC); Athena projects the
# partitions from that prefix instead of crawling or loading them.
PARTITION_KEY = "dt"
EVENTS_PREFIX = "events/"
ERRORS_PREFIX = "errors/"
EVENTS_TABLE = "events"


def event_field_names() -> tuple[str, ...]:
    return tuple(f.name for f in EVENT_FIELDS)
