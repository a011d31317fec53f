"""Typed CloudWatch dashboard widgets and their rendering to the dashboard body JSON (pure).

A dashboard is a list of widgets (metric graphs, text, alarm status) that `layout` packs
left to right into CloudWatch's 24-column grid and `render` turns into the body
`PutDashboard` takes: `{"widgets": [{"type", "x", "y", "width", "height", "properties"}]}`,
with each metric as `[namespace, name, dimension, value, ..., {options}]` and each metric-math
expression as `[{"expression", "label", "id"}]`. Dimension values and alarm ARNs may be Pulumi
Outputs; the caller serialises the result with `pulumi.Output.json_dumps`.

`metrics_in` reads a rendered body back, so tests can check what a dashboard refers to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

GRID_WIDTH = 24
# Periods CloudWatch graphs accept: high-resolution ones, or whole minutes.
_HIGH_RES_PERIODS = (1, 5, 10, 30)
_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")


def _check_period(period: int, where: str) -> None:
    if period <= 0 or (period not in _HIGH_RES_PERIODS and period % 60):
        raise ValueError(f"{where}: period must be 1, 5, 10, 30 or a multiple of 60 (got {period})")


def _check_size(width: int, height: int, where: str) -> None:
    if not 1 <= width <= GRID_WIDTH:
        raise ValueError(f"{where}: width must be within 1..{GRID_WIDTH} (got {width})")
    if not 1 <= height <= 1000:
        raise ValueError(f"{where}: height must be within 1..1000 (got {height})")


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric on a graph; `stat` overrides the widget's statistic."""

    namespace: str
    name: str
    dimensions: Mapping[str, Any] = field(default_factory=dict)
    stat: str | None = None
    label: str | None = None
    id: str | None = None
    visible: bool = True
    y_axis: Literal["left", "right"] = "left"

    def __post_init__(self) -> None:
        if not self.namespace or not self.name:
            raise ValueError(f"metric needs a namespace and a name (got {self!r})")
        if self.id is not None and not _ID.match(self.id):
            raise ValueError(f"metric id {self.id!r} must start with a lowercase letter")

    def render(self) -> list[Any]:
        row: list[Any] = [self.namespace, self.name]
        for key, value in self.dimensions.items():
            row += [key, value]
        options: dict[str, Any] = {}
        if self.stat:
            options["stat"] = self.stat
        if self.label:
            options["label"] = self.label
        if self.id:
            options["id"] = self.id
        if not self.visible:
            options["visible"] = False
        if self.y_axis != "left":
            options["yAxis"] = self.y_axis
        if options:
            row.append(options)
        return row


@dataclass(frozen=True)
class Expression:
    """A metric-math expression over the widget's metrics (referenced by their ids)."""

    expression: str
    label: str
    id: str
    visible: bool = True

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"expression id {self.id!r} must start with a lowercase letter")
        if not self.expression.strip():
            raise ValueError(f"expression {self.id!r} is empty")

    def render(self) -> list[Any]:
        options: dict[str, Any] = {
            "expression": self.expression,
            "label": self.label,
            "id": self.id,
        }
        if not self.visible:
            options["visible"] = False
        return [options]


@dataclass(frozen=True)
class HorizontalLine:
    """A threshold drawn across a graph."""

    value: float
    label: str


@dataclass(frozen=True)
class MetricWidget:
    title: str
    metrics: Sequence[Metric | Expression]
    stat: str = "Average"
    period: int = 60
    view: Literal["timeSeries", "singleValue", "bar"] = "timeSeries"
    stacked: bool = False
    width: int = 12
    height: int = 6
    y_min: float | None = None
    y_label: str | None = None
    lines: Sequence[HorizontalLine] = ()

    def __post_init__(self) -> None:
        where = f"widget {self.title!r}"
        if not self.metrics:
            raise ValueError(f"{where}: has no metrics")
        _check_period(self.period, where)
        _check_size(self.width, self.height, where)
        ids = [m.id for m in self.metrics if m.id]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{where}: metric ids repeat ({ids})")
        known = set(ids)
        for m in self.metrics:
            if isinstance(m, Expression):
                # An expression may only use ids defined in the same widget.
                for ref in re.findall(r"\b([a-z][A-Za-z0-9_]*)\b", m.expression):
                    if re.fullmatch(r"m\d+|e\d+", ref) and ref not in known:
                        raise ValueError(f"{where}: expression {m.id!r} uses unknown id {ref!r}")

    def properties(self, region: str) -> dict[str, Any]:
        props: dict[str, Any] = {
            "title": self.title,
            "region": region,
            "view": self.view,
            "stacked": self.stacked,
            "stat": self.stat,
            "period": self.period,
            "metrics": [m.render() for m in self.metrics],
        }
        left: dict[str, Any] = {}
        if self.y_min is not None:
            left["min"] = self.y_min
        if self.y_label:
            left["label"] = self.y_label
            left["showUnits"] = False
        if left:
            props["yAxis"] = {"left": left}
        if self.lines:
            props["annotations"] = {
                "horizontal": [{"value": line.value, "label": line.label} for line in self.lines]
            }
        return props


@dataclass(frozen=True)
class TextWidget:
    markdown: str
    width: int = GRID_WIDTH
    height: int = 2

    def __post_init__(self) -> None:
        _check_size(self.width, self.height, "text widget")

    def properties(self, region: str) -> dict[str, Any]:
        return {"markdown": self.markdown}


@dataclass(frozen=True)
class AlarmStatusWidget:
    title: str
    alarms: Sequence[Any]  # alarm ARNs (strings or Outputs)
    width: int = GRID_WIDTH
    height: int = 3

    def __post_init__(self) -> None:
        _check_size(self.width, self.height, f"alarm widget {self.title!r}")
        if not self.alarms:
            raise ValueError(f"alarm widget {self.title!r}: lists no alarms")

    def properties(self, region: str) -> dict[str, Any]:
        return {"title": self.title, "alarms": list(self.alarms)}


Widget = MetricWidget | TextWidget | AlarmStatusWidget
_TYPES: dict[type, str] = {MetricWidget: "metric", TextWidget: "text", AlarmStatusWidget: "alarm"}


def layout(widgets: Sequence[Widget]) -> list[tuple[Widget, int, int]]:
    """(widget, x, y): widgets fill rows left to right; one that does not fit starts a new row."""
    placed: list[tuple[Widget, int, int]] = []
    x = y = row_height = 0
    for widget in widgets:
        if x + widget.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        placed.append((widget, x, y))
        x += widget.width
        row_height = max(row_height, widget.height)
    return placed


def render(widgets: Sequence[Widget], region: str) -> dict[str, Any]:
    """The dashboard body for `widgets` (values may still be Outputs)."""
    if not widgets:
        raise ValueError("a dashboard needs at least one widget")
    return {
        "widgets": [
            {
                "type": _TYPES[type(w)],
                "x": x,
                "y": y,
                "width": w.width,
                "height": w.height,
                "properties": w.properties(region),
            }
            for w, x, y in layout(widgets)
        ]
    }


@dataclass(frozen=True)
class MetricReference:
    """A metric a rendered dashboard graphs: where, what, and for which resource."""

    widget: str
    namespace: str
    name: str
    dimensions: dict[str, Any]


def metrics_in(body: Mapping[str, Any]) -> list[MetricReference]:
    """Every metric (not expression) in a rendered body, with its dimensions."""
    found: list[MetricReference] = []
    for widget in body.get("widgets", []):
        if widget.get("type") != "metric":
            continue
        props = widget.get("properties", {})
        for row in props.get("metrics", []):
            parts = [p for p in row if not isinstance(p, dict)]
            if len(parts) < 2:
                continue  # an expression
            namespace, name, *dims = parts
            found.append(
                MetricReference(
                    widget=str(props.get("title", "")),
                    namespace=namespace,
                    name=name,
                    dimensions=dict(zip(dims[0::2], dims[1::2], strict=True)),
                )
            )
    return found


def alarms_in(body: Mapping[str, Any]) -> list[Any]:
    """Every alarm ARN the body's alarm-status widgets show."""
    return [
        arn
        for widget in body.get("widgets", [])
        if widget.get("type") == "alarm"
        for arn in widget.get("properties", {}).get("alarms", [])
    ]
