"""Who is calling: the identity this stack's load balancer signed, or an anonymous session.

With ALB OIDC authentication on (app config `auth`), the load balancer authenticates the user
with the identity provider and adds `x-amzn-oidc-data`: a JWT whose header carries `alg`
ES256, `kid`, `signer` (the ARN of the load balancer that signed it), `iss`, `client` and
`exp`, and whose payload carries the user's claims. The app trusts it only after checking:

- the ES256 signature, with the public key fetched from the regional ELB key endpoint
  `https://public-keys.auth.elb.<region>.amazonaws.com/<kid>` (a PEM file);
- that `signer` is this stack's load balancer: every ALB in the region signs with the same
  key set, so a token from someone else's ALB verifies too;
- `iss`, `client` and `exp`.

Facts from https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html
("User claims encoding and signature verification"). The ALB pads its base64url segments
with `=`, which strict JWT libraries refuse, so the token is taken apart here and the
signature checked with `ecdsa` (pure Python, so the deploy bundle carries it for any
instance architecture).

Without `auth`, nobody is authenticated at the edge, so every request is an anonymous
session: X-User-Id, X-Account-Id and X-Plan (or any other claim a client makes) are ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webapp.config import AuthConfig

log = logging.getLogger("webapp.auth")

HEADER = "x-amzn-oidc-data"
ANONYMOUS_ACCOUNT = "anonymous"
# A kid ends up in a URL: only the characters of the UUIDs AWS uses.
_KID = re.compile(r"^[A-Za-z0-9-]{1,128}$")
CLOCK_SKEW_SECONDS = 30
MAX_CACHED_KEYS = 16


class InvalidToken(Exception):
    """The token is not one this stack's load balancer signed (or it has expired)."""


class KeyUnavailable(Exception):
    """The public key could not be fetched: the request cannot be authenticated right now."""


@dataclass(frozen=True)
class Identity:
    """The caller. Raw ids stay in the process: logs and events get pseudonyms."""

    user_id: str
    account_id: str
    plan: str


def anonymous() -> Identity:
    """A fresh anonymous session per request: no cookie is set, so nothing tracks anyone."""
    return Identity(f"anonymous-{uuid.uuid4().hex}", ANONYMOUS_ACCOUNT, "free")


def _b64(segment: str) -> bytes:
    # The ALB pads with '='; other signers do not. Accept both, nothing else.
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("a segment is not base64url") from None


def _json(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64(segment))
    except ValueError:
        raise InvalidToken("a segment is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidToken("a segment is not a JSON object")
    return value


def fetch_pem(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read(16 * 1024)


class AlbVerifier:
    """Verifies `x-amzn-oidc-data` for one load balancer; caches public keys by kid."""

    def __init__(
        self,
        config: AuthConfig,
        fetch: Callable[[str, float], bytes] = fetch_pem,
        clock: Callable[[], float] = time.time,
        timeout: float = 3.0,
    ) -> None:
        self._config = config
        self._fetch = fetch
        self._clock = clock
        self._timeout = timeout
        self._keys: dict[str, Any] = {}
        self._lock = threading.Lock()

    def identity(self, token: str) -> Identity:
        """The caller named by a valid token; InvalidToken or KeyUnavailable otherwise."""
        claims = self.claims(token)
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("no subject")
        # Map your identity provider's claims here; without an account claim, a user is their
        # own account.
        account = claims.get("account_id")
        plan = claims.get("plan")
        return Identity(
            sub,
            account if isinstance(account, str) and account else sub,
            plan if isinstance(plan, str) and plan else "free",
        )

    def claims(self, token: str) -> dict[str, Any]:
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("not a three-part JWT")
        header, payload = _json(parts[0]), _json(parts[1])
        self._check_header(header)
        signature = _b64(parts[2])
        key = self._key(header["kid"])
        self._verify(key, signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
        expires = header.get("exp", payload.get("exp"))
        if isinstance(expires, bool) or not isinstance(expires, int | float):
            raise InvalidToken("no expiry")
        if expires + CLOCK_SKEW_SECONDS < self._clock():
            raise InvalidToken("expired")
        return payload

    def _check_header(self, header: dict[str, Any]) -> None:
        cfg = self._config
        if header.get("alg") != "ES256":
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not ES256")
        if not isinstance(header.get("kid"), str) or not _KID.match(header["kid"]):
            raise InvalidToken("bad key id")
        if header.get("signer") != cfg.alb_arn:
            raise InvalidToken(f"signed by {header.get('signer')!r}, not this load balancer")
        if cfg.issuer is not None and header.get("iss") != cfg.issuer:
            raise InvalidToken(f"issuer {header.get('iss')!r} is not {cfg.issuer!r}")
        if cfg.client_id is not None and header.get("client") != cfg.client_id:
            raise InvalidToken("issued for another client")

    def _key(self, kid: str) -> Any:
        import ecdsa  # lazily: only stacks with auth need it

        with self._lock:
            if kid in self._keys:
                return self._keys[kid]
        url = f"{self._config.public_key_endpoint.rstrip('/')}/{kid}"
        try:
            pem = self._fetch(url, self._timeout)
        except Exception as exc:
            raise KeyUnavailable(f"public key {kid} not fetched: {exc}") from None
        try:
            key = ecdsa.VerifyingKey.from_pem(pem.decode("ascii"))
        except Exception:
            raise InvalidToken(f"the key endpoint has no P-256 key for {kid}") from None
        if key.curve != ecdsa.NIST256p:
            raise InvalidToken(f"key {kid} is not a P-256 key")
        with self._lock:
            if len(self._keys) >= MAX_CACHED_KEYS:
                self._keys.clear()
            self._keys[kid] = key
        return key

    @staticmethod
    def _verify(key: Any, signature: bytes, signed: bytes) -> None:
        import ecdsa
        from ecdsa.util import sigdecode_string

        # JWS ES256 signatures are r || s, 32 bytes each (RFC 7518, section 3.4).
        if len(signature) != 64:
            raise InvalidToken("signature is not 64 bytes")
        try:
            key.verify(signature, signed, hashfunc=hashlib.sha256, sigdecode=sigdecode_string)
        except ecdsa.BadSignatureError:
            raise InvalidToken("bad signature") from None
