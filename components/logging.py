"""Logging: the app's runtime and error log groups and everything that reads or feeds them.

- two log groups (KMS-encrypted with the stack's logs key, retention from settings), each with
  a data-protection policy that masks e-mail addresses, IP addresses, card data and AWS secret
  keys: a second line of defence, the app must not log them in the first place;
- metric filters that count error-log events and runtime lines at ERROR/CRITICAL, the metrics
  the baseline alarms read;
- saved Logs Insights queries for the first questions of an on-call person;
- the CloudWatch agent config (an SSM parameter the instance bootstrap fetches) that ships
  `/var/log/app/runtime.log` and `/var/log/app/error.log` to the two groups, and the IAM
  policy that lets the agent do exactly that and nothing else.

The pure builders (`agent_config`, `agent_policy`, `data_protection_policy`, `QUERIES`) are
module functions so tests can check them without the Pulumi runtime.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import context, contracts, iam
from components.loggroups import log_group
from components.outputs import register_all

# Metric names the filters publish (namespace comes from the args).
ERROR_LOG_METRIC = "ErrorLogEvents"
RUNTIME_ERROR_METRIC = "RuntimeErrorLines"

# Pattern of the runtime filter: JSON records whose level is ERROR or CRITICAL.
RUNTIME_ERROR_PATTERN = (
    "{ " + " || ".join(f'$.level = "{level}"' for level in contracts.ERROR_LEVELS) + " }"
)
# Every event of the error log is an error; the empty pattern matches them all.
ERROR_LOG_PATTERN = ""

# Managed data identifiers the log groups mask (CloudWatch Logs data protection).
DATA_IDENTIFIERS: tuple[str, ...] = (
    "EmailAddress",
    "IpAddress",
    "CreditCardNumber",
    "CreditCardSecurityCode",
    "AwsSecretKey",
)

# Host metrics the agent publishes (memory and root-disk use: what EC2 alone does not report).
HOST_METRICS: dict[str, Any] = {
    "mem": {"measurement": ["mem_used_percent"], "metrics_collection_interval": 60},
    "disk": {
        "measurement": ["used_percent"],
        "resources": ["/"],
        "drop_device": True,
        "metrics_collection_interval": 60,
    },
}


@dataclass(frozen=True)
class SavedQuery:
    """A Logs Insights query definition: which groups (`runtime`/`error`) and the query."""

    title: str
    groups: tuple[str, ...]
    query: str


# Placeholders an on-call person replaces before running (query definitions take no params).
CLIENT_PLACEHOLDER = "REPLACE-WITH-CLIENT-ID"
REQUEST_PLACEHOLDER = "REPLACE-WITH-REQUEST-ID"

QUERIES: dict[str, SavedQuery] = {
    "errors-by-message": SavedQuery(
        "Errors by message - run over the last hour",
        ("error",),
        "fields @timestamp, level, logger, message\n"
        "| stats count(*) as errors, latest(@timestamp) as last_seen by message, logger\n"
        "| sort errors desc\n"
        "| limit 50",
    ),
    "client-trail": SavedQuery(
        "Client trail - replace the client id",
        ("runtime",),
        "fields @timestamp, level, logger, requestId, method, path, status, durationMs, message\n"
        f'| filter clientId = "{CLIENT_PLACEHOLDER}"\n'
        "| sort @timestamp asc\n"
        "| limit 1000",
    ),
    "request-trail": SavedQuery(
        "Request trail in both logs - replace the request id",
        ("runtime", "error"),
        "fields @timestamp, @log, level, logger, message, exception\n"
        f'| filter requestId = "{REQUEST_PLACEHOLDER}"\n'
        "| sort @timestamp asc\n"
        "| limit 1000",
    ),
    "slowest-requests": SavedQuery(
        "Slowest requests",
        ("runtime",),
        "fields @timestamp, requestId, clientId, method, path, status, durationMs\n"
        f'| filter logger = "{contracts.ACCESS_LOGGER}" and ispresent(durationMs)\n'
        "| sort durationMs desc\n"
        "| limit 50",
    ),
}


def data_protection_policy(name: str, partition: str) -> dict[str, Any]:
    """Audit + mask statements over the same identifiers (CloudWatch requires them equal)."""
    identifiers = [
        context.aws_owned_arn(partition, "dataprotection", f"data-identifier/{d}")
        for d in DATA_IDENTIFIERS
    ]
    return {
        "Name": name,
        "Description": "Mask personal data and secrets that reach the app's logs by mistake",
        "Version": "2021-06-01",
        "Statement": [
            {
                "Sid": "Audit",
                "DataIdentifier": identifiers,
                # No findings destination: the audit still publishes the
                # LogEventsWithFindings metric, which is what we watch.
                "Operation": {"Audit": {"FindingsDestination": {}}},
            },
            {
                "Sid": "Mask",
                "DataIdentifier": identifiers,
                "Operation": {"Deidentify": {"MaskConfig": {}}},
            },
        ],
    }


def agent_config(
    runtime_group: str, error_group: str, host_metrics_namespace: str
) -> dict[str, Any]:
    """The CloudWatch agent config: the two contract files to the two groups, host metrics."""

    def collect(path: str, group: str) -> dict[str, Any]:
        return {
            "file_path": path,
            "log_group_name": group,
            "log_stream_name": "{instance_id}",
            "timestamp_format": contracts.LOG_TIME_FORMAT,
            "timezone": "UTC",
        }

    return {
        "agent": {"metrics_collection_interval": 60},
        "logs": {
            "logs_collected": {
                "files": {
                    "collect_list": [
                        collect(contracts.RUNTIME_LOG_PATH, runtime_group),
                        collect(contracts.ERROR_LOG_PATH, error_group),
                    ]
                }
            },
            "force_flush_interval": 5,
        },
        "metrics": {
            "namespace": host_metrics_namespace,
            # The group name comes from the instance's tags (ec2:DescribeTags); aggregating
            # by it gives one series per fleet that survives instance replacement.
            "append_dimensions": {
                "AutoScalingGroupName": "${aws:AutoScalingGroupName}",
                "InstanceId": "${aws:InstanceId}",
            },
            "aggregation_dimensions": [["AutoScalingGroupName"]],
            "metrics_collected": HOST_METRICS,
        },
    }


def agent_policy(
    log_group_arns: list[Any], parameter_arn: Any, host_metrics_namespace: str
) -> dict[str, Any]:
    """Exactly what the agent needs: write to the two groups, read its config, put metrics."""
    streams = [pulumi.Output.concat(arn, ":log-stream:*") for arn in log_group_arns]
    return iam.document(
        iam.statement(
            ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            [*log_group_arns, *streams],
            sid="ShipAppLogs",
        ),
        iam.statement(["ssm:GetParameter"], [parameter_arn], sid="ReadAgentConfig"),
        # PutMetricData has no resource-level permissions; the namespace condition is the
        # only way to scope it.
        iam.statement(
            ["cloudwatch:PutMetricData"],
            "*",
            sid="PublishHostMetrics",
            conditions={"StringEquals": {"cloudwatch:namespace": host_metrics_namespace}},
        ),
        # The agent reads the instance's aws:autoscaling:groupName tag for the metric
        # dimension; DescribeTags has no resource-level permissions either.
        iam.statement(["ec2:DescribeTags"], "*", sid="ReadInstanceTags"),
    )


def config_digest(config_json: str) -> str:
    return hashlib.sha256(config_json.encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class LoggingArgs:
    region: str
    # The stack's logs key (Encryption.logs_key_arn).
    kms_key_arn: pulumi.Input[str]
    # Days CloudWatch Logs keeps each group; settings validates them against the allowed set.
    runtime_retention_days: int
    error_retention_days: int
    # Log group / parameter name prefix and metric namespace, e.g. `/groundwork/prod` and
    # `groundwork/prod`: deterministic names so the saved queries, the agent config and the
    # alarms read well and are known at preview.
    name_prefix: str
    metric_namespace: str
    protect: bool


class Logging(pulumi.ComponentResource):
    """Runtime and error log groups, masking, metric filters, saved queries, agent config."""

    runtime_log_group_name: pulumi.Output[str]
    runtime_log_group_arn: pulumi.Output[str]
    error_log_group_name: pulumi.Output[str]
    error_log_group_arn: pulumi.Output[str]
    agent_config_parameter_name: pulumi.Output[str]
    agent_config_parameter_arn: pulumi.Output[str]
    # Changes whenever the agent config does; the bootstrap renders it so instances roll.
    agent_config_digest: pulumi.Output[str]
    agent_policy_json: pulumi.Output[str]
    metric_namespace: str
    error_log_metric_name: str
    runtime_error_metric_name: str
    host_metrics_namespace: str

    def __init__(
        self, name: str, args: LoggingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:observability:Logging", name, None, opts)
        self._name, self._args = name, args
        prefix = args.name_prefix.rstrip("/")
        host_namespace = f"{args.metric_namespace}/Host"
        runtime_name, error_name = f"{prefix}/app/runtime", f"{prefix}/app/error"
        parameter_name = f"{prefix}/cloudwatch-agent/config"
        groups = self._log_groups(prefix, {"runtime": runtime_name, "error": error_name})
        runtime, error = groups["runtime"], groups["error"]
        self._metric_filters(runtime, error)
        self._queries(prefix, groups)
        config_json = pulumi.Output.all(runtime.name, error.name).apply(
            lambda names: json.dumps(
                agent_config(names[0], names[1], host_namespace), indent=2, sort_keys=True
            )
        )
        parameter = aws.ssm.Parameter(
            f"{name}-agent-config",
            name=parameter_name,
            type="String",
            tier="Standard",
            description="CloudWatch agent config of the web instances (components/logging.py)",
            # Not a secret: `insecure_value` keeps the config readable in previews and diffs.
            insecure_value=config_json,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.runtime_log_group_name = runtime.name
        self.runtime_log_group_arn = runtime.arn
        self.error_log_group_name = error.name
        self.error_log_group_arn = error.arn
        self.agent_config_parameter_name = parameter.name
        self.agent_config_parameter_arn = parameter.arn
        self.agent_config_digest = config_json.apply(config_digest)
        # ARNs spelled from the explicit names (not the resources' outputs) so the policy is
        # known at preview, where the policy pack can judge it.
        account = context.account_id(self)
        group_arns = [
            context.arn(args.region, account, "logs", "log-group:", group_name)
            for group_name in (runtime_name, error_name)
        ]
        parameter_arn = context.arn(args.region, account, "ssm", "parameter", parameter_name)
        self.agent_policy_json = iam.to_json(
            agent_policy(group_arns, parameter_arn, host_namespace)
        )
        self.metric_namespace = args.metric_namespace
        self.error_log_metric_name = ERROR_LOG_METRIC
        self.runtime_error_metric_name = RUNTIME_ERROR_METRIC
        self.host_metrics_namespace = host_namespace
        register_all(self)

    def _log_groups(self, prefix: str, names: dict[str, str]) -> dict[str, aws.cloudwatch.LogGroup]:
        """The runtime and error groups (log class -> group), each with its masking policy."""
        name, args = self._name, self._args
        partition = context.partition_of(args.region)
        # `/groundwork/prod` -> `groundwork-prod`, for names that take no slashes.
        slug = prefix.strip("/").replace("/", "-")
        days = {"runtime": args.runtime_retention_days, "error": args.error_retention_days}
        groups: dict[str, aws.cloudwatch.LogGroup] = {}
        for log_class, group_name in names.items():
            group = log_group(
                f"{name}-{log_class}",
                self,
                name=group_name,
                retention_days=days[log_class],
                kms_key_arn=args.kms_key_arn,
                log_class=log_class,
                protect=args.protect,
            )
            aws.cloudwatch.LogDataProtectionPolicy(
                f"{name}-{log_class}-data-protection",
                log_group_name=group.name,
                policy_document=json.dumps(
                    data_protection_policy(f"{slug}-{log_class}", partition)
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            groups[log_class] = group
        return groups

    def _metric_filters(
        self, runtime: aws.cloudwatch.LogGroup, error: aws.cloudwatch.LogGroup
    ) -> None:
        for role, group, pattern, metric, default in (
            ("error-events", error, ERROR_LOG_PATTERN, ERROR_LOG_METRIC, None),
            # A zero for every non-matching runtime line keeps the series continuous.
            ("runtime-errors", runtime, RUNTIME_ERROR_PATTERN, RUNTIME_ERROR_METRIC, "0"),
        ):
            aws.cloudwatch.LogMetricFilter(
                f"{self._name}-{role}",
                log_group_name=group.name,
                pattern=pattern,
                metric_transformation=_count_of(metric, self._args.metric_namespace, default),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _queries(self, prefix: str, groups: dict[str, aws.cloudwatch.LogGroup]) -> None:
        for key, saved in QUERIES.items():
            aws.cloudwatch.QueryDefinition(
                f"{self._name}-query-{key}",
                # A slash makes a folder in the console: one folder per stack.
                name=f"{prefix.strip('/')}/{saved.title}",
                log_group_names=[groups[g].name for g in saved.groups],
                query_string=saved.query,
                opts=pulumi.ResourceOptions(parent=self),
            )


def _count_of(
    metric: str, namespace: str, default: str | None
) -> aws.cloudwatch.LogMetricFilterMetricTransformationArgsDict:
    """A count of 1 per matching line; `default` is published for every other line."""
    transformation: aws.cloudwatch.LogMetricFilterMetricTransformationArgsDict = {
        "name": metric,
        "namespace": namespace,
        "value": "1",
        "unit": "Count",
    }
    if default is not None:
        transformation["default_value"] = default
    return transformation
