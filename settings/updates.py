"""Values a dry run accepts and a real update refuses (shipped placeholders)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from settings.models import NAMESPACE, PLACEHOLDER_ACCOUNT, RESERVED_DOMAINS, Settings

# ---- values a dry run accepts and a real update refuses -----------------------------------
#
# A shipped template (Pulumi.prod.yaml) holds marked placeholders; `pulumi preview` of it must
# work (with warnings) and `pulumi up` must refuse until an operator sets real values. Each
# entry below is one such rule: the full key, when it applies, and how to fix it. Adding a
# rule is adding one entry.

# The placeholder hosted zone the shipped prod file carries (a real zone id never says this).
PLACEHOLDER_ZONE_ID = "ZREPLACEWITHYOURZONEID"


def is_reserved_domain(domain: str) -> bool:
    """True for documentation/test domains and their subdomains (RFC 2606, RFC 6761)."""
    name = domain.lower().rstrip(".")
    return any(name == r or name.endswith(f".{r}") for r in RESERVED_DOMAINS)


def real_recipients(s: Settings) -> list[str]:
    """Alert addresses that can receive mail (not on a reserved domain)."""
    return [e for e in s.alerts.emails if not is_reserved_domain(e.rsplit("@", 1)[-1])]


def _placeholder_break_glass(s: Settings) -> bool:
    arn = s.backups.break_glass_role_arn
    return bool(arn) and arn.split(":")[4] == PLACEHOLDER_ACCOUNT


def _no_real_domain(s: Settings) -> bool:
    return not s.hosting.domain_name or is_reserved_domain(s.hosting.domain_name)


@dataclass(frozen=True)
class UpdateRule:
    """A value a real update must not deploy: `key` (full), when it `applies`, and `why`."""

    key: str
    applies: Callable[[Settings], bool]
    why: str


_EMAIL_HINT = (
    "pulumi config set --secret --path 'groundwork:alerts.emails[0]' oncall@yourcompany.com"
)
UPDATE_RULES: tuple[UpdateRule, ...] = (
    UpdateRule(
        f"{NAMESPACE}:alerts.emails",
        lambda s: s.protect and not real_recipients(s),
        "has no recipient outside reserved domains (example.com, .test, ...): alarms, "
        f"approvals and failure notices would reach no one; set one with `{_EMAIL_HINT}`",
    ),
    UpdateRule(
        f"{NAMESPACE}:hosting.domainName",
        lambda s: s.protect and not s.hosting.certificate_arn and _no_real_domain(s),
        "is not a domain you own (nothing, or a reserved placeholder): a protected stack "
        "serves HTTPS only; set your domain and its hosted zone with `pulumi config set "
        "--path groundwork:hosting.domainName app.yourcompany.com` (or set "
        "groundwork:hosting.certificateArn)",
    ),
    UpdateRule(
        f"{NAMESPACE}:hosting.hostedZoneId",
        lambda s: s.hosting.hosted_zone_id == PLACEHOLDER_ZONE_ID,
        "is the shipped placeholder; set the Route 53 hosted zone of your domain with "
        "`pulumi config set --path groundwork:hosting.hostedZoneId Z0123456789ABCDEFGHIJ`",
    ),
    UpdateRule(
        f"{NAMESPACE}:backups.breakGlassRoleArn",
        _placeholder_break_glass,
        f"is a placeholder (account {PLACEHOLDER_ACCOUNT} is AWS's documentation example): "
        "set the ARN of your break-glass IAM role, the only role that may delete or disable "
        "the backup keys, with `pulumi config set --path groundwork:backups.breakGlassRoleArn "
        "arn:aws:iam::<account>:role/<name>`",
    ),
)


def unsafe_for_update(s: Settings) -> list[tuple[str, str]]:
    """(full key, why) of every value a real update must not deploy."""
    return [(rule.key, rule.why) for rule in UPDATE_RULES if rule.applies(s)]


def update_refusal(stack: str, findings: list[tuple[str, str]]) -> str:
    """One message naming every key to set before `pulumi up` (dry runs only warn)."""
    lines = "\n".join(f"  - {key} {why}" for key, why in findings)
    keys = ", ".join(key for key, _ in findings)
    return (
        f"stack {stack!r} is not ready for a real update; set {keys} first "
        f"(`pulumi preview` shows the same as warnings):\n{lines}"
    )
