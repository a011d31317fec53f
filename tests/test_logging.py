"""Logging: log groups (retention, KMS, class), masking, metric filters, saved queries, the
CloudWatch agent config and its IAM policy, checked on the real dev and prod recordings, each
with a deliberately broken counterpart that must be reported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any

import pytest

from components import bootstrap, contracts
from components import logging as logging_component
from offline.model import UNKNOWN, Recording, is_unknown
from settings import LOG_RETENTION_DAYS
from tests.conftest import DEV_ALTERED, stack_config
from tests.obs_helpers import (
    CONTRACTS_DOC,
    LOG_GROUP,
    METRIC_FILTER,
    STACKS,
    added,
    arn,
    as_list,
    child,
    children,
    document,
    markdown_table_fields,
    policies_of_role,
    replaced,
    statements,
    user_data_script,
    value,
    with_props,
)

LOGGING = "groundwork:observability:Logging"
ENCRYPTION = "groundwork:security:Encryption"
PARAMETER = "aws:ssm/parameter:Parameter"
DATA_PROTECTION = "aws:cloudwatch/logDataProtectionPolicy:LogDataProtectionPolicy"
QUERY_DEFINITION = "aws:cloudwatch/queryDefinition:QueryDefinition"


def _groups(rec: Recording) -> dict[str, Any]:
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
    if set(_groups(rec)) != {"runtime", "error"}:
        problems.append(f"{LOGGING}: log classes {sorted(_groups(rec))} != runtime+error")
    return problems


def child_urn(rec: Recording, component_type: str) -> str:
    return rec.one(component_type).urn


def data_protection_problems(rec: Recording) -> list[str]:
    """Each app log group has one policy: Audit + Deidentify over the same identifiers."""
    problems = []
    policies = rec.of_type(DATA_PROTECTION)
    for cls, group in _groups(rec).items():
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
    groups = _groups(rec)
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
    groups = _groups(rec)
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
    groups = _groups(rec)
    region = rec.outputs["region"]
    parameter = child(rec, LOGGING, "logging-agent-config")
    role = _instance_role(rec)
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


def _instance_role(rec: Recording) -> Any:
    return child(rec, "groundwork:hosting:WebTier", "web-instance-role")


def saved_query_problems(rec: Recording) -> list[str]:
    """Saved queries point at the app groups and use only the contract's fields."""
    groups = {value(g, "name"): cls for cls, g in _groups(rec).items()}
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


# ---- shipped stacks ----------------------------------------------------------------------


def _expected_days(stack: str) -> dict[str, int]:
    cfg = stack_config(stack)["groundwork:logging"]
    return {"runtime": cfg["runtimeRetentionDays"], "error": cfg["errorRetentionDays"]}


@pytest.mark.parametrize("stack", STACKS)
def test_log_groups_have_valid_retention_and_the_stack_key(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert log_group_problems(rec, _expected_days(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_app_log_groups_mask_personal_data(stack: str, request: Any) -> None:
    assert data_protection_problems(request.getfixturevalue(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_metric_filters_count_errors_on_the_right_groups(stack: str, request: Any) -> None:
    assert metric_filter_problems(request.getfixturevalue(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_agent_config_ships_the_contract_files_to_the_groups(stack: str, request: Any) -> None:
    assert agent_config_problems(request.getfixturevalue(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_agent_policy_is_exactly_what_the_agent_needs(stack: str, request: Any) -> None:
    assert agent_policy_problems(request.getfixturevalue(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_saved_queries_use_the_app_groups_and_contract_fields(stack: str, request: Any) -> None:
    assert saved_query_problems(request.getfixturevalue(stack)) == []


def test_log_groups_are_protected_in_prod_only(prod: Recording, dev: Recording) -> None:
    for rec, expected in ((prod, True), (dev, False)):
        for g in children(rec, LOGGING, LOG_GROUP):
            assert g.protect is expected, f"{g.urn}: protect {g.protect} in {rec.stack}"


def test_user_data_fetches_the_agent_config_and_carries_its_digest(prod: Recording) -> None:
    parameter = child(prod, LOGGING, "logging-agent-config")
    script = user_data_script(prod)
    name = value(parameter, "name")
    assert f"fetch-config -m ec2 -s -c ssm:{name}" in script, "user data does not fetch " + name
    digest = logging_component.config_digest(value(parameter, "insecureValue"))
    assert f"agent config digest: {digest}" in script, "user data lacks the agent config digest"


def test_a_changed_agent_config_changes_the_user_data() -> None:
    def render(digest: str) -> str:
        return bootstrap.render(
            bootstrap.Bootstrap(
                region="eu-west-1",
                cloudwatch_agent_parameter="/groundwork/prod/cloudwatch-agent/config",
                cloudwatch_agent_config_digest=digest,
            )
        )

    one = logging_component.config_digest(json.dumps({"logs": 1}))
    two = logging_component.config_digest(json.dumps({"logs": 2}))
    assert one != two
    assert render(one) != render(two), "user data ignores the agent config digest"


def test_configured_retention_reaches_the_groups(record_variant: Any) -> None:
    # dev with other groups changed too (DEV_ALTERED): one recording for several files.
    assert DEV_ALTERED["groundwork:logging"] == {"runtimeRetentionDays": 14}
    rec = record_variant("dev", DEV_ALTERED)
    assert value(_groups(rec)["runtime"], "retentionInDays") == 14
    assert log_group_problems(rec, {"runtime": 14, "error": 30}) == []
    assert log_group_problems(rec, {"runtime": 7, "error": 30}), "a stale retention passed"


def test_the_docs_list_the_log_fields_the_code_uses() -> None:
    text = CONTRACTS_DOC.read_text()
    assert markdown_table_fields(text, "## Log files", table_index=1) == list(contracts.LOG_FIELDS)
    files = markdown_table_fields(text, "## Log files", table_index=0)
    assert files == [contracts.RUNTIME_LOG_PATH, contracts.ERROR_LOG_PATH]


def unknown_policies(rec: Recording, names: tuple[str, ...]) -> list[str]:
    """Instance-role policies among `names` whose document is unknown (not judgeable)."""
    role = _instance_role(rec)
    policies = {p.name: p for p in policies_of_role(rec, role)}
    return [
        f"{policies[n].urn}: policy unknown at preview" if n in policies else f"{n}: missing"
        for n in names
        if n not in policies or is_unknown(policies[n].inputs.get("policy"))
    ]


PREVIEW_KNOWN = ("web-logs-agent", "web-analytics-put")


def test_agent_and_put_record_policies_are_known_at_preview(prod_preview: Recording) -> None:
    # Spelled from explicit names, so the policy pack can judge them before anything exists.
    assert unknown_policies(prod_preview, PREVIEW_KNOWN) == []
    assert agent_policy_problems_in_preview(prod_preview) == []


def agent_policy_problems_in_preview(rec: Recording) -> list[str]:
    role = _instance_role(rec)
    agent = next(p for p in policies_of_role(rec, role) if p.name == "web-logs-agent")
    resources = {r for s in statements(agent.inputs["policy"]) for r in as_list(s["Resource"])}
    expected = {
        arn("logs", rec.outputs["region"], f"log-group:/groundwork/{rec.stack}/app/{c}")
        for c in ("runtime", "error")
    }
    return [] if expected <= resources else [f"{agent.urn}: {sorted(resources)}"]


# ---- failing counterparts ----------------------------------------------------------------


def test_an_unknown_policy_at_preview_is_reported(prod_preview: Recording) -> None:
    role = _instance_role(prod_preview)
    agent = next(p for p in policies_of_role(prod_preview, role) if p.name == "web-logs-agent")
    hidden = replaced(prod_preview, agent.urn, lambda r: with_props(r, policy=UNKNOWN))
    assert any("unknown at preview" in p for p in unknown_policies(hidden, PREVIEW_KNOWN))


def test_missing_or_invalid_retention_and_key_are_reported(prod: Recording) -> None:
    runtime = _groups(prod)["runtime"]
    for change, words in (
        ({"retentionInDays": 42}, "retentionInDays 42"),
        ({"retentionInDays": None}, "retentionInDays None"),
        ({"kmsKeyId": None}, "kmsKeyId"),
        ({"tags": {"groundwork:logClass": "misc"}}, "logClass"),
    ):
        broken = replaced(prod, runtime.urn, lambda r, c=change: with_props(r, **c))
        found = log_group_problems(broken, _expected_days("prod"))
        assert any(runtime.urn in p and words in p for p in found), (change, found)


def test_a_key_not_from_encryption_is_reported(prod: Recording) -> None:
    error = _groups(prod)["error"]
    foreign = replaced(
        prod,
        error.urn,
        lambda r: dataclasses.replace(
            with_props(r, kmsKeyId="arn:aws:kms:eu-west-1:123456789012:key/other"),
            property_dependencies={**r.property_dependencies, "kmsKeyId": ()},
        ),
    )
    assert any("kmsKeyId" in p for p in log_group_problems(foreign, _expected_days("prod")))


def test_unequal_or_missing_masking_is_reported(prod: Recording) -> None:
    policy = child(prod, LOGGING, "logging-runtime-data-protection")
    doc = json.loads(value(policy, "policyDocument"))
    doc["Statement"][1]["DataIdentifier"] = doc["Statement"][1]["DataIdentifier"][:1]
    unequal = replaced(prod, policy.urn, lambda r: with_props(r, policyDocument=json.dumps(doc)))
    assert any("differ" in p for p in data_protection_problems(unequal))
    dropped = replaced(prod, policy.urn, lambda r: None)
    assert any("0 data protection policies" in p for p in data_protection_problems(dropped))


def test_a_filter_on_the_wrong_group_or_levels_is_reported(prod: Recording) -> None:
    groups = _groups(prod)
    errors = child(prod, LOGGING, "logging-error-events")
    moved = replaced(
        prod,
        errors.urn,
        lambda r: dataclasses.replace(
            with_props(r, logGroupName=value(groups["runtime"], "name")),
            property_dependencies={"logGroupName": (groups["runtime"].urn,)},
        ),
    )
    assert any("not error" in p for p in metric_filter_problems(moved))
    runtime = child(prod, LOGGING, "logging-runtime-errors")
    loose = replaced(
        prod,
        runtime.urn,
        lambda r: with_props(r, pattern='{ $.level = "ERROR" || $.level = "INFO" }'),
    )
    found = metric_filter_problems(loose)
    assert any("CRITICAL" in p for p in found) and any("INFO" in p for p in found), found


def test_a_swapped_or_broken_agent_config_is_reported(prod: Recording) -> None:
    parameter = child(prod, LOGGING, "logging-agent-config")
    config = json.loads(value(parameter, "insecureValue"))
    files = config["logs"]["logs_collected"]["files"]["collect_list"]
    files[0]["log_group_name"], files[1]["log_group_name"] = (
        files[1]["log_group_name"],
        files[0]["log_group_name"],
    )
    files[0]["timestamp_format"] = "%d/%b/%Y:%H:%M:%S"
    swapped = replaced(
        prod, parameter.urn, lambda r: with_props(r, insecureValue=json.dumps(config))
    )
    found = agent_config_problems(swapped)
    assert sum("goes to" in p for p in found) == 2, found
    assert any("timestamp_format" in p for p in found), found
    garbage = replaced(prod, parameter.urn, lambda r: with_props(r, insecureValue="{not json"))
    assert any("not JSON" in p for p in agent_config_problems(garbage))


def test_a_broader_agent_policy_is_reported(prod: Recording) -> None:
    role = _instance_role(prod)
    agent = next(
        p for p in policies_of_role(prod, role) if "logs:PutLogEvents" in value(p, "policy")
    )
    doc = document(value(agent, "policy"))
    doc["Statement"][0]["Resource"] = "*"
    doc["Statement"].append({"Effect": "Allow", "Action": "logs:*", "Resource": "*"})
    doc["Statement"][2].pop("Condition")
    broad = replaced(prod, agent.urn, lambda r: with_props(r, policy=json.dumps(doc)))
    found = agent_policy_problems(broad)
    assert any("logs:PutLogEvents on ['*']" in p for p in found), found
    assert any("grants logs:*" in p for p in found), found
    assert any("namespace condition" in p for p in found), found


def test_a_query_reading_a_field_outside_the_contract_is_reported(prod: Recording) -> None:
    query = child(prod, LOGGING, "logging-query-slowest-requests")
    leaky = replaced(
        prod,
        query.urn,
        lambda r: with_props(r, queryString="fields @timestamp, email, ip | sort ip desc"),
    )
    found = saved_query_problems(leaky)
    assert any("['email', 'ip']" in p for p in found), found
    assert query_fields(logging_component.QUERIES["slowest-requests"].query) <= set(
        contracts.LOG_FIELDS
    )


def test_a_stray_unencrypted_log_group_anywhere_is_reported(prod: Recording) -> None:
    runtime = _groups(prod)["runtime"]
    stray = dataclasses.replace(
        runtime,
        urn=runtime.urn.replace("logging-runtime", "stray"),
        name="stray",
        parent=prod.stack_urn,
        inputs={"retentionInDays": 0, "tags": {}},
        outputs={},
        property_dependencies={},
    )
    found = log_group_problems(added(prod, stray), _expected_days("prod"))
    assert sum("stray" in p for p in found) == 3, found


def test_the_docs_check_reports_a_dropped_field() -> None:
    text = CONTRACTS_DOC.read_text()
    dropped = text.replace("| `requestId` |", "| `request` |")
    assert "requestId" not in markdown_table_fields(dropped, "## Log files", table_index=1)
