"""Load curves for the simulation: a built-in daily cycle with a spike, or a CSV of real counts.

A load curve is one number per minute: the requests the ALB receives in that minute (the
same unit as CloudWatch's per-minute `RequestCount` Sum).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from .model import ParamsError

MINUTES_PER_DAY = 1440
MAX_MINUTES = 31 * MINUTES_PER_DAY  # a month at one-minute resolution is plenty


@dataclass(frozen=True)
class LoadCurve:
    values: tuple[float, ...]
    source: str  # what produced it, for the report
    spike_start: int | None = None  # minute the spike begins, when known
    spike_minutes: int | None = None


def daily_with_spike(
    days: int = 2,
    base: float = 1500.0,
    peak: float = 12000.0,
    peak_hour: float = 14.0,
    spike_multiplier: float = 3.0,
    spike_start: int | None = None,
    spike_minutes: int = 30,
) -> LoadCurve:
    """A smooth daily cycle (base at peak_hour - 12 h, peak at peak_hour) times a square spike.

    load(t) = base + (peak - base) * (1 + cos(2 pi (time_of_day - peak_hour) / 24 h)) / 2,
    multiplied by `spike_multiplier` for minutes [spike_start, spike_start + spike_minutes).
    The spike defaults to 10:00 on the last day: a morning surprise on a day whose normal
    cycle the previous day has already shown (which is what predictive scaling learns from).
    """
    problems = []
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 31:
        problems.append(f"--days must be a whole number in [1, 31] (got {days!r})")
    if not (isinstance(base, int | float) and math.isfinite(base) and base >= 0):
        problems.append(f"--base must be >= 0 requests per minute (got {base!r})")
    if not (isinstance(peak, int | float) and math.isfinite(peak) and peak >= base):
        problems.append(f"--peak must be >= --base (got {peak!r} < {base!r})")
    if not (isinstance(peak_hour, int | float) and 0 <= peak_hour < 24):
        problems.append(f"--peak-hour must be in [0, 24) (got {peak_hour!r})")
    if not (
        isinstance(spike_multiplier, int | float)
        and math.isfinite(spike_multiplier)
        and spike_multiplier >= 0
    ):
        problems.append(f"--spike-multiplier must be >= 0 (got {spike_multiplier!r})")
    if not isinstance(spike_minutes, int) or spike_minutes < 0:
        problems.append(f"--spike-minutes must be a whole number >= 0 (got {spike_minutes!r})")
    if problems:
        raise ParamsError(problems)
    n = days * MINUTES_PER_DAY
    if spike_start is None:
        spike_start = (days - 1) * MINUTES_PER_DAY + 10 * 60
    if not isinstance(spike_start, int) or not 0 <= spike_start < n:
        raise ParamsError(
            [
                f"--spike-start must be a minute in [0, {n - 1}] for {days} day(s) "
                f"(got {spike_start!r})"
            ]
        )
    values = []
    for t in range(n):
        phase = 2 * math.pi * ((t % MINUTES_PER_DAY) / 60.0 - peak_hour) / 24.0
        value = base + (peak - base) * (1 + math.cos(phase)) / 2
        if spike_start <= t < spike_start + spike_minutes:
            value *= spike_multiplier
        values.append(value)
    return LoadCurve(
        tuple(values),
        f"daily cycle {base:g}..{peak:g} req/min peaking at {peak_hour:g}h, {days} day(s), "
        f"spike x{spike_multiplier:g} for {spike_minutes} min",
        spike_start,
        spike_minutes,
    )


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def from_csv(path: Path, column: str | None = None, spike_start: int | None = None) -> LoadCurve:
    """Per-minute request counts from a CSV, one row per minute, in order.

    With a header row, the column is `column`, else one named `requests` or `count`, else the
    last one (so `timestamp,requests` exports work as they are). Without a header (the first
    row is numeric), the last column is used and `column` must not be given.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ParamsError([f"--csv {path}: cannot read it ({exc.strerror or exc})"]) from exc
    rows = [row for row in csv.reader(text.splitlines()) if any(c.strip() for c in row)]
    if not rows:
        raise ParamsError([f"--csv {path}: the file has no rows"])
    header = rows[0]
    has_header = _number(header[-1].strip()) is None
    if has_header:
        names = [h.strip() for h in header]
        lowered = [h.lower() for h in names]
        if column is not None:
            if column not in names:
                raise ParamsError(
                    [
                        f"--csv-column {column!r} is not a column of {path} (columns: "
                        f"{', '.join(names)})"
                    ]
                )
            index = names.index(column)
        else:
            index = next(
                (lowered.index(n) for n in ("requests", "count") if n in lowered), len(names) - 1
            )
        body, first_line = rows[1:], 2
    else:
        if column is not None:
            raise ParamsError([f"--csv-column {column!r} given but {path} has no header row"])
        index, body, first_line = -1, rows, 1
    values: list[float] = []
    problems: list[str] = []
    for line, row in enumerate(body, start=first_line):
        cell = row[index].strip() if -len(row) <= index < len(row) else ""
        value = _number(cell)
        if value is None or value < 0:
            problems.append(
                f"--csv {path} line {line}: request count must be a number >= 0 (got {cell!r})"
            )
        else:
            values.append(value)
        if len(problems) >= 5:
            break
    if problems:
        raise ParamsError(problems)
    if not values:
        raise ParamsError([f"--csv {path}: no data rows after the header"])
    if len(values) > MAX_MINUTES:
        raise ParamsError(
            [f"--csv {path}: {len(values)} minutes is more than the {MAX_MINUTES} supported"]
        )
    if spike_start is not None and not 0 <= spike_start < len(values):
        raise ParamsError(
            [
                f"--spike-start must be a minute in [0, {len(values) - 1}] for {path} "
                f"(got {spike_start})"
            ]
        )
    return LoadCurve(tuple(values), f"{path.name} ({len(values)} min)", spike_start, None)
