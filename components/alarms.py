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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
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
    """One metric of a metric-math alarm."""

    id: str
    namespace: str
    metric_name: str
    stat: str
    dimensions: Mapping[str, Any]


@dataclass(frozen=True)
class AlarmSpec:
    role: str
    suffix: str  # the alarm name after the prefix
    description: str
    comparison: str
    threshold: float
    treat_missing_data: str
    evaluation_periods: int
    datapoints_to_alarm: int
    period: int = 60
    # A single metric ...
    namespace: str | None = None
    metric_name: str | None = None
    statistic: str | None = None
    extended_statistic: str | None = None
    dimensions: Mapping[str, Any] = field(default_factory=dict)
    # ... or a metric-math expression over `metrics`.
    expression: str | None = None
    metrics: tuple[MetricSpec, ...] = ()


def alarm_specs(args: BaselineAlarmsArgs) -> list[AlarmSpec]:
    """Every baseline alarm the args call for (pure)."""
    return [*_web_specs(args), _error_log_rate(args), *_database_specs(args)]


def _web_specs(args: BaselineAlarmsArgs) -> list[AlarmSpec]:
    """The load balancer's, the targets' and the group's alarms."""
    t = args.thresholds
    m, n = t.datapoints_to_alarm, t.evaluation_periods
    alb = {"LoadBalancer": args.alb_arn_suffix}
    return [
        *_load_balancer_specs(args),
        AlarmSpec(
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
        AlarmSpec(
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
    return AlarmSpec(
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
        AlarmSpec(
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
            expression="FILL(target5xx, 0) + FILL(elb5xx, 0)",
            metrics=(
                MetricSpec(
                    "target5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", alb
                ),
                MetricSpec("elb5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", alb),
            ),
        ),
        AlarmSpec(
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
                AlarmSpec(
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
    spec = AlarmSpec(
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
        expression="MAX([FILL(errorlog, 0), FILL(runtimeerrors, 0)])",
        metrics=(
            MetricSpec("errorlog", ns, args.error_log_metric_name, "Sum", {}),
            MetricSpec("runtimeerrors", ns, args.runtime_error_metric_name, "Sum", {}),
        ),
    )


def _alarm_inputs(spec: AlarmSpec) -> dict[str, Any]:
    if spec.expression is not None:
        queries: list[dict[str, Any]] = [
            {
                "id": metric.id,
                "return_data": False,
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
        queries.append(
            {"id": "result", "expression": spec.expression, "label": spec.role,
             "return_data": True}
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
            self.alarms[spec.role] = aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.suffix}",
                name=f"{args.name_prefix}-{spec.suffix}",
                alarm_description=spec.description,
                comparison_operator=spec.comparison,
                threshold=spec.threshold,
                evaluation_periods=spec.evaluation_periods,
                datapoints_to_alarm=spec.datapoints_to_alarm,
                treat_missing_data=spec.treat_missing_data,
                actions_enabled=True,
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                **_alarm_inputs(spec),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.alarm_names = {role: alarm.name for role, alarm in self.alarms.items()}
        self.alarm_arns = {role: alarm.arn for role, alarm in self.alarms.items()}
        self.rollback_alarm_names = [self.alarm_names[role] for role in ROLLBACK_ROLES]
        register_all(self)
