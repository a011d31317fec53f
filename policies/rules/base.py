"""Policy specifications, stack settings and exemptions: what every rule module builds on.

A `PolicySpec` is everything the pack needs to register one policy (name, description, default
enforcement level, config schema with defaults, remediation, Security Hub / Config mapping) plus
the pure `check` function. `sdk.py` turns specs into pulumi_policy objects.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
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
        "Resources exempt from this policy: each names one resource by URN (stack, project and "
        "parent types may be globs; the resource's own type and name may not), says why in a "
        "sentence, and expires within a year (YYYY-MM-DD, UTC; expired exemptions are "
        "violations)."
    ),
    "default": [],
    "items": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "urn": {
                "type": "string",
                "pattern": "^urn:pulumi:",
                "description": "urn:pulumi:<stack>::<project>::<parents$><type>::<name>",
            },
            "reason": {"type": "string", "minLength": 20},
            "expires": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        },
        "required": ["urn", "reason", "expires"],
    },
}
# An exemption is a reviewed, temporary exception: it must be renewed at least yearly.
MAX_EXEMPTION_DAYS = 366
_GLOB = re.compile(r"[*?\[\]]")
_TYPE_TOKEN = re.compile(r"^[A-Za-z][\w.-]*:[\w./-]*:[A-Za-z_][\w.-]*$")
_WORD = re.compile(r"[A-Za-z]{2,}")

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
class UrnParts:
    """A URN as the engine builds it: urn:pulumi:<stack>::<project>::<parents$type>::<name>."""

    stack: str
    project: str
    parents: str  # the parent types joined by '$' ('' for a top-level resource)
    type: str
    name: str

    @classmethod
    def parse(cls, urn: str) -> UrnParts | None:
        if not urn.startswith("urn:pulumi:"):
            return None
        parts = urn.removeprefix("urn:pulumi:").split("::", 3)
        if len(parts) != 4 or not all(parts[1:]):
            return None
        stack, project, qualified, name = parts
        parents, _, type_ = qualified.rpartition("$")
        return cls(stack, project, parents, type_, name)


@dataclass(frozen=True)
class Exemption:
    """One resource, by type and name (stack, project and parents may be globs), until a date."""

    policy: str
    reason: str
    expires: dt.date
    urn: str

    @property
    def target(self) -> str:
        return f"urn={self.urn}"

    def matches(self, urn: str, name: str = "") -> bool:
        want, got = UrnParts.parse(self.urn), UrnParts.parse(urn)
        if want is None or got is None:
            return False
        return (
            (want.type, want.name) == (got.type, got.name)
            and fnmatch.fnmatchcase(got.stack, want.stack)
            and fnmatch.fnmatchcase(got.project, want.project)
            and fnmatch.fnmatchcase(got.parents, want.parents)
        )

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def as_dict(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "reason": self.reason,
            "expires": self.expires.isoformat(),
            "urn": self.urn,
        }


def _urn_problem(urn: Any, types: frozenset[str]) -> str | None:
    """Why `urn` cannot bind an exemption to one resource (None when it can)."""
    allowed = (
        "urn:pulumi:<stack>::<project>::<parent types$><type>::<name> with the resource's own "
        "type and name spelled out (stack, project and parent types may be globs)"
    )
    parts = UrnParts.parse(urn) if isinstance(urn, str) else None
    if parts is None:
        return f"must be a URN (got {urn!r}); allowed: {allowed}"
    if _GLOB.search(parts.type) or _GLOB.search(parts.name):
        return f"must name one resource, not a type/name pattern (got {urn!r}); allowed: {allowed}"
    if not _TYPE_TOKEN.match(parts.type):
        return f"has no resource type token (got {parts.type!r} in {urn!r}); allowed: {allowed}"
    if types and parts.type not in types:
        return (
            f"names a {parts.type} that this policy never checks (got {urn!r}); allowed: a "
            f"resource of type {', '.join(sorted(types)[:8])}{' ...' if len(types) > 8 else ''}"
        )
    return None


def _reason_problem(reason: Any) -> str | None:
    """A reason is a sentence a reviewer can check: at least 20 characters and 4 real words."""
    words = {w.lower() for w in _WORD.findall(reason)} if isinstance(reason, str) else set()
    # A word has a vowel and a consonant: "xxxxxxxxxx" or "aaa eee iii ooo" are not prose.
    voiced = [w for w in words if re.search("[aeiouy]", w) and re.search("[^aeiouy]", w)]
    if isinstance(reason, str) and len(reason.strip()) >= 20 and len(voiced) >= 4:
        return None
    return (
        f"must say why in a sentence (got {reason!r}); allowed: prose of at least 20 characters "
        "and 4 distinct words"
    )


def _expiry_problem(expires: Any, today: dt.date) -> tuple[dt.date | None, str | None]:
    try:
        day = dt.date.fromisoformat(expires) if isinstance(expires, str) else None
    except ValueError:
        day = None
    if day is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(expires)):
        return None, (
            f"must be a real date YYYY-MM-DD (got {expires!r}); allowed: a calendar date "
            f"within a year, e.g. {(today + dt.timedelta(days=90)).isoformat()}"
        )
    latest = today + dt.timedelta(days=MAX_EXEMPTION_DAYS)
    if day > latest:
        return None, (
            f"is more than a year ahead (got {expires!r}); allowed: a date up to "
            f"{latest.isoformat()} (renew exemptions at least yearly)"
        )
    return day, None


def exemption_problems(
    policy: str, raw: Any, types: frozenset[str] = frozenset(), today: dt.date | None = None
) -> tuple[tuple[Exemption, ...], list[str]]:
    """Parse a policy's `exemptions`; every problem names the policy, entry and key."""
    if raw is None:
        return (), []
    if not isinstance(raw, list):
        return (), [f"{policy}.exemptions must be a list (got {raw!r})"]
    today = today or today_utc()
    out: list[Exemption] = []
    problems: list[str] = []
    for i, entry in enumerate(raw):
        where = f"{policy}.exemptions[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where} must be an object with urn, reason, expires (got {entry!r})")
            continue
        extra = sorted(set(entry) - {"urn", "reason", "expires"})
        missing = sorted({"urn", "reason", "expires"} - set(entry))
        if extra or missing:
            # A name alone (no type) could match any resource so named: `name` is refused.
            problems.append(
                f"{where} must have exactly the keys urn, reason, expires (got {dict(entry)!r}: "
                f"unknown {extra}, missing {missing}); allowed: urn (the resource's URN, "
                "not a logical name), reason, expires"
            )
            continue
        found = [
            (f"{where}.urn", _urn_problem(entry["urn"], types)),
            (f"{where}.reason", _reason_problem(entry["reason"])),
        ]
        day, expiry = _expiry_problem(entry["expires"], today)
        found.append((f"{where}.expires", expiry))
        mine = [f"{key} {problem}" for key, problem in found if problem]
        problems += mine
        if not mine and day is not None:
            out.append(Exemption(policy, entry["reason"].strip(), day, entry["urn"]))
    return tuple(out), problems


def parse_exemptions(
    policy: str, raw: Any, types: frozenset[str] = frozenset(), today: dt.date | None = None
) -> tuple[Exemption, ...]:
    """Validated exemptions, or PolicyConfigError listing every problem."""
    exemptions, problems = exemption_problems(policy, raw, types, today)
    if problems:
        raise PolicyConfigError("\n".join(problems))
    return exemptions


def resolve_config(spec: PolicySpec, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults from the spec's schema overlaid with the given config (as the CLI reconciles it)."""
    merged = spec.defaults()
    for key, value in (given or {}).items():
        if key == "enforcementLevel":
            continue
        merged[key] = value
    return merged


# settings.Cost.monthly_budget_usd's default.
DEFAULT_MONTHLY_BUDGET_USD = 100.0


@dataclass(frozen=True)
class StackSettings:
    """The stack config a rule may consult (from the PULUMI_CONFIG the CLI hands the pack)."""

    project: str = ""
    stack: str = ""
    default_tags: Mapping[str, str] = field(default_factory=dict)
    phase: str | None = None
    rum_allow_cookies: bool = False
    analytics_retention_days: int | None = None
    # Cost rules: the region the estimate is priced in and the stack's groundwork:cost budget.
    region: str = ""
    monthly_budget_usd: float | None = None

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
        # Absent, the program budgets settings' default; the pack must hold dev to the same
        # figure (tests/policies/test_stack_settings_parity.py keeps the two equal).
        budget = obj(f"{namespace}:cost").get("monthlyBudgetUsd", DEFAULT_MONTHLY_BUDGET_USD)
        return cls(
            project=project,
            stack=stack,
            default_tags={str(k): str(v) for k, v in (tags or {}).items()},
            phase=values.get(f"{namespace}:phase"),
            rum_allow_cookies=rum.get("allowCookies") is True
            or str(rum.get("allowCookies")).lower() == "true",
            # Stack config values may arrive as strings ("90"): read them as numbers too.
            analytics_retention_days=int(days) if (days := as_number(retention)) else None,
            region=values.get("aws:region", ""),
            monthly_budget_usd=float(budget)
            if isinstance(budget, int | float) and not isinstance(budget, bool) and budget > 0
            else None,
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
