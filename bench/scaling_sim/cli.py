"""Command line: settings from a stack file and/or flags, a load curve, the report and the PNG."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from . import loads, report
from .model import (
    PREDICTIVE_HISTORY_DAYS,
    ModelConfig,
    ParamsError,
    ScalingConfig,
    SimResult,
    simulate,
)
from .stack import (
    StackError,
    load_stack_settings,
    params_from_settings,
    phase_drops,
    stack_notes,
)

DEFAULT_PLOT = Path("out/scaling-sim.png")
# 14 days of history for the forecast, plus the day it is judged on.
PREDICTIVE_DAYS = PREDICTIVE_HISTORY_DAYS + 1
_OFF = object()  # "--cpu-target none": the policy is absent (distinct from "flag not given")


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _number_or_off(text: str) -> object:
    if text.strip().lower() in {"none", "off"}:
        return _OFF
    return _number(text)


@dataclass(frozen=True)
class _Setting:
    field: str  # ScalingConfig field
    flag: str
    parse: Callable[[str], Any] | None  # None: a --x/--no-x switch
    help: str
    metavar: str | None = None


# Settings a user may change and compare (`--vs-<flag>`): the stack's keys and the group's
# warmup and latency-step details, which the stack sets but its config does not expose.
SETTINGS = (
    _Setting("min_size", "min-size", _whole, "groundwork:hosting.minSize [stack, else 2]", "N"),
    _Setting("max_size", "max-size", _whole, "groundwork:hosting.maxSize [stack, else 10]", "N"),
    _Setting(
        "cpu_target",
        "cpu-target",
        _number_or_off,
        "groundwork:hosting.cpuTarget, percent, or 'none' [stack, else 50]",
        "PCT|none",
    ),
    _Setting(
        "requests_per_target",
        "requests-per-target",
        _number_or_off,
        "groundwork:scaling.requestsPerTarget, requests per target per minute, or 'none' "
        "[stack, else none]",
        "N|none",
    ),
    _Setting(
        "latency_p95_ms",
        "latency-p95-ms",
        _number_or_off,
        "groundwork:scaling.latencyP95Ms: p95 alarm threshold for the step policy, or "
        "'none' [stack, else none]",
        "MS|none",
    ),
    _Setting("predictive", "predictive", None, "groundwork:scaling.predictive [stack, else off]"),
    _Setting("instance_warmup_s", "warmup", _whole, "default instance warmup, seconds [300]", "S"),
    _Setting(
        "latency_alarm_m",
        "latency-alarm-m",
        _whole,
        "latency alarm: datapoints over the threshold (M of N) [3]",
        "M",
    ),
    _Setting(
        "latency_alarm_n",
        "latency-alarm-n",
        _whole,
        "latency alarm: evaluation periods, minutes (M of N) [3]",
        "N",
    ),
    _Setting(
        "latency_step_add",
        "latency-step-add",
        _whole,
        "instances the latency step policy adds [1]",
        "K",
    ),
    _Setting(
        "latency_step_add_far",
        "latency-step-add-far",
        _whole,
        "instances the latency step policy adds beyond twice the threshold [stack: 2, else same]",
        "K",
    ),
    _Setting(
        "predictive_buffer_s",
        "predictive-buffer",
        _whole,
        "predictive SchedulingBufferTime, seconds [launch delay + warmup]",
        "S",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.scaling_sim",
        usage=(
            "%(prog)s [--stack NAME] [SETTING ...] [--vs-SETTING ...] [MODEL ...]\n"
            "       [--csv PATH | --days N --base N --peak N --spike-multiplier X "
            "--spike-start MIN ...]\n"
            "       [--plot PATH | --no-plot]"
        ),
        description=(
            "Simulate the web tier's Auto Scaling group against a load curve, minute by "
            "minute, to see what a scaling setting does before deploying it. No AWS needed."
        ),
        epilog=(
            "Examples:\n"
            "  python -m bench.scaling_sim --stack prod\n"
            "  python -m bench.scaling_sim --stack prod --requests-per-target 500 "
            "--vs-requests-per-target 1000\n"
            "  python -m bench.scaling_sim --min-size 2 --max-size 12 --cpu-target 60 "
            "--csv requests.csv\n"
            "Model and assumptions: docs/scaling-simulation.md"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_argument_group("stack")
    src.add_argument("--stack", help="read settings from Pulumi.<stack>.yaml (flags override)")
    src.add_argument(
        "--project-dir",
        type=Path,
        default=Path("."),
        help="directory holding Pulumi.yaml and settings/ [.]",
    )

    setting = p.add_argument_group("settings (override the stack file)")
    compare = p.add_argument_group(
        "compare (run B = A with these changed; summary side by side, both in the plot)"
    )
    for s in SETTINGS:
        if s.parse is None:
            setting.add_argument(
                f"--{s.flag}",
                dest=s.field,
                default=None,
                action=argparse.BooleanOptionalAction,
                help=s.help,
            )
            compare.add_argument(
                f"--vs-{s.flag}",
                dest=f"vs_{s.field}",
                default=None,
                action=argparse.BooleanOptionalAction,
                help=f"B: --{s.flag}",
            )
        else:
            setting.add_argument(
                f"--{s.flag}",
                dest=s.field,
                type=s.parse,
                default=None,
                metavar=s.metavar,
                help=s.help,
            )
            compare.add_argument(
                f"--vs-{s.flag}",
                dest=f"vs_{s.field}",
                type=s.parse,
                default=None,
                metavar=s.metavar,
                help=f"B: --{s.flag}",
            )

    m = ModelConfig()
    app = p.add_argument_group("app and instance model")
    app.add_argument(
        "--capacity-per-instance",
        type=_number,
        default=m.capacity_per_instance,
        help="requests per minute that put one instance at 100%% CPU "
        f"[{m.capacity_per_instance:g}]",
    )
    app.add_argument(
        "--base-latency-ms",
        type=_number,
        default=m.base_latency_ms,
        help=f"p95 latency of an idle instance [{m.base_latency_ms:g}]",
    )
    app.add_argument(
        "--latency-cap-ms",
        type=_number,
        default=m.latency_cap_ms,
        help=f"p95 of a saturated instance [{m.latency_cap_ms:g}]",
    )
    app.add_argument(
        "--launch-delay",
        type=_whole,
        default=m.launch_delay_s,
        help=f"seconds from launch to InService [{m.launch_delay_s}]",
    )
    app.add_argument(
        "--warming-serves-traffic",
        action="store_true",
        help="instances carry traffic during warmup (default: only after it)",
    )
    app.add_argument(
        "--initial-capacity",
        type=_whole,
        default=None,
        help="instances at minute 0 [steady state for the first minute's load]",
    )

    aws = p.add_argument_group("AWS internals (not documented by AWS; observed defaults)")
    aws.add_argument(
        "--scale-out-datapoints",
        type=_whole,
        default=m.scale_out_datapoints,
        help=f"minutes above target before scale-out [{m.scale_out_datapoints}]",
    )
    aws.add_argument(
        "--scale-in-datapoints",
        type=_whole,
        default=m.scale_in_datapoints,
        help=f"minutes below the low threshold before scale-in [{m.scale_in_datapoints}]",
    )
    aws.add_argument(
        "--scale-in-ratio",
        type=_number,
        default=m.scale_in_ratio,
        help=f"low threshold as a fraction of the target [{m.scale_in_ratio:g}]",
    )
    aws.add_argument(
        "--scale-in-step",
        type=_whole,
        default=m.scale_in_step,
        help=f"instances removed per scale-in at most [{m.scale_in_step}]",
    )
    aws.add_argument(
        "--scale-in-cooldown",
        type=_whole,
        default=m.scale_in_cooldown_s,
        help=f"seconds between scale-ins [{m.scale_in_cooldown_s}]",
    )

    load = p.add_argument_group("load (built-in daily cycle with a spike, or --csv)")
    load.add_argument("--csv", type=Path, help="per-minute request counts, one row per minute")
    load.add_argument("--csv-column", help="column of --csv to use [requests, count, or last]")
    load.add_argument(
        "--days",
        type=_whole,
        default=None,
        help=f"days to simulate [2; {PREDICTIVE_DAYS} with predictive scaling]",
    )
    load.add_argument(
        "--base", type=_number, default=1500.0, help="nightly low, requests/min [1500]"
    )
    load.add_argument(
        "--peak", type=_number, default=12000.0, help="daily peak, requests/min [12000]"
    )
    load.add_argument("--peak-hour", type=_number, default=14.0, help="hour of the peak [14]")
    load.add_argument(
        "--spike-multiplier", type=_number, default=3.0, help="load multiplier during the spike [3]"
    )
    load.add_argument(
        "--spike-start",
        type=_whole,
        default=None,
        help="minute the spike starts [10:00 on the last day]; with --csv, "
        "where recovery is measured from [first breach]",
    )
    load.add_argument(
        "--spike-minutes", type=_whole, default=30, help="spike duration, minutes [30]"
    )

    out = p.add_argument_group("output")
    out.add_argument(
        "--latency-slo-ms",
        type=_number,
        default=None,
        help="latency objective the report counts against [latencyP95Ms, else 500]",
    )
    out.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help=f"PNG path [{DEFAULT_PLOT}]")
    out.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    out.add_argument(
        "--table-every",
        type=_whole,
        default=None,
        help="minutes per table row [chosen for about 48 rows]",
    )
    out.add_argument("--ascii", action="store_true", help="ASCII sparklines")
    return p


def _overrides(args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in SETTINGS:
        value = getattr(args, prefix + s.field)
        if value is not None:
            out[s.field] = None if value is _OFF else value
    return out


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else f"{value}"


def _model(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig(
        capacity_per_instance=args.capacity_per_instance,
        base_latency_ms=args.base_latency_ms,
        latency_cap_ms=args.latency_cap_ms,
        launch_delay_s=args.launch_delay,
        warming_serves_traffic=args.warming_serves_traffic,
        scale_out_datapoints=args.scale_out_datapoints,
        scale_in_datapoints=args.scale_in_datapoints,
        scale_in_ratio=args.scale_in_ratio,
        scale_in_step=args.scale_in_step,
        scale_in_cooldown_s=args.scale_in_cooldown,
        initial_capacity=args.initial_capacity,
    )


def _load(args: argparse.Namespace, predictive: bool) -> loads.LoadCurve:
    if args.csv is not None:
        return loads.from_csv(args.csv, args.csv_column, args.spike_start)
    # Predictive scaling forecasts from 14 days of history: without --days, a run with it on
    # lasts long enough for the last day to have a full forecast.
    days = args.days if args.days is not None else (PREDICTIVE_DAYS if predictive else 2)
    return loads.daily_with_spike(
        days=days,
        base=args.base,
        peak=args.peak,
        peak_hour=args.peak_hour,
        spike_multiplier=args.spike_multiplier,
        spike_start=args.spike_start,
        spike_minutes=args.spike_minutes,
    )


def _can_encode(text: str, stream: TextIO) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def run(args: argparse.Namespace, out: TextIO) -> int:
    base = ScalingConfig()
    origin = "defaults"
    notes: list[str] = []
    flags = _overrides(args, "")
    if args.stack:
        stack_settings = load_stack_settings(args.stack, args.project_dir)
        base = params_from_settings(stack_settings)
        origin = f"stack {args.stack}"
        notes = stack_notes(stack_settings) + phase_drops(stack_settings, flags)
    a = replace(base, **flags)
    vs = _overrides(args, "vs_")
    b = replace(a, **vs) if vs else None
    model = _model(args)
    curve = _load(args, predictive=a.predictive or bool(b and b.predictive))

    runs: list[tuple[str, SimResult]] = [("A", simulate(curve.values, a, model))]
    if b is not None:
        runs.append(("B", simulate(curve.values, b, model)))
    target = report.latency_target(a, args.latency_slo_ms)
    summaries = [report.summarize(r, target, curve.spike_start) for _, r in runs]
    ascii_only = args.ascii or not _can_encode("▁█", out)

    w = out.write
    w("groundwork scaling simulation (one-minute steps; docs/scaling-simulation.md)\n")
    w(f"load:  {curve.source}\n")
    w(
        f"model: {model.capacity_per_instance:g} req/min saturate an instance, idle p95 "
        f"{model.base_latency_ms:g} ms (M/M/1, cap {model.latency_cap_ms:g} ms); scale-out after "
        f"{model.scale_out_datapoints} min over target, scale-in after "
        f"{model.scale_in_datapoints} min under {model.scale_in_ratio:g} x target, "
        f"-{model.scale_in_step} per {model.scale_in_cooldown_s}s\n"
    )
    w(f"cooldowns: {report.COOLDOWNS}\n")
    for note in notes:
        w(f"{note}\n" if note.startswith("warning:") else f"note:  {note}\n")
    changed = ", ".join(f"--{s.flag} {_show(vs[s.field])}" for s in SETTINGS if s.field in vs)
    for label, result in runs:
        w(
            f"{label} ({origin if label == 'A' else 'A with ' + changed}): "
            f"{report.describe(result.scaling, result)}\n"
        )
    for label, result in runs:
        w(f"\n{label}:\n")
        for line in report.sparklines(result, target, ascii_only=ascii_only):
            w(f"  {line}\n")
    w("\n")
    for line in report.table(runs[0][1], target, args.table_every):
        w(f"{line}\n")
    for (label, result), summary in zip(runs, summaries, strict=True):
        w(f"\nsummary {label}:\n")
        for name, value in report.summary_lines(summary):
            w(f"  {name:<24} {value}\n")
        for line in report.activity_lines(result, summary):
            w(f"  {line}\n")
    if b is not None:
        w("\ncompare:\n")
        for line in report.compare_lines(summaries[0], summaries[1]):
            w(f"  {line}\n")
    if not args.no_plot:
        from .plot import write_plot

        spike = (curve.spike_start, curve.spike_minutes) if curve.spike_start is not None else None
        path = write_plot(
            args.plot,
            runs,
            target,
            f"{curve.source}\nA: {report.describe(a, runs[0][1])}"
            + (f"\nB: {report.describe(b, runs[1][1])}" if b else ""),
            spike,
        )
        w(f"\nplot: {path}\n")
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    stream: TextIO = out or sys.stdout
    try:
        return run(args, stream)
    except (ParamsError, StackError) as exc:
        print(f"{parser.prog}: error:\n  " + str(exc).replace("\n", "\n  "), file=sys.stderr)
        return 2
