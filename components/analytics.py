"""Analytics: privacy-aware product analytics from app events to Athena.

The app puts one JSON event per record (docs/contracts.md) to a Firehose stream; Firehose
converts them to Parquet against a Glue table whose columns are the event contract and writes
them to an encrypted, private, TLS-only bucket under `events/dt=YYYY-MM-DD/`, where they expire
after `groundwork:analytics.retentionDays` (GDPR storage limitation). Athena reads them through
partition projection (no crawler, no partition loading) in a workgroup that enforces encrypted,
expiring results and a per-query scan limit, with named queries for the usual product
questions.

Users are pseudonymous: the app HMACs its user ids with a per-deployment key kept in Secrets
Manager. A one-shot function (`ops/pseudonym_key.py`) generates it in AWS at deploy time and
keeps an existing one, so the program never holds it and it is not in Pulumi state. The
table has no column for an IP address or an e-mail, so a field sent by mistake is dropped by
the conversion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pulumi
import pulumi_aws as aws

from components import buckets, context, contracts, iam, kms, sources
from components.loggroups import log_group
from components.outputs import register_all

# The function that fills the pseudonym-key secret once (relative to the project directory,
# the program's working directory under the CLI and the offline recorder alike).
SEED_FILE = "pseudonym_key.py"
SEED_HANDLER = "pseudonym_key.handler"
SEED_RUNTIME = "python3.13"

# Firehose requires at least 64 MiB of buffer when it converts records; the maximum is 128.
BUFFER_SIZE_MB = 128
# Days a Firehose delivery-error object (raw records that failed conversion) is kept at most.
ERROR_OUTPUT_DAYS = 30
DELIVERY_LOG_STREAM = "S3Delivery"

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

# The Firehose S3 prefixes: events by arrival date (UTC), failures by error type and date.
EVENTS_PREFIX = f"{contracts.EVENTS_PREFIX}{contracts.PARTITION_KEY}=!{{timestamp:yyyy-MM-dd}}/"
ERRORS_PREFIX = (
    f"{contracts.ERRORS_PREFIX}!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/"
)


def glue_name(text: str) -> str:
    """A Glue/Athena-friendly identifier: lower case, letters, digits and underscores."""
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def projection_parameters(bucket: str, retention_days: int) -> dict[str, str]:
    """Athena partition projection over `events/dt=YYYY-MM-DD/`, back as far as retention."""
    key = contracts.PARTITION_KEY
    return {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "parquet.compression": "SNAPPY",
        "projection.enabled": "true",
        f"projection.{key}.type": "date",
        f"projection.{key}.format": "yyyy-MM-dd",
        # Nothing older than the retention exists, so Athena need not look for it.
        f"projection.{key}.range": f"NOW-{retention_days}DAYS,NOW",
        f"projection.{key}.interval": "1",
        f"projection.{key}.interval.unit": "DAYS",
        "storage.location.template": (f"s3://{bucket}/{contracts.EVENTS_PREFIX}{key}=${{{key}}}/"),
    }


# ---- named queries (Athena engine v3 / Trino SQL) ----------------------------------------

_SINCE_30_DAYS = "CAST(current_date - INTERVAL '30' DAY AS varchar)"
_SINCE_12_MONTHS = "CAST(date_trunc('month', current_date) - INTERVAL '12' MONTH AS varchar)"


@dataclass(frozen=True)
class NamedQuerySpec:
    title: str
    description: str
    sql: str


def _feature_adoption_sql(table: str) -> str:
    dt = contracts.PARTITION_KEY
    return (
        f"WITH recent AS (\n"
        f"  SELECT account_id, plan, feature, user_id, event_time\n"
        f"  FROM {table}\n"
        f"  WHERE {dt} >= {_SINCE_30_DAYS}\n"
        f"),\n"
        f"account_users AS (\n"
        f"  SELECT account_id, count(DISTINCT user_id) AS active_users\n"
        f"  FROM recent\n"
        f"  GROUP BY account_id\n"
        f")\n"
        f"SELECT r.account_id,\n"
        f"       max_by(r.plan, r.event_time) AS plan,\n"
        f"       r.feature,\n"
        f"       count(DISTINCT r.user_id) AS feature_users,\n"
        f"       a.active_users,\n"
        f"       round(100.0 * count(DISTINCT r.user_id) / a.active_users, 1)"
        f" AS adoption_percent,\n"
        f"       min(r.event_time) AS first_used,\n"
        f"       max(r.event_time) AS last_used\n"
        f"FROM recent AS r\n"
        f"JOIN account_users AS a ON a.account_id = r.account_id\n"
        f"GROUP BY r.account_id, r.feature, a.active_users\n"
        f"ORDER BY r.account_id, adoption_percent DESC"
    )


def named_queries(table: str = contracts.EVENTS_TABLE) -> dict[str, NamedQuerySpec]:
    """The product questions every SaaS asks first; each prunes partitions through `dt`."""
    dt = contracts.PARTITION_KEY
    return {
        "dau": NamedQuerySpec(
            "Daily active users",
            "Distinct pseudonymous users per day, last 30 days",
            f"SELECT date(event_time) AS day,\n"
            f"       count(DISTINCT user_id) AS daily_active_users\n"
            f"FROM {table}\n"
            f"WHERE {dt} >= {_SINCE_30_DAYS}\n"
            f"GROUP BY date(event_time)\n"
            f"ORDER BY day",
        ),
        "mau": NamedQuerySpec(
            "Monthly active users",
            "Distinct pseudonymous users per calendar month, last 12 months",
            f"SELECT date_trunc('month', event_time) AS month,\n"
            f"       count(DISTINCT user_id) AS monthly_active_users\n"
            f"FROM {table}\n"
            f"WHERE {dt} >= {_SINCE_12_MONTHS}\n"
            f"GROUP BY date_trunc('month', event_time)\n"
            f"ORDER BY month",
        ),
        "feature-usage": NamedQuerySpec(
            "Feature usage",
            "Events, users and accounts per feature and event, last 30 days",
            f"SELECT feature,\n"
            f"       event_name,\n"
            f"       count(*) AS events,\n"
            f"       count(DISTINCT user_id) AS users,\n"
            f"       count(DISTINCT account_id) AS accounts\n"
            f"FROM {table}\n"
            f"WHERE {dt} >= {_SINCE_30_DAYS}\n"
            f"GROUP BY feature, event_name\n"
            f"ORDER BY events DESC",
        ),
        "feature-adoption": NamedQuerySpec(
            "Feature adoption by account",
            "Share of each account's active users who used each feature, last 30 days",
            _feature_adoption_sql(table),
        ),
    }


# ---- IAM documents (pure) ----------------------------------------------------------------


def put_record_policy(stream_arn: pulumi.Input[str]) -> dict[str, Any]:
    """What the app may do with analytics: put records to this one stream, nothing else."""
    return iam.document(
        iam.statement(
            ["firehose:PutRecord", "firehose:PutRecordBatch"], [stream_arn], sid="PutEvents"
        )
    )


def pseudonym_key_read_policy(
    secret_arn: pulumi.Input[str], key_arn: pulumi.Input[str], region: str
) -> dict[str, Any]:
    """Read the pseudonym key secret, and decrypt it only through Secrets Manager."""
    return iam.document(
        iam.statement(["secretsmanager:GetSecretValue"], [secret_arn], sid="ReadPseudonymKey"),
        iam.statement(
            ["kms:Decrypt"],
            [key_arn],
            sid="DecryptPseudonymKey",
            conditions={
                "StringEquals": {
                    "kms:ViaService": f"secretsmanager.{region}.{context.dns_suffix_of(region)}",
                    "kms:EncryptionContext:SecretARN": secret_arn,
                }
            },
        ),
    )


def firehose_policy(
    region: str,
    bucket_arn: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    table_arns: list[pulumi.Output[str]],
    log_stream_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """What Firehose may do: write events, encrypt them, read the schema, report errors."""
    return iam.document(
        iam.statement(
            [
                "s3:AbortMultipartUpload",
                "s3:GetBucketLocation",
                "s3:GetObject",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
                "s3:PutObject",
            ],
            [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
            sid="WriteEvents",
        ),
        iam.statement(
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [key_arn],
            sid="EncryptEvents",
            conditions={
                "StringEquals": {"kms:ViaService": f"s3.{region}.{context.dns_suffix_of(region)}"}
            },
        ),
        iam.statement(
            ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
            table_arns,
            sid="ReadSchema",
        ),
        iam.statement(["logs:PutLogEvents"], [log_stream_arn], sid="ReportDeliveryErrors"),
    )


def analyst_policy(
    region: str,
    workgroup_arn: pulumi.Input[str],
    catalog_arns: list[pulumi.Output[str]],
    bucket_arn: pulumi.Input[str],
    results_arn: pulumi.Input[str],
    key_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """What an analyst may do: query in the workgroup, read events, write query results."""
    return iam.document(
        *_analyst_query_statements(workgroup_arn, catalog_arns),
        iam.statement(
            ["s3:GetBucketLocation", "s3:ListBucket"], [bucket_arn, results_arn], sid="ListBuckets"
        ),
        iam.statement(
            ["s3:GetObject"],
            [pulumi.Output.concat(bucket_arn, "/", contracts.EVENTS_PREFIX, "*")],
            sid="ReadEvents",
        ),
        iam.statement(
            [
                "s3:AbortMultipartUpload",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
            ],
            [pulumi.Output.concat(results_arn, "/*")],
            sid="WriteResults",
        ),
        iam.statement(
            ["kms:Decrypt", "kms:GenerateDataKey"],
            [key_arn],
            sid="UseAnalyticsKey",
            conditions={
                "StringEquals": {
                    "kms:ViaService": [
                        f"s3.{region}.{context.dns_suffix_of(region)}",
                        f"athena.{region}.{context.dns_suffix_of(region)}",
                    ]
                }
            },
        ),
    )


def _analyst_query_statements(
    workgroup_arn: pulumi.Input[str], catalog_arns: list[pulumi.Output[str]]
) -> list[dict[str, Any]]:
    return [
        iam.statement(
            [
                "athena:BatchGetNamedQuery",
                "athena:BatchGetQueryExecution",
                "athena:GetNamedQuery",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:GetQueryResultsStream",
                "athena:GetWorkGroup",
                "athena:ListNamedQueries",
                "athena:ListQueryExecutions",
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
            ],
            [workgroup_arn],
            sid="UseWorkgroup",
        ),
        iam.statement(
            ["athena:ListWorkGroups", "athena:ListEngineVersions"], "*", sid="ListWorkgroups"
        ),
        iam.statement(
            [
                "glue:GetDatabase",
                "glue:GetDatabases",
                "glue:GetTable",
                "glue:GetTables",
                "glue:GetPartition",
                "glue:GetPartitions",
            ],
            catalog_arns,
            sid="ReadCatalog",
        ),
    ]


def seed_policy(
    region: str,
    logs_arn: pulumi.Input[str],
    secret_arn: pulumi.Input[str],
    key_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """What the seed function may do: log, describe the secret and store its first value."""
    via_secrets_manager = f"secretsmanager.{region}.{context.dns_suffix_of(region)}"
    return iam.document(
        iam.statement(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [pulumi.Output.concat(logs_arn, ":*")],
            sid="OwnLogs",
        ),
        # Describe (never read) the secret, and store its first value.
        iam.statement(
            ["secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"],
            [secret_arn],
            sid="FillPseudonymKey",
        ),
        iam.statement(
            ["kms:GenerateDataKey"],
            [key_arn],
            sid="EncryptPseudonymKey",
            conditions={
                "StringEquals": {
                    "kms:ViaService": via_secrets_manager,
                    "kms:EncryptionContext:SecretARN": secret_arn,
                }
            },
        ),
    )


@dataclass(frozen=True, kw_only=True)
class AnalyticsArgs:
    region: str
    # Raw events are deleted after this many days (GDPR storage limitation).
    retention_days: int
    # Athena query results are deleted after this many days (<= retention_days).
    query_results_retention_days: int
    # Athena cancels a query that scans more than this (cost guard).
    query_scan_limit_gb: int
    # Firehose flushes at least this often (seconds, 60..900).
    buffer_interval_seconds: int
    # Glue database name (letters, digits, underscores), e.g. `groundwork_prod_analytics`.
    database_name: str
    # Firehose stream name, e.g. `groundwork-prod-events`: explicit so the app's put-record
    # policy (built from it) is known at preview.
    stream_name: str
    # The delivery-error log group: the stack's logs key and the error-log retention.
    log_kms_key_arn: pulumi.Input[str]
    log_retention_days: int
    log_group_name: str
    # The directory holding the seed function's source (the project's `ops` package).
    ops_dir: Path
    protect: bool


class Analytics(pulumi.ComponentResource):
    """Firehose -> Parquet in an expiring encrypted bucket -> Glue table -> Athena workgroup."""

    stream_name: pulumi.Output[str]
    stream_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    results_bucket_name: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    database_name: pulumi.Output[str]
    table_name: pulumi.Output[str]
    workgroup_name: pulumi.Output[str]
    named_query_ids: dict[str, pulumi.Output[str]]
    put_record_policy_json: pulumi.Output[str]
    pseudonym_key_secret_arn: pulumi.Output[str]
    pseudonym_key_read_policy_json: pulumi.Output[str]
    analyst_policy_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AnalyticsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:analytics:Analytics", name, None, opts)
        self._name, self._args = name, args
        self._partition = context.partition_of(args.region)
        self._account = context.account_id(self)
        self._arns = context.Arns(args.region, self._account)
        key = kms.encryption_key(
            f"{name}-key",
            description="Analytics events, query results and the pseudonym key",
            partition=self._partition,
            account=self._account,
            parent=self,
            protect=args.protect,
        )
        bucket = self._events_bucket(key.arn)
        results = self._results_bucket(key.arn)
        secret = self._pseudonym_secret(key.arn)
        # Its value is generated in AWS at deploy time, never by the program: it stays out of
        # the stack's state and every state backup.
        seeded_secret_arn = self._seed_pseudonym_key(name, args, secret, key.arn)
        database, table = self._catalog(bucket)
        stream = self._stream(key.arn, bucket, database, table)
        workgroup = self._workgroup(key.arn, results)
        self.named_query_ids = self._named_queries(database, workgroup, table)
        analyst = self._analyst_policy(key.arn, bucket, results, database, workgroup)

        self.stream_name = stream.name
        self.stream_arn = stream.arn
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.results_bucket_name = results.bucket
        self.key_arn = key.arn
        self.database_name = database.name
        self.table_name = table.name
        self.workgroup_name = workgroup.name
        self.put_record_policy_json = iam.to_json(
            put_record_policy(self._arns.of("firehose", "deliverystream/", args.stream_name))
        )
        self.pseudonym_key_secret_arn = seeded_secret_arn
        self.pseudonym_key_read_policy_json = iam.to_json(
            pseudonym_key_read_policy(secret.arn, key.arn, args.region)
        )
        self.analyst_policy_arn = analyst.arn
        register_all(self)

    def _glue_arns(
        self, database: aws.glue.CatalogDatabase, table: pulumi.Input[str]
    ) -> list[pulumi.Output[str]]:
        """The catalog, the database and `table` (a name or `*`) as Glue resource ARNs."""
        return [
            self._arns.of("glue", "catalog"),
            self._arns.of("glue", "database/", database.name),
            self._arns.of("glue", "table/", database.name, "/", table),
        ]

    def _events_bucket(self, key_arn: pulumi.Output[str]) -> aws.s3.Bucket:
        args = self._args
        return buckets.private_bucket(
            f"{self._name}-events",
            parent=self,
            purpose="analytics",
            kms_key_arn=key_arn,
            protect=args.protect,
            # The whole bucket expires at the retention; delivery errors hold raw records and
            # go sooner. Without versioning (events are write-once), an expired or erased
            # object is gone; the noncurrent rule guards against versioning turned on later.
            lifecycle_rules=[
                buckets.expiry_rule(
                    "expire-after-retention",
                    args.retention_days,
                    noncurrent_days=1,
                    abort_upload_days=1,
                ),
                buckets.expiry_rule(
                    "expire-delivery-errors",
                    min(args.retention_days, ERROR_OUTPUT_DAYS),
                    prefix=contracts.ERRORS_PREFIX,
                ),
            ],
        ).bucket

    def _results_bucket(self, key_arn: pulumi.Output[str]) -> aws.s3.Bucket:
        return buckets.private_bucket(
            f"{self._name}-query-results",
            parent=self,
            purpose="analytics-results",
            kms_key_arn=key_arn,
            # Query results are reproducible from the events; they must not block a teardown.
            protect=False,
            force_destroy=True,
            lifecycle_rules=[
                buckets.expiry_rule(
                    "expire-results",
                    self._args.query_results_retention_days,
                    noncurrent_days=1,
                    abort_upload_days=1,
                )
            ],
        ).bucket

    def _pseudonym_secret(self, key_arn: pulumi.Output[str]) -> aws.secretsmanager.Secret:
        """The key the app HMACs user ids with."""
        return aws.secretsmanager.Secret(
            f"{self._name}-pseudonym-key",
            description=(
                "HMAC key the app uses to pseudonymise user ids in analytics events; "
                "replacing it breaks the continuity of every user id"
            ),
            kms_key_id=key_arn,
            recovery_window_in_days=30,
            opts=pulumi.ResourceOptions(parent=self, protect=self._args.protect),
        )

    def _catalog(
        self, bucket: aws.s3.Bucket
    ) -> tuple[aws.glue.CatalogDatabase, aws.glue.CatalogTable]:
        """The event contract as a Glue table."""
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=args.database_name,
            description="Product analytics events (pseudonymous)",
            opts=child,
        )
        table = aws.glue.CatalogTable(
            f"{name}-events-table",
            name=contracts.EVENTS_TABLE,
            database_name=database.name,
            description="Product events, one row per event (docs/contracts.md)",
            table_type="EXTERNAL_TABLE",
            parameters=bucket.bucket.apply(lambda b: projection_parameters(b, args.retention_days)),
            partition_keys=[
                {
                    "name": contracts.PARTITION_KEY,
                    "type": "string",
                    "comment": "Arrival date at Firehose (UTC), yyyy-MM-dd",
                }
            ],
            storage_descriptor={
                "location": pulumi.Output.concat(
                    "s3://", bucket.bucket, "/", contracts.EVENTS_PREFIX
                ),
                "input_format": PARQUET_INPUT,
                "output_format": PARQUET_OUTPUT,
                "ser_de_info": {
                    "name": "parquet",
                    "serialization_library": PARQUET_SERDE,
                    "parameters": {"serialization.format": "1"},
                },
                "columns": [
                    {"name": f.name, "type": f.glue_type, "comment": f.comment}
                    for f in contracts.EVENT_FIELDS
                ],
            },
            opts=child,
        )
        return database, table

    def _delivery_log(self) -> tuple[aws.cloudwatch.LogGroup, aws.cloudwatch.LogStream]:
        args = self._args
        group = log_group(
            f"{self._name}-delivery-errors",
            self,
            name=args.log_group_name,
            retention_days=args.log_retention_days,
            kms_key_arn=args.log_kms_key_arn,
            log_class="error",
            protect=args.protect,
        )
        log_stream = aws.cloudwatch.LogStream(
            f"{self._name}-delivery-errors-stream",
            name=DELIVERY_LOG_STREAM,
            log_group_name=group.name,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return group, log_stream

    def _firehose_role(
        self,
        key_arn: pulumi.Output[str],
        bucket: aws.s3.Bucket,
        database: aws.glue.CatalogDatabase,
        table: aws.glue.CatalogTable,
        log_stream_arn: pulumi.Output[str],
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        document = firehose_policy(
            self._args.region,
            bucket.arn,
            key_arn,
            self._glue_arns(database, table.name),
            log_stream_arn,
        )
        return iam.role_with_policy(
            f"{self._name}-firehose-role",
            f"{self._name}-firehose-policy",
            self,
            # Confused-deputy guard: Firehose passes the account id as the external id.
            iam.assume_role(
                "firehose.amazonaws.com",
                conditions={"StringEquals": {"sts:ExternalId": self._account}},
            ),
            document,
        )

    def _stream(
        self,
        key_arn: pulumi.Output[str],
        bucket: aws.s3.Bucket,
        database: aws.glue.CatalogDatabase,
        table: aws.glue.CatalogTable,
    ) -> aws.kinesis.FirehoseDeliveryStream:
        group, log_stream = self._delivery_log()
        log_stream_arn = pulumi.Output.concat(group.arn, ":log-stream:", log_stream.name)
        role, role_policy = self._firehose_role(key_arn, bucket, database, table, log_stream_arn)
        return aws.kinesis.FirehoseDeliveryStream(
            f"{self._name}-stream",
            name=self._args.stream_name,
            destination="extended_s3",
            server_side_encryption={
                "enabled": True,
                "key_type": "CUSTOMER_MANAGED_CMK",
                "key_arn": key_arn,
            },
            extended_s3_configuration={
                "role_arn": role.arn,
                "bucket_arn": bucket.arn,
                "prefix": EVENTS_PREFIX,
                "error_output_prefix": ERRORS_PREFIX,
                "buffering_size": BUFFER_SIZE_MB,
                "buffering_interval": self._args.buffer_interval_seconds,
                # Parquet compresses its own pages (SNAPPY); Firehose must not wrap the file.
                "compression_format": "UNCOMPRESSED",
                "kms_key_arn": key_arn,
                "cloudwatch_logging_options": {
                    "enabled": True,
                    "log_group_name": group.name,
                    "log_stream_name": log_stream.name,
                },
                # Built as plain dicts of the SDK's keys; the shape is the SDK's ArgsDict.
                "data_format_conversion_configuration": cast(
                    "aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationDataFormatConversionConfigurationArgsDict",
                    self._conversion(role, database, table),
                ),
            },
            # Firehose checks its role when the stream is created: the policy must be there.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )

    def _conversion(
        self,
        role: aws.iam.Role,
        database: aws.glue.CatalogDatabase,
        table: aws.glue.CatalogTable,
    ) -> dict[str, Any]:
        """JSON records to Parquet, against the Glue table's columns."""
        return {
            "enabled": True,
            "input_format_configuration": {
                # OpenX parses the contract's `2026-11-26T10:45:15.123Z` timestamps.
                "deserializer": {"open_x_json_ser_de": {"case_insensitive": True}}
            },
            "output_format_configuration": {
                "serializer": {"parquet_ser_de": {"compression": "SNAPPY"}}
            },
            "schema_configuration": {
                "database_name": database.name,
                "table_name": table.name,
                "role_arn": role.arn,
                "region": self._args.region,
                "version_id": "LATEST",
            },
        }

    def _workgroup(
        self, key_arn: pulumi.Output[str], results: aws.s3.Bucket
    ) -> aws.athena.Workgroup:
        return aws.athena.Workgroup(
            f"{self._name}-workgroup",
            description="Product analytics: encrypted, expiring results; scan limit per query",
            configuration={
                # Clients cannot override the result location or its encryption.
                "enforce_workgroup_configuration": True,
                "publish_cloudwatch_metrics_enabled": True,
                "bytes_scanned_cutoff_per_query": self._args.query_scan_limit_gb * 1024**3,
                "result_configuration": {
                    "output_location": pulumi.Output.concat("s3://", results.bucket, "/results/"),
                    "expected_bucket_owner": self._account,
                    "encryption_configuration": {
                        "encryption_option": "SSE_KMS",
                        "kms_key_arn": key_arn,
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _named_queries(
        self,
        database: aws.glue.CatalogDatabase,
        workgroup: aws.athena.Workgroup,
        table: aws.glue.CatalogTable,
    ) -> dict[str, pulumi.Output[str]]:
        ids = {}
        for query_key, spec in named_queries(contracts.EVENTS_TABLE).items():
            query = aws.athena.NamedQuery(
                f"{self._name}-query-{query_key}",
                name=spec.title,
                description=spec.description,
                database=database.name,
                workgroup=workgroup.name,
                query=spec.sql,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[table]),
            )
            ids[query_key] = query.id
        return ids

    def _analyst_policy(
        self,
        key_arn: pulumi.Output[str],
        bucket: aws.s3.Bucket,
        results: aws.s3.Bucket,
        database: aws.glue.CatalogDatabase,
        workgroup: aws.athena.Workgroup,
    ) -> aws.iam.Policy:
        document = analyst_policy(
            self._args.region,
            self._arns.of("athena", "workgroup/", workgroup.name),
            self._glue_arns(database, "*"),
            bucket.arn,
            results.arn,
            key_arn,
        )
        return aws.iam.Policy(
            f"{self._name}-analyst",
            description="Query product analytics in its Athena workgroup (attach to analysts)",
            policy=iam.to_json(document),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _seed_pseudonym_key(
        self,
        name: str,
        args: AnalyticsArgs,
        secret: aws.secretsmanager.Secret,
        key_arn: pulumi.Output[str],
    ) -> pulumi.Output[str]:
        """A function that may only describe the secret and store a value in it, invoked once
        at deploy time; returns the secret's ARN once the secret holds a value."""
        region = args.region
        logs = log_group(
            f"{name}-pseudonym-key-seed-logs",
            self,
            retention_days=args.log_retention_days,
            kms_key_arn=args.log_kms_key_arn,
            log_class="runtime",
            protect=args.protect,
        )
        role, policy = iam.role_with_policy(
            f"{name}-pseudonym-key-seed-role",
            f"{name}-pseudonym-key-seed-policy",
            self,
            iam.lambda_trust(),
            seed_policy(region, logs.arn, secret.arn, key_arn),
        )
        function = aws.lambda_.Function(
            f"{name}-pseudonym-key-seed-fn",
            description="Fills the analytics pseudonym-key secret once; keeps an existing key",
            runtime=SEED_RUNTIME,
            architectures=["arm64"],
            handler=SEED_HANDLER,
            code=sources.handler_archive(args.ops_dir / SEED_FILE),
            role=role.arn,
            timeout=60,
            memory_size=128,
            logging_config={"log_format": "JSON", "log_group": logs.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        invocation = aws.lambda_.Invocation(
            f"{name}-pseudonym-key-seed",
            function_name=function.name,
            input=pulumi.Output.json_dumps({"secretArn": secret.arn}),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        # Consumers (the app config) wait until the secret holds its value.
        return pulumi.Output.all(secret.arn, invocation.result).apply(lambda values: values[0])
