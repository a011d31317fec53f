"""Product events: pseudonymise and send them to the analytics Firehose stream.

The request path only puts an event on an in-memory queue; a background thread fetches the
pseudonym key from Secrets Manager once, replaces the user id with its HMAC-SHA256, and
sends batches with PutRecordBatch. Any failure drops the batch and logs it: analytics must
never slow down or fail a request. boto3 is imported here only, and only when the stack has
analytics, so the app runs without it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from webapp.config import AnalyticsConfig

log = logging.getLogger("webapp.events")

MAX_BATCH = 500  # PutRecordBatch takes at most 500 records per call
_STOP = object()


def pseudonymise(key: bytes, user_id: str) -> str:
    """The contract's `user_id`: hex HMAC-SHA256 of the app's user id under the key."""
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Event:
    """One product event; `user_id` is the raw app id and never leaves the process."""

    event_name: str
    feature: str
    user_id: str
    account_id: str
    plan: str
    properties: Mapping[str, str] = field(default_factory=dict)
    event_time: datetime = field(default_factory=lambda: datetime.now(tz=UTC))

    def to_record(self, key: bytes) -> dict[str, Any]:
        """The JSON object of the event contract (snake_case, as the Glue table reads it)."""
        return {
            "event_time": self.event_time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event_name": self.event_name,
            "feature": self.feature,
            "user_id": pseudonymise(key, self.user_id),
            "account_id": self.account_id,
            "plan": self.plan,
            "properties": {str(k): str(v) for k, v in self.properties.items()},
        }


class EventSender:
    """Queue events on the request path; send them from one background thread."""

    def __init__(self, config: AnalyticsConfig, region: str, max_queue: int = 10_000) -> None:
        self._config = config
        self._region = region
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._key: bytes | None = None
        self._firehose: Any = None
        self._thread = threading.Thread(target=self._run, name="analytics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued, then stop (bounded by `timeout`, for a quick shutdown)."""
        if self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                log.warning("analytics queue still full at shutdown; queued events dropped")
                return
            self._thread.join(timeout)

    def emit(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.warning("analytics queue full; event %s dropped", event.event_name)

    def pseudonym(self, user_id: str) -> str | None:
        """The caller's pseudonymous id for logs, once the key is loaded (else None)."""
        key = self._key
        return pseudonymise(key, user_id) if key is not None else None

    def _run(self) -> None:
        try:
            self._load_key()
        except Exception:
            log.exception("analytics: pseudonym key not loaded yet; will retry on next event")
        while True:
            batch, stopping = self._next_batch()
            if batch:
                self._send(batch)
            if stopping:
                return

    def _next_batch(self) -> tuple[list[Event], bool]:
        """Wait for one event, then take what else is already queued (up to MAX_BATCH)."""
        batch: list[Event] = []
        item = self._queue.get()
        while isinstance(item, Event):
            batch.append(item)
            if len(batch) == MAX_BATCH:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True  # item is the stop marker

    def _send(self, batch: list[Event]) -> None:
        try:
            key = self._load_key()
            records = [
                {"Data": (json.dumps(e.to_record(key), ensure_ascii=False) + "\n").encode()}
                for e in batch
            ]
            response = self._client().put_record_batch(
                DeliveryStreamName=self._config.stream_name, Records=records
            )
        except Exception:
            log.exception("analytics: batch of %d events dropped", len(batch))
            return
        failed = response.get("FailedPutCount", 0)
        if failed:
            log.warning("analytics: %d of %d events rejected by Firehose", failed, len(batch))

    def _load_key(self) -> bytes:
        if self._key is None:
            secrets = self._session().client("secretsmanager", config=self._botocore_config())
            secret = secrets.get_secret_value(SecretId=self._config.pseudonym_key_secret_arn)
            value: bytes = secret.get("SecretBinary") or secret["SecretString"].encode("utf-8")
            if not value:
                raise ValueError("analytics.pseudonymKeySecretArn: the secret is empty")
            self._key = value
        return self._key

    def _client(self) -> Any:
        if self._firehose is None:
            self._firehose = self._session().client("firehose", config=self._botocore_config())
        return self._firehose

    def _session(self) -> Any:
        try:
            import boto3.session  # lazily: only stacks with analytics need boto3 on the instance
        except ImportError:
            raise RuntimeError(
                "analytics is configured but boto3 is not importable; the deploy bundle "
                "carries it in vendor/ (built by buildspec.yml)"
            ) from None
        return boto3.session.Session(region_name=self._region)

    @staticmethod
    def _botocore_config() -> Any:
        from botocore.config import Config

        # Short timeouts: a stuck endpoint delays the analytics thread, never a request.
        return Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard"})
