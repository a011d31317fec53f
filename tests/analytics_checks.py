"""Invariants of the analytics path, as check functions over a Recording: the app's put-record
reaches an encrypted, private, expiring bucket through Firehose and a Glue table matching the
event contract; the saved Athena queries resolve against that contract (parsed as Trino SQL
with sqlglot) and prune partitions; the workgroup enforces its scan limit and encrypted
results; the app's and Firehose's roles reach only what they need.

Each returns problems naming the URN (empty = fine); tests/test_analytics.py runs them on the
shipped stacks and on deliberately broken copies.
"""

from __future__ import annotations

import json

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.qualify import qualify

import settings
from components import analytics as analytics_component
from components import contracts
from offline.model import RecordedResource, Recording
from tests.conftest import stack_config
from tests.obs_helpers import (
    app_config_from_user_data,
    arn,
    child,
    children,
    policies_of_role,
    user_data_script,
    value,
)
from tests.recording_queries import as_list, companions, statements

ANALYTICS = "groundwork:analytics:Analytics"
BUCKET = "aws:s3/bucket:Bucket"
STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
TABLE = "aws:glue/catalogTable:CatalogTable"
WORKGROUP = "aws:athena/workgroup:Workgroup"
NAMED_QUERY = "aws:athena/namedQuery:NamedQuery"
GIB = 1024**3


def analytics_bucket(rec: Recording) -> RecordedResource:
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
    enc = companions(rec, bucket, "aws:s3/bucketServerSideEncryptionConfiguration:"
                     "BucketServerSideEncryptionConfiguration")  # fmt: skip
    rules = [r for e in enc for r in as_list(value(e, "rules"))]
    kms = [r for r in rules if r["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"]
    if not kms or not all(key.urn in e.property_dependencies.get("rules", ()) for e in enc):
        problems.append(f"{bucket.urn}: not SSE-KMS with the analytics key")
    pab = companions(rec, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    if len(pab) != 1 or not all(value(pab[0], f) is True for f in flags):
        problems.append(f"{bucket.urn}: public access is not fully blocked")
    ownership = companions(rec, bucket, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    if [value(o, "rule", "objectOwnership") for o in ownership] != ["BucketOwnerEnforced"]:
        problems.append(f"{bucket.urn}: ACLs are not disabled (BucketOwnerEnforced)")
    tls = False
    for policy in companions(rec, bucket, "aws:s3/bucketPolicy:BucketPolicy"):
        for stmt in statements(value(policy, "policy")):
            cond = stmt.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
            tls |= stmt.get("Effect") == "Deny" and stmt.get("Principal") == "*" and cond == "false"
    if not tls:
        problems.append(f"{bucket.urn}: no policy denies requests without TLS")
    lifecycle = companions(
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
    bucket = analytics_bucket(rec)
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
    bucket = analytics_bucket(rec)
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


# ---- expectations ------------------------------------------------------------------------


def analytics_config(stack: str) -> settings.Analytics:
    return settings.Analytics.model_validate(stack_config(stack).get("groundwork:analytics", {}))
