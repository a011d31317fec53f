"""PerformanceMonitoring: a performance dashboard, alarms on latency, errors and traffic, a canary.

- Alarms (each notifies the alerts topic on ALARM and OK, and states its missing-data
  treatment): p95 target response time over `latencyP95Ms` for M of N minutes (its alarm
  actions also carry the step-scaling policy, so the same alarm adds capacity); the 5xx rate as
  a percentage of requests (metric math); request count above its anomaly-detection band; the
  canary's success rate; and a composite "service unhealthy" alarm over latency, 5xx, canary
  and any alarms the caller adds.
- A CloudWatch Synthetics canary GETs `<url><healthCheckPath>` every few minutes; its run
  artifacts go to a private, TLS-only, KMS-encrypted bucket that expires them.
- A dashboard built from typed widgets (`components/dashboard.py`): traffic, latency
  percentiles, 5xx rate, healthy hosts, ASG capacity, instance CPU, and, when given, the
  database, the error-log rate and RUM page-load time and JavaScript errors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pulumi
import pulumi_aws as aws

from components import buckets, context, iam, kms, sources
from components import dashboard as dash
from components.alarms import AlarmSpec, ExpressionSpec, MetricSpec, metric_alarm
from components.outputs import register_all
from components.servicelogs import ServiceLogGroup, ServiceLogSettings, ServiceLogSettingsArgs

ALB = "AWS/ApplicationELB"
ASG_NS = "AWS/AutoScaling"
EC2 = "AWS/EC2"
RDS = "AWS/RDS"
RUM = "AWS/RUM"
SYNTHETICS = "CloudWatchSynthetics"

# Relative to the project directory (the program's working directory).
CANARY_FILE = "health_canary.py"
CANARY_HANDLER = "health_canary.handler"
# Synthetics names the canary's Lambda `cwsyn-<canary>-<uuid>`, which must fit Lambda's
# 64-character limit: hence canary names of at most 21 characters.
CANARY_NAME_MAX = 21
CANARY_RUNS_PREFIX = "canary-runs/"
# 5xx rate: alarm when M of N one-minute periods breach.
ERROR_RATE_PERIODS = 5
ERROR_RATE_DATAPOINTS = 3
# Request-count anomaly: five-minute periods (the model needs smoother data than per minute).
ANOMALY_PERIOD = 300
ANOMALY_PERIODS = 3
ANOMALY_DATAPOINTS = 2
# Capacity shortfall: longer than a launch plus the default instance warmup normally takes.
CAPACITY_PERIODS = 15


def canary_name(project: str, stack: str) -> str:
    """A canary name unique per project and stack, within Synthetics' limits."""
    base = re.sub(r"[^a-z0-9_-]", "-", f"{project}-{stack}".lower())
    if len(base) + len("-hc") <= CANARY_NAME_MAX:
        return f"{base}-hc"
    digest = hashlib.sha256(base.encode()).hexdigest()[:6]
    return f"{base[: CANARY_NAME_MAX - 10]}-{digest}-hc"


def dashboard_name(project: str, stack: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{project}-{stack}-performance")


def canary_schedule(minutes: int) -> str:
    return f"rate({minutes} minute{'s' if minutes != 1 else ''})"


def error_rate_queries() -> list[dash.Expression]:
    """The 5xx-rate math the alarm and the dashboard share, minus the metrics' dimensions."""
    return [
        dash.Expression("FILL(m2, 0) + FILL(m3, 0)", "5xx responses", "e1", visible=False),
        # Load-balancer 5xx (no healthy target, say) never reach RequestCount: count them in
        # the denominator too, so an outage reads as 100 %, not as a division by zero.
        dash.Expression("FILL(m1, 0) + FILL(m3, 0)", "requests", "e2", visible=False),
        dash.Expression("IF(e2 > 0, 100 * e1 / e2, 0)", "5xx rate (%)", "e3"),
    ]


@dataclass(frozen=True, kw_only=True)
class PerformanceMonitoringArgs:
    region: str
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    asg_name: pulumi.Input[str]
    alerts_topic_arn: pulumi.Input[str]
    # Scheme and host the canary checks, e.g. `WebTier.url` or https://app.example.com.
    site_url: pulumi.Input[str]
    health_check_path: str
    logs_key_arn: pulumi.Input[str]
    canary_name: str
    dashboard_name: str
    # Prefix of every alarm's name, e.g. `groundwork-prod`: `<prefix>-latency-p95`, ...
    alarm_name_prefix: str
    # The directory holding the canary script and the log-settings function (the project's
    # `ops` package).
    ops_dir: Path
    latency_p95_ms: int
    latency_evaluation_periods: int
    latency_datapoints_to_alarm: int
    error_rate_percent: float
    request_anomaly_band: float
    canary_runtime: str
    canary_interval_minutes: int
    canary_artifact_days: int
    # Retention of the canary's (and the settings function's) Lambda logs.
    canary_log_retention_days: int
    # Extra actions of the p95 latency alarm, e.g. the step-scaling policy's ARN.
    latency_alarm_actions: Sequence[pulumi.Input[str]] = ()
    database_identifier: pulumi.Input[str] | None = None
    # (namespace, metric name) of the error-log metric filter's metric.
    error_metric: tuple[str, str] | None = None
    # The RUM app monitor's name (its metrics' `application_name` dimension).
    rum_app_monitor_name: str | None = None
    # More alarms (names or ARNs) the composite "service unhealthy" alarm should include.
    extra_alarms: Sequence[pulumi.Input[str]] = ()
    protect: bool


class PerformanceMonitoring(pulumi.ComponentResource):
    """Dashboard + alarms + health-check canary for the web tier."""

    dashboard_name: pulumi.Output[str]
    latency_alarm_arn: pulumi.Output[str]
    latency_alarm_name: pulumi.Output[str]
    error_rate_alarm_arn: pulumi.Output[str]
    request_anomaly_alarm_arn: pulumi.Output[str]
    capacity_alarm_arn: pulumi.Output[str]
    canary_alarm_arn: pulumi.Output[str]
    service_unhealthy_alarm_arn: pulumi.Output[str]
    canary_name: str
    artifact_bucket_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: PerformanceMonitoringArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("groundwork:observability:PerformanceMonitoring", name, None, opts)
        _validate(name, args)
        self._name, self._args = name, args
        self._dims = _Dimensions(
            lb={"LoadBalancer": args.alb_arn_suffix},
            tg={"LoadBalancer": args.alb_arn_suffix, "TargetGroup": args.target_group_arn_suffix},
            asg={"AutoScalingGroupName": args.asg_name},
            canary={"CanaryName": args.canary_name},
        )
        latency = self._latency_alarm()
        error_rate = self._error_rate_alarm()
        anomaly = self._request_anomaly_alarm()
        capacity = self._capacity_alarm()
        canary, bucket = self._canary()
        canary_alarm = self._canary_alarm(canary)
        unhealthy = self._service_unhealthy_alarm([latency, error_rate, canary_alarm])
        alarm_arns = [
            unhealthy.arn,
            latency.arn,
            error_rate.arn,
            canary_alarm.arn,
            anomaly.arn,
            capacity.arn,
        ]
        widgets = _widgets(args, self._dims, alarm_arns)
        board = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=pulumi.Output.json_dumps(dash.render(widgets, args.region)),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.dashboard_name = board.dashboard_name
        self.latency_alarm_arn = latency.arn
        self.latency_alarm_name = latency.name
        self.error_rate_alarm_arn = error_rate.arn
        self.request_anomaly_alarm_arn = anomaly.arn
        self.capacity_alarm_arn = capacity.arn
        self.canary_alarm_arn = canary_alarm.arn
        self.service_unhealthy_alarm_arn = unhealthy.arn
        self.canary_name = args.canary_name
        self.artifact_bucket_name = bucket.bucket
        register_all(self)

    def _alarm(
        self,
        role: str,
        suffix: str,
        *,
        extra_actions: Sequence[pulumi.Input[str]] = (),
        depends_on: Sequence[pulumi.Resource] = (),
        **fields: Any,
    ) -> aws.cloudwatch.MetricAlarm:
        """An alarm named `<alarm_name_prefix>-<suffix>`, notifying the alerts topic on ALARM
        (and `extra_actions`) and on OK."""
        topic = self._args.alerts_topic_arn
        spec = AlarmSpec(
            role=role,
            suffix=suffix,
            name=f"{self._args.alarm_name_prefix}-{suffix}",
            alarm_actions=(topic, *extra_actions),
            ok_actions=(topic,),
            **fields,
        )
        opts = pulumi.ResourceOptions(parent=self, depends_on=list(depends_on) or None)
        return metric_alarm(f"{self._name}-{suffix}", spec, opts)

    def _latency_alarm(self) -> aws.cloudwatch.MetricAlarm:
        args = self._args
        return self._alarm(
            "latencyP95",
            "latency-p95",
            description=(
                f"p95 target response time above {args.latency_p95_ms} ms in "
                f"{args.latency_datapoints_to_alarm} of {args.latency_evaluation_periods} minutes"
                "; also scales the web tier out"
            ),
            namespace=ALB,
            metric_name="TargetResponseTime",
            dimensions=self._dims.tg,
            extended_statistic="p95",
            evaluation_periods=args.latency_evaluation_periods,
            datapoints_to_alarm=args.latency_datapoints_to_alarm,
            threshold=args.latency_p95_ms / 1000,
            comparison="GreaterThanThreshold",
            # No requests means no latency to worry about.
            treat_missing_data="notBreaching",
            extra_actions=args.latency_alarm_actions,
        )

    def _error_rate_alarm(self) -> aws.cloudwatch.MetricAlarm:
        args, lb_dims = self._args, self._dims.lb
        return self._alarm(
            "errorRate",
            "5xx-rate",
            description=(
                f"5xx responses above {args.error_rate_percent:g} % of requests in "
                f"{ERROR_RATE_DATAPOINTS} of {ERROR_RATE_PERIODS} minutes"
            ),
            metrics=(
                MetricSpec("m1", ALB, "RequestCount", "Sum", lb_dims),
                MetricSpec("m2", ALB, "HTTPCode_Target_5XX_Count", "Sum", lb_dims),
                MetricSpec("m3", ALB, "HTTPCode_ELB_5XX_Count", "Sum", lb_dims),
            ),
            expressions=tuple(
                ExpressionSpec(e.id, e.expression, e.label, return_data=e.visible)
                for e in error_rate_queries()
            ),
            evaluation_periods=ERROR_RATE_PERIODS,
            datapoints_to_alarm=ERROR_RATE_DATAPOINTS,
            threshold=args.error_rate_percent,
            comparison="GreaterThanThreshold",
            treat_missing_data="notBreaching",
        )

    def _request_anomaly_alarm(self) -> aws.cloudwatch.MetricAlarm:
        band = self._args.request_anomaly_band
        return self._alarm(
            "requestAnomaly",
            "request-anomaly",
            description=(
                f"Request count above its expected band ({band:g} standard "
                "deviations) - a surge the capacity may not be ready for"
            ),
            period=ANOMALY_PERIOD,
            metrics=(
                MetricSpec("m1", ALB, "RequestCount", "Sum", self._dims.lb, return_data=True),
            ),
            expressions=(
                ExpressionSpec("ad1", f"ANOMALY_DETECTION_BAND(m1, {band:g})", "expected requests"),
            ),
            threshold_metric_id="ad1",
            comparison="GreaterThanUpperThreshold",
            evaluation_periods=ANOMALY_PERIODS,
            datapoints_to_alarm=ANOMALY_DATAPOINTS,
            treat_missing_data="notBreaching",
        )

    def _capacity_alarm(self) -> aws.cloudwatch.MetricAlarm:
        asg_dims = self._dims.asg
        return self._alarm(
            "capacityShortfall",
            "capacity-shortfall",
            description=(
                f"Fewer instances in service than desired for {CAPACITY_PERIODS} minutes: "
                "instances fail to launch or to pass health checks, so scaling cannot help"
            ),
            metrics=(
                MetricSpec("m1", ASG_NS, "GroupDesiredCapacity", "Maximum", asg_dims),
                MetricSpec("m2", ASG_NS, "GroupInServiceInstances", "Minimum", asg_dims),
            ),
            expressions=(ExpressionSpec("e1", "FILL(m1, 0) - FILL(m2, 0)", "instances short"),),
            evaluation_periods=CAPACITY_PERIODS,
            datapoints_to_alarm=CAPACITY_PERIODS,
            threshold=0,
            comparison="GreaterThanThreshold",
            # Group metrics stop only if metrics collection is switched off: nothing to judge.
            treat_missing_data="missing",
        )

    def _artifact_bucket(self) -> tuple[buckets.PrivateBucket, pulumi.Output[str]]:
        """The canary's run artifacts, encrypted with a key of their own; and that key's ARN."""
        name, args = self._name, self._args
        key = kms.encryption_key(
            f"{name}-canary-key",
            description="Synthetics canary artifacts",
            partition=context.partition_of(args.region),
            account=context.account_id(self),
            parent=self,
            protect=args.protect,
        )
        artifacts = buckets.private_bucket(
            f"{name}-canary-artifacts",
            parent=self,
            purpose="canary-artifacts",
            kms_key_arn=key.arn,
            # Screenshots and logs of past runs, expired by the lifecycle rule anyway: nothing
            # here is worth blocking a stack's removal for.
            protect=None,
            force_destroy=True,
            lifecycle_rules=[
                buckets.expiry_rule(
                    "expire-canary-runs", args.canary_artifact_days, prefix=CANARY_RUNS_PREFIX
                ),
                {
                    "id": "abort-incomplete-uploads",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                },
            ],
        )
        return artifacts, key.arn

    def _canary_code(self, artifacts: buckets.PrivateBucket) -> aws.s3.BucketObjectv2:
        script = self._args.ops_dir / CANARY_FILE
        source = script.read_bytes()
        return aws.s3.BucketObjectv2(
            f"{self._name}-canary-code",
            bucket=artifacts.bucket.id,
            # The key changes with the script, which is what makes the canary pick it up.
            key=f"canary-code/{script.stem}-{hashlib.sha256(source).hexdigest()[:16]}.zip",
            source=pulumi.AssetArchive({f"python/{script.name}": sources.file_asset(script)}),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[artifacts.encryption, artifacts.ownership]
            ),
        )

    def _canary_role(
        self, bucket: aws.s3.Bucket, key_arn: pulumi.Output[str]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        args = self._args
        canary_logs = context.arn(
            args.region,
            context.account_id(self),
            "logs",
            "log-group:/aws/lambda/cwsyn-",
            args.canary_name,
            "-*",
        )
        return iam.role_with_policy(
            f"{self._name}-canary-role",
            f"{self._name}-canary-policy",
            self,
            iam.lambda_trust(),
            canary_policy(bucket.arn, key_arn, canary_logs),
            description=f"Synthetics canary {args.canary_name}",
        )

    def _canary(self) -> tuple[aws.synthetics.Canary, aws.s3.Bucket]:
        """A synthetic health check of the site, and the bucket its runs go to."""
        name, args = self._name, self._args
        artifacts, key_arn = self._artifact_bucket()
        bucket = artifacts.bucket
        code = self._canary_code(artifacts)
        role, role_policy = self._canary_role(bucket, key_arn)
        target_url = pulumi.Output.concat(args.site_url, args.health_check_path)
        canary = aws.synthetics.Canary(
            f"{name}-canary",
            name=args.canary_name,
            runtime_version=args.canary_runtime,
            handler=CANARY_HANDLER,
            s3_bucket=bucket.bucket,
            s3_key=code.key,
            execution_role_arn=role.arn,
            artifact_s3_location=pulumi.Output.concat(
                "s3://", bucket.bucket, "/", CANARY_RUNS_PREFIX
            ),
            artifact_config={
                "s3_encryption": {"encryption_mode": "SSE_KMS", "kms_key_arn": key_arn}
            },
            schedule={"expression": canary_schedule(args.canary_interval_minutes)},
            run_config={
                "timeout_in_seconds": min(60, args.canary_interval_minutes * 60),
                "active_tracing": False,
                "environment_variables": {"TARGET_URL": target_url},
            },
            success_retention_period=args.canary_artifact_days,
            failure_retention_period=args.canary_artifact_days,
            start_canary=True,
            # Remove the canary's Lambda function and layers with it.
            delete_lambda=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        self._canary_log_settings(canary)
        return canary, bucket

    def _canary_log_settings(self, canary: aws.synthetics.Canary) -> None:
        args = self._args
        ServiceLogSettings(
            f"{self._name}-canary-log-settings",
            ServiceLogSettingsArgs(
                region=args.region,
                logs_key_arn=args.logs_key_arn,
                log_groups={
                    "canary": ServiceLogGroup(
                        # The canary reports its engine once created (in a preview the ARN is
                        # unknown and the apply does not run), so the name is never None here.
                        name=cast(pulumi.Output[str], canary.engine_arn.apply(_lambda_log_group)),
                        name_pattern=f"/aws/lambda/cwsyn-{args.canary_name}-*",
                        retention_days=args.canary_log_retention_days,
                        log_class="runtime",
                    )
                },
                own_retention_days=args.canary_log_retention_days,
                ops_dir=args.ops_dir,
                protect=args.protect,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _canary_alarm(self, canary: aws.synthetics.Canary) -> aws.cloudwatch.MetricAlarm:
        args = self._args
        return self._alarm(
            "canarySuccess",
            "canary-success",
            depends_on=[canary],
            description=(
                f"Health check {args.health_check_path} failed in 2 of the last 3 runs of canary "
                f"{args.canary_name}"
            ),
            namespace=SYNTHETICS,
            metric_name="SuccessPercent",
            dimensions=self._dims.canary,
            statistic="Average",
            period=args.canary_interval_minutes * 60,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            threshold=90,
            comparison="LessThanThreshold",
            # A canary that stopped reporting checks nothing: treat silence as failure.
            treat_missing_data="breaching",
        )

    def _service_unhealthy_alarm(
        self, alarms: list[aws.cloudwatch.MetricAlarm]
    ) -> aws.cloudwatch.CompositeAlarm:
        args, topic = self._args, self._args.alerts_topic_arn
        members = [*(alarm.name for alarm in alarms), *args.extra_alarms]
        return aws.cloudwatch.CompositeAlarm(
            f"{self._name}-service-unhealthy",
            alarm_name=f"{args.alarm_name_prefix}-service-unhealthy",
            alarm_description=(
                "The service is unhealthy: slow, failing requests or failing health checks"
            ),
            alarm_rule=pulumi.Output.all(*members).apply(
                lambda names: " OR ".join(f'ALARM("{n}")' for n in names)
            ),
            actions_enabled=True,
            alarm_actions=[topic],
            ok_actions=[topic],
            opts=pulumi.ResourceOptions(parent=self),
        )


@dataclass(frozen=True)
class _Dimensions:
    """The CloudWatch dimensions the alarms and the dashboard share."""

    lb: dict[str, pulumi.Input[str]]
    tg: dict[str, pulumi.Input[str]]
    asg: dict[str, pulumi.Input[str]]
    canary: dict[str, pulumi.Input[str]]


def canary_policy(
    bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str], canary_logs: pulumi.Input[str]
) -> dict[str, Any]:
    """What the canary may do: write its run artifacts, publish its metrics, log."""
    return iam.document(
        iam.statement(
            ["s3:PutObject", "s3:GetObject"],
            [pulumi.Output.concat(bucket_arn, "/", CANARY_RUNS_PREFIX, "*")],
            sid="WriteRunArtifacts",
        ),
        iam.statement(["s3:GetBucketLocation"], [bucket_arn], sid="FindBucket"),
        # The Synthetics runtime lists buckets before it uploads; this action has
        # no resource-level form.
        iam.statement(["s3:ListAllMyBuckets"], ["*"], sid="ListBuckets"),
        iam.statement(["kms:GenerateDataKey", "kms:Decrypt"], [key_arn], sid="EncryptArtifacts"),
        iam.statement(
            ["cloudwatch:PutMetricData"],
            ["*"],
            sid="PublishCanaryMetrics",
            conditions={"StringEquals": {"cloudwatch:namespace": SYNTHETICS}},
        ),
        iam.statement(
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            [canary_logs],
            sid="CanaryLogs",
        ),
    )


def _validate(name: str, args: PerformanceMonitoringArgs) -> None:
    problems = []
    if not re.fullmatch(rf"[a-z0-9_-]{{1,{CANARY_NAME_MAX}}}", args.canary_name):
        problems.append(
            f"canary_name {args.canary_name!r} must be 1-{CANARY_NAME_MAX} of a-z 0-9 _ -"
        )
    if not args.health_check_path.startswith("/"):
        problems.append(f"health_check_path must start with '/' (got {args.health_check_path!r})")
    if args.latency_datapoints_to_alarm > args.latency_evaluation_periods:
        problems.append(
            f"latency_datapoints_to_alarm ({args.latency_datapoints_to_alarm}) must be <= "
            f"latency_evaluation_periods ({args.latency_evaluation_periods})"
        )
    if not 1 <= args.canary_interval_minutes <= 60:
        problems.append(
            f"canary_interval_minutes must be within 1..60 (got {args.canary_interval_minutes})"
        )
    if problems:
        raise ValueError(f"{name}: " + "; ".join(problems))


def _lambda_log_group(engine_arn: str | None) -> str | None:
    """`/aws/lambda/<function>` from the canary's engine ARN (`...:function:<name>[:<version>]`)."""
    if not engine_arn:
        return None
    parts = engine_arn.split(":")
    return f"/aws/lambda/{parts[6]}" if len(parts) > 6 else None


def _widgets(
    args: PerformanceMonitoringArgs, dims: _Dimensions, alarm_arns: list[pulumi.Output[str]]
) -> list[dash.Widget]:
    return [
        dash.TextWidget(
            f"## Performance\n"
            f"Targets: p95 response time under {args.latency_p95_ms} ms, 5xx under "
            f"{args.error_rate_percent:g} % of requests, health check `{args.health_check_path}` "
            f"every {args.canary_interval_minutes} min. Every alarm notifies the alerts topic."
        ),
        dash.AlarmStatusWidget("Alarms", alarm_arns),
        *_traffic_widgets(args, dims),
        *_capacity_widgets(dims),
        *_database_widgets(args),
        *_error_log_widgets(args),
        *_rum_widgets(args),
        dash.MetricWidget(
            "Health check success (%)",
            [dash.Metric(SYNTHETICS, "SuccessPercent", dims.canary, label=args.canary_name)],
            period=args.canary_interval_minutes * 60,
            width=8,
            y_min=0,
        ),
    ]


def _traffic_widgets(args: PerformanceMonitoringArgs, dims: _Dimensions) -> list[dash.Widget]:
    lb_dims, tg_dims = dims.lb, dims.tg
    return [
        dash.MetricWidget(
            "Requests",
            [
                dash.Metric(ALB, "RequestCount", lb_dims, id="m1", label="requests"),
                dash.Expression(
                    f"ANOMALY_DETECTION_BAND(m1, {args.request_anomaly_band:g})",
                    "expected",
                    "e1",
                ),
            ],
            stat="Sum",
            width=8,
        ),
        dash.MetricWidget(
            "Target response time (s)",
            [
                dash.Metric(ALB, "TargetResponseTime", tg_dims, stat=p, label=p)
                for p in ("p50", "p95", "p99")
            ],
            stat="p95",
            width=8,
            y_min=0,
            lines=[
                dash.HorizontalLine(
                    args.latency_p95_ms / 1000, f"p95 target {args.latency_p95_ms} ms"
                )
            ],
        ),
        dash.MetricWidget(
            "5xx rate (%)",
            [
                dash.Metric(ALB, "RequestCount", lb_dims, id="m1", visible=False),
                dash.Metric(ALB, "HTTPCode_Target_5XX_Count", lb_dims, id="m2", visible=False),
                dash.Metric(ALB, "HTTPCode_ELB_5XX_Count", lb_dims, id="m3", visible=False),
                *error_rate_queries(),
            ],
            stat="Sum",
            width=8,
            y_min=0,
            lines=[dash.HorizontalLine(args.error_rate_percent, "alarm")],
        ),
    ]


def _capacity_widgets(dims: _Dimensions) -> list[dash.Widget]:
    tg_dims, asg_dims = dims.tg, dims.asg
    return [
        dash.MetricWidget(
            "Healthy hosts",
            [
                dash.Metric(ALB, "HealthyHostCount", tg_dims, stat="Minimum", label="healthy"),
                dash.Metric(ALB, "UnHealthyHostCount", tg_dims, stat="Maximum", label="unhealthy"),
            ],
            width=8,
            y_min=0,
        ),
        dash.MetricWidget(
            "Instances: in service vs desired",
            [
                dash.Metric(ASG_NS, "GroupInServiceInstances", asg_dims, label="in service"),
                dash.Metric(ASG_NS, "GroupDesiredCapacity", asg_dims, label="desired"),
                dash.Metric(ASG_NS, "GroupMaxSize", asg_dims, label="max"),
            ],
            stat="Maximum",
            width=8,
            y_min=0,
        ),
        dash.MetricWidget(
            "Instance CPU (%)",
            [
                dash.Metric(EC2, "CPUUtilization", asg_dims, stat="Average", label="average"),
                dash.Metric(EC2, "CPUUtilization", asg_dims, stat="Maximum", label="busiest"),
            ],
            width=8,
            y_min=0,
        ),
    ]


def _database_widgets(args: PerformanceMonitoringArgs) -> list[dash.Widget]:
    if args.database_identifier is None:
        return []
    db_dims = {"DBInstanceIdentifier": args.database_identifier}
    return [
        dash.MetricWidget(
            "Database CPU (%)", [dash.Metric(RDS, "CPUUtilization", db_dims)], width=8, y_min=0
        ),
        dash.MetricWidget(
            "Database connections",
            [dash.Metric(RDS, "DatabaseConnections", db_dims)],
            stat="Maximum",
            width=8,
            y_min=0,
        ),
        dash.MetricWidget(
            "Database latency (s)",
            [
                dash.Metric(RDS, "ReadLatency", db_dims, label="read"),
                dash.Metric(RDS, "WriteLatency", db_dims, label="write"),
            ],
            width=8,
            y_min=0,
        ),
    ]


def _error_log_widgets(args: PerformanceMonitoringArgs) -> list[dash.Widget]:
    if args.error_metric is None:
        return []
    namespace, metric = args.error_metric
    return [
        dash.MetricWidget(
            "Error log events",
            [dash.Metric(namespace, metric, label="errors")],
            stat="Sum",
            width=8,
            y_min=0,
        )
    ]


def _rum_widgets(args: PerformanceMonitoringArgs) -> list[dash.Widget]:
    if args.rum_app_monitor_name is None:
        return []
    rum_dims = {"application_name": args.rum_app_monitor_name}
    return [
        dash.MetricWidget(
            "Page load time, real users (ms)",
            [
                dash.Metric(RUM, "PerformanceNavigationDuration", rum_dims, stat=p, label=p)
                for p in ("p50", "p90")
            ],
            stat="p90",
            period=300,
            width=8,
            y_min=0,
        ),
        dash.MetricWidget(
            "JavaScript errors, real users",
            [dash.Metric(RUM, "JsErrorCount", rum_dims, label="errors")],
            stat="Sum",
            period=300,
            width=8,
            y_min=0,
        ),
    ]
