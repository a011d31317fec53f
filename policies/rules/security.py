"""Security rules: KMS rotation, IAM wildcard admin, Cognito guest identities, RUM, Athena."""

from __future__ import annotations

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
IAM_DOCUMENT_TYPES = frozenset(
    {
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
    }
)
IAM_ROLE = "aws:iam/role:Role"
IDENTITY_POOL = "aws:cognito/identityPool:IdentityPool"
RUM_MONITOR = "aws:rum/appMonitor:AppMonitor"
ATHENA_WORKGROUP = "aws:athena/workgroup:Workgroup"


def kms_rotation(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    spec = get(r.props, "customerMasterKeySpec")
    usage = get(r.props, "keyUsage")
    if spec not in (MISSING, "SYMMETRIC_DEFAULT") or usage not in (MISSING, "ENCRYPT_DECRYPT"):
        return []  # asymmetric and HMAC keys cannot rotate automatically
    value = get(r.props, "enableKeyRotation")
    if is_unknown(value):
        return [undecided("enableKeyRotation")]
    if as_bool(value) is not True:
        return [violation("enableKeyRotation is not true; rotate symmetric keys yearly")]
    return []


def _documents(r: Resource) -> list[tuple[str, Any]]:
    if r.type == IAM_ROLE:
        inline = get(r.props, "inlinePolicies")
        if is_unknown(inline):
            return [("inlinePolicies", inline)]
        return [
            (f"inlinePolicies[{i}].policy", get(p, "policy")) for i, p in enumerate(as_list(inline))
        ]
    return [("policy", get(r.props, "policy"))]


def _is_star(values: list[Any]) -> bool:
    return any(v == "*" for v in values)


def iam_no_wildcard_admin(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    findings: list[Finding] = []
    for label, doc in _documents(r):
        if doc is MISSING:
            continue
        stmts = statements(doc)
        if is_unknown(stmts):
            findings.append(undecided(label))
            continue
        for i, s in enumerate(stmts):
            if is_unknown(s) or get(s, "Effect") != "Allow":
                if is_unknown(s) or is_unknown(get(s, "Effect")):
                    findings.append(undecided(f"{label}.Statement[{i}]"))
                continue
            actions = str_values(get(s, "Action"))
            resources = str_values(get(s, "Resource"))
            not_action = get(s, "NotAction")
            all_actions = _is_star(actions) or (
                not_action is not MISSING and get(s, "Action") is MISSING
            )
            if all_actions and _is_star(resources):
                what = "NotAction" if not _is_star(actions) else '"Action": "*"'
                findings.append(
                    violation(
                        f'{label}.Statement[{i}] allows {what} on "Resource": "*" (full admin); '
                        "grant only the actions and resources needed"
                    )
                )
            elif all_actions and (
                is_unknown(get(s, "Resource")) or any(is_unknown(x) for x in resources)
            ):
                findings.append(undecided(f"{label}.Statement[{i}].Resource"))
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
