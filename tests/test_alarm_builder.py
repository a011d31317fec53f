"""Every CloudWatch metric alarm is an `AlarmSpec` built by one function, `alarms.metric_alarm`.

An AST walk over `components/` finds any other construction of `aws.cloudwatch.MetricAlarm`
(also through a from-import or an alias); it runs also on broken snippets. The spec's own
checks (`alarm_spec_problems`) get a sound case per alarm shape and one refused case per rule.
The behaviour snapshot proves the alarms stayed the same when they moved onto the builder.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from components import alarms
from components.alarms import AlarmSpec, ExpressionSpec, MetricSpec

ROOT = Path(__file__).resolve().parent.parent
BUILDER = ROOT / "components" / "alarms.py"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base is not None else None
    return None


def metric_alarm_constructions(source: str, module: str) -> list[str]:
    """`module:line` of every call that constructs a `MetricAlarm`: `aws.cloudwatch.MetricAlarm(`,
    `cloudwatch.MetricAlarm(`, or a name from-imported as `MetricAlarm` (under any alias)."""
    tree = ast.parse(source)
    aliases = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name == "MetricAlarm"
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name is not None and (name.endswith(".MetricAlarm") or name in aliases):
            found.append(f"{module}:{node.lineno}")
    return found


def test_only_the_builder_constructs_metric_alarms() -> None:
    problems = [
        p
        for f in sorted((ROOT / "components").glob("*.py"))
        if f != BUILDER
        for p in metric_alarm_constructions(f.read_text(), f.name)
    ]
    assert not problems, f"build these through alarms.metric_alarm(AlarmSpec): {problems}"


def test_the_builder_is_the_one_place() -> None:
    found = metric_alarm_constructions(BUILDER.read_text(), BUILDER.name)
    assert len(found) == 1, f"components/alarms.py should construct MetricAlarm once: {found}"


@pytest.mark.parametrize(
    "snippet",
    [
        'a = aws.cloudwatch.MetricAlarm("x", threshold=1)',
        'a = cloudwatch.MetricAlarm("x")',
        'from pulumi_aws.cloudwatch import MetricAlarm\na = MetricAlarm("x")',
        'from pulumi_aws.cloudwatch import MetricAlarm as Watch\na = Watch("x")',
    ],
)
def test_a_hand_built_metric_alarm_is_found(snippet: str) -> None:
    assert metric_alarm_constructions(snippet, "broken.py"), snippet


def test_annotations_and_the_builder_call_are_not_constructions() -> None:
    ok = (
        "def f(spec) -> aws.cloudwatch.MetricAlarm:\n"
        "    alarms: list[aws.cloudwatch.MetricAlarm] = []\n"
        '    return metric_alarm("x", spec, opts)\n'
    )
    assert metric_alarm_constructions(ok, "ok.py") == []


# ---- AlarmSpec ----------------------------------------------------------------------------


def _fixed(**changes: Any) -> AlarmSpec:
    """A sound single-metric alarm (a p95 latency), with `changes` applied."""
    fields: dict[str, Any] = dict(
        role="latency",
        suffix="latency",
        name="groundwork-t-latency",
        description="p95 latency",
        comparison="GreaterThanThreshold",
        threshold=0.5,
        treat_missing_data="notBreaching",
        evaluation_periods=5,
        datapoints_to_alarm=3,
        alarm_actions=(TOPIC,),
        namespace="AWS/ApplicationELB",
        metric_name="TargetResponseTime",
        extended_statistic="p95",
        dimensions={"LoadBalancer": "app/a/1"},
    )
    return AlarmSpec(**{**fields, **changes})


def _band(**changes: Any) -> AlarmSpec:
    """A sound anomaly-detection alarm, with `changes` applied."""
    fields: dict[str, Any] = dict(
        role="anomaly",
        suffix="anomaly",
        name="groundwork-t-anomaly",
        description="requests above the band",
        comparison="GreaterThanUpperThreshold",
        threshold_metric_id="ad1",
        treat_missing_data="notBreaching",
        evaluation_periods=3,
        alarm_actions=(TOPIC,),
        ok_actions=(TOPIC,),
        insufficient_data_actions=(TOPIC,),
        period=300,
        metrics=(MetricSpec("m1", "AWS/ApplicationELB", "RequestCount", "Sum", {}, True),),
        expressions=(ExpressionSpec("ad1", "ANOMALY_DETECTION_BAND(m1, 3)", "expected"),),
    )
    return AlarmSpec(**{**fields, **changes})


def test_a_single_metric_with_an_extended_statistic() -> None:
    inputs = alarms.alarm_inputs(_fixed())
    assert inputs == {
        "namespace": "AWS/ApplicationELB",
        "metric_name": "TargetResponseTime",
        "period": 60,
        "extended_statistic": "p95",
        "dimensions": {"LoadBalancer": "app/a/1"},
    }, inputs


def test_an_anomaly_band_returns_the_metric_and_the_band_at_the_alarm_period() -> None:
    queries = alarms.alarm_inputs(_band())["metric_queries"]
    assert [(q["id"], q["return_data"]) for q in queries] == [("m1", True), ("ad1", True)]
    assert queries[0]["metric"]["period"] == 300, queries[0]
    assert "dimensions" not in queries[0]["metric"], "empty dimensions are left out"
    assert queries[1]["expression"] == "ANOMALY_DETECTION_BAND(m1, 3)", queries[1]


def test_metric_math_watches_the_one_expression_that_returns_data() -> None:
    spec = _band(
        comparison="GreaterThanThreshold",
        threshold=0,
        threshold_metric_id=None,
        metrics=(
            MetricSpec("m1", "AWS/AutoScaling", "GroupDesiredCapacity", "Maximum", {"A": "g"}),
            MetricSpec("m2", "AWS/AutoScaling", "GroupInServiceInstances", "Minimum", {"A": "g"}),
        ),
        expressions=(ExpressionSpec("e1", "FILL(m1, 0) - FILL(m2, 0)", "short"),),
    )
    queries = alarms.alarm_inputs(spec)["metric_queries"]
    assert [q["id"] for q in queries if q["return_data"]] == ["e1"], queries


@pytest.mark.parametrize(
    ("build", "changes", "message"),
    [
        (_fixed, {"statistic": "Average"}, "one of statistic, extended_statistic"),
        (_fixed, {"extended_statistic": None}, "one of statistic, extended_statistic"),
        (_fixed, {"namespace": None}, "needs a namespace"),
        (_fixed, {"metric_name": None}, "either a single metric"),
        (_fixed, {"threshold": None}, "needs a threshold"),
        (_fixed, {"comparison": "GreaterThanUpperThreshold"}, "fixed-threshold alarm"),
        (_fixed, {"datapoints_to_alarm": 6}, "datapoints_to_alarm (6)"),
        (_fixed, {"treat_missing_data": "NotBreaching"}, "treat_missing_data 'NotBreaching'"),
        (_fixed, {"alarm_actions": ()}, "alarm_actions is empty"),
        (_band, {"threshold": 1.0}, "not both"),
        (_band, {"comparison": "GreaterThanThreshold"}, "with a threshold_metric_id"),
        (_band, {"threshold_metric_id": "m1"}, "must name an ANOMALY_DETECTION_BAND"),
        (_band, {"namespace": "AWS/ApplicationELB"}, "no namespace, statistic"),
        (_band, {"dimensions": {"LoadBalancer": "app/a/1"}}, "no namespace, statistic"),
        (_band, {"metric_name": "RequestCount"}, "either a single metric"),
        (
            _band,
            {"expressions": (ExpressionSpec("m1", "ANOMALY_DETECTION_BAND(m1, 3)", "band"),)},
            "must be unique",
        ),
        (
            _band,
            {"expressions": (ExpressionSpec("AD1", "ANOMALY_DETECTION_BAND(m1, 3)", "band"),)},
            "start with a lowercase letter",
        ),
        (
            _band,
            {
                "metrics": (
                    MetricSpec("m1", "AWS/ApplicationELB", "RequestCount", "Sum", {}, False),
                )
            },
            "2 queries must return data",
        ),
    ],
)
def test_an_unsound_spec_is_refused(build: Any, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="alarm groundwork-t-") as refused:
        build(**changes)
    assert message in str(refused.value), (changes, str(refused.value))


def test_a_refusal_survives_dataclasses_replace() -> None:
    # The baseline's error-log alarm is re-shaped with `replace`: the checks run again.
    with pytest.raises(ValueError, match="threshold_metric_id"):
        dataclasses.replace(_band(), threshold_metric_id="m2")
