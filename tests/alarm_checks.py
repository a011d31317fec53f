"""Invariants of the baseline alarms, as check functions over a Recording.

alarm_problems: every metric alarm of the stack acts through the alerts topic on ALARM and OK,
states a missing-data treatment, returns one series, and watches a resource that exists in the
recording (or a metric a log metric filter publishes). unwatched_filter_problems: every metric
a filter publishes feeds an alarm that notifies someone. unnamed_alarm_problems: every alarm
carries an explicit name under the project and stack. roles maps the stack's alarmNames output
to its alarms.

Each returns problems naming the URN (empty = fine); tests/test_alarms.py runs them on the
shipped stacks and on deliberately broken copies.
"""

from __future__ import annotations

from typing import Any

from offline.model import RecordedResource, Recording
from tests.obs_helpers import METRIC_ALARM, METRIC_FILTER, children, value
from tests.recording_queries import as_list

ALARMS = "groundwork:observability:BaselineAlarms"
ALERTS = "groundwork:observability:Alerts"
TOPIC = "aws:sns/topic:Topic"
MISSING_DATA = {"breaching", "notBreaching", "ignore", "missing"}
BASE_ROLES = {
    "alb5xx", "target5xx", "unhealthyHosts", "targetResponseTime", "asgBelowMin", "errorLogRate"
}  # fmt: skip
DB_ROLES = {"dbCpu", "dbFreeStorage", "dbFreeableMemory", "dbConnections"}
# Which recorded resource (type, output) a CloudWatch dimension names.
DIMENSION_TARGETS: dict[str, tuple[str, str]] = {
    "LoadBalancer": ("aws:lb/loadBalancer:LoadBalancer", "arnSuffix"),
    "TargetGroup": ("aws:lb/targetGroup:TargetGroup", "arnSuffix"),
    "AutoScalingGroupName": ("aws:autoscaling/group:Group", "name"),
    "DBInstanceIdentifier": ("aws:rds/instance:Instance", "identifier"),
    "ProjectName": ("aws:codebuild/project:Project", "name"),
}


def _topic(rec: Recording) -> RecordedResource:
    alerts = [r for r in rec.of_type(TOPIC) if r.parent == _urn_of(rec, ALERTS)]
    return alerts[0] if alerts else rec.one(TOPIC)


def _urn_of(rec: Recording, component_type: str) -> str | None:
    found = [r.urn for r in rec if r.type == component_type]
    return found[0] if found else None


def _metrics(alarm: RecordedResource) -> list[dict[str, Any]]:
    """(namespace, metricName, dimensions) of the alarm's metric or of its math inputs."""
    if value(alarm, "metricQueries"):
        return [q["metric"] for q in value(alarm, "metricQueries") if q.get("metric")]
    return [
        {
            "namespace": value(alarm, "namespace"),
            "metricName": value(alarm, "metricName"),
            "dimensions": value(alarm, "dimensions") or {},
        }
    ]


def roles(rec: Recording) -> dict[str, RecordedResource]:
    by_name = {value(a, "name"): a for a in children(rec, ALARMS, METRIC_ALARM)}
    names = rec.outputs.get("alarmNames", {})
    return {role: by_name[name] for role, name in names.items() if name in by_name}


# ---- the checks --------------------------------------------------------------------------


def alarm_problems(rec: Recording) -> list[str]:
    """Every metric alarm in the stack: actions to the topic, missing data, real targets."""
    topic = _topic(rec)
    topic_arn = value(topic, "arn")
    identities = {
        key: {value(r, output) for r in rec.of_type(type_token)} - {None}
        for key, (type_token, output) in DIMENSION_TARGETS.items()
    }
    owners = {
        key: {r.urn for r in rec.of_type(type_token)}
        for key, (type_token, _) in DIMENSION_TARGETS.items()
    }
    log_metrics = {
        (value(f, "metricTransformation", "namespace"), value(f, "metricTransformation", "name"))
        for f in rec.of_type(METRIC_FILTER)
    }
    problems = []
    for alarm in rec.of_type(METRIC_ALARM):
        urn = alarm.urn
        if value(alarm, "actionsEnabled") is False:
            problems.append(f"{urn}: actions are disabled")
        for field in ("alarmActions", "okActions"):
            actions = as_list(value(alarm, field))
            if topic_arn not in actions or topic.urn not in alarm.property_dependencies.get(
                field, ()
            ):
                problems.append(f"{urn}: {field} {actions} do not include the alerts topic")
        if value(alarm, "treatMissingData") not in MISSING_DATA:
            problems.append(f"{urn}: treatMissingData is {value(alarm, 'treatMissingData')!r}")
        queries = value(alarm, "metricQueries") or []
        if queries and sum(bool(q.get("returnData")) for q in queries) != 1:
            problems.append(f"{urn}: metric math must return exactly one series")
        deps = set(alarm.property_dependencies.get("dimensions", ())) | set(
            alarm.property_dependencies.get("metricQueries", ())
        )
        for metric in _metrics(alarm):
            namespace, name = metric.get("namespace"), metric.get("metricName")
            dims = metric.get("dimensions") or {}
            if not str(namespace).startswith("AWS/"):
                if (namespace, name) not in log_metrics:
                    problems.append(f"{urn}: no metric filter publishes {namespace}/{name}")
                continue
            if not dims:
                problems.append(f"{urn}: {namespace}/{name} watches no resource (no dimensions)")
            for key, dim in dims.items():
                if key not in identities:
                    problems.append(f"{urn}: unknown dimension {key}")
                elif dim not in identities[key] or not deps & owners[key]:
                    problems.append(f"{urn}: {key}={dim} is no resource in the stack")
    return problems


def unwatched_filter_problems(rec: Recording) -> list[str]:
    """Every metric a log metric filter publishes feeds an alarm that notifies someone."""
    read = {
        (metric.get("namespace"), metric.get("metricName"))
        for alarm in rec.of_type(METRIC_ALARM)
        if as_list(value(alarm, "alarmActions"))
        for metric in _metrics(alarm)
    }
    problems = []
    for f in rec.of_type(METRIC_FILTER):
        key = (
            value(f, "metricTransformation", "namespace"),
            value(f, "metricTransformation", "name"),
        )
        if key not in read:
            problems.append(f"{f.urn}: {key[0]}/{key[1]} feeds no alarm")
    return problems


def unnamed_alarm_problems(rec: Recording) -> list[str]:
    """Every metric alarm carries an explicit name, prefixed with the project and stack."""
    prefix = f"{rec.project}-{rec.stack}-"
    return [
        f"{alarm.urn}: alarm name {alarm.input('name')!r} is not explicit under {prefix!r}"
        for alarm in rec.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if not str(alarm.input("name") or "").startswith(prefix)
    ]
