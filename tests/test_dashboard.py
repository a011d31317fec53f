"""The typed dashboard widgets render to the body CloudWatch's PutDashboard takes."""

from __future__ import annotations

import json

import pytest

from components import dashboard as dash

ALB = {"LoadBalancer": "app/web/123"}


def requests_widget(**kw: object) -> dash.MetricWidget:
    return dash.MetricWidget(
        "Requests",
        [dash.Metric("AWS/ApplicationELB", "RequestCount", ALB, id="m1")],
        stat="Sum",
        **kw,  # type: ignore[arg-type]
    )


def test_metric_renders_namespace_name_dimension_pairs_and_options() -> None:
    metric = dash.Metric(
        "AWS/ApplicationELB",
        "TargetResponseTime",
        {"LoadBalancer": "app/web/1", "TargetGroup": "targetgroup/tg/2"},
        stat="p95",
        label="p95",
        id="m1",
        visible=False,
        y_axis="right",
    )
    assert metric.render() == [
        "AWS/ApplicationELB",
        "TargetResponseTime",
        "LoadBalancer",
        "app/web/1",
        "TargetGroup",
        "targetgroup/tg/2",
        {"stat": "p95", "label": "p95", "id": "m1", "visible": False, "yAxis": "right"},
    ]
    # Without options there is no trailing options object (CloudWatch reads it as one).
    assert dash.Metric("AWS/EC2", "CPUUtilization").render() == ["AWS/EC2", "CPUUtilization"]


def test_expression_renders_as_single_options_object() -> None:
    expr = dash.Expression("100 * m2 / m1", "rate", "e1")
    assert expr.render() == [{"expression": "100 * m2 / m1", "label": "rate", "id": "e1"}]
    hidden = dash.Expression("m1 + m2", "sum", "e2", visible=False)
    assert hidden.render()[0]["visible"] is False


def test_widget_properties_carry_region_stat_period_view_and_threshold() -> None:
    widget = requests_widget(
        period=300, y_min=0, y_label="req", lines=[dash.HorizontalLine(10, "limit")]
    )
    body = dash.render([widget], "eu-central-1")
    props = body["widgets"][0]["properties"]
    assert props["region"] == "eu-central-1"
    assert (props["stat"], props["period"], props["view"]) == ("Sum", 300, "timeSeries")
    assert props["yAxis"] == {"left": {"min": 0, "label": "req", "showUnits": False}}
    assert props["annotations"] == {"horizontal": [{"value": 10, "label": "limit"}]}
    assert props["metrics"] == [
        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", "app/web/123", {"id": "m1"}]
    ]
    json.dumps(body)  # plain values render to JSON as they are


def test_layout_fills_rows_of_24_columns_and_wraps() -> None:
    widgets = [
        dash.TextWidget("# title"),  # full width, height 2
        requests_widget(width=8, height=6),
        requests_widget(width=8, height=4),
        requests_widget(width=8, height=6),
        requests_widget(width=12),  # does not fit on the full row: starts the next one
    ]
    placed = [
        (w["x"], w["y"], w["width"], w["height"]) for w in dash.render(widgets, "r")["widgets"]
    ]
    assert placed == [(0, 0, 24, 2), (0, 2, 8, 6), (8, 2, 8, 4), (16, 2, 8, 6), (0, 8, 12, 6)]
    types = [w["type"] for w in dash.render(widgets, "r")["widgets"]]
    assert types == ["text", "metric", "metric", "metric", "metric"]


def test_alarm_widget_lists_alarms_and_alarms_in_reads_them_back() -> None:
    body = dash.render([dash.AlarmStatusWidget("Alarms", ["arn:a", "arn:b"])], "r")
    assert body["widgets"][0]["type"] == "alarm"
    assert dash.alarms_in(body) == ["arn:a", "arn:b"]


def test_metrics_in_returns_metrics_with_dimensions_and_skips_expressions() -> None:
    widget = dash.MetricWidget(
        "5xx",
        [
            dash.Metric("AWS/ApplicationELB", "RequestCount", ALB, id="m1", visible=False),
            dash.Metric("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", ALB, id="m2"),
            dash.Expression("100 * m2 / m1", "rate", "e1"),
        ],
    )
    found = dash.metrics_in(json.loads(json.dumps(dash.render([widget], "r"))))
    assert [(m.namespace, m.name, m.dimensions) for m in found] == [
        ("AWS/ApplicationELB", "RequestCount", ALB),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", ALB),
    ]
    assert {m.widget for m in found} == {"5xx"}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: requests_widget(period=90), "period must be 1, 5, 10, 30 or a multiple of 60"),
        (lambda: requests_widget(width=25), "width must be within 1..24"),
        (lambda: requests_widget(height=0), "height must be within 1..1000"),
        (lambda: dash.MetricWidget("Empty", []), "has no metrics"),
        (
            lambda: dash.MetricWidget(
                "Twice",
                [dash.Metric("N", "A", id="m1"), dash.Metric("N", "B", id="m1")],
            ),
            "metric ids repeat",
        ),
        (
            lambda: dash.MetricWidget(
                "Dangling", [dash.Metric("N", "A", id="m1"), dash.Expression("m1 + m2", "x", "e1")]
            ),
            "uses unknown id 'm2'",
        ),
        (lambda: dash.Metric("N", "A", id="M1"), "must start with a lowercase letter"),
        (lambda: dash.Metric("", "A"), "needs a namespace and a name"),
        (lambda: dash.AlarmStatusWidget("None", []), "lists no alarms"),
        (lambda: dash.render([], "r"), "at least one widget"),
    ],
)
def test_invalid_widgets_are_refused_with_the_reason(build, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        build()
