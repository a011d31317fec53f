"""Analytics: the path from the app's put-record to an expiring encrypted bucket and an
enforced Athena workgroup, checked on the real dev and prod recordings, each invariant with a
deliberately broken counterpart that must be reported.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.qualify import qualify

import settings
from components import analytics as analytics_component
from components import contracts
from offline.model import RecordedResource, Recording
from tests.conftest import DEV_ALTERED, stack_config
from tests.obs_helpers import (
    CONTRACTS_DOC,
    STACKS,
    app_config_from_user_data,
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

ANALYTICS = "groundwork:analytics:Analytics"
BUCKET = "aws:s3/bucket:Bucket"
STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
TABLE = "aws:glue/catalogTable:CatalogTable"
WORKGROUP = "aws:athena/workgroup:Workgroup"
NAMED_QUERY = "aws:athena/namedQuery:NamedQuery"
GIB = 1024**3


def _companion(rec: Recording, bucket: RecordedResource, type_token: str) -> list[RecordedResource]:
    return [
        r
        for r in rec.of_type(type_token)
        if bucket.urn in r.property_dependencies.get("bucket", ())
    ]


def _analytics_bucket(rec: Recording) -> RecordedResource:
    found = [
        b for b in rec.of_type(BUCKET) if value(b, "tags", "groundwork:purpose") == "analytics"
    ]
    assert len(found) == 1, f"expected one analytics bucket in {rec.stack}, found {found}"
    return found[0]


# ---- checks ------------------------------------------------------------------------------


def private_bucket_problems(rec: Recording, bucket: RecordedResource, max_days: int) -> list[str]:
    """SSE-KMS with the analytics key, all public access blocked, TLS only, expiring."""
    key = child(rec, ANALYTICS, "analytics-key")
    problems = []
    enc = _companion(rec, bucket, "aws:s3/bucketServerSideEncryptionConfiguration:"
                     "BucketServerSideEncryptionConfiguration")  # fmt: skip
    rules = [r for e in enc for r in as_list(value(e, "rules"))]
    kms = [r for r in rules if r["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"]
    if not kms or not all(key.urn in e.property_dependencies.get("rules", ()) for e in enc):
        problems.append(f"{bucket.urn}: not SSE-KMS with the analytics key")
    pab = _companion(rec, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    if len(pab) != 1 or not all(value(pab[0], f) is True for f in flags):
        problems.append(f"{bucket.urn}: public access is not fully blocked")
    ownership = _companion(rec, bucket, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    if [value(o, "rule", "objectOwnership") for o in ownership] != ["BucketOwnerEnforced"]:
        problems.append(f"{bucket.urn}: ACLs are not disabled (BucketOwnerEnforced)")
    tls = False
    for policy in _companion(rec, bucket, "aws:s3/bucketPolicy:BucketPolicy"):
        for stmt in statements(value(policy, "policy")):
            cond = stmt.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
            tls |= stmt.get("Effect") == "Deny" and stmt.get("Principal") == "*" and cond == "false"
    if not tls:
        problems.append(f"{bucket.urn}: no policy denies requests without TLS")
    lifecycle = _companion(
        rec, bucket, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    rules = [r for lc in lifecycle for r in as_list(value(lc, "rules"))]
    enabled = [r for r in rules if r.get("status") == "Enabled"]
    whole = [r for r in enabled if (r.get("filter") or {}).get("prefix", "") == ""]
    if not any((r.get("expiration") or {}).get("days") == max_days for r in whole):
        problems.append(f"{bucket.urn}: no rule expires the whole bucket after {max_days} days")
    for r in enabled:
        days = (r.get("expiration") or {}).get("days")
        if days is not None and days > max_days:
            problems.append(f"{bucket.urn}: rule {r.get('id')} keeps objects {days} days")
    if not any((r.get("noncurrentVersionExpiration") or {}).get("noncurrentDays") for r in whole):
        problems.append(f"{bucket.urn}: noncurrent versions never expire")
    return problems


def glue_firehose_problems(rec: Recording) -> list[str]:
    """The Glue table is the event contract; Firehose converts against exactly that table."""
    table = child(rec, ANALYTICS, "analytics-events-table")
    stream = child(rec, ANALYTICS, "analytics-stream")
    bucket = _analytics_bucket(rec)
    problems = []
    columns = [(c["name"], c["type"]) for c in value(table, "storageDescriptor", "columns")]
    if columns != [(f.name, f.glue_type) for f in contracts.EVENT_FIELDS]:
        problems.append(f"{table.urn}: columns {columns} are not the event contract")
    forbidden = {name for name, _ in columns} & set(contracts.FORBIDDEN_EVENT_FIELDS)
    if forbidden:
        problems.append(f"{table.urn}: personal data columns {sorted(forbidden)}")
    serde = value(table, "storageDescriptor", "serDeInfo", "serializationLibrary")
    if serde != analytics_component.PARQUET_SERDE:
        problems.append(f"{table.urn}: SerDe {serde} is not Parquet")
    s3 = value(stream, "extendedS3Configuration")
    conversion = s3.get("dataFormatConversionConfiguration", {})
    schema = conversion.get("schemaConfiguration", {})
    if not conversion.get("enabled"):
        problems.append(f"{stream.urn}: record format conversion is off")
    if (schema.get("databaseName"), schema.get("tableName")) != (
        value(table, "databaseName"),
        value(table, "name"),
    ) or table.urn not in stream.property_dependencies.get("extendedS3Configuration", ()):
        problems.append(f"{stream.urn}: converts against {schema}, not {table.urn}")
    if "openXJsonSerDe" not in conversion.get("inputFormatConfiguration", {}).get(
        "deserializer", {}
    ):
        problems.append(f"{stream.urn}: input is not read with the OpenX JSON SerDe")
    if "parquetSerDe" not in conversion.get("outputFormatConfiguration", {}).get("serializer", {}):
        problems.append(f"{stream.urn}: output is not Parquet")
    if (s3.get("bufferingSize") or 0) < 64:
        problems.append(f"{stream.urn}: bufferingSize {s3.get('bufferingSize')} < 64 MiB")
    if s3.get("bucketArn") != value(bucket, "arn"):
        problems.append(f"{stream.urn}: writes to {s3.get('bucketArn')}, not the analytics bucket")
    # Firehose's prefix and the table's location/projection template name the same place.
    key = contracts.PARTITION_KEY
    params = value(table, "parameters") or {}
    prefix = s3.get("prefix", "")
    template = params.get("storage.location.template", "")
    if not prefix.startswith(f"{contracts.EVENTS_PREFIX}{key}=!{{timestamp:yyyy-MM-dd}}/"):
        problems.append(f"{stream.urn}: prefix {prefix!r} is not events/dt=<date>/")
    if template != f"s3://{value(bucket, 'bucket')}/{contracts.EVENTS_PREFIX}{key}=${{{key}}}/":
        problems.append(f"{table.urn}: storage.location.template {template!r}")
    if [p["name"] for p in value(table, "partitionKeys")] != [key]:
        problems.append(f"{table.urn}: partition keys are not [{key}]")
    if params.get("projection.enabled") != "true" or params.get(f"projection.{key}.type") != (
        "date"
    ):
        problems.append(f"{table.urn}: partition projection is not on")
    if params.get(f"projection.{key}.format") != "yyyy-MM-dd":
        problems.append(f"{table.urn}: projection format does not match the Firehose prefix")
    if not s3.get("errorOutputPrefix", "").startswith(contracts.ERRORS_PREFIX):
        problems.append(f"{stream.urn}: failed records are not kept apart under errors/")
    sse = value(stream, "serverSideEncryption") or {}
    if not sse.get("enabled") or sse.get("keyType") != "CUSTOMER_MANAGED_CMK":
        problems.append(f"{stream.urn}: stream is not encrypted with the analytics key")
    logging = s3.get("cloudwatchLoggingOptions") or {}
    group = child(rec, ANALYTICS, "analytics-delivery-errors")
    if not logging.get("enabled") or logging.get("logGroupName") != value(group, "name"):
        problems.append(f"{stream.urn}: delivery errors are not logged to {group.urn}")
    return problems


def named_query_problems(
    rec: Recording, queries: list[RecordedResource] | None = None
) -> list[str]:
    """Each named query runs in the workgroup on the Glue database and reads contract columns."""
    table = child(rec, ANALYTICS, "analytics-events-table")
    workgroup = child(rec, ANALYTICS, "analytics-workgroup")
    queries = queries if queries is not None else children(rec, ANALYTICS, NAMED_QUERY)
    problems = []
    titles = {value(q, "name") for q in queries}
    for spec in analytics_component.named_queries().values():
        if spec.title not in titles:
            problems.append(f"{ANALYTICS}: no named query {spec.title!r}")
    for q in queries:
        if value(q, "database") != value(table, "databaseName"):
            problems.append(f"{q.urn}: runs on database {value(q, 'database')}")
        if value(q, "workgroup") != value(workgroup, "name"):
            problems.append(f"{q.urn}: runs outside the analytics workgroup")
        problems.extend(f"{q.urn}: {p}" for p in sql_problems(value(q, "query")))
    return problems


def event_schema() -> dict[str, dict[str, str]]:
    types = {
        "timestamp": "timestamp",
        "string": "varchar",
        "map<string,string>": "map(varchar,varchar)",
    }
    columns = {f.name: types[f.glue_type] for f in contracts.EVENT_FIELDS}
    return {contracts.EVENTS_TABLE: {**columns, contracts.PARTITION_KEY: "varchar"}}


def sql_problems(sql: str) -> list[str]:
    """Parse as Athena (Trino) SQL and resolve every column against the events table."""
    try:
        tree = sqlglot.parse_one(sql, read="trino")
        qualify(tree, schema=event_schema(), dialect="trino", validate_qualify_columns=True)
    except (sqlglot.errors.ParseError, OptimizeError) as exc:
        return [f"does not resolve against the event contract: {exc}"]
    tables = {t.name for t in tree.find_all(exp.Table)} - _cte_names(tree)
    problems = [f"reads tables {sorted(tables)}"] if tables != {contracts.EVENTS_TABLE} else []
    where = [w for w in tree.find_all(exp.Where)]
    if not any(contracts.PARTITION_KEY in {c.name for c in w.find_all(exp.Column)} for w in where):
        problems.append(f"does not prune partitions through {contracts.PARTITION_KEY}")
    return problems


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias for cte in tree.find_all(exp.CTE)}


def workgroup_problems(rec: Recording, scan_limit_gb: int) -> list[str]:
    workgroup = child(rec, ANALYTICS, "analytics-workgroup")
    results = [
        b
        for b in rec.of_type(BUCKET)
        if value(b, "tags", "groundwork:purpose") == "analytics-results"
    ]
    key = child(rec, ANALYTICS, "analytics-key")
    conf = value(workgroup, "configuration") or {}
    problems = []
    if conf.get("enforceWorkgroupConfiguration") is not True:
        problems.append(f"{workgroup.urn}: clients may override its configuration")
    result = conf.get("resultConfiguration") or {}
    enc = result.get("encryptionConfiguration") or {}
    if enc.get("encryptionOption") != "SSE_KMS" or enc.get("kmsKeyArn") != value(key, "arn"):
        problems.append(f"{workgroup.urn}: results are not SSE-KMS with the analytics key")
    if len(results) != 1 or not str(result.get("outputLocation", "")).startswith(
        f"s3://{value(results[0], 'bucket')}/"
    ):
        problems.append(f"{workgroup.urn}: results go to {result.get('outputLocation')}")
    if conf.get("bytesScannedCutoffPerQuery") != scan_limit_gb * GIB:
        problems.append(f"{workgroup.urn}: scan cutoff {conf.get('bytesScannedCutoffPerQuery')}")
    return problems


def app_policy_problems(rec: Recording) -> list[str]:
    """The instance role may put records to this stream and read the pseudonym key, no more."""
    region = rec.outputs["region"]
    stream = child(rec, ANALYTICS, "analytics-stream")
    secret = child(rec, ANALYTICS, "analytics-pseudonym-key")
    role = child(rec, "groundwork:hosting:WebTier", "web-instance-role")
    stream_arn = arn("firehose", region, f"deliverystream/{value(stream, 'name')}")
    problems = []
    firehose = [
        (p, s)
        for p in policies_of_role(rec, role)
        for s in statements(value(p, "policy"))
        if any(str(a).startswith("firehose:") or a == "*" for a in as_list(s.get("Action")))
    ]
    if not firehose:
        problems.append(f"{role.urn}: may not put records to {stream_arn}")
    for policy, stmt in firehose:
        actions = set(as_list(stmt.get("Action")))
        if actions - {"firehose:PutRecord", "firehose:PutRecordBatch"}:
            problems.append(f"{policy.urn}: grants {sorted(actions)}")
        if set(as_list(stmt.get("Resource"))) != {stream_arn}:
            problems.append(f"{policy.urn}: firehose on {as_list(stmt.get('Resource'))}")
    for policy in policies_of_role(rec, role):
        for stmt in statements(value(policy, "policy")):
            actions = as_list(stmt.get("Action"))
            if any(str(a).startswith("secretsmanager:") for a in actions) and (
                set(actions) != {"secretsmanager:GetSecretValue"}
                or as_list(stmt.get("Resource")) != [value(secret, "arn")]
            ):
                problems.append(f"{policy.urn}: secrets access {actions} on {stmt.get('Resource')}")
            if "kms:Decrypt" in actions and "kms:ViaService" not in json.dumps(stmt):
                problems.append(f"{policy.urn}: kms:Decrypt not limited to Secrets Manager")
    config = app_config_from_user_data(user_data_script(rec)) or {}
    expected = {"streamName": value(stream, "name"), "pseudonymKeySecretArn": value(secret, "arn")}
    if config.get("analytics") != expected:
        problems.append(f"launch template: app config analytics {config.get('analytics')}")
    return problems


def firehose_role_problems(rec: Recording) -> list[str]:
    """Firehose's own role: S3 on the analytics bucket, Glue on the table, KMS, its log."""
    role = child(rec, ANALYTICS, "analytics-firehose-role")
    bucket = _analytics_bucket(rec)
    problems = []
    trust = statements(value(role, "assumeRolePolicy"))
    if [s.get("Principal") for s in trust] != [{"Service": "firehose.amazonaws.com"}] or not all(
        "sts:ExternalId" in json.dumps(s.get("Condition", {})) for s in trust
    ):
        problems.append(f"{role.urn}: trust is not firehose with an external id")
    bucket_arn = value(bucket, "arn")
    for policy in policies_of_role(rec, role):
        for stmt in statements(value(policy, "policy")):
            for action in as_list(stmt.get("Action")):
                resources = set(as_list(stmt.get("Resource")))
                service = str(action).split(":")[0]
                if "*" in resources or service not in ("s3", "kms", "glue", "logs"):
                    problems.append(f"{policy.urn}: {action} on {sorted(resources)}")
                elif service == "s3" and resources != {bucket_arn, f"{bucket_arn}/*"}:
                    problems.append(f"{policy.urn}: {action} beyond the analytics bucket")
    return problems


# ---- shipped stacks ----------------------------------------------------------------------


def _analytics_config(stack: str) -> settings.Analytics:
    return settings.Analytics.model_validate(stack_config(stack).get("groundwork:analytics", {}))


@pytest.mark.parametrize("stack", STACKS)
def test_events_bucket_is_private_encrypted_and_expiring(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    assert (
        private_bucket_problems(
            rec, _analytics_bucket(rec), _analytics_config(stack).retention_days
        )
        == []
    )


@pytest.mark.parametrize("stack", STACKS)
def test_results_bucket_is_private_encrypted_and_expiring(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    results = child(rec, ANALYTICS, "analytics-query-results")
    days = _analytics_config(stack).query_results_retention_days
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
    assert workgroup_problems(rec, _analytics_config(stack).query_scan_limit_gb) == []


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
    assert private_bucket_problems(rec, _analytics_bucket(rec), 90) == []
    assert private_bucket_problems(rec, _analytics_bucket(rec), 30), "stale expiry passed"
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
    bucket = _analytics_bucket(prod)
    lc = _companion(
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
    bucket = _analytics_bucket(prod)
    rec = prod
    pab = _companion(rec, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0]
    rec = replaced(rec, pab.urn, lambda r: with_props(r, restrictPublicBuckets=False))
    policy = _companion(rec, bucket, "aws:s3/bucketPolicy:BucketPolicy")[0]
    rec = replaced(rec, policy.urn, lambda r: None)
    enc = _companion(rec, bucket, "aws:s3/bucketServerSideEncryptionConfiguration:"
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
