"""Product events reach Firehose as the event contract says, pseudonymised, and analytics
failures never fail a request. Against a moto server: Firehose delivers to S3 there, so the
test reads back exactly the bytes the app sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import uuid

import boto3
import pytest
from alb_tokens import AlbSigner, auth_config
from app_harness import wait_for
from webapp.config import AnalyticsConfig
from webapp.events import Event, EventSender

KEY = "test-pseudonym-key-0123456789"
# What a client may claim; without authentication at the edge it is ignored.
CLAIMED = {"X-User-Id": "user-42", "X-Account-Id": "acct-7", "X-Plan": "pro"}
EVENT_FIELDS = {
    "event_time",
    "event_name",
    "feature",
    "user_id",
    "account_id",
    "plan",
    "properties",
}
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def expected_pseudonym(user_id: str) -> str:
    return hmac.new(KEY.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def analytics(aws):
    """A Firehose stream delivering to an S3 bucket, and the pseudonym key secret."""
    name = f"events-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    boto3.client("firehose", region_name="eu-west-1").create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{name}",
        },
    )
    secret = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
        Name=f"pseudonym-{name}", SecretString=KEY
    )

    def delivered() -> bytes:
        objects = s3.list_objects_v2(Bucket=name).get("Contents", [])
        return b"".join(
            s3.get_object(Bucket=name, Key=o["Key"])["Body"].read()
            for o in sorted(objects, key=lambda o: o["LastModified"])
        )

    return {"streamName": name, "pseudonymKeySecretArn": secret["ARN"]}, delivered


@pytest.fixture
def signed_in(key_endpoint):
    """The app's `auth` config and the headers of user-42 (acct-7, pro) signed by the ALB."""
    signer = AlbSigner(key_endpoint)
    return auth_config(key_endpoint), {"x-amzn-oidc-data": signer.token()}


def test_events_match_the_contract_and_are_pseudonymised(start_app, analytics, signed_in):
    config, delivered = analytics
    auth, USER = signed_in
    app = start_app({"analytics": config, "auth": auth})
    created = app.request("POST", "/api/reports", body=b'{"title": "Q3 numbers"}', headers=USER)
    assert created.status == 201
    assert app.request("GET", "/api/plan", headers=USER).status == 200

    data = wait_for(lambda: delivered().count(b"\n") >= 2 and delivered(), what="two events")
    assert data.endswith(b"\n"), "each event is newline-terminated"
    events = [json.loads(line) for line in data.splitlines()]
    assert [(e["event_name"], e["feature"]) for e in events] == [
        ("report_created", "reports"),
        ("plan_viewed", "billing"),
    ]
    for event in events:
        assert set(event) == EVENT_FIELDS, f"event fields {set(event)} differ from the contract"
        assert TIME.match(event["event_time"]), f"event_time {event['event_time']!r}"
        assert event["user_id"] == expected_pseudonym("user-42"), "user_id is not HMAC-SHA256"
        assert (event["account_id"], event["plan"]) == ("acct-7", "pro")
        assert all(
            isinstance(k, str) and isinstance(v, str) for k, v in event["properties"].items()
        )
    assert events[0]["properties"] == {"title_length": "10"}
    assert b"user-42" not in data, "the raw user id reached Firehose"
    assert b"Q3 numbers" not in data, "user-typed content reached Firehose"


def test_logs_carry_the_pseudonym_as_client_id_never_the_raw_id(start_app, analytics, signed_in):
    config, _ = analytics
    auth, USER = signed_in
    app = start_app({"analytics": config, "auth": auth})
    wait_for(lambda: app.app.events.pseudonym("x"), what="the pseudonym key to load")
    app.request("GET", "/api/plan", headers=USER)
    records = wait_for(
        lambda: [r for r in app.log("runtime.log") if r["logger"] == "access"], what="access"
    )
    assert records[0]["clientId"] == expected_pseudonym("user-42"), f"clientId in {records[0]}"
    assert "user-42" not in app.raw_log("runtime.log"), "the raw user id was logged"


def test_without_auth_events_belong_to_an_anonymous_session(start_app, analytics):
    config, delivered = analytics
    app = start_app({"analytics": config})
    assert app.request("GET", "/api/plan", headers=CLAIMED).status == 200
    data = wait_for(delivered, what="the event")
    [event] = [json.loads(line) for line in data.splitlines()]
    assert (event["account_id"], event["plan"]) == ("anonymous", "free"), event
    assert event["user_id"] != expected_pseudonym("user-42"), "the claimed user id was believed"


def test_missing_stream_drops_events_and_logs_without_failing_requests(start_app, analytics):
    config, _ = analytics
    app = start_app({"analytics": {**config, "streamName": "no-such-stream"}})
    reply = app.request("POST", "/api/reports", body=b'{"title": "t"}', headers=CLAIMED)
    assert reply.status == 201, "an analytics failure must not fail the request"
    errors = wait_for(lambda: app.log("error.log"), what="the dropped batch in error.log")
    assert "analytics: batch of 1 events dropped" in errors[0]["message"]
    assert "ResourceNotFoundException" in errors[0]["exception"]


def test_missing_key_secret_drops_events_without_failing_requests(start_app, analytics):
    config, delivered = analytics
    missing = config["pseudonymKeySecretArn"] + "-gone"
    app = start_app({"analytics": {**config, "pseudonymKeySecretArn": missing}})
    reply = app.request("GET", "/api/plan", headers=CLAIMED)
    assert reply.status == 200, "an analytics failure must not fail the request"
    wait_for(
        lambda: any("dropped" in r["message"] for r in app.log("error.log")),
        what="the dropped batch in error.log",
    )
    assert delivered() == b"", "nothing may be sent without the pseudonym key"


def test_a_hanging_endpoint_does_not_slow_requests(start_app, monkeypatch):
    # The sender's first AWS call blocks until the test releases it: the worst an endpoint
    # can do is never answer. Causality, not a stopwatch: every request is answered, and its
    # event queued, while the sender is provably still blocked.
    entered, release = threading.Event(), threading.Event()

    def blocked_load_key(self: EventSender) -> bytes:
        entered.set()
        release.wait()
        raise ConnectionError("the endpoint never answered")

    monkeypatch.setattr(EventSender, "_load_key", blocked_load_key)
    app = start_app({"analytics": {"streamName": "s", "pseudonymKeySecretArn": "arn:x"}})
    try:
        assert entered.wait(timeout=10), "the sender never called the endpoint"
        for n in range(5):
            reply = app.request("GET", "/api/plan", headers=CLAIMED)
            assert reply.status == 200, f"request {n} got {reply.status} while analytics hung"
        assert not release.is_set() and app.app.events._thread.is_alive()
        queued = app.app.events._queue.qsize()
        assert queued == 5, f"{queued} of 5 events queued while the sender was blocked"
    finally:
        release.set()


def test_full_queue_drops_with_a_warning(caplog):
    # Not started: nothing drains the queue, so the second event finds it full.
    sender = EventSender(AnalyticsConfig("s", "arn:x"), "eu-west-1", max_queue=1)
    event = Event("page_view", "home", "u", "a", "free")
    with caplog.at_level(logging.WARNING, logger="webapp.events"):
        sender.emit(event)
        assert not caplog.records, "the first event fits"
        sender.emit(event)
    assert "analytics queue full; event page_view dropped" in caplog.text
