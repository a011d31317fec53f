"""Security rules: KMS rotation, IAM admin access (documents, managed policies attached by
ARN, privilege escalation), Cognito guest identities, RUM, Athena."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

from .base import StackSettings
from .props import (
    MISSING,
    Finding,
    Resource,
    as_bool,
    as_list,
    as_number,
    get,
    is_unknown,
    statements,
    str_values,
    undecided,
    violation,
)

KMS_KEY = "aws:kms/key:Key"
KMS_EXTERNAL_KEY = "aws:kms/externalKey:ExternalKey"
IAM_DOCUMENT_TYPES = frozenset(
    {
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
    }
)
IAM_ROLE = "aws:iam/role:Role"
# Resources that attach managed policies by ARN: one `policyArn`, or a `policyArns` list.
IAM_ATTACHMENT_TYPES = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
        "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
        "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
        "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive",
    }
)
# AWS managed policies that are admin, or let the holder make itself admin (IAM write on
# everything), in any partition (aws, aws-cn, aws-us-gov, ...).
ADMIN_MANAGED_POLICY = re.compile(
    r"^arn:[a-z-]+:iam::aws:policy/(AdministratorAccess(-[A-Za-z]+)?|IAMFullAccess)$",
    re.IGNORECASE,
)
# IAM actions that let a principal grant itself any permission (privilege escalation).
ESCALATION_ACTIONS = (
    "iam:attachrolepolicy",
    "iam:attachuserpolicy",
    "iam:attachgrouppolicy",
    "iam:putrolepolicy",
    "iam:putuserpolicy",
    "iam:putgrouppolicy",
    "iam:createpolicyversion",
    "iam:updateassumerolepolicy",
    "iam:addusertogroup",
)
IDENTITY_POOL = "aws:cognito/identityPool:IdentityPool"
RUM_MONITOR = "aws:rum/appMonitor:AppMonitor"
ATHENA_WORKGROUP = "aws:athena/workgroup:Workgroup"


# Key specs and usages that AWS KMS cannot rotate automatically (asymmetric, HMAC, ML-DSA):
# https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html
NON_ROTATING_SPEC = re.compile(r"^(RSA_|ECC_|HMAC_|SM2$|ML_DSA_)")
NON_ROTATING_USAGE = ("SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT")


def kms_rotation(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    if r.type == KMS_EXTERNAL_KEY:
        return [
            violation(
                "imported key material cannot rotate automatically; use an aws.kms.Key with "
                "enableKeyRotation (or record an exemption saying how it is rotated by hand)"
            )
        ]
    spec = get(r.props, "customerMasterKeySpec")
    usage = get(r.props, "keyUsage")
    if is_unknown(spec) or is_unknown(usage):
        return [undecided("customerMasterKeySpec" if is_unknown(spec) else "keyUsage")]
    if (isinstance(spec, str) and NON_ROTATING_SPEC.match(spec)) or usage in NON_ROTATING_USAGE:
        return []  # asymmetric and HMAC keys cannot rotate automatically
    if get(r.props, "customKeyStoreId") is not MISSING or get(r.props, "xksKeyId") is not MISSING:
        return []  # keys in a custom key store cannot rotate automatically either
    value = get(r.props, "enableKeyRotation")
    if is_unknown(value):
        return [undecided("enableKeyRotation")]
    if as_bool(value) is not True:
        return [violation("enableKeyRotation is not true; rotate symmetric keys yearly")]
    period = get(r.props, "rotationPeriodInDays")
    limit = int(cfg.get("maxRotationPeriodDays", 365))
    days = as_number(period)
    if is_unknown(period):
        return [undecided("rotationPeriodInDays")]
    if days is not None and days > limit:
        return [violation(f"rotationPeriodInDays is {days:g}; rotate at least every {limit} days")]
    return []


def _documents(r: Resource) -> list[tuple[str, Any]]:
    if r.type == IAM_ROLE:
        inline = get(r.props, "inlinePolicies")
        if is_unknown(inline):
            return [("inlinePolicies", inline)]
        return [
            (f"inlinePolicies[{i}].policy", get(p, "policy")) for i, p in enumerate(as_list(inline))
        ]
    if r.type in IAM_ATTACHMENT_TYPES:
        return []
    return [("policy", get(r.props, "policy"))]


def _managed_arns(r: Resource) -> list[tuple[str, Any]]:
    if r.type == IAM_ROLE:
        return [
            (f"managedPolicyArns[{i}]", v)
            for i, v in enumerate(str_values(get(r.props, "managedPolicyArns")))
        ]
    if r.type in IAM_ATTACHMENT_TYPES:
        single = get(r.props, "policyArn")
        many = str_values(get(r.props, "policyArns"))
        return ([("policyArn", single)] if single is not MISSING else []) + [
            (f"policyArns[{i}]", v) for i, v in enumerate(many)
        ]
    return []


def _all_actions(actions: list[Any]) -> bool:
    return any(isinstance(a, str) and a.strip() in ("*", "*:*") for a in actions)


def _escalates(actions: list[Any]) -> bool:
    """An action pattern that matches an IAM write that grants permissions (e.g. `iam:*`)."""
    patterns = [a.lower() for a in actions if isinstance(a, str) and not is_unknown(a)]
    return any(fnmatch.fnmatchcase(x, p) for p in patterns for x in ESCALATION_ACTIONS)


def _all_resources(resources: list[Any]) -> bool:
    """`*`, or an ARN pattern with a wildcard service and wildcards after it (`arn:aws:*:*:*:*`)."""
    for value in resources:
        if not isinstance(value, str) or is_unknown(value):
            continue
        if value.strip() == "*":
            return True
        parts = value.split(":")
        if parts[0] != "arn" or len(parts) < 2:
            continue
        rest = parts[2:] if parts[1].startswith("aws") else parts[1:]
        if rest and all(set(p) <= {"*", "?"} for p in rest) and "*" in "".join(rest):
            return True
    return False


# What an IAM write on "any role/user/group/policy" looks like, to test resource patterns with.
_ANY_IAM = tuple(
    f"arn:aws:iam::000000000000:{kind}/zz-any" for kind in ("role", "user", "group", "policy")
)


def _all_iam(resources: list[Any]) -> bool:
    """A pattern that matches any role, user, group or policy (of some account or all)."""
    for value in resources:
        if not isinstance(value, str) or is_unknown(value):
            continue
        parts = value.strip().lower().split(":")
        if len(parts) >= 6 and parts[0] == "arn" and parts[2] in ("iam", "*"):
            parts[1] = "aws" if set(parts[1]) <= {"*", "?"} or parts[1].startswith("aws") else ""
            parts[4] = "000000000000" if parts[4].isdigit() else parts[4]
            pattern = ":".join(parts)
            if any(fnmatch.fnmatchcase(arn, pattern) for arn in _ANY_IAM):
                return True
    return False


def _statement_findings(label: str, s: Any) -> list[Finding]:
    if is_unknown(s) or is_unknown(get(s, "Effect")):
        return [undecided(label)]
    if get(s, "Effect") != "Allow":
        return []
    actions = str_values(get(s, "Action"))
    not_action = get(s, "NotAction") is not MISSING and get(s, "Action") is MISSING
    resources = str_values(get(s, "Resource"))
    not_resource = get(s, "NotResource") is not MISSING and get(s, "Resource") is MISSING
    everywhere = not_resource or _all_resources(resources)
    if (_all_actions(actions) or not_action) and everywhere:
        what = "NotAction" if not_action else '"Action": "*"'
        where = "NotResource" if not_resource else 'every resource ("*")'
        return [
            violation(
                f"{label} allows {what} on {where} (full admin); grant only the actions and "
                "resources needed"
            )
        ]
    if _escalates(actions) and (everywhere or _all_iam(resources)):
        return [
            violation(
                f"{label} allows IAM policy writes ({', '.join(map(str, actions))}) on every "
                "resource: the principal can make itself admin"
            )
        ]
    if (_all_actions(actions) or not_action or _escalates(actions)) and (
        is_unknown(get(s, "Resource")) or any(is_unknown(x) for x in resources)
    ):
        return [undecided(f"{label}.Resource")]
    return []


def iam_no_wildcard_admin(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    findings: list[Finding] = []
    for label, arn in _managed_arns(r):
        if is_unknown(arn):
            continue  # a customer managed policy of this stack: its document is checked itself
        if isinstance(arn, str) and ADMIN_MANAGED_POLICY.match(arn.strip()):
            findings.append(
                violation(
                    f"{label} attaches {arn}: full admin or IAM write on everything (privilege "
                    "escalation); attach a policy scoped to what the principal needs"
                )
            )
    for label, doc in _documents(r):
        if doc is MISSING:
            continue
        stmts = statements(doc)
        if is_unknown(stmts):
            findings.append(undecided(label))
            continue
        for i, s in enumerate(stmts):
            findings.extend(_statement_findings(f"{label}.Statement[{i}]", s))
    return findings


def cognito_no_guest_identities(
    r: Resource, cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    value = get(r.props, "allowUnauthenticatedIdentities")
    if is_unknown(value):
        return [undecided("allowUnauthenticatedIdentities")]
    if as_bool(value) is True:
        return [
            violation(
                "allowUnauthenticatedIdentities is true; guest identities get AWS credentials"
            )
        ]
    return []


def rum_sample_rate(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    cap = float(cfg.get("maxSessionSampleRate", 0.25))
    value = get(r.props, "appMonitorConfiguration", "sessionSampleRate")
    if is_unknown(value):
        return [undecided("appMonitorConfiguration.sessionSampleRate")]
    rate = as_number(value)
    if rate is None:
        rate = 0.1  # the service default when unset
    if rate > cap:
        return [
            violation(f"appMonitorConfiguration.sessionSampleRate {rate:g} exceeds the cap {cap:g}")
        ]
    return []


def rum_cookies(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    value = get(r.props, "appMonitorConfiguration", "allowCookies")
    if is_unknown(value):
        return [undecided("appMonitorConfiguration.allowCookies")]
    if as_bool(value) is not True:
        return []
    if not cfg.get("allowCookies", False):
        return [
            violation(
                "appMonitorConfiguration.allowCookies is true but this stack's policy config "
                "forbids cookies"
            )
        ]
    if not st.rum_allow_cookies:
        return [
            violation(
                "appMonitorConfiguration.allowCookies is true but stack config "
                "groundwork:rum.allowCookies is not true"
            )
        ]
    return []


def athena_enforce_configuration(
    r: Resource, cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    conf = get(r.props, "configuration")
    if is_unknown(conf):
        return [undecided("configuration")]
    value = get(conf, "enforceWorkgroupConfiguration")
    if is_unknown(value):
        return [undecided("configuration.enforceWorkgroupConfiguration")]
    if as_bool(value) is False:
        return [
            violation(
                "configuration.enforceWorkgroupConfiguration is false; clients could override "
                "encryption and output location"
            )
        ]
    return []


def athena_results_encrypted(
    r: Resource, cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    allowed = [str(x) for x in cfg.get("allowedEncryptionOptions", ["SSE_KMS", "CSE_KMS"])]
    option = get(
        r.props,
        "configuration",
        "resultConfiguration",
        "encryptionConfiguration",
        "encryptionOption",
    )
    if is_unknown(option):
        return [
            undecided("configuration.resultConfiguration.encryptionConfiguration.encryptionOption")
        ]
    if option is MISSING:
        return [
            violation(
                "query results are not encrypted (resultConfiguration.encryptionConfiguration)"
            )
        ]
    if option not in allowed:
        return [violation(f"results encryption {option!r} is not one of {', '.join(allowed)}")]
    return []
