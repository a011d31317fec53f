"""Invariants of logging, as check functions over a Recording: every log group's retention (one
CloudWatch accepts, as configured), KMS key and log class; masking of personal data in the
app's groups; error metric filters on the right groups; saved Logs Insights queries that read
only the log contract's fields; the CloudWatch agent's config and the instance role's policy
for it (also at preview, where the documents must already be known).

Each returns problems naming the URN (empty = fine); tests/test_logging.py runs them on the
shipped stacks and on deliberately broken copies.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from components import contracts
from components import logging as logging_component
from offline.model import Recording, is_unknown
from settings import LOG_RETENTION_DAYS
from tests.conftest import stack_config
from tests.obs_helpers import (
    LOG_GROUP,
    METRIC_FILTER,
    arn,
    child,
    children,
    policies_of_role,
    value,
)
from tests.recording_queries import as_list, statements

LOGGING = "groundwork:observability:Logging"
ENCRYPTION = "groundwork:security:Encryption"
PARAMETER = "aws:ssm/parameter:Parameter"
DATA_PROTECTION = "aws:cloudwatch/logDataProtectionPolicy:LogDataProtectionPolicy"
QUERY_DEFINITION = "aws:cloudwatch/queryDefinition:QueryDefinition"


def app_log_groups(rec: Recording) -> dict[str, Any]:
    return {value(g, "tags", "groundwork:logClass"): g for g in children(rec, LOGGING, LOG_GROUP)}


# ---- checks ------------------------------------------------------------------------------


def log_group_problems(rec: Recording, expected_days: dict[str, int]) -> list[str]:
    """Every log group in the stack: retention valid (and as configured), stack KMS key, class."""
    logs_key = child(rec, ENCRYPTION, "encryption-logs")
    problems = []
    for g in rec.of_type(LOG_GROUP):
        days = value(g, "retentionInDays")
        if not days or int(days) not in LOG_RETENTION_DAYS:
            problems.append(f"{g.urn}: retentionInDays {days!r} is not one CloudWatch accepts")
        cls = value(g, "tags", "groundwork:logClass")
        if cls not in ("runtime", "error", "audit"):
            problems.append(f"{g.urn}: tag groundwork:logClass is {cls!r}")
        configured = expected_days.get(cls) if g.parent == child_urn(rec, LOGGING) else None
        if configured is not None and days != configured:
            problems.append(f"{g.urn}: retention {days} != configured {configured}")
        key = value(g, "kmsKeyId")
        if not key or logs_key.urn not in g.property_dependencies.get("kmsKeyId", ()):
            problems.append(f"{g.urn}: kmsKeyId {key!r} is not the stack's logs key")
    if set(app_log_groups(rec)) != {"runtime", "error"}:
        problems.append(f"{LOGGING}: log classes {sorted(app_log_groups(rec))} != runtime+error")
    return problems


def child_urn(rec: Recording, component_type: str) -> str:
    return rec.one(component_type).urn


def data_protection_problems(rec: Recording) -> list[str]:
    """Each app log group has one policy: Audit + Deidentify over the same identifiers."""
    problems = []
    policies = rec.of_type(DATA_PROTECTION)
    for cls, group in app_log_groups(rec).items():
        mine = [
            p
            for p in policies
            if group.urn in p.property_dependencies.get("logGroupName", ())
            and value(p, "logGroupName") == value(group, "name")
        ]
        if len(mine) != 1:
            problems.append(f"{group.urn}: {len(mine)} data protection policies for {cls}")
            continue
        doc = json.loads(value(mine[0], "policyDocument"))
        ops: dict[str, list[str]] = {}
        for stmt in doc.get("Statement", []):
            for op in stmt.get("Operation", {}):
                ops[op] = sorted(stmt.get("DataIdentifier", []))
        if set(ops) != {"Audit", "Deidentify"}:
            problems.append(f"{mine[0].urn}: operations {sorted(ops)} != Audit+Deidentify")
            continue
        if ops["Audit"] != ops["Deidentify"]:
            problems.append(f"{mine[0].urn}: audited and masked identifiers differ")
        names = {i.rsplit("/", 1)[-1] for i in ops["Deidentify"]}
        for needed in ("EmailAddress", "IpAddress", "CreditCardNumber"):
            if needed not in names:
                problems.append(f"{mine[0].urn}: does not mask {needed}")
    return problems


def metric_filter_problems(rec: Recording) -> list[str]:
    """One filter counts every error-log event, one counts runtime ERROR/CRITICAL lines."""
    groups = app_log_groups(rec)
    filters = children(rec, LOGGING, METRIC_FILTER)
    wanted = {
        "error": (logging_component.ERROR_LOG_METRIC, ""),
        "runtime": (logging_component.RUNTIME_ERROR_METRIC, None),
    }
    problems = []
    for cls, (metric, pattern) in wanted.items():
        group = groups[cls]
        found = [
            f
            for f in filters
            if value(f, "metricTransformation", "name") == metric
            and value(f, "metricTransformation", "namespace") == f"groundwork/{rec.stack}"
        ]
        if len(found) != 1:
            problems.append(f"{LOGGING}: {len(found)} filters publish {metric}")
            continue
        f = found[0]
        if value(f, "logGroupName") != value(group, "name") or group.urn not in (
            f.property_dependencies.get("logGroupName", ())
        ):
            problems.append(f"{f.urn}: counts {metric} on {value(f, 'logGroupName')}, not {cls}")
        got = value(f, "pattern") or ""
        if pattern is not None and got != pattern:
            problems.append(f"{f.urn}: pattern {got!r} does not match every event")
        if pattern is None:
            for level in contracts.ERROR_LEVELS:
                if f'$.level = "{level}"' not in got:
                    problems.append(f"{f.urn}: pattern {got!r} misses level {level}")
            for level in set(contracts.LOG_LEVELS) - set(contracts.ERROR_LEVELS):
                if f'"{level}"' in got:
                    problems.append(f"{f.urn}: pattern {got!r} counts level {level}")
    return problems


def agent_config_problems(rec: Recording) -> list[str]:
    """The SSM parameter holds valid JSON mapping the two contract files to the two groups."""
    groups = app_log_groups(rec)
    parameter = child(rec, LOGGING, "logging-agent-config")
    text = value(parameter, "insecureValue") or value(parameter, "value")
    try:
        config = json.loads(text)
    except (TypeError, ValueError) as exc:
        return [f"{parameter.urn}: agent config is not JSON ({exc})"]
    entries = (
        config.get("logs", {}).get("logs_collected", {}).get("files", {}).get("collect_list", [])
    )
    mapping = {e.get("file_path"): e for e in entries}
    problems = []
    expected = {
        contracts.RUNTIME_LOG_PATH: value(groups["runtime"], "name"),
        contracts.ERROR_LOG_PATH: value(groups["error"], "name"),
    }
    if set(mapping) != set(expected):
        problems.append(f"{parameter.urn}: ships {sorted(mapping)} not {sorted(expected)}")
    for path, group_name in expected.items():
        entry = mapping.get(path)
        if entry is None:
            continue
        if entry.get("log_group_name") != group_name:
            problems.append(f"{parameter.urn}: {path} goes to {entry.get('log_group_name')}")
        if entry.get("log_stream_name") != "{instance_id}":
            problems.append(f"{parameter.urn}: {path} stream is {entry.get('log_stream_name')}")
        try:
            dt.datetime.strptime("2026-11-26T10:45:15.123Z", entry.get("timestamp_format", ""))
        except ValueError:
            problems.append(
                f"{parameter.urn}: {path} timestamp_format {entry.get('timestamp_format')!r} "
                "does not parse the contract's time field"
            )
        if entry.get("timezone") != "UTC":
            problems.append(f"{parameter.urn}: {path} timezone is not UTC")
    return problems


def agent_policy_problems(rec: Recording) -> list[str]:
    """The instance role's agent policy: the two groups, the one parameter, nothing more."""
    groups = app_log_groups(rec)
    region = rec.outputs["region"]
    parameter = child(rec, LOGGING, "logging-agent-config")
    role = instance_role(rec)
    group_arns = {arn("logs", region, f"log-group:{value(g, 'name')}") for g in groups.values()}
    allowed_logs = group_arns | {f"{a}:log-stream:*" for a in group_arns}
    param_arn = arn("ssm", region, f"parameter{value(parameter, 'name')}")
    agent = [
        p
        for p in policies_of_role(rec, role)
        if any(
            a.startswith("logs:")
            for s in statements(value(p, "policy"))
            for a in as_list(s["Action"])
        )
    ]
    if len(agent) != 1:
        return [f"{role.urn}: {len(agent)} inline policies grant logs actions (want 1)"]
    problems = []
    allowed_actions = {
        "logs:CreateLogStream": allowed_logs,
        "logs:DescribeLogStreams": allowed_logs,
        "logs:PutLogEvents": allowed_logs,
        "ssm:GetParameter": {param_arn},
        "cloudwatch:PutMetricData": {"*"},
        "ec2:DescribeTags": {"*"},
    }
    granted: set[str] = set()
    for stmt in statements(value(agent[0], "policy")):
        if stmt.get("Effect") != "Allow":
            continue
        for action in as_list(stmt.get("Action")):
            granted.add(action)
            if action not in allowed_actions:
                problems.append(f"{agent[0].urn}: grants {action}, which the agent does not need")
                continue
            extra = set(as_list(stmt.get("Resource"))) - allowed_actions[action]
            if extra:
                problems.append(f"{agent[0].urn}: {action} on {sorted(extra)}")
            if action == "cloudwatch:PutMetricData":
                ns = stmt.get("Condition", {}).get("StringEquals", {}).get("cloudwatch:namespace")
                if not ns or not str(ns).startswith(f"groundwork/{rec.stack}"):
                    problems.append(f"{agent[0].urn}: PutMetricData without a namespace condition")
    for needed in ("logs:PutLogEvents", "logs:CreateLogStream", "ssm:GetParameter"):
        if needed not in granted:
            problems.append(f"{agent[0].urn}: does not grant {needed}")
    return problems


def _actions(policy: Any) -> list[str]:
    return [a for s in statements(policy) for a in as_list(s.get("Action"))]


def instance_role(rec: Recording) -> Any:
    return child(rec, "groundwork:hosting:WebTier", "web-instance-role")


def saved_query_problems(rec: Recording) -> list[str]:
    """Saved queries point at the app groups and use only the contract's fields."""
    groups = {value(g, "name"): cls for cls, g in app_log_groups(rec).items()}
    problems = []
    defs = children(rec, LOGGING, QUERY_DEFINITION)
    if len(defs) < 3:
        problems.append(f"{LOGGING}: only {len(defs)} saved queries")
    for q in defs:
        names = as_list(value(q, "logGroupNames"))
        if not names or any(n not in groups for n in names):
            problems.append(f"{q.urn}: queries {names}, not the app log groups")
        unknown = query_fields(value(q, "queryString") or "") - set(contracts.LOG_FIELDS)
        if unknown:
            problems.append(f"{q.urn}: uses fields outside the log contract: {sorted(unknown)}")
    return problems


_INSIGHTS_WORDS = {
    "fields", "filter", "stats", "sort", "limit", "by", "as", "asc", "desc", "and", "or",
    "not", "like", "in", "count", "latest", "ispresent", "display", "avg", "max", "min", "sum",
    "pct",
}  # fmt: skip


def query_fields(query: str) -> set[str]:
    """Field names a Logs Insights query reads (keywords, literals, @-fields, aliases out)."""
    text = re.sub(r'"[^"]*"', " ", query)
    aliases = set(re.findall(r"\bas\s+([A-Za-z_][A-Za-z0-9_]*)", text))
    tokens = set(re.findall(r"(?<![@\w])[A-Za-z_][A-Za-z0-9_]*", text))
    return tokens - _INSIGHTS_WORDS - aliases


# ---- expectations ------------------------------------------------------------------------


def configured_retention(stack: str) -> dict[str, int]:
    cfg = stack_config(stack)["groundwork:logging"]
    return {"runtime": cfg["runtimeRetentionDays"], "error": cfg["errorRetentionDays"]}


# ---- preview -----------------------------------------------------------------------------


def unknown_policies(rec: Recording, names: tuple[str, ...]) -> list[str]:
    """Instance-role policies among `names` whose document is unknown (not judgeable)."""
    role = instance_role(rec)
    policies = {p.name: p for p in policies_of_role(rec, role)}
    return [
        f"{policies[n].urn}: policy unknown at preview" if n in policies else f"{n}: missing"
        for n in names
        if n not in policies or is_unknown(policies[n].inputs.get("policy"))
    ]


def agent_policy_problems_in_preview(rec: Recording) -> list[str]:
    role = instance_role(rec)
    agent = next(p for p in policies_of_role(rec, role) if p.name == "web-logs-agent")
    resources = {r for s in statements(agent.inputs["policy"]) for r in as_list(s["Resource"])}
    expected = {
        arn("logs", rec.outputs["region"], f"log-group:/groundwork/{rec.stack}/app/{c}")
        for c in ("runtime", "error")
    }
    return [] if expected <= resources else [f"{agent.urn}: {sorted(resources)}"]
