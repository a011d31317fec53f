"""Identity comes only from a token this stack's load balancer signed, verified against the
key endpoint; without `auth` every caller is an anonymous session and claimed identities are
ignored."""

from __future__ import annotations

import base64
import json
import time

import pytest
from alb_tokens import ALB_ARN, AlbSigner, auth_config
from webapp.auth import AlbVerifier, InvalidToken, KeyUnavailable
from webapp.config import AuthConfig, ConfigError, parse_config

CLAIMED = {"X-User-Id": "user-42", "X-Account-Id": "acct-7", "X-Plan": "pro"}


def _verifier(endpoint, **overrides) -> AlbVerifier:
    config = {**auth_config(endpoint), **overrides}
    return AlbVerifier(
        AuthConfig(
            config["albArn"], config["publicKeyEndpoint"], config["issuer"], config["clientId"]
        )
    )


def test_a_token_the_alb_signed_names_the_user(key_endpoint):
    signer = AlbSigner(key_endpoint)
    identity = _verifier(key_endpoint).identity(signer.token())
    assert (identity.user_id, identity.account_id, identity.plan) == ("user-42", "acct-7", "pro")
    assert key_endpoint.requests == [f"/{signer.kid}"], "the key is fetched by kid"


def test_keys_are_cached_by_kid(key_endpoint):
    signer, verifier = AlbSigner(key_endpoint), _verifier(key_endpoint)
    verifier.identity(signer.token())
    verifier.identity(signer.token({"sub": "user-43"}))
    assert key_endpoint.requests == [f"/{signer.kid}"]


def _tamper_payload(token: str) -> str:
    head, _, sig = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"sub": "admin", "plan": "pro"}).encode())
    return f"{head}.{forged.decode()}.{sig}"


def _alg_none(token: str) -> str:
    head, body, _ = token.split(".")
    doc = json.loads(base64.urlsafe_b64decode(head))
    doc["alg"] = "none"
    return f"{base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()}.{body}."


FORGED = {
    "payload-changed": lambda s: _tamper_payload(s.token()),
    "alg-none": lambda s: _alg_none(s.token()),
    "another-load-balancer": lambda s: s.token(signer=ALB_ARN.replace("web-alb", "other")),
    "another-issuer": lambda s: s.token(iss="https://evil.example.com"),
    "another-client": lambda s: s.token(client="someone-else"),
    "expired": lambda s: s.token(exp=int(time.time()) - 3600),
    "kid-with-a-path": lambda s: s.token(kid="../../evil"),
    "not-a-jwt": lambda s: "x-user-id-42",
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_a_forged_token_is_rejected(case, key_endpoint):
    signer = AlbSigner(key_endpoint)
    with pytest.raises(InvalidToken):
        _verifier(key_endpoint).identity(FORGED[case](signer))


def test_a_key_the_endpoint_does_not_publish_is_refused(key_endpoint):
    # Signed by a key of the attacker's own: the endpoint has no such kid.
    rogue = AlbSigner(key_endpoint, publish=False)
    with pytest.raises(KeyUnavailable):
        _verifier(key_endpoint).identity(rogue.token())


def test_a_signature_by_another_key_under_a_published_kid_is_refused(key_endpoint):
    published = AlbSigner(key_endpoint)
    rogue = AlbSigner(key_endpoint, publish=False)
    rogue.kid = published.kid  # claims the published key's id
    with pytest.raises(InvalidToken, match="bad signature"):
        _verifier(key_endpoint).identity(rogue.token())


# ---- through the running app -------------------------------------------------------------


def test_the_app_accepts_a_signed_identity_and_rejects_a_forged_one(start_app, key_endpoint):
    signer = AlbSigner(key_endpoint)
    app = start_app({"auth": auth_config(key_endpoint)})
    ok = app.request("GET", "/api/plan", headers={"x-amzn-oidc-data": signer.token()})
    assert (ok.status, ok.json()["plan"]) == (200, "pro")
    forged = app.request(
        "GET", "/api/plan", headers={"x-amzn-oidc-data": _tamper_payload(signer.token())}
    )
    assert forged.status == 401, "a forged x-amzn-oidc-data was accepted"
    claimed = app.request("GET", "/api/plan", headers=CLAIMED)
    assert claimed.status == 401, "X-User-Id was taken as an identity"
    assert any("rejected x-amzn-oidc-data" in r["message"] for r in app.log("runtime.log"))


def test_without_auth_claimed_identity_headers_are_ignored(start_app):
    app = start_app()
    reply = app.request("GET", "/api/plan", headers=CLAIMED)
    assert reply.status == 200
    assert reply.json()["plan"] == "free", "X-Plan was believed without authentication"


def test_the_auth_config_is_validated():
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "region": "eu-west-1",
                "environment": "t",
                "auth": {"albArn": "", "publicKeyEndpoint": "http://evil.example.com"},
            }
        )
    assert "auth.albArn" in str(err.value) and "auth.publicKeyEndpoint" in str(err.value)
