"""Logging: log groups (retention, KMS, class), masking, metric filters, saved queries, the
CloudWatch agent config and its IAM policy, checked on the real dev and prod recordings, each
with a deliberately broken counterpart that must be reported.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from components import bootstrap, contracts
from components import logging as logging_component
from offline.model import UNKNOWN, Recording
from tests.conftest import DEV_ALTERED
from tests.logging_checks import (
    LOGGING,
    agent_config_problems,
    agent_policy_problems,
    agent_policy_problems_in_preview,
    app_log_groups,
    configured_retention,
    data_protection_problems,
    instance_role,
    log_group_problems,
    metric_filter_problems,
    query_fields,
    saved_query_problems,
    unknown_policies,
)
from tests.obs_helpers import (
    CONTRACTS_DOC,
    LOG_GROUP,
    STACKS,
    added,
    child,
    children,
    markdown_table_fields,
    policies_of_role,
    replaced,
    user_data_script,
    value,
    with_props,
)
from tests.recording_queries import document

# ---- shipped stacks ----------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_log_groups_have_valid_retention_and_the_stack_key(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert log_group_problems(rec, configured_retention(stack)) == []


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
    assert value(app_log_groups(rec)["runtime"], "retentionInDays") == 14
    assert log_group_problems(rec, {"runtime": 14, "error": 30}) == []
    assert log_group_problems(rec, {"runtime": 7, "error": 30}), "a stale retention passed"


def test_the_docs_list_the_log_fields_the_code_uses() -> None:
    text = CONTRACTS_DOC.read_text()
    assert markdown_table_fields(text, "## Log files", table_index=1) == list(contracts.LOG_FIELDS)
    files = markdown_table_fields(text, "## Log files", table_index=0)
    assert files == [contracts.RUNTIME_LOG_PATH, contracts.ERROR_LOG_PATH]


PREVIEW_KNOWN = ("web-logs-agent", "web-analytics-put")


def test_agent_and_put_record_policies_are_known_at_preview(prod_preview: Recording) -> None:
    # Spelled from explicit names, so the policy pack can judge them before anything exists.
    assert unknown_policies(prod_preview, PREVIEW_KNOWN) == []
    assert agent_policy_problems_in_preview(prod_preview) == []


# ---- failing counterparts ----------------------------------------------------------------


def test_an_unknown_policy_at_preview_is_reported(prod_preview: Recording) -> None:
    role = instance_role(prod_preview)
    agent = next(p for p in policies_of_role(prod_preview, role) if p.name == "web-logs-agent")
    hidden = replaced(prod_preview, agent.urn, lambda r: with_props(r, policy=UNKNOWN))
    assert any("unknown at preview" in p for p in unknown_policies(hidden, PREVIEW_KNOWN))


def test_missing_or_invalid_retention_and_key_are_reported(prod: Recording) -> None:
    runtime = app_log_groups(prod)["runtime"]
    for change, words in (
        ({"retentionInDays": 42}, "retentionInDays 42"),
        ({"retentionInDays": None}, "retentionInDays None"),
        ({"kmsKeyId": None}, "kmsKeyId"),
        ({"tags": {"groundwork:logClass": "misc"}}, "logClass"),
    ):
        broken = replaced(prod, runtime.urn, lambda r, c=change: with_props(r, **c))
        found = log_group_problems(broken, configured_retention("prod"))
        assert any(runtime.urn in p and words in p for p in found), (change, found)


def test_a_key_not_from_encryption_is_reported(prod: Recording) -> None:
    error = app_log_groups(prod)["error"]
    foreign = replaced(
        prod,
        error.urn,
        lambda r: dataclasses.replace(
            with_props(r, kmsKeyId="arn:aws:kms:eu-west-1:123456789012:key/other"),
            property_dependencies={**r.property_dependencies, "kmsKeyId": ()},
        ),
    )
    assert any("kmsKeyId" in p for p in log_group_problems(foreign, configured_retention("prod")))


def test_unequal_or_missing_masking_is_reported(prod: Recording) -> None:
    policy = child(prod, LOGGING, "logging-runtime-data-protection")
    doc = json.loads(value(policy, "policyDocument"))
    doc["Statement"][1]["DataIdentifier"] = doc["Statement"][1]["DataIdentifier"][:1]
    unequal = replaced(prod, policy.urn, lambda r: with_props(r, policyDocument=json.dumps(doc)))
    assert any("differ" in p for p in data_protection_problems(unequal))
    dropped = replaced(prod, policy.urn, lambda r: None)
    assert any("0 data protection policies" in p for p in data_protection_problems(dropped))


def test_a_filter_on_the_wrong_group_or_levels_is_reported(prod: Recording) -> None:
    groups = app_log_groups(prod)
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
    role = instance_role(prod)
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
    runtime = app_log_groups(prod)["runtime"]
    stray = dataclasses.replace(
        runtime,
        urn=runtime.urn.replace("logging-runtime", "stray"),
        name="stray",
        parent=prod.stack_urn,
        inputs={"retentionInDays": 0, "tags": {}},
        outputs={},
        property_dependencies={},
    )
    found = log_group_problems(added(prod, stray), configured_retention("prod"))
    assert sum("stray" in p for p in found) == 3, found


def test_the_docs_check_reports_a_dropped_field() -> None:
    text = CONTRACTS_DOC.read_text()
    dropped = text.replace("| `requestId` |", "| `request` |")
    assert "requestId" not in markdown_table_fields(dropped, "## Log files", table_index=1)
