"""A stand-in for the regional ELB public-key endpoint and the ALB that signs user claims.

The endpoint is a real HTTP server on 127.0.0.1 serving each key's PEM at `/<kid>`, as
`public-keys.auth.elb.<region>.amazonaws.com` does; tokens are shaped like the ALB's
`x-amzn-oidc-data` (ES256, padded base64url segments, `signer`/`kid`/`exp` in the header).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import ecdsa
from ecdsa.util import sigencode_string

ALB_ARN = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web-alb/50dc6c495c0c9188"
)
ISSUER = "https://idp.example.com"
CLIENT_ID = "groundwork-test-client"


def _segment(doc: dict[str, Any]) -> str:
    # The ALB keeps the '=' padding.
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


class KeyEndpoint:
    """Serves public keys by kid; `requests` lists the paths asked for."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.requests: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.requests.append(self.path)
                pem = endpoint.keys.get(self.path.lstrip("/"))
                self.send_response(200 if pem else 404)
                self.end_headers()
                self.wfile.write(pem or b"not found")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class AlbSigner:
    """Signs tokens the way the ALB does, with a key it publishes on `endpoint`."""

    def __init__(self, endpoint: KeyEndpoint, publish: bool = True) -> None:
        self.kid = str(uuid.uuid4())
        self.key = ecdsa.SigningKey.generate(curve=ecdsa.NIST256p)
        if publish:
            # ecdsa ships no types, and the checker infers this getter's type from __init__'s
            # `verifying_key = None`; a generated key always has one.
            public = cast(ecdsa.VerifyingKey, self.key.get_verifying_key())
            endpoint.keys[self.kid] = public.to_pem()

    def token(self, claims: dict[str, Any] | None = None, **header: Any) -> str:
        head = {
            "typ": "JWT",
            "alg": "ES256",
            "kid": self.kid,
            "signer": ALB_ARN,
            "iss": ISSUER,
            "client": CLIENT_ID,
            "exp": int(time.time()) + 120,
            **header,
        }
        body = {"sub": "user-42", "account_id": "acct-7", "plan": "pro", **(claims or {})}
        signed = f"{_segment(head)}.{_segment(body)}"
        signature = self.key.sign(
            signed.encode(), hashfunc=hashlib.sha256, sigencode=sigencode_string
        )
        return f"{signed}.{base64.urlsafe_b64encode(signature).decode()}"


def auth_config(endpoint: KeyEndpoint) -> dict[str, Any]:
    """The app config's `auth` section for this endpoint."""
    return {
        "albArn": ALB_ARN,
        "publicKeyEndpoint": endpoint.url,
        "issuer": ISSUER,
        "clientId": CLIENT_ID,
    }
