"""Delivery rules: CodeBuild projects and CodePipeline pipelines, and plain-text secrets in
any environment a build, pipeline action, Lambda function or ECS task sees (or a plain SSM
parameter), found by variable name and by value shape."""

from __future__ import annotations

import json
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
    as_number,
    get,
    is_aws_managed_key,
    is_unknown,
    undecided,
    violation,
)

CODEBUILD = "aws:codebuild/project:Project"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
LAMBDA = "aws:lambda/function:Function"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
ECS_TASK = "aws:ecs/taskDefinition:TaskDefinition"

DEFAULT_SECRET_NAME = (
    r"(?i)(secret|passw(or)?d|passphrase|pwd|token|api[_-]?key|private[_-]?key|access[_-]?key"
    r"|credential|(^|[_-])(auth|pat|pass|pw)([_-]|$))"
)
# Values that are credentials whatever the variable is called.
SECRET_VALUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # `scheme://user:password@host`; a `${VAR}`/`$(VAR)`/`{{var}}`/`%s` placeholder is not one.
    (
        "a URL with a password",
        re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]*:(?![$%{*])[^/\s@]+@"),
    ),
    (
        "a URL with a credential in its query",
        re.compile(
            r"(?i)[?&](access_token|token|api[_-]?key|key|sig|signature|password|secret|auth)"
            r"=[^&\s]{8,}"
        ),
    ),
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")),
    ("a GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("an npm token", re.compile(r"\bnpm_[A-Za-z0-9]{30,}|_auth(Token)?\s*=\s*\S{8,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}|hooks\.slack\.com/services/")),
    ("a Stripe key", re.compile(r"\b[rs]k_live_[A-Za-z0-9]{16,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("a SendGrid key", re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}")),
    ("a private key", re.compile(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----")),
    (
        "a JSON web token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    ),
    ("an authorization header", re.compile(r"^(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}$")),
)
AWS_SECRET_KEY = re.compile(r"^[A-Za-z0-9/+=]{40}$")
# A secret-sounding name with one of these suffixes describes a secret (where it is, how it is
# used), it does not hold one: `TOKEN_ENDPOINT`, `SECRET_NAME`, `PASSWORD_MIN_LENGTH`. Such
# variables are judged by their value's shape only.
METADATA_NAME = re.compile(
    r"(?i)[_-](url|uri|endpoint|host|hostname|port|issuer|audience|mode|type|enabled|region"
    r"|provider|method|algorithm|ttl|expiry|expires|length|header|name|id|path|file|version)$"
)
# Plain values no credential takes.
HARMLESS_VALUES = frozenset(
    {"", "true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled"}
)


def secret_shape(value: str) -> str | None:
    """What kind of credential `value` looks like, or None."""
    for label, pattern in SECRET_VALUES:
        if pattern.search(value):
            return label
    return None


def _is_reference(name: str, value: Any) -> bool:
    """A variable that names where a secret lives (its ARN), not the secret itself.

    `DB_SECRET_ARN=arn:aws:secretsmanager:...` lets a build fetch the secret at run time with
    its role, which is the recommended pattern; at preview the ARN may still be unknown, so a
    name ending in `_ARN` counts too.
    """
    if isinstance(value, str) and not is_unknown(value):
        return value.startswith("arn:")
    return name.upper().endswith("_ARN")


def _harmless(value: str) -> bool:
    """A value that cannot be a credential: a flag, a number, a URL without a password."""
    text = value.strip()
    if text.lower() in HARMLESS_VALUES or re.fullmatch(r"-?\d+(\.\d+)?", text):
        return True
    return bool(re.fullmatch(r"(?i)https?://[^\s@]+", text))


def plaintext_secret(name: str, value: Any, name_re: re.Pattern[str]) -> str | None:
    """Why a plain-text variable `name=value` holds a secret, or None if it does not."""
    value_s = value if isinstance(value, str) and not is_unknown(value) else ""
    shape = secret_shape(value_s) if value_s else None
    if shape:
        return f"holds {shape}"
    if AWS_SECRET_KEY.match(value_s) and re.search(r"(?i)key", name):
        return "holds what looks like an AWS secret access key"
    if not name or not name_re.search(name):
        return None
    if name.upper().endswith("_ARN"):
        return None if _is_reference(name, value) else "is named like an ARN but is not one"
    if METADATA_NAME.search(name) or (value_s and _harmless(value_s)):
        return None
    return "is named like a secret"


def no_privileged_mode(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    value = get(r.props, "environment", "privilegedMode")
    if is_unknown(value):
        return [undecided("environment.privilegedMode")]
    if as_bool(value) is True:
        return [
            violation("environment.privilegedMode is true; builds must not run privileged Docker")
        ]
    return []


def _variables(r: Resource) -> Any:
    """(label, name, value, type) of every environment variable the resource sets (for an SSM
    parameter of type String or StringList: its name and value)."""
    if r.type == SSM_PARAMETER:
        if get(r.props, "type") == "SecureString":
            return []
        name = get(r.props, "name")
        value = get(r.props, "value")
        value = get(r.props, "insecureValue") if value is MISSING else value
        return [("value", name if name is not MISSING else r.name, value, "PLAINTEXT")]
    if r.type == ECS_TASK:
        containers = _json_list(get(r.props, "containerDefinitions"))
        if is_unknown(containers):
            return containers
        return [
            (
                f"containerDefinitions[{ci}].environment[{i}]",
                get(v, "name"),
                get(v, "value"),
                MISSING,
            )
            for ci, c in enumerate(containers)
            for i, v in enumerate(as_list(get(c, "environment")))
        ]
    if r.type == LAMBDA:
        env = get(r.props, "environment", "variables")
        if is_unknown(env):
            return env
        items = env.items() if isinstance(env, Mapping) else ()
        return [(f"environment.variables.{k}", k, v, "PLAINTEXT") for k, v in items]
    if r.type == PIPELINE:
        out: list[tuple[str, Any, Any, Any]] = []
        for si, stage in enumerate(as_list(get(r.props, "stages"))):
            for ai, act in enumerate(as_list(get(stage, "actions"))):
                raw = get(act, "configuration", "EnvironmentVariables")
                parsed = _json_list(raw)
                if is_unknown(parsed):
                    return parsed
                label = f"stages[{si}].actions[{ai}].configuration.EnvironmentVariables"
                out.extend((label, get(v, "name"), get(v, "value"), get(v, "type")) for v in parsed)
        return out
    env = get(r.props, "environment", "environmentVariables")
    if is_unknown(env):
        return env
    return [
        (f"environment.environmentVariables[{i}]", get(v, "name"), get(v, "value"), get(v, "type"))
        for i, v in enumerate(as_list(env))
    ]


def _json_list(raw: Any) -> Any:
    if is_unknown(raw):
        return raw
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return []
    return [v for v in as_list(raw) if isinstance(v, Mapping)]


def no_plaintext_secrets(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    name_re = re.compile(str(cfg.get("secretNamePattern", DEFAULT_SECRET_NAME)))
    variables = _variables(r)
    if is_unknown(variables):
        return [undecided("environment variables")]
    findings: list[Finding] = []
    for label, name, value, kind in variables:
        if is_unknown(kind):
            findings.append(undecided(f"{label}.type"))
            continue
        if kind not in (MISSING, "PLAINTEXT"):
            continue  # PARAMETER_STORE / SECRETS_MANAGER: the value is a reference
        name_s = name if isinstance(name, str) and not is_unknown(name) else ""
        why = plaintext_secret(name_s, value, name_re)
        if why:
            findings.append(
                violation(
                    f"plain-text variable {name_s or label} {why}; use type SECRETS_MANAGER or "
                    "PARAMETER_STORE (or fetch it at run time by ARN)"
                )
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


# Action categories that can run arbitrary commands, and so can deploy (e.g. CodeBuild running
# `pulumi up`), and the words that say an action of one of them does. Environment names
# ("prod") are not among them: resource names carry the stack's name.
COMMAND_CATEGORIES = ("Build", "Invoke", "Compute")
DEPLOY_WORDS = re.compile(
    r"(?i)(deploy|release|rollout|roll-out|promot|provision|pulumi|terraform|\bcdk\b"
    r"|(^|[^a-z])(up|apply|ship)([^a-z]|$))"
)


def _is_deploy(stage_name: Any, action: Any) -> bool:
    """A Deploy action, or a Build/Invoke/Compute action whose stage, name, project or
    function says it deploys. A Test action is a test whatever it is called (project names
    carry environment and release words)."""
    category = get(action, "category")
    if category == "Deploy":
        return True
    if category not in COMMAND_CATEGORIES or category == "Test":
        return False
    texts = [stage_name, get(action, "name")] + [
        get(action, "configuration", k) for k in ("ProjectName", "FunctionName", "Commands")
    ]
    return any(isinstance(t, str) and not is_unknown(t) and DEPLOY_WORDS.search(t) for t in texts)


def _ordered_actions(props: Mapping[str, Any]) -> Any:
    """(stage name, (stage index, runOrder), action) for every action, or the unknown that
    stops the rule from judging (the stage list or one stage's actions)."""
    stages = get(props, "stages")
    if is_unknown(stages):
        return "stages"
    out = []
    for si, stage in enumerate(as_list(stages)):
        name = get(stage, "name")
        actions = get(stage, "actions")
        if is_unknown(actions):
            return f"stages[{name}].actions"
        for action in as_list(actions):
            order = get(action, "runOrder")
            if is_unknown(order):
                return f"stages[{name}].actions[].runOrder"
            number = as_number(order)
            out.append((name, (si, number if number is not None else 1.0), action))
    return out


def _deploys_before_gate(r: Resource, is_gate: Callable[[Any], bool], what: str) -> list[Finding]:
    """The first deploy (a Deploy action, or a command action that deploys) that no gate
    (`is_gate` over an action) runs before: in an earlier stage, or earlier in the same stage
    by runOrder (actions with the same runOrder run in parallel). `what` ends the message."""
    actions = _ordered_actions(r.props)
    if isinstance(actions, str):
        return [undecided(actions)]
    gates = [pos for _, pos, a in actions if is_gate(a)]
    for stage, pos, action in actions:
        if _is_deploy(stage, action) and not any(g < pos for g in gates):
            return [violation(f"stage {stage!r} (action {get(action, 'name')!r}) {what}")]
    return []


def tested_before_deploy(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    gates = set(cfg.get("testCategories") or ("Test", "Build"))
    return _deploys_before_gate(
        r,
        lambda action: get(action, "category") in gates and not _is_deploy("", action),
        f"deploys before any stage runs a {'/'.join(sorted(gates))} action",
    )


def approval_before_deploy(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    if not cfg.get("required", True):
        return []
    return _deploys_before_gate(
        r,
        lambda action: get(action, "category") == "Approval",
        "deploys without a manual approval (category 'Approval') before it",
    )
