"""The home page carries the CloudWatch RUM snippet iff the config has `rum`, with its values."""

from __future__ import annotations

import json
import re

RUM = {
    "appMonitorId": "11111111-2222-3333-4444-555555555555",
    "identityPoolId": "eu-west-1:66666666-7777-8888-9999-000000000000",
    "guestRoleArn": "arn:aws:iam::123456789012:role/groundwork-rum-guest",
    "region": "eu-west-1",
    "sessionSampleRate": 0.25,
    "allowCookies": False,
}


def snippet_call(page: str) -> list:
    """The arguments the snippet passes to its loader, parsed as JSON."""
    match = re.search(r'\}\)\("cwr", (.*?)\);\n</script>', page, re.S)
    assert match, "no CloudWatch RUM loader call in the page"
    return json.loads("[" + match.group(1) + "]")


def test_no_snippet_without_rum(start_app):
    page = start_app().request("GET", "/").body.decode()
    assert "<h1>" in page
    assert "AwsRumClient" not in page and "cwr.js" not in page, "RUM snippet without rum config"


def test_snippet_carries_the_configured_values(start_app):
    reply = start_app({"rum": RUM}).request("GET", "/")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    page = reply.body.decode()
    head = page.split("</head>")[0]
    assert "window.AwsRumClient" in head, "the snippet belongs in <head>"

    app_monitor_id, version, region, client_url, config = snippet_call(page)
    assert app_monitor_id == RUM["appMonitorId"], "rum.appMonitorId"
    assert region == RUM["region"], "rum.region"
    assert client_url.startswith("https://client.rum.") and client_url.endswith("/cwr.js")
    assert version
    assert config == {
        "sessionSampleRate": 0.25,
        "identityPoolId": RUM["identityPoolId"],
        "endpoint": "https://dataplane.rum.eu-west-1.amazonaws.com",
        "telemetries": ["errors", "performance", "http"],
        "allowCookies": False,
    }, f"snippet config {config}"
    # The pool allows only the enhanced flow; a guestRoleArn would switch the client to the
    # basic flow and every session would fail to send.
    assert "guestRoleArn" not in config and RUM["guestRoleArn"] not in page


def test_allow_cookies_and_region_follow_the_config(start_app):
    rum = {**RUM, "allowCookies": True, "region": "us-east-2", "sessionSampleRate": 1}
    config = snippet_call(start_app({"rum": rum}).request("GET", "/").body.decode())[4]
    assert config["allowCookies"] is True, "rum.allowCookies"
    assert config["sessionSampleRate"] == 1, "rum.sessionSampleRate"
    assert config["endpoint"] == "https://dataplane.rum.us-east-2.amazonaws.com", "rum.region"


def test_values_cannot_break_out_of_the_script(start_app):
    rum = {**RUM, "appMonitorId": "</script><script>alert(1)//"}
    page = start_app({"rum": rum}).request("GET", "/").body.decode()
    assert "<script>alert(1)" not in page, "a config value closed the <script> element"
    assert snippet_call(page)[0] == rum["appMonitorId"], "the value must survive, escaped"
