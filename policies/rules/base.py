"""Policy specifications, stack settings and exemptions: what every rule module builds on.

A `PolicySpec` is everything the pack needs to register one policy (name, description, default
enforcement level, config schema with defaults, remediation, Security Hub / Config mapping) plus
the pure `check` function. `sdk.py` turns specs into pulumi_policy objects.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .props import Finding, Resource, as_number, parse_json_object

RESOURCE = "resource"
STACK = "stack"

ADVISORY = "advisory"
MANDATORY = "mandatory"

# Config key of every policy that lists its exemptions.
EXEMPTIONS_KEY = "exemptions"

EXEMPTIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": (
        "Resources exempt from this policy: each names one resource by URN or by logical-name "
        "glob, says why, and expires (YYYY-MM-DD, UTC; expired exemptions are violations)."
    ),
    "default": [],
    "items": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "urn": {"type": "string", "minLength": 1, "description": "URN or URN glob."},
            "name": {"type": "string", "minLength": 1, "description": "Logical-name glob."},
            "reason": {"type": "string", "minLength": 10},
            "expires": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        },
        "required": ["reason", "expires"],
        "oneOf": [{"required": ["urn"]}, {"required": ["name"]}],
    },
}

ResourceCheck = Callable[[Resource, Mapping[str, Any], "StackSettings"], list[Finding]]
StackCheck = Callable[[Sequence[Resource], Mapping[str, Any], "StackSettings"], list[Finding]]


@dataclass(frozen=True)
class PolicySpec:
    name: str
    description: str
    kind: str  # RESOURCE or STACK
    check: Callable[..., list[Finding]]
    level: str
    remediation: str
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    types: frozenset[str] = frozenset()  # resource policies: the type tokens checked
    security_hub: tuple[str, ...] = ()
    config_rules: tuple[str, ...] = ()
    unknowns: str = ""  # what an unknown value at preview does (documented per policy)
    reads: tuple[str, ...] = ()  # properties the rule reads (for component authors)

    def schema(self) -> dict[str, dict[str, Any]]:
        return {**{k: dict(v) for k, v in self.config.items()}, EXEMPTIONS_KEY: EXEMPTIONS_SCHEMA}

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.schema().items() if "default" in v}


class PolicyConfigError(ValueError):
    """A policy's configuration is invalid (names the policy, the key and what is allowed)."""


@dataclass(frozen=True)
class Exemption:
    policy: str
    reason: str
    expires: dt.date
    urn: str | None = None
    name: str | None = None

    @property
    def target(self) -> str:
        return f"urn={self.urn}" if self.urn is not None else f"name={self.name}"

    def matches(self, urn: str, name: str) -> bool:
        if self.urn is not None:
            return fnmatch.fnmatchcase(urn, self.urn)
        return fnmatch.fnmatchcase(name, self.name or "")

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def as_dict(self) -> dict[str, str]:
        out = {"policy": self.policy, "reason": self.reason, "expires": self.expires.isoformat()}
        if self.urn is not None:
            out["urn"] = self.urn
        else:
            out["name"] = self.name or ""
        return out


def parse_exemptions(policy: str, raw: Any) -> tuple[Exemption, ...]:
    """Validate and parse a policy's `exemptions` list; errors name the policy and entry."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PolicyConfigError(f"{policy}.exemptions must be a list (got {raw!r})")
    out: list[Exemption] = []
    for i, entry in enumerate(raw):
        where = f"{policy}.exemptions[{i}]"
        if not isinstance(entry, Mapping):
            raise PolicyConfigError(f"{where} must be an object (got {entry!r})")
        extra = set(entry) - {"urn", "name", "reason", "expires"}
        if extra:
            raise PolicyConfigError(
                f"{where} has unknown keys {sorted(extra)}; allowed: urn|name, reason, expires"
            )
        has_urn, has_name = "urn" in entry, "name" in entry
        if has_urn == has_name:
            raise PolicyConfigError(f"{where} needs exactly one of 'urn' or 'name'")
        target = entry.get("urn" if has_urn else "name")
        if not isinstance(target, str) or not target:
            raise PolicyConfigError(
                f"{where}.{'urn' if has_urn else 'name'} must be a non-empty string"
            )
        reason = entry.get("reason")
        if not isinstance(reason, str) or len(reason.strip()) < 10:
            raise PolicyConfigError(
                f"{where}.reason must say why in at least 10 characters (got {reason!r})"
            )
        expires = entry.get("expires")
        try:
            day = dt.date.fromisoformat(str(expires))
        except ValueError:
            raise PolicyConfigError(
                f"{where}.expires must be a date YYYY-MM-DD (got {expires!r})"
            ) from None
        out.append(
            Exemption(
                policy,
                reason.strip(),
                day,
                urn=target if has_urn else None,
                name=None if has_urn else target,
            )
        )
    return tuple(out)


def resolve_config(spec: PolicySpec, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults from the spec's schema overlaid with the given config (as the CLI reconciles it)."""
    merged = spec.defaults()
    for key, value in (given or {}).items():
        if key == "enforcementLevel":
            continue
        merged[key] = value
    return merged


@dataclass(frozen=True)
class StackSettings:
    """The stack config a rule may consult (from the PULUMI_CONFIG the CLI hands the pack)."""

    project: str = ""
    stack: str = ""
    default_tags: Mapping[str, str] = field(default_factory=dict)
    phase: str | None = None
    rum_allow_cookies: bool = False
    analytics_retention_days: int | None = None

    @classmethod
    def from_config(
        cls, values: Mapping[str, str], project: str = "", stack: str = ""
    ) -> StackSettings:
        namespace = project or "groundwork"

        def obj(key: str) -> Mapping[str, Any]:
            raw = values.get(key)
            parsed = parse_json_object(raw) if raw is not None else None
            return parsed if isinstance(parsed, Mapping) else {}

        tags_doc = obj("aws:defaultTags")
        tags = tags_doc.get("tags") if isinstance(tags_doc.get("tags"), Mapping) else {}
        rum = obj(f"{namespace}:rum")
        analytics = obj(f"{namespace}:analytics")
        retention = analytics.get("retentionDays")
        return cls(
            project=project,
            stack=stack,
            default_tags={str(k): str(v) for k, v in (tags or {}).items()},
            phase=values.get(f"{namespace}:phase"),
            rum_allow_cookies=rum.get("allowCookies") is True
            or str(rum.get("allowCookies")).lower() == "true",
            # Stack config values may arrive as strings ("90"): read them as numbers too.
            analytics_retention_days=int(days) if (days := as_number(retention)) else None,
        )


def settings_from_env(environ: Mapping[str, str]) -> StackSettings:
    raw = environ.get("PULUMI_CONFIG") or "{}"
    try:
        values = json.loads(raw)
    except ValueError:
        values = {}
    if not isinstance(values, dict):
        values = {}
    return StackSettings.from_config(
        {str(k): str(v) for k, v in values.items()},
        project=environ.get("PULUMI_PROJECT", ""),
        stack=environ.get("PULUMI_STACK", ""),
    )


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
