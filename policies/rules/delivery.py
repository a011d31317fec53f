"""Delivery rules: CodeBuild projects and CodePipeline pipelines."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .base import StackSettings
from .props import (
    MISSING,
    Finding,
    Resource,
    as_bool,
    as_list,
    get,
    is_aws_managed_key,
    is_unknown,
    undecided,
    violation,
)

CODEBUILD = "aws:codebuild/project:Project"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"

DEFAULT_SECRET_NAME = (
    r"(?i)(secret|passw(or)?d|token|api[_-]?key|private[_-]?key|access[_-]?key|credential)"
)
# AWS access key ids, and a 40-character secret access key next to a key-ish name.
AWS_ACCESS_KEY_ID = re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")
AWS_SECRET_KEY = re.compile(r"^[A-Za-z0-9/+=]{40}$")


def _is_reference(name: str, value: Any) -> bool:
    """A variable that names where a secret lives (its ARN), not the secret itself.

    `DB_SECRET_ARN=arn:aws:secretsmanager:...` lets a build fetch the secret at run time with
    its role, which is the recommended pattern; at preview the ARN may still be unknown, so a
    name ending in `_ARN` counts too.
    """
    if isinstance(value, str) and not is_unknown(value):
        return value.startswith("arn:")
    return name.upper().endswith("_ARN")


def no_privileged_mode(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    value = get(r.props, "environment", "privilegedMode")
    if is_unknown(value):
        return [undecided("environment.privilegedMode")]
    if as_bool(value) is True:
        return [
            violation("environment.privilegedMode is true; builds must not run privileged Docker")
        ]
    return []


def no_plaintext_secrets(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    name_re = re.compile(str(cfg.get("secretNamePattern", DEFAULT_SECRET_NAME)))
    env = get(r.props, "environment", "environmentVariables")
    if is_unknown(env):
        return [undecided("environment.environmentVariables")]
    findings: list[Finding] = []
    for i, var in enumerate(as_list(env)):
        kind = get(var, "type")
        if is_unknown(kind):
            findings.append(undecided(f"environment.environmentVariables[{i}].type"))
            continue
        if kind not in (MISSING, "PLAINTEXT"):
            continue  # PARAMETER_STORE / SECRETS_MANAGER: the value is a reference
        name = get(var, "name")
        value = get(var, "value")
        name_s = name if isinstance(name, str) and not is_unknown(name) else ""
        value_s = value if isinstance(value, str) and not is_unknown(value) else ""
        if name_s and name_re.search(name_s) and not _is_reference(name_s, value):
            findings.append(
                violation(
                    f"PLAINTEXT variable {name_s} looks like a secret; use type SECRETS_MANAGER "
                    "or PARAMETER_STORE"
                )
            )
        elif AWS_ACCESS_KEY_ID.search(value_s) or (
            AWS_SECRET_KEY.match(value_s) and re.search(r"(?i)key", name_s)
        ):
            findings.append(
                violation(f"PLAINTEXT variable {name_s or i} holds what looks like an AWS key")
            )
    return findings


def codebuild_logging(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    logs = get(r.props, "logsConfig")
    if is_unknown(logs):
        return [undecided("logsConfig")]
    cw_status = get(logs, "cloudwatchLogs", "status")
    cw_group = get(logs, "cloudwatchLogs", "groupName")
    s3_status = get(logs, "s3Logs", "status")
    s3_loc = get(logs, "s3Logs", "location")
    cw_ok = (
        get(logs, "cloudwatchLogs") is not MISSING
        and cw_status != "DISABLED"
        and cw_group is not MISSING
    )
    s3_ok = s3_status == "ENABLED" and s3_loc is not MISSING
    if cw_ok or s3_ok:
        return []
    return [
        violation(
            "logsConfig does not send build logs to a managed place: set cloudwatchLogs.groupName "
            "to "
            "the stack's log group (the default group keeps logs forever, unencrypted) or enable "
            "s3Logs"
        )
    ]


def artifacts_encrypted(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    need_key = bool(cfg.get("requireCustomerKey", True))
    findings: list[Finding] = []
    if r.type == CODEBUILD:
        for label, path in (
            ("artifacts.encryptionDisabled", ("artifacts", "encryptionDisabled")),
            (
                "logsConfig.s3Logs.encryptionDisabled",
                ("logsConfig", "s3Logs", "encryptionDisabled"),
            ),
        ):
            if as_bool(get(r.props, *path)) is True:
                findings.append(violation(f"{label} is true"))
        for i, art in enumerate(as_list(get(r.props, "secondaryArtifacts"))):
            if as_bool(get(art, "encryptionDisabled")) is True:
                findings.append(violation(f"secondaryArtifacts[{i}].encryptionDisabled is true"))
        key = get(r.props, "encryptionKey")
        if need_key and (key is MISSING or key == "" or is_aws_managed_key(key)):
            shown = "not set" if key is MISSING else f"{key!r} (an AWS managed key)"
            findings.append(
                violation(
                    f"encryptionKey is {shown}; encrypt build output with the stack's KMS key"
                )
            )
        return findings
    stores = get(r.props, "artifactStores")
    if is_unknown(stores):
        return [undecided("artifactStores")]
    for i, store in enumerate(as_list(stores)):
        key = get(store, "encryptionKey", "id")
        if need_key and (key is MISSING or key == ""):
            findings.append(violation(f"artifactStores[{i}] has no encryptionKey (KMS)"))
        elif need_key and is_aws_managed_key(key):
            findings.append(
                violation(f"artifactStores[{i}].encryptionKey.id {key!r} is an AWS managed key")
            )
    return findings


def _actions_by_stage(props: Mapping[str, Any]) -> Any:
    stages = get(props, "stages")
    if is_unknown(stages):
        return stages
    out = []
    for stage in as_list(stages):
        actions = get(stage, "actions")
        out.append(
            (
                get(stage, "name"),
                [] if is_unknown(actions) else as_list(actions),
                is_unknown(actions),
            )
        )
    return out


def _deploys_before_gate(
    r: Resource, is_gate: Callable[[list[Any]], bool], what: str
) -> list[Finding]:
    """The first stage with a Deploy action that no earlier stage gated (`is_gate` over a
    stage's action categories); `what` finishes the message after the stage's name."""
    stages = _actions_by_stage(r.props)
    if is_unknown(stages):
        return [undecided("stages")]
    gated = False
    for name, actions, unknown in stages:
        if unknown:
            return [undecided(f"stages[{name}].actions")]
        categories = [get(a, "category") for a in actions]
        if "Deploy" in categories and not gated:
            return [violation(f"stage {name!r} {what}")]
        gated = gated or is_gate(categories)
    return []


def tested_before_deploy(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    gates = set(cfg.get("testCategories") or ("Test", "Build"))
    return _deploys_before_gate(
        r,
        lambda categories: any(c in gates for c in categories),
        f"deploys before any stage runs a {'/'.join(sorted(gates))} action",
    )


def approval_before_deploy(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    if not cfg.get("required", True):
        return []
    return _deploys_before_gate(
        r,
        lambda categories: "Approval" in categories,
        "deploys without a manual approval (category 'Approval') before it",
    )
