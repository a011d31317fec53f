"""`parse` (a flat `namespace:key -> string` map in, `Settings` out, `SettingsError` listing
every problem) and its two feeds: `load` (the Pulumi runtime) and `load_stack_file` (a
`Pulumi.<stack>.yaml`, for tools and simulations)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from settings import stackfile
from settings.errors import SettingsError, _field_errors, _show
from settings.models import (
    _REGION_RE,
    GROUPS,
    NAMESPACE,
    PHASES,
    SCALARS,
    AssumeRole,
    AwsProvider,
    Settings,
)
from settings.updates import unsafe_for_update, update_refusal
from settings.validation import _check_cost, _plain_text_credentials, cross_checks


def _parse_bool(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value.strip().lower())


_ACCOUNT_RE = re.compile(r"^\d{12}$")


def _json_value(values: Mapping[str, str], key: str) -> Any:
    raw = values.get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _assume_roles(values: Mapping[str, str]) -> tuple[tuple[AssumeRole, ...] | None, list[str]]:
    """The provider's role chain, if set; (roles, problems)."""
    # pulumi-aws 7 reads `aws:assumeRoles` (a list); `aws:assumeRole` (one object) is the
    # older spelling, taken as a chain of one.
    roles = _json_value(values, "aws:assumeRoles")
    key = "aws:assumeRoles"
    if roles is None and (single := _json_value(values, "aws:assumeRole")) is not None:
        roles, key = [single], "aws:assumeRole"
    if roles is None:
        return None, []
    if not isinstance(roles, list) or not all(isinstance(r, dict) for r in roles):
        return None, [f"{key} must be a list of objects (got {_show(roles)})"]
    parsed: list[AssumeRole] = []
    problems: list[str] = []
    for i, role in enumerate(roles):
        try:
            parsed.append(AssumeRole.model_validate(role))
        except ValidationError as exc:
            problems.extend(_field_errors(f"{key}[{i}]", AssumeRole, exc, role))
    return tuple(parsed), problems


def _parse_aws_provider(
    values: Mapping[str, str], secret_keys: Iterable[str]
) -> tuple[AwsProvider | None, list[str]]:
    """The `aws:` keys an explicit provider must inherit; (settings, problems)."""
    problems: list[str] = []
    fields: dict[str, Any] = {
        "secret_keys": frozenset(k for k in secret_keys if k.startswith("aws:"))
    }
    if (profile := values.get("aws:profile")) is not None:
        fields["profile"] = profile
    for key, field in (
        ("allowedAccountIds", "allowed_account_ids"),
        ("forbiddenAccountIds", "forbidden_account_ids"),
        ("sharedConfigFiles", "shared_config_files"),
        ("sharedCredentialsFiles", "shared_credentials_files"),
    ):
        value = _json_value(values, f"aws:{key}")
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"aws:{key} must be a list of strings (got {_show(value)})")
        elif "AccountIds" in key and not all(_ACCOUNT_RE.match(v) for v in value):
            problems.append(f"aws:{key} must list 12-digit account ids (got {_show(value)})")
        else:
            fields[field] = tuple(value)
    roles, role_problems = _assume_roles(values)
    problems += role_problems
    if roles is not None:
        fields["assume_roles"] = roles
    if (skip := values.get("aws:skipCredentialsValidation")) is not None:
        flag = _parse_bool(skip)
        if flag is None:
            problems.append(f"aws:skipCredentialsValidation must be a boolean (got {skip!r})")
        else:
            fields["skip_credentials_validation"] = flag
    return (None if problems else AwsProvider(**fields)), problems


def _unknown_keys(values: Mapping[str, str], parsed: dict[str, Any]) -> list[str]:
    ns, problems = NAMESPACE, []
    known = {f"{ns}:{k}" for k in (*GROUPS, *SCALARS)}
    for key in sorted(k for k in values if k.startswith(f"{ns}:") and k not in known):
        hint = difflib.get_close_matches(key, sorted(known), n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        problems.append(
            f"{key} is not a known key (allowed: {', '.join(sorted(known))}){suggestion}"
        )
    return problems


def _region(values: Mapping[str, str], parsed: dict[str, Any]) -> list[str]:
    region = values.get("aws:region")
    if not region:
        return ["aws:region is required (pulumi config set aws:region eu-west-1)"]
    if not re.match(_REGION_RE, region):
        return [f"aws:region must be an AWS region like eu-west-1 (got {region!r})"]
    parsed["region"] = region
    return []


def _default_tags(values: Mapping[str, str], parsed: dict[str, Any]) -> list[str]:
    parsed["default_tags"] = {}
    raw_tags = values.get("aws:defaultTags")
    if not raw_tags:
        return []
    try:
        doc = json.loads(raw_tags)
    except ValueError:
        doc = None
    found: Any = doc.get("tags", {}) if isinstance(doc, dict) else None
    if not isinstance(found, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in found.items()
    ):
        return [f"aws:defaultTags must be an object {{tags: {{Key: value}}}} (got {raw_tags!r})"]
    parsed["default_tags"] = found
    return []


def _scalars(values: Mapping[str, str], parsed: dict[str, Any]) -> list[str]:
    ns, problems = NAMESPACE, []
    phase = values.get(f"{ns}:phase", "early")
    if phase not in PHASES:
        problems.append(f"{ns}:phase must be one of {', '.join(PHASES)} (got {phase!r})")
    else:
        parsed["phase"] = phase
    protect_raw = values.get(f"{ns}:protect", "true")
    protect = _parse_bool(protect_raw)
    if protect is None:
        problems.append(f"{ns}:protect must be a boolean (true or false) (got {protect_raw!r})")
    else:
        parsed["protect"] = protect
    return problems


def _groups(values: Mapping[str, str], parsed: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for key, model in GROUPS.items():
        full = f"{NAMESPACE}:{key}"
        raw_text = values.get(full)
        raw: Any = {}
        if raw_text is not None:
            try:
                raw = json.loads(raw_text)
            except ValueError:
                raw = raw_text
            if not isinstance(raw, dict):
                fields = ", ".join(sorted(f.alias or n for n, f in model.model_fields.items()))
                problems.append(f"{full} must be an object with keys {fields} (got {_show(raw)})")
                continue
        try:
            parsed[key] = model.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_field_errors(full, model, exc, raw))
    return problems


def parse(
    values: Mapping[str, str],
    *,
    project: str,
    stack: str,
    secret_keys: Iterable[str] | None = None,
) -> Settings:
    """Validate the flat config map the CLI passes (`ns:key -> str`, objects JSON-encoded).

    `secret_keys` (the keys the CLI marks secret) lets it refuse a credential in plain text.
    """
    problems: list[str] = []
    parsed: dict[str, Any] = {}
    problems += _unknown_keys(values, parsed)
    problems += _region(values, parsed)
    problems += _default_tags(values, parsed)
    provider, provider_problems = _parse_aws_provider(values, secret_keys or ())
    problems += provider_problems
    if provider is not None:
        parsed["aws"] = provider
    problems += _scalars(values, parsed)
    problems += _groups(values, parsed)
    problems.extend(f"{key} {msg}" for key, msg in cross_checks(parsed))
    problems.extend(_plain_text_credentials(parsed, secret_keys))
    # A stack with neither default tags nor a cost group (a bare test config) has no tag to
    # select its spend by: it parses, and the blueprint builds no spend alerts (with a warning).
    tags = parsed["default_tags"]
    if "cost" in parsed and (tags or f"{NAMESPACE}:cost" in values):
        problems.extend(f"{key} {msg}" for key, msg in _check_cost(parsed["cost"], tags))
    if problems:
        raise SettingsError(stack, problems)
    return Settings(project=project, stack=stack, **_with_derived_defaults(parsed))


def _with_derived_defaults(parsed: dict[str, Any]) -> dict[str, Any]:
    """Defaults taken from another key: the vault replicates where the automated backups do."""
    b, d = parsed.get("backups"), parsed.get("database")
    if b is not None and d is not None and b.replica_region is None:
        parsed["backups"] = b.model_copy(update={"replica_region": d.backup_replica_region})
    return parsed


def load() -> Settings:
    """Read the running stack's config; a bad config stops the program with a plain message."""
    import pulumi  # imported here so the pure parts load without the SDK's runtime state
    from pulumi.runtime import config as runtime_config

    values = _runtime_config()
    secret_keys = [
        *runtime_config.get_config_secret_keys_env(),
        *(k for k in values if runtime_config.is_config_secret(k)),
    ]
    try:
        s = parse(
            values, project=pulumi.get_project(), stack=pulumi.get_stack(), secret_keys=secret_keys
        )
    except SettingsError as exc:
        # RunError prints just the message: no traceback for a config mistake.
        raise pulumi.RunError(str(exc)) from None
    findings = unsafe_for_update(s)
    if findings and pulumi.runtime.is_dry_run():
        for key, why in findings:
            pulumi.log.warn(f"{key} {why} (`pulumi up` refuses this)")
    elif findings:
        raise pulumi.RunError(update_refusal(s.stack, findings))
    return s


def _runtime_config() -> dict[str, str]:
    """Every config value of the stack, as the language host handed it to the program."""
    from pulumi.runtime import config as runtime_config

    # The language host passes config in PULUMI_CONFIG; tests and mocks set it in-process.
    values: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def load_stack_file(stack: str, project_dir: Path) -> Settings:
    """Parse `Pulumi.<stack>.yaml` without the Pulumi runtime (tools and simulations)."""
    config = stackfile.load(stack, project_dir)
    return parse(config.values, project=config.project, stack=stack, secret_keys=config.secret_keys)


# ---- documentation generated from the models -------------------------------------------
