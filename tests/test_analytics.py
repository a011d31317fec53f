"""Analytics: the path from the app's put-record to an expiring encrypted bucket and an
enforced Athena workgroup, checked on the real dev and prod recordings, each invariant with a
deliberately broken counterpart that must be reported.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import settings
from components import analytics as analytics_component
from components import contracts
from offline.model import Recording
from tests.analytics_checks import (
    ANALYTICS,
    analytics_bucket,
    analytics_config,
    app_policy_problems,
    firehose_role_problems,
    glue_firehose_problems,
    named_query_problems,
    private_bucket_problems,
    sql_problems,
    workgroup_problems,
)
from tests.conftest import DEV_ALTERED
from tests.obs_helpers import (
    CONTRACTS_DOC,
    STACKS,
    child,
    markdown_table_fields,
    policies_of_role,
    replaced,
    user_data_script,
    value,
    with_props,
)
from tests.recording_queries import companions, document

# ---- shipped stacks ----------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_events_bucket_is_private_encrypted_and_expiring(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert (
        private_bucket_problems(rec, analytics_bucket(rec), analytics_config(stack).retention_days)
        == []
    )


@pytest.mark.parametrize("stack", STACKS)
def test_results_bucket_is_private_encrypted_and_expiring(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    results = child(rec, ANALYTICS, "analytics-query-results")
    days = analytics_config(stack).query_results_retention_days
    assert private_bucket_problems(rec, results, days) == []


@pytest.mark.parametrize("stack", STACKS)
def test_glue_schema_is_the_contract_and_firehose_converts_to_it(stack: str, request: Any) -> None:
    assert glue_firehose_problems(request.getfixturevalue(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_named_queries_read_only_contract_columns(stack: str, request: Any) -> None:
    assert named_query_problems(request.getfixturevalue(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_workgroup_enforces_encrypted_results(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert workgroup_problems(rec, analytics_config(stack).query_scan_limit_gb) == []


@pytest.mark.parametrize("stack", STACKS)
def test_app_may_only_put_to_this_stream_and_read_its_key(stack: str, request: Any) -> None:
    assert app_policy_problems(request.getfixturevalue(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_firehose_role_reaches_only_what_delivery_needs(stack: str, request: Any) -> None:
    assert firehose_role_problems(request.getfixturevalue(stack)) == []


def test_stateful_analytics_resources_are_protected_in_prod(prod: Recording) -> None:
    for name in ("analytics-events", "analytics-key", "analytics-pseudonym-key",
                 "analytics-delivery-errors", "analytics-pseudonym-key-seed-logs"):  # fmt: skip
        assert child(prod, ANALYTICS, name).protect is True, f"{name} is not protected in prod"


def test_pseudonym_key_is_encrypted_with_the_analytics_key(prod: Recording) -> None:
    secret = child(prod, ANALYTICS, "analytics-pseudonym-key")
    key = child(prod, ANALYTICS, "analytics-key")
    assert key.urn in secret.property_dependencies.get("kmsKeyId", ()), secret.urn


@pytest.mark.parametrize("stack", STACKS)
def test_the_program_never_holds_the_pseudonym_key(stack: str, request: Any) -> None:
    rec: Recording = request.getfixturevalue(stack)
    holders = [
        r.urn
        for r in rec
        if r.type in ("random:index/randomPassword:RandomPassword",)
        or (r.type == "aws:secretsmanager/secretVersion:SecretVersion")
    ]
    assert holders == [], f"a key value passes through the program: {holders}"


def test_the_key_is_generated_at_deploy_time_by_the_seed_function(prod: Recording) -> None:
    secret = child(prod, ANALYTICS, "analytics-pseudonym-key")
    invocation = child(prod, ANALYTICS, "analytics-pseudonym-key-seed")
    assert json.loads(value(invocation, "input")) == {"secretArn": secret.outputs["arn"]}
    function = child(prod, ANALYTICS, "analytics-pseudonym-key-seed-fn")
    assert value(function, "handler") == analytics_component.SEED_HANDLER
    # The handler comes from the ops directory blueprint passes in, recorded project-relative.
    assets = function.input("code", "assets", default={})
    path = assets.get(analytics_component.SEED_FILE, {}).get("path")
    assert path == f"ops/{analytics_component.SEED_FILE}", (function.urn, assets)
    [policy] = [
        r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name == "analytics-pseudonym-key-seed-policy"
    ]  # fmt: skip
    actions = {a for s in json.loads(value(policy, "policy"))["Statement"] for a in s["Action"]}
    assert "secretsmanager:GetSecretValue" not in actions, "the seed function may read the key"
    assert {"secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"} <= actions


def test_the_app_config_waits_for_the_key(prod: Recording) -> None:
    invocation = child(prod, ANALYTICS, "analytics-pseudonym-key-seed")
    template = prod.one("aws:ec2/launchTemplate:LaunchTemplate")
    assert invocation.urn in template.property_dependencies.get("userData", ()), (
        f"{template.urn}: instances may start before the pseudonym key exists"
    )


def test_configured_retention_reaches_bucket_and_projection(record_variant: Any) -> None:
    # dev with other groups changed too (DEV_ALTERED): one recording for several files.
    assert DEV_ALTERED["groundwork:analytics"] == {"retentionDays": 90}
    rec = record_variant("dev", DEV_ALTERED)
    assert private_bucket_problems(rec, analytics_bucket(rec), 90) == []
    assert private_bucket_problems(rec, analytics_bucket(rec), 30), "stale expiry passed"
    table = child(rec, ANALYTICS, "analytics-events-table")
    assert value(table, "parameters")["projection.dt.range"] == "NOW-90DAYS,NOW"


def test_the_docs_list_the_event_fields_the_table_has() -> None:
    text = CONTRACTS_DOC.read_text()
    fields = markdown_table_fields(text, "## Product events")
    assert fields == list(contracts.event_field_names())


def test_results_may_not_outlive_the_events() -> None:
    with pytest.raises(settings.SettingsError) as err:
        settings.parse(
            {
                "aws:region": "eu-west-1",
                "groundwork:analytics": json.dumps(
                    {"retentionDays": 30, "queryResultsRetentionDays": 60}
                ),
            },
            project="groundwork",
            stack="t",
        )
    assert "groundwork:analytics.queryResultsRetentionDays must be <= retentionDays" in str(
        err.value
    )


# ---- failing counterparts ----------------------------------------------------------------


def test_a_longer_or_missing_expiry_is_reported(prod: Recording) -> None:
    bucket = analytics_bucket(prod)
    lc = companions(
        prod, bucket, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )[0]
    rules = json.loads(json.dumps(value(lc, "rules")))
    rules[0]["expiration"]["days"] = 500
    longer = replaced(prod, lc.urn, lambda r: with_props(r, rules=rules))
    found = private_bucket_problems(longer, bucket, 395)
    assert any("500 days" in p for p in found) and any("after 395" in p for p in found), found
    gone = replaced(prod, lc.urn, lambda r: None)
    assert any("after 395" in p for p in private_bucket_problems(gone, bucket, 395))


def test_public_access_sse_s3_and_no_tls_policy_are_reported(prod: Recording) -> None:
    bucket = analytics_bucket(prod)
    rec = prod
    pab = companions(rec, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0]
    rec = replaced(rec, pab.urn, lambda r: with_props(r, restrictPublicBuckets=False))
    policy = companions(rec, bucket, "aws:s3/bucketPolicy:BucketPolicy")[0]
    rec = replaced(rec, policy.urn, lambda r: None)
    enc = companions(rec, bucket, "aws:s3/bucketServerSideEncryptionConfiguration:"
                     "BucketServerSideEncryptionConfiguration")[0]  # fmt: skip
    aes = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    rec = replaced(rec, enc.urn, lambda r: with_props(r, rules=aes))
    found = private_bucket_problems(rec, bucket, 395)
    for words in ("public access", "TLS", "SSE-KMS"):
        assert any(words in p for p in found), (words, found)


def test_schema_drift_between_glue_firehose_and_contract_is_reported(prod: Recording) -> None:
    table = child(prod, ANALYTICS, "analytics-events-table")
    sd = json.loads(json.dumps(value(table, "storageDescriptor")))
    sd["columns"].append({"name": "email", "type": "string"})
    with_email = replaced(prod, table.urn, lambda r: with_props(r, storageDescriptor=sd))
    found = glue_firehose_problems(with_email)
    assert any("not the event contract" in p for p in found), found
    assert any("personal data columns ['email']" in p for p in found), found

    stream = child(prod, ANALYTICS, "analytics-stream")
    s3 = json.loads(json.dumps(value(stream, "extendedS3Configuration")))
    s3["dataFormatConversionConfiguration"]["schemaConfiguration"]["tableName"] = "other"
    s3["bufferingSize"] = 5
    s3["prefix"] = "raw/"
    other = replaced(prod, stream.urn, lambda r: with_props(r, extendedS3Configuration=s3))
    found = glue_firehose_problems(other)
    for words in ("converts against", "bufferingSize 5", "prefix 'raw/'"):
        assert any(words in p for p in found), (words, found)


def test_a_query_outside_the_contract_or_workgroup_is_reported(prod: Recording) -> None:
    assert sql_problems("SELECT email, count(*) FROM events WHERE dt > '2026-01-01' GROUP BY 1")
    assert sql_problems("SELECT count(*) FROM events")  # no partition pruning
    assert sql_problems("SELECT count(*) FROM other WHERE dt > '2026-01-01'")
    query = child(prod, ANALYTICS, "analytics-query-dau")
    moved = replaced(prod, query.urn, lambda r: with_props(r, workgroup="primary"))
    assert any("outside the analytics workgroup" in p for p in named_query_problems(moved))


def test_an_unenforced_or_unencrypted_workgroup_is_reported(prod: Recording) -> None:
    workgroup = child(prod, ANALYTICS, "analytics-workgroup")
    conf = json.loads(json.dumps(value(workgroup, "configuration")))
    conf["enforceWorkgroupConfiguration"] = False
    conf["resultConfiguration"].pop("encryptionConfiguration")
    loose = replaced(prod, workgroup.urn, lambda r: with_props(r, configuration=conf))
    found = workgroup_problems(loose, 10)
    assert any("override" in p for p in found) and any("SSE-KMS" in p for p in found), found


def test_a_broader_app_policy_is_reported(prod: Recording) -> None:
    role = child(prod, "groundwork:hosting:WebTier", "web-instance-role")
    put = next(p for p in policies_of_role(prod, role) if "firehose:" in value(p, "policy"))
    doc = document(value(put, "policy"))
    doc["Statement"][0]["Action"] = ["firehose:*"]
    doc["Statement"][0]["Resource"] = ["*"]
    broad = replaced(prod, put.urn, lambda r: with_props(r, policy=json.dumps(doc)))
    found = app_policy_problems(broad)
    assert any("grants ['firehose:*']" in p for p in found), found
    assert any("firehose on ['*']" in p for p in found), found
    key = next(p for p in policies_of_role(prod, role) if "secretsmanager:" in value(p, "policy"))
    doc = document(value(key, "policy"))
    doc["Statement"][0]["Resource"] = "*"
    doc["Statement"][1].pop("Condition")
    secrets = replaced(prod, key.urn, lambda r: with_props(r, policy=json.dumps(doc)))
    found = app_policy_problems(secrets)
    assert any("secrets access" in p for p in found) and any("kms:Decrypt" in p for p in found)


def test_missing_analytics_in_the_app_config_is_reported(prod: Recording) -> None:
    lt = prod.one("aws:ec2/launchTemplate:LaunchTemplate")
    script = user_data_script(prod).replace('"analytics"', '"analytics_off"')
    broken = replaced(
        prod, lt.urn, lambda r: with_props(r, userData=base64.b64encode(script.encode()).decode())
    )
    assert any("app config analytics None" in p for p in app_policy_problems(broken))


def test_a_firehose_role_with_wildcards_is_reported(prod: Recording) -> None:
    policy = child(prod, ANALYTICS, "analytics-firehose-policy")
    doc = document(value(policy, "policy"))
    doc["Statement"][0]["Resource"] = ["arn:aws:s3:::*"]
    doc["Statement"].append({"Effect": "Allow", "Action": "firehose:*", "Resource": "*"})
    broad = replaced(prod, policy.urn, lambda r: with_props(r, policy=json.dumps(doc)))
    found = firehose_role_problems(broad)
    assert any("beyond the analytics bucket" in p for p in found), found
    assert any("firehose:* on ['*']" in p for p in found), found


def test_the_docs_check_reports_a_missing_event_field() -> None:
    text = CONTRACTS_DOC.read_text().replace("| `plan` |", "| plan |")
    assert markdown_table_fields(text, "## Product events") != list(contracts.event_field_names())
