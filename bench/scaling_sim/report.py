"""What a run means: the summary numbers and their text rendering (table, sparklines, compare)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .model import ScalingConfig, SimResult

# When the stack has no latency policy, the report still needs a line to count breaches against.
DEFAULT_LATENCY_OBJECTIVE_MS = 500.0
# Minutes p95 must stay at or under the target for the service to count as recovered: long
# enough that a brief dip between two breaches is not called a recovery.
RECOVERY_HOLD_MINUTES = 15
# The stack sets no cooldown. AWS's documented behaviour for what it deploys: the group's
# default cooldown (300 s) applies to simple scaling policies only, of which it has none;
# target tracking and step scaling use the default instance warmup instead
# (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-scaling-cooldowns.html).
COOLDOWNS = (
    "none set by the stack; the default cooldown (300 s) applies only to simple scaling, which "
    "it does not deploy; target tracking and step scaling wait for the instance warmup"
)

_BLOCKS = "▁▂▃▄▅▆▇█"
_ASCII = "_.:-=+*#"


@dataclass(frozen=True)
class Summary:
    minutes: int
    latency_target_ms: float
    peak_load: float
    peak_load_minute: int
    peak_serving: int
    peak_desired: int
    instance_hours: float
    minutes_above_target: int
    spike_start: int | None  # where recovery is measured from (the spike, else first breach)
    first_breach: int | None  # first minute over target at or after spike_start
    recovered_at: int | None  # first minute of `hold` minutes in a row at or under target
    hold: int  # the recovery window, minutes
    scale_outs: int
    scale_ins: int

    @property
    def recovery_minutes(self) -> int | None:
        """Minutes from the spike until p95 is back under target; 0 if it never went over.

        None when it went over and had not recovered by the end of the run.
        """
        if self.first_breach is None:
            return 0
        if self.recovered_at is None or self.spike_start is None:
            return None
        return self.recovered_at - self.spike_start


def latency_target(scaling: ScalingConfig, objective_ms: float | None = None) -> float:
    if objective_ms is not None:
        return objective_ms
    if scaling.latency_p95_ms is not None:
        return float(scaling.latency_p95_ms)
    return DEFAULT_LATENCY_OBJECTIVE_MS


def summarize(
    result: SimResult,
    target_ms: float,
    spike_start: int | None = None,
    hold: int = RECOVERY_HOLD_MINUTES,
) -> Summary:
    """Numbers of one run. Recovery is measured from `spike_start` (else the first breach)."""
    p95 = result.p95_ms
    n = result.minutes
    above = [v > target_ms for v in p95]
    start = (
        spike_start
        if spike_start is not None
        else next((t for t, a in enumerate(above) if a), None)
    )
    first = None
    recovered = None
    if start is not None:
        first = next((t for t in range(start, n) if above[t]), None)
        if first is not None:
            # Back to normal = `hold` whole minutes in a row under target; a run that ends
            # sooner has not shown a recovery.
            recovered = next(
                (r for r in range(first + 1, n - hold + 1) if not any(above[r : r + hold])), None
            )
    peak_minute = max(range(n), key=lambda t: result.load[t])
    return Summary(
        minutes=n,
        latency_target_ms=target_ms,
        peak_load=result.load[peak_minute],
        peak_load_minute=peak_minute,
        peak_serving=max(result.serving),
        peak_desired=max(result.desired),
        instance_hours=result.instance_hours(),
        minutes_above_target=sum(above),
        spike_start=start,
        first_breach=first,
        recovered_at=recovered,
        hold=hold,
        scale_outs=sum(1 for a in result.activities if a.new > a.old),
        scale_ins=sum(1 for a in result.activities if a.new < a.old),
    )


def clock(minute: int) -> str:
    """Minute index as `d<day> HH:MM`, day 1 being the first day of the run."""
    day, rest = divmod(minute, 1440)
    return f"d{day + 1} {rest // 60:02d}:{rest % 60:02d}"


def describe(scaling: ScalingConfig, result: SimResult) -> str:
    model = result.model
    parts = [f"size {scaling.min_size}..{scaling.max_size}"]
    if scaling.cpu_target is not None:
        parts.append(f"CPU target {scaling.cpu_target:g}%")
    if scaling.requests_per_target is not None:
        parts.append(f"{scaling.requests_per_target:g} req/target/min")
    if scaling.latency_p95_ms is not None:
        parts.append(
            f"p95 step +{scaling.latency_step_add} when {scaling.latency_alarm_m} of "
            f"{scaling.latency_alarm_n} min > {scaling.latency_p95_ms:g} ms"
        )
    parts.append("predictive on" if scaling.predictive else "predictive off")
    parts.append(f"warmup {scaling.instance_warmup_s}s, launch {model.launch_delay_s}s")
    return ", ".join(parts)


def summary_lines(summary: Summary) -> list[tuple[str, str]]:
    s = summary
    if s.first_breach is None:
        recovery = "0 min (p95 never above target"
        recovery += f" after {clock(s.spike_start)})" if s.spike_start is not None else ")"
    elif s.recovered_at is None:
        recovery = f"not recovered by the end of the run (over target from {clock(s.first_breach)})"
    else:
        recovery = (
            f"{s.recovery_minutes} min (from {clock(s.spike_start or 0)}; under "
            f"{s.latency_target_ms:g} ms from {clock(s.recovered_at)} for {s.hold}+ min)"
        )
    return [
        ("peak load", f"{s.peak_load:,.0f} req/min at {clock(s.peak_load_minute)}"),
        ("peak capacity", f"{s.peak_serving} serving, {s.peak_desired} desired"),
        ("instance-hours", f"{s.instance_hours:.1f}"),
        (f"minutes p95 > {s.latency_target_ms:g} ms", f"{s.minutes_above_target}"),
        ("recovery after spike", recovery),
        ("scaling activities", f"{s.scale_outs} out, {s.scale_ins} in"),
    ]


def activity_lines(result: SimResult, summary: Summary, limit: int = 8) -> list[str]:
    """Which policy changed capacity and when: the activities from the spike (else the start)."""
    start = summary.spike_start or 0
    shown = [a for a in result.activities if a.minute >= start][:limit]
    if not shown:
        return []
    lines = [f"activities from {clock(start)} (which policy acted):"]
    lines += [f"  {clock(a.minute)}  {a.old} -> {a.new}  {a.cause}" for a in shown]
    rest = sum(1 for a in result.activities if a.minute >= start) - len(shown)
    if rest > 0:
        lines.append(f"  ... {rest} more")
    return lines


def sparkline(
    values: Sequence[float], width: int, ascii_only: bool = False, top: float | None = None
) -> str:
    """`values` squeezed into `width` cells (max per cell), scaled 0..top."""
    ramp = _ASCII if ascii_only else _BLOCKS
    if not values:
        return ""
    cells = min(width, len(values))
    size = math.ceil(len(values) / cells)
    maxima = [max(values[i : i + size]) for i in range(0, len(values), size)]
    top = top if top is not None else max(maxima)
    if top <= 0:
        return ramp[0] * len(maxima)
    return "".join(ramp[min(len(ramp) - 1, int(v / top * (len(ramp) - 1) + 0.5))] for v in maxima)


def _bucket(n: int, rows: int = 48) -> int:
    for size in (1, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440):
        if math.ceil(n / size) <= rows:
            return size
    return 1440


def table(result: SimResult, target_ms: float, every: int | None = None) -> list[str]:
    """One row per `every` minutes: mean load, capacity range, worst CPU and p95, breaches."""
    every = every or _bucket(result.minutes)
    head = (
        f"{'time':<9} {'load/min':>9} {'desired':>7} {'serving':>7} "
        f"{'CPU%':>5} {'p95 ms':>7} {'>target':>7}"
    )
    lines = [head, "-" * len(head)]
    for start in range(0, result.minutes, every):
        end = min(result.minutes, start + every)
        window = range(start, end)

        def span(series: Sequence[int], w: range = window) -> str:
            low, high = min(series[t] for t in w), max(series[t] for t in w)
            return f"{low}" if low == high else f"{low}-{high}"

        over = sum(1 for t in window if result.p95_ms[t] > target_ms)
        lines.append(
            f"{clock(start):<9} {sum(result.load[t] for t in window) / len(window):>9,.0f} "
            f"{span(result.desired):>7} {span(result.serving):>7} "
            f"{max(result.cpu[t] for t in window):>5.0f} "
            f"{max(result.p95_ms[t] for t in window):>7,.0f} "
            f"{over if over else '':>7}".rstrip()
        )
    return lines


def sparklines(
    result: SimResult, target_ms: float, width: int = 72, ascii_only: bool = False
) -> list[str]:
    cap = max(max(result.desired), 1)
    over = [1.0 if v > target_ms else 0.0 for v in result.p95_ms]
    return [
        f"load     {sparkline(result.load, width, ascii_only)}  max {max(result.load):,.0f}/min",
        f"desired  {sparkline(result.desired, width, ascii_only, cap)}  max {max(result.desired)}",
        f"serving  {sparkline(result.serving, width, ascii_only, cap)}  max {max(result.serving)}",
        f"p95>tgt  {sparkline(over, width, ascii_only, 1.0)}  ({sum(1 for v in over if v)} min)",
    ]


def compare_lines(a: Summary, b: Summary) -> list[str]:
    rows = [
        ("peak serving", f"{a.peak_serving}", f"{b.peak_serving}"),
        ("peak desired", f"{a.peak_desired}", f"{b.peak_desired}"),
        ("instance-hours", f"{a.instance_hours:.1f}", f"{b.instance_hours:.1f}"),
        (
            f"min p95 > {a.latency_target_ms:g} ms",
            f"{a.minutes_above_target}",
            f"{b.minutes_above_target}",
        ),
        ("recovery (min)", _recovery_cell(a), _recovery_cell(b)),
        ("scale-outs / ins", f"{a.scale_outs} / {a.scale_ins}", f"{b.scale_outs} / {b.scale_ins}"),
    ]
    head = f"{'':<22} {'A':>14} {'B':>14}"
    return [head] + [f"{name:<22} {x:>14} {y:>14}" for name, x, y in rows]


def _recovery_cell(s: Summary) -> str:
    return "not recovered" if s.recovery_minutes is None else f"{s.recovery_minutes}"
