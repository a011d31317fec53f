"""BaselineAlarms: the phase-1 alarms every stack needs, all acting through the alerts topic.

What they watch: ALB 5xx responses, the targets' own 5xx responses, unhealthy targets, slow
responses; an autoscaling group
below its minimum; the database's CPU, free storage, freeable memory and connections (when a
database is given); the app's error-log rate. (The logical backup job raises its own
failed-run and missed-run alarms: components/backup_job.py.) Each alarm notifies on ALARM and
on OK, and says what missing data means:

- autoscaling group metrics, published every minute once the group exists: silence means the
  group or its monitoring is gone -> `breaching`;
- RDS metrics: a new or restarting instance leaves gaps -> `missing` (no page on day one; the
  RDS event subscription reports a deleted or failed instance);
- metrics that exist only when something happens (5xx counts, response times, log-derived
  error counts, unhealthy-host counts with no targets): silence means nothing
  happened -> `notBreaching`.

`alarm_specs` is pure: it turns the args into `AlarmSpec`s, so the thresholds, dimensions and
missing-data choices are testable without the Pulumi runtime, including the database alarms
of a stack that has no database.

The module also owns every metric alarm's shape: `AlarmSpec` (a single metric or metric math,
a fixed threshold or an anomaly band, explicit name, actions) and `metric_alarm`, the one
place that creates an `aws.cloudwatch.MetricAlarm`. The performance, backup-job and audit
alarms are built through it too (tests/test_alarm_builder.py holds the line).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.outputs import register_all

# Roles whose alarms a deployment watches to roll back (CodeDeploy automatic rollback): only
# alarms a release itself causes. The targets' own 5xx count (not the load balancer's, which
# also counts "no healthy target" 503s), the app's error-log rate and its latency. Each is
# silent (not breaching) while no release serves and while capacity is short. Never the
# unhealthy-hosts or capacity alarms: before the first release every target is unhealthy, and
# CodeDeploy refuses to start a deployment while one of its alarms is in ALARM
# (ALARM_ACTIVE), so a first release could never land; and a capacity shortfall is not
# something rolling back a release repairs.
ROLLBACK_ROLES: tuple[str, ...] = ("target5xx", "errorLogRate", "targetResponseTime")
# Roles that must never be rollback alarms, for the reasons above (tests hold the line).
NEVER_ROLLBACK_ROLES: frozenset[str] = frozenset({"alb5xx", "unhealthyHosts", "asgBelowMin"})

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class Thresholds:
    """`groundwork:alarms` (settings.Alarms) as the component sees it; no defaults here."""

    alb_5xx_per_minute: int
    target_5xx_per_minute: int
    target_response_time_seconds: float
    unhealthy_hosts: int
    asg_below_min_minutes: int
    evaluation_periods: int
    datapoints_to_alarm: int
    db_cpu_percent: float
    db_free_storage_gb: float
    db_freeable_memory_mb: int
    db_connections: int
    error_log_events_per_minute: int


@dataclass(frozen=True)
class BaselineAlarmsArgs:
    # Alerts.topic_arn: every alarm's ALARM and OK action.
    topic_arn: pulumi.Input[str]
    # WebTier: ALB and target group ARN suffixes (the CloudWatch dimensions), the group.
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    asg_name: pulumi.Input[str]
    asg_min_size: int
    # Logging: where the error-log metric lives.
    log_metric_namespace: str
    error_log_metric_name: str
    thresholds: Thresholds
    # Alarm names are `<name_prefix>-<role>` (e.g. `groundwork-prod-alb-5xx`): known at
    # preview, so a composite alarm or a deployment group can refer to them by name.
    name_prefix: str
    # Database.identifier; the four database alarms exist only when it is given.
    database_identifier: pulumi.Input[str] | None = None
    # Logging's count of runtime lines at ERROR/CRITICAL. When given, the error-log-rate alarm
    # reads the larger of the two counts, so it still fires when one of the two files stops
    # being shipped.
    runtime_error_metric_name: str | None = None


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a metric-math alarm, read at the alarm's period."""

    id: str
    namespace: str
    metric_name: str
    stat: str
    dimensions: Mapping[str, Any]
    # True only for the metric an anomaly-detection band is drawn around: AWS returns both.
    return_data: bool = False


@dataclass(frozen=True)
class ExpressionSpec:
    """One metric-math expression of an alarm, over the metrics' (and earlier expressions')
    ids; the one that returns data is what the alarm watches."""

    id: str
    expression: str
    label: str
    return_data: bool = True


@dataclass(frozen=True, kw_only=True)
class AlarmSpec:
    """Everything one CloudWatch metric alarm says; `metric_alarm` is the one place that turns a
    spec into the resource. Checked when built (`alarm_spec_problems`)."""

    role: str  # what the alarm is for, e.g. `alb5xx` (its owner's key)
    suffix: str  # the child resource's name after its component's name
    name: str  # the alarm's name, explicit: known at preview, so others can refer to it
    description: str
    comparison: str
    treat_missing_data: str
    evaluation_periods: int
    # Whom each state change notifies; OK and INSUFFICIENT_DATA are optional.
    alarm_actions: Sequence[pulumi.Input[str]]
    ok_actions: Sequence[pulumi.Input[str]] = ()
    insufficient_data_actions: Sequence[pulumi.Input[str]] = ()
    # None leaves the input unset (AWS's default: enabled).
    actions_enabled: bool | None = True
    # A fixed threshold, or the id of the anomaly-detection band the alarm compares against.
    threshold: float | None = None
    threshold_metric_id: str | None = None
    # None: every evaluation period must breach.
    datapoints_to_alarm: int | None = None
    period: int = 60
    # A single metric ...
    namespace: str | None = None
    metric_name: str | None = None
    statistic: str | None = None
    extended_statistic: str | None = None
    dimensions: Mapping[str, Any] = field(default_factory=dict)
    # ... or metric math: `metrics` read at `period`, combined by `expressions`.
    metrics: tuple[MetricSpec, ...] = ()
    expressions: tuple[ExpressionSpec, ...] = ()

    def __post_init__(self) -> None:
        problems = alarm_spec_problems(self)
        if problems:
            raise ValueError(f"alarm {self.name}: " + "; ".join(problems))


# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
# (ComparisonOperator, ThresholdMetricId, Metrics, TreatMissingData): the band operators are
# "used only for alarms based on anomaly detection models", whose ThresholdMetricId names the
# ANOMALY_DETECTION_BAND expression; a metric-math alarm watches the query that returns data.
BAND_COMPARISONS = frozenset(
    {
        "GreaterThanUpperThreshold",
        "LessThanLowerThreshold",
        "LessThanLowerOrGreaterThanUpperThreshold",
    }
)
THRESHOLD_COMPARISONS = frozenset(
    {"GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold",
     "LessThanOrEqualToThreshold"}
)  # fmt: skip
MISSING_DATA = frozenset({"breaching", "notBreaching", "ignore", "missing"})
_QUERY_ID = re.compile(r"[a-z][A-Za-z0-9_]*")


def alarm_spec_problems(spec: AlarmSpec) -> list[str]:
    """What AWS (or our own rules) would refuse in `spec`; empty when it is sound."""
    problems = [*_source_problems(spec), *_threshold_problems(spec)]
    if spec.treat_missing_data not in MISSING_DATA:
        problems.append(
            f"treat_missing_data {spec.treat_missing_data!r} is not one of {sorted(MISSING_DATA)}"
        )
    if spec.datapoints_to_alarm is not None and not (
        1 <= spec.datapoints_to_alarm <= spec.evaluation_periods
    ):
        problems.append(
            f"datapoints_to_alarm ({spec.datapoints_to_alarm}) must be within "
            f"1..evaluation_periods ({spec.evaluation_periods})"
        )
    if not spec.alarm_actions:
        problems.append("alarm_actions is empty: nobody would hear the alarm")
    return problems


def _source_problems(spec: AlarmSpec) -> list[str]:
    """A single metric with one kind of statistic, or metric math, never both."""
    math = bool(spec.metrics or spec.expressions)
    if (spec.metric_name is not None) == math:
        return ["give either a single metric (metric_name) or metric math (metrics, expressions)"]
    if not math:
        stats = [s for s in (spec.statistic, spec.extended_statistic) if s is not None]
        if spec.namespace is None or len(stats) != 1:
            return ["a single metric needs a namespace and one of statistic, extended_statistic"]
        return []
    problems = []
    own = (spec.namespace, spec.statistic, spec.extended_statistic)
    if any(v is not None for v in own) or spec.dimensions:
        problems.append("metric math takes no namespace, statistic or dimensions of its own")
    ids = [q.id for q in (*spec.metrics, *spec.expressions)]
    if len(set(ids)) != len(ids) or not all(_QUERY_ID.fullmatch(i) for i in ids):
        problems.append(f"query ids {ids} must be unique and start with a lowercase letter")
    returned = [q.id for q in (*spec.metrics, *spec.expressions) if q.return_data]
    # An anomaly alarm returns the metric and its band; any other exactly the watched query.
    expected = 2 if spec.threshold_metric_id is not None else 1
    if len(returned) != expected:
        problems.append(f"{expected} queries must return data (got {returned})")
    return problems


def _threshold_problems(spec: AlarmSpec) -> list[str]:
    """A fixed threshold with a plain comparison, or an anomaly band with a band comparison."""
    if spec.threshold_metric_id is None:
        if spec.threshold is None or spec.comparison not in THRESHOLD_COMPARISONS:
            return [
                f"a fixed-threshold alarm needs a threshold and one of "
                f"{sorted(THRESHOLD_COMPARISONS)} (got {spec.threshold}, {spec.comparison!r})"
            ]
        return []
    problems = []
    if spec.threshold is not None:
        problems.append("give a threshold or a threshold_metric_id, not both")
    if spec.comparison not in BAND_COMPARISONS:
        problems.append(
            f"comparison {spec.comparison!r} must be one of {sorted(BAND_COMPARISONS)} "
            "with a threshold_metric_id"
        )
    bands = {e.id for e in spec.expressions if e.expression.startswith("ANOMALY_DETECTION_BAND(")}
    if spec.threshold_metric_id not in bands:
        problems.append(
            f"threshold_metric_id {spec.threshold_metric_id!r} must name an "
            f"ANOMALY_DETECTION_BAND expression (have {sorted(bands)})"
        )
    return problems


def alarm_specs(args: BaselineAlarmsArgs) -> list[AlarmSpec]:
    """Every baseline alarm the args call for (pure)."""
    return [*_web_specs(args), _error_log_rate(args), *_database_specs(args)]


def _baseline_spec(args: BaselineAlarmsArgs, *, suffix: str, **fields: Any) -> AlarmSpec:
    """A baseline alarm: named `<name_prefix>-<suffix>`, notifying the alerts topic on ALARM
    and on OK."""
    return AlarmSpec(
        suffix=suffix,
        name=f"{args.name_prefix}-{suffix}",
        alarm_actions=(args.topic_arn,),
        ok_actions=(args.topic_arn,),
        **fields,
    )


def _web_specs(args: BaselineAlarmsArgs) -> list[AlarmSpec]:
    """The load balancer's, the targets' and the group's alarms."""
    t = args.thresholds
    m, n = t.datapoints_to_alarm, t.evaluation_periods
    alb = {"LoadBalancer": args.alb_arn_suffix}
    return [
        *_load_balancer_specs(args),
        _baseline_spec(
            args,
            role="unhealthyHosts",
            suffix="unhealthy-hosts",
            description=(
                f"More than {t.unhealthy_hosts} targets failing the health check for "
                f"{t.asg_below_min_minutes} minutes (longer than launching and bootstrapping an "
                "instance, which the group replaces on its own). No data (no targets): not "
                "breaching; asg-below-min covers that."
            ),
            comparison="GreaterThanThreshold",
            threshold=t.unhealthy_hosts,
            treat_missing_data="notBreaching",
            # A new instance is unhealthy until its bootstrap serves (day one, every scale-out):
            # only a target that stays unhealthy longer than that is news.
            evaluation_periods=t.asg_below_min_minutes,
            datapoints_to_alarm=t.asg_below_min_minutes,
            namespace="AWS/ApplicationELB",
            metric_name="UnHealthyHostCount",
            statistic="Maximum",
            dimensions={"TargetGroup": args.target_group_arn_suffix, **alb},
        ),
        _baseline_spec(
            args,
            role="targetResponseTime",
            suffix="target-response-time",
            description=(
                f"p95 target response time above {t.target_response_time_seconds:g} s in {m} "
                f"of {n} minutes. No requests: not breaching."
            ),
            comparison="GreaterThanThreshold",
            threshold=t.target_response_time_seconds,
            treat_missing_data="notBreaching",
            evaluation_periods=n,
            datapoints_to_alarm=m,
            namespace="AWS/ApplicationELB",
            metric_name="TargetResponseTime",
            extended_statistic="p95",
            dimensions=alb,
        ),
        _asg_below_min(args),
    ]


def _asg_below_min(args: BaselineAlarmsArgs) -> AlarmSpec:
    t = args.thresholds
    return _baseline_spec(
        args,
        role="asgBelowMin",
        suffix="asg-below-min",
        description=(
            f"Fewer in-service instances than the group's minimum ({args.asg_min_size}) for "
            f"{t.asg_below_min_minutes} minutes (longer than a rolling replacement takes). "
            "No data: breaching, the group publishes these metrics every minute."
        ),
        comparison="LessThanThreshold",
        threshold=args.asg_min_size,
        treat_missing_data="breaching",
        evaluation_periods=t.asg_below_min_minutes,
        datapoints_to_alarm=t.asg_below_min_minutes,
        namespace="AWS/AutoScaling",
        metric_name="GroupInServiceInstances",
        statistic="Minimum",
        dimensions={"AutoScalingGroupName": args.asg_name},
    )


def _load_balancer_specs(args: BaselineAlarmsArgs) -> list[AlarmSpec]:
    """5xx responses: of the whole load balancer, and of the app's targets alone."""
    t = args.thresholds
    m, n = t.datapoints_to_alarm, t.evaluation_periods
    alb = {"LoadBalancer": args.alb_arn_suffix}
    return [
        _baseline_spec(
            args,
            role="alb5xx",
            suffix="alb-5xx",
            description=(
                f"More than {t.alb_5xx_per_minute} 5xx responses per minute (app and load "
                f"balancer) in {m} of {n} minutes. No requests: not breaching."
            ),
            comparison="GreaterThanThreshold",
            threshold=t.alb_5xx_per_minute,
            treat_missing_data="notBreaching",
            evaluation_periods=n,
            datapoints_to_alarm=m,
            expressions=(
                ExpressionSpec("result", "FILL(target5xx, 0) + FILL(elb5xx, 0)", "alb5xx"),
            ),
            metrics=(
                MetricSpec(
                    "target5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", alb
                ),
                MetricSpec("elb5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", alb),
            ),
        ),
        _baseline_spec(
            args,
            role="target5xx",
            suffix="target-5xx",
            description=(
                f"More than {t.target_5xx_per_minute} 5xx responses per minute from the app "
                f"itself (targets, not the load balancer) in {m} of {n} minutes. No requests "
                "or no release yet: not breaching. Rolls a deployment back."
            ),
            comparison="GreaterThanThreshold",
            threshold=t.target_5xx_per_minute,
            treat_missing_data="notBreaching",
            evaluation_periods=n,
            datapoints_to_alarm=m,
            namespace="AWS/ApplicationELB",
            metric_name="HTTPCode_Target_5XX_Count",
            statistic="Sum",
            dimensions={"TargetGroup": args.target_group_arn_suffix, **alb},
        ),
    ]


def _database_specs(args: BaselineAlarmsArgs) -> list[AlarmSpec]:
    """The database's four alarms, when there is a database."""
    t = args.thresholds
    m, n = t.datapoints_to_alarm, t.evaluation_periods
    specs: list[AlarmSpec] = []
    if args.database_identifier is not None:
        db = {"DBInstanceIdentifier": args.database_identifier}
        # Not `breaching`: a new instance's first minutes (and every restart) leave gaps that
        # would page on day one. A deleted or failed instance is reported by the RDS event
        # subscription to the alerts topic (components/database.py), so silence can stay silent.
        silent = "No data (a new or restarting instance): not evaluated; RDS events cover it."
        for role, suffix, metric, stat, comparison, threshold, text in (
            ("dbCpu", "db-cpu", "CPUUtilization", "Average", "GreaterThanThreshold",
             t.db_cpu_percent, f"Database CPU above {t.db_cpu_percent:g}%"),
            ("dbFreeStorage", "db-free-storage", "FreeStorageSpace", "Minimum",
             "LessThanThreshold", t.db_free_storage_gb * GIB,
             f"Database free storage below {t.db_free_storage_gb:g} GiB"),
            ("dbFreeableMemory", "db-freeable-memory", "FreeableMemory", "Minimum",
             "LessThanThreshold", t.db_freeable_memory_mb * MIB,
             f"Database freeable memory below {t.db_freeable_memory_mb} MiB"),
            ("dbConnections", "db-connections", "DatabaseConnections", "Maximum",
             "GreaterThanThreshold", t.db_connections,
             f"More than {t.db_connections} database connections"),
        ):  # fmt: skip
            specs.append(
                _baseline_spec(
                    args,
                    role=role,
                    suffix=suffix,
                    description=f"{text} in {m} of {n} minutes. {silent}",
                    comparison=comparison,
                    threshold=threshold,
                    treat_missing_data="missing",
                    evaluation_periods=n,
                    datapoints_to_alarm=m,
                    namespace="AWS/RDS",
                    metric_name=metric,
                    statistic=stat,
                    dimensions=db,
                )
            )
    return specs


def _error_log_rate(args: BaselineAlarmsArgs) -> AlarmSpec:
    t = args.thresholds
    m, n = t.datapoints_to_alarm, t.evaluation_periods
    spec = _baseline_spec(
        args,
        role="errorLogRate",
        suffix="error-log-rate",
        description=(
            f"More than {t.error_log_events_per_minute} error-log events per minute in {m} "
            f"of {n} minutes. No events: not breaching."
        ),
        comparison="GreaterThanThreshold",
        threshold=t.error_log_events_per_minute,
        treat_missing_data="notBreaching",
        evaluation_periods=n,
        datapoints_to_alarm=m,
        namespace=args.log_metric_namespace,
        metric_name=args.error_log_metric_name,
        statistic="Sum",
    )
    if args.runtime_error_metric_name is None:
        return spec
    ns = args.log_metric_namespace
    return dataclasses.replace(
        spec,
        description=spec.description.replace(
            "error-log events", "error records (error log or runtime log, whichever counts more)"
        ),
        namespace=None,
        metric_name=None,
        statistic=None,
        expressions=(
            ExpressionSpec("result", "MAX([FILL(errorlog, 0), FILL(runtimeerrors, 0)])", spec.role),
        ),
        metrics=(
            MetricSpec("errorlog", ns, args.error_log_metric_name, "Sum", {}),
            MetricSpec("runtimeerrors", ns, args.runtime_error_metric_name, "Sum", {}),
        ),
    )


def metric_alarm(
    resource_name: str, spec: AlarmSpec, opts: pulumi.ResourceOptions
) -> aws.cloudwatch.MetricAlarm:
    """The one place a CloudWatch metric alarm is created (tests/test_alarm_builder.py holds
    the line). Empty optional action lists are left unset, not sent as `[]`."""
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        name=spec.name,
        alarm_description=spec.description,
        comparison_operator=spec.comparison,
        threshold=spec.threshold,
        threshold_metric_id=spec.threshold_metric_id,
        evaluation_periods=spec.evaluation_periods,
        datapoints_to_alarm=spec.datapoints_to_alarm,
        treat_missing_data=spec.treat_missing_data,
        actions_enabled=spec.actions_enabled,
        alarm_actions=list(spec.alarm_actions),
        ok_actions=list(spec.ok_actions) or None,
        insufficient_data_actions=list(spec.insufficient_data_actions) or None,
        **alarm_inputs(spec),
        opts=opts,
    )


def alarm_inputs(spec: AlarmSpec) -> dict[str, Any]:
    """The metric part of the alarm's inputs (the SDK's keys): one metric, or metric math."""
    if spec.metrics or spec.expressions:
        queries: list[dict[str, Any]] = [
            {
                "id": metric.id,
                "return_data": metric.return_data,
                "metric": {
                    "namespace": metric.namespace,
                    "metric_name": metric.metric_name,
                    "stat": metric.stat,
                    "period": spec.period,
                    **({"dimensions": dict(metric.dimensions)} if metric.dimensions else {}),
                },
            }
            for metric in spec.metrics
        ]
        queries.extend(
            {"id": e.id, "expression": e.expression, "label": e.label,
             "return_data": e.return_data}
            for e in spec.expressions
        )  # fmt: skip
        return {"metric_queries": queries}
    inputs: dict[str, Any] = {
        "namespace": spec.namespace,
        "metric_name": spec.metric_name,
        "period": spec.period,
    }
    if spec.extended_statistic:
        inputs["extended_statistic"] = spec.extended_statistic
    else:
        inputs["statistic"] = spec.statistic
    if spec.dimensions:
        inputs["dimensions"] = dict(spec.dimensions)
    return inputs


class BaselineAlarms(pulumi.ComponentResource):
    """One CloudWatch alarm per baseline role, each notifying the alerts topic."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    alarm_names: dict[str, pulumi.Output[str]]
    alarm_arns: dict[str, pulumi.Output[str]]
    rollback_alarm_names: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: BaselineAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:observability:BaselineAlarms", name, None, opts)
        self.alarms = {}
        for spec in alarm_specs(args):
            self.alarms[spec.role] = metric_alarm(
                f"{name}-{spec.suffix}", spec, pulumi.ResourceOptions(parent=self)
            )
        self.alarm_names = {role: alarm.name for role, alarm in self.alarms.items()}
        self.alarm_arns = {role: alarm.arn for role, alarm in self.alarms.items()}
        self.rollback_alarm_names = [self.alarm_names[role] for role in ROLLBACK_ROLES]
        register_all(self)
