"""`groundwork:auth`: ALB OIDC authentication on the HTTPS listener, and the app told whose
signature to accept. Unset, the listener only forwards and the app gets no `auth`."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

import settings
from offline.model import SECRET_SIG, SIG_KEY, Recording
from offline.stackfile import SECRET_PLACEHOLDER
from tests.conftest import GROWTH_ALTERED, OIDC, OWN_CERTIFICATE, PROD_ALTERED, stack_config

CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0b1f2f4a-1111-2222-3333-444455556666"
LISTENER = "aws:lb/listener:Listener"


# With auth: prod at growth with other groups changed too (GROWTH_ALTERED, which
# tests/test_scaling.py and tests/test_rum.py record): HTTPS from the operator's domain. Without
# auth: HTTPS from a certificate of the stack's own (OWN_CERTIFICATE) in prod with other groups
# changed too (PROD_ALTERED, which tests/test_day_one.py and tests/test_hosting.py record), and
# the plain growth stack. One recording each per run.
@pytest.fixture(scope="module")
def with_auth(phase_variant: Callable[..., Recording]) -> Recording:
    assert GROWTH_ALTERED["groundwork:auth"] == {"oidc": OIDC}
    return phase_variant("prod", "growth", GROWTH_ALTERED)


@pytest.fixture(scope="module")
def without_auth(phase_variant: Callable[..., Recording]) -> Recording:
    assert PROD_ALTERED["groundwork:hosting"] == OWN_CERTIFICATE["groundwork:hosting"]
    assert "groundwork:auth" not in PROD_ALTERED
    return phase_variant("prod", "early", PROD_ALTERED)


def _https(rec: Recording):
    [listener] = [r for r in rec.of_type(LISTENER) if r.input("port") == 443]
    return listener


def _app_config(rec: Recording) -> dict[str, Any]:
    lt = rec.one("aws:ec2/launchTemplate:LaunchTemplate")
    script = base64.b64decode(lt.input("userData")).decode()
    body = re.search(r"<<'GROUNDWORK_APP_JSON'\n(.*?)\nGROUNDWORK_APP_JSON", script, re.S)
    assert body, f"{lt.urn}: no app config in the user data"
    return json.loads(body.group(1))


def test_the_https_listener_authenticates_then_forwards(with_auth: Recording) -> None:
    listener = _https(with_auth)
    actions = listener.input("defaultActions")
    assert [(a["type"], a["order"]) for a in actions] == [
        ("authenticate-oidc", 1),
        ("forward", 2),
    ], f"{listener.urn}: {actions}"
    oidc = actions[0]["authenticateOidc"]
    assert {k: oidc[k] for k in ("issuer", "clientId", "tokenEndpoint")} == {
        "issuer": OIDC["issuer"],
        "clientId": OIDC["clientId"],
        "tokenEndpoint": OIDC["tokenEndpoint"],
    }
    assert oidc["onUnauthenticatedRequest"] == "authenticate"


def test_the_client_secret_stays_a_secret(with_auth: Recording) -> None:
    raw = _https(with_auth).inputs["defaultActions"][0]["authenticateOidc"]["clientSecret"]
    assert isinstance(raw, dict) and raw.get(SIG_KEY) == SECRET_SIG, f"clientSecret is {raw!r}"
    for r in with_auth:
        if r.type != LISTENER:
            assert SECRET_PLACEHOLDER not in json.dumps(r.inputs), f"{r.urn} holds the secret"


def test_the_app_accepts_only_this_load_balancers_signature(with_auth: Recording) -> None:
    alb = with_auth.one("aws:lb/loadBalancer:LoadBalancer")
    auth = _app_config(with_auth)["auth"]
    assert auth == {
        "albArn": alb.outputs["arn"],
        "publicKeyEndpoint": "https://public-keys.auth.elb.eu-west-1.amazonaws.com",
        "issuer": OIDC["issuer"],
        "clientId": OIDC["clientId"],
    }


def test_the_load_balancer_may_reach_the_identity_provider(
    with_auth, without_auth, phase_variant
) -> None:
    def egress_443(rec: Recording) -> list[str]:
        return [
            r.urn
            for r in rec.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
            if r.name.startswith("web-alb-") and r.input("fromPort") == 443
        ]

    assert egress_443(with_auth), "the ALB cannot call the IdP's token endpoint"
    assert egress_443(without_auth) == [], "HTTPS egress from the ALB without a reason"
    # with_auth's phase and other groups open nothing on their own: growth without auth.
    growth = phase_variant("prod", "growth")
    assert egress_443(growth) == [], f"{growth.stack_urn}: HTTPS egress from the ALB at growth"


def test_without_auth_nothing_authenticates_and_the_app_gets_no_auth(without_auth) -> None:
    actions = _https(without_auth).input("defaultActions")
    assert [a["type"] for a in actions] == ["forward"]
    assert "auth" not in _app_config(without_auth)


# ---- settings ------------------------------------------------------------------------------


def _values(**groups: Any) -> dict[str, str]:
    config = {**stack_config("prod"), **groups}
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def _problems(values: dict[str, str], secret_keys: list[str] | None) -> list[str]:
    try:
        settings.parse(values, project="groundwork", stack="prod", secret_keys=secret_keys)
    except settings.SettingsError as exc:
        return exc.problems
    return []


PLAIN = {**OIDC, "clientSecret": "s3cr3t"}


def test_oidc_needs_an_https_listener() -> None:
    hosting = {
        k: v
        for k, v in stack_config("prod")["groundwork:hosting"].items()
        if k not in {"domainName", "hostedZoneId", "certificateArn"}
    }
    plain_http = {"groundwork:auth": {"oidc": PLAIN}, "groundwork:hosting": hosting}
    problems = _problems(_values(**plain_http), ["groundwork:auth"])
    assert [p for p in problems if p.startswith("groundwork:auth.oidc needs")], problems
    for https in ({"domainName": "app.northwind-saas.com"}, {"certificateArn": CERT}):
        ok = {**plain_http, "groundwork:hosting": {**hosting, **https}}
        assert not [p for p in _problems(_values(**ok), ["groundwork:auth"]) if "needs" in p]


def test_a_client_secret_in_plain_text_is_refused() -> None:
    values = _values(
        **{"groundwork:auth": {"oidc": PLAIN}, "groundwork:hosting": {"certificateArn": CERT}}
    )
    assert _problems(values, ["groundwork:auth"]) == []
    problems = _problems(values, [])
    assert any("groundwork:auth.oidc.clientSecret must be a secret" in p for p in problems)
    assert all("s3cr3t" not in p for p in problems), "the secret leaked into an error"


def test_an_idp_endpoint_must_be_https() -> None:
    oidc = {**PLAIN, "tokenEndpoint": "http://idp.example.com/token"}
    values = _values(
        **{"groundwork:auth": {"oidc": oidc}, "groundwork:hosting": {"certificateArn": CERT}}
    )
    assert any(p.startswith("groundwork:auth.oidc.tokenEndpoint") for p in _problems(values, None))


def test_the_program_stops_on_a_plain_text_client_secret(record_variant) -> None:
    from offline.recorder import ProgramError

    overrides = {
        "groundwork:hosting": {"certificateArn": CERT},
        "groundwork:auth": {"oidc": PLAIN},
    }
    with pytest.raises(ProgramError) as err:
        record_variant("prod", overrides)
    assert "groundwork:auth.oidc.clientSecret must be a secret" in str(err.value)
    assert "s3cr3t" not in str(err.value)
    assert err.value.registered == 0, "resources were registered before the config error"
