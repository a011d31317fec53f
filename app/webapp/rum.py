"""The CloudWatch RUM web client snippet, configured from the app config's `rum` section.

The snippet has the shape AWS documents for loading the web client from its CDN: a small
function queues `cwr(...)` commands in `window.AwsRumClient` and inserts an async <script>
for the client, which reads the queue and its configuration when it arrives. It belongs in
<head>, before other scripts.
"""

from __future__ import annotations

import json

from webapp import __version__
from webapp.config import RumConfig

# The web client's CDN; "1.x" follows the latest 1.x release, as AWS's generated snippet does.
CLIENT_URL = "https://client.rum.us-east-1.amazonaws.com/1.x/cwr.js"
TELEMETRIES = ("errors", "performance", "http")


def _js(value: object) -> str:
    """A JavaScript literal that cannot close the surrounding <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def rum_snippet(rum: RumConfig | None) -> str:
    """The <script> element for <head>, or "" when the stack has no RUM app monitor."""
    if rum is None:
        return ""
    # No guestRoleArn: given one, the web client uses Cognito's basic (classic) flow, which
    # the stack's identity pool refuses; with the pool id alone it uses the enhanced flow,
    # and Cognito hands out the pool's guest role (see docs/rum.md).
    client_config = {
        "sessionSampleRate": rum.session_sample_rate,
        "identityPoolId": rum.identity_pool_id,
        "endpoint": f"https://dataplane.rum.{rum.region}.amazonaws.com",
        "telemetries": list(TELEMETRIES),
        "allowCookies": rum.allow_cookies,
    }
    return f"""<script>
(function (name, appMonitorId, appVersion, region, clientUrl, config) {{
  var client = window.AwsRumClient = {{
    q: [], n: name, i: appMonitorId, v: appVersion, r: region, c: config
  }};
  window[name] = function (command, payload) {{ client.q.push({{c: command, p: payload}}); }};
  var script = document.createElement("script");
  script.async = true;
  script.src = clientUrl;
  document.head.insertBefore(script, document.head.getElementsByTagName("script")[0]);
}})("cwr", {_js(rum.app_monitor_id)}, {_js(__version__)}, {_js(rum.region)},
   {_js(CLIENT_URL)}, {_js(client_config)});
</script>"""
