"""The app's configuration: `/etc/groundwork/app.json`, written by the instance bootstrap.

The schema is the one in docs/contracts.md. `analytics`, `rum` and `auth` are optional: a stack
without them still runs the app. Every problem is reported at once, naming the key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = "/etc/groundwork/app.json"
DEFAULT_PORT = 8080


class ConfigError(ValueError):
    """The app config file is missing or invalid."""


@dataclass(frozen=True)
class AnalyticsConfig:
    stream_name: str
    pseudonym_key_secret_arn: str


@dataclass(frozen=True)
class RumConfig:
    app_monitor_id: str
    identity_pool_id: str
    guest_role_arn: str
    region: str
    session_sample_rate: float
    allow_cookies: bool = False


@dataclass(frozen=True)
class AuthConfig:
    """ALB OIDC authentication: whose signature the app accepts, and where its keys are."""

    alb_arn: str
    # https://public-keys.auth.elb.<region>.amazonaws.com (tests point it at a local server)
    public_key_endpoint: str
    issuer: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class AppConfig:
    region: str
    environment: str
    app_port: int = DEFAULT_PORT
    analytics: AnalyticsConfig | None = None
    rum: RumConfig | None = None
    auth: AuthConfig | None = None


def config_path() -> Path:
    return Path(os.environ.get("GROUNDWORK_APP_CONFIG", DEFAULT_PATH))


def load_config(path: Path | None = None) -> AppConfig:
    path = path or config_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"app config not found at {path} (the instance bootstrap writes it; "
            "set GROUNDWORK_APP_CONFIG to use another file)"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"app config {path} is not valid JSON: {exc}") from None
    return parse_config(doc, source=str(path))


def parse_config(doc: Any, source: str = "app config") -> AppConfig:
    errors: list[str] = []
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: must be a JSON object (got {type(doc).__name__})")

    region = _string(doc, "region", errors)
    environment = _string(doc, "environment", errors)
    port = doc.get("appPort", DEFAULT_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        errors.append(f"appPort must be an integer from 1 to 65535 (got {port!r})")

    analytics = None
    if doc.get("analytics") is not None:
        section = _section(doc, "analytics", errors)
        analytics = AnalyticsConfig(
            stream_name=_string(section, "streamName", errors, "analytics."),
            pseudonym_key_secret_arn=_string(
                section, "pseudonymKeySecretArn", errors, "analytics."
            ),
        )

    rum = None
    if doc.get("rum") is not None:
        section = _section(doc, "rum", errors)
        rate = section.get("sessionSampleRate")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            errors.append(f"rum.sessionSampleRate must be a number from 0 to 1 (got {rate!r})")
            rate = 0.0
        cookies = section.get("allowCookies", False)
        if not isinstance(cookies, bool):
            errors.append(f"rum.allowCookies must be true or false (got {cookies!r})")
        rum = RumConfig(
            app_monitor_id=_string(section, "appMonitorId", errors, "rum."),
            identity_pool_id=_string(section, "identityPoolId", errors, "rum."),
            guest_role_arn=_string(section, "guestRoleArn", errors, "rum."),
            region=_string(section, "region", errors, "rum."),
            session_sample_rate=float(rate),
            allow_cookies=cookies is True,
        )

    auth = _auth(doc, errors) if doc.get("auth") is not None else None
    if errors:
        raise ConfigError(f"{source}: " + "; ".join(errors))
    return AppConfig(region, environment, port, analytics, rum, auth)


def _auth(doc: dict[str, Any], errors: list[str]) -> AuthConfig:
    section = _section(doc, "auth", errors)
    endpoint = _string(section, "publicKeyEndpoint", errors, "auth.")
    if endpoint and not endpoint.startswith(("https://", "http://127.0.0.1")):
        errors.append(f"auth.publicKeyEndpoint must be an https:// URL (got {endpoint!r})")
    optional = {}
    for key in ("issuer", "clientId"):
        if section.get(key) is not None:
            optional[key] = _string(section, key, errors, "auth.")
    return AuthConfig(
        alb_arn=_string(section, "albArn", errors, "auth."),
        public_key_endpoint=endpoint,
        issuer=optional.get("issuer"),
        client_id=optional.get("clientId"),
    )


def _section(doc: dict[str, Any], key: str, errors: list[str]) -> dict[str, Any]:
    value = doc[key]
    if not isinstance(value, dict):
        errors.append(f"{key} must be an object (got {value!r})")
        return {}
    return value


def _string(doc: dict[str, Any], key: str, errors: list[str], prefix: str = "") -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{prefix}{key} must be a non-empty string (got {value!r})")
        return ""
    return value
