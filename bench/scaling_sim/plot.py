"""The PNG: load, capacity (desired and serving) and p95 latency against the target, over time.

matplotlib is imported here only, with the Agg backend, so the simulation and the text report
work on machines without a display or without matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .model import SimResult


def write_plot(
    path: Path,
    runs: Sequence[tuple[str, SimResult]],
    target_ms: float,
    title: str,
    spike: tuple[int, int | None] | None = None,
) -> Path:
    """Draw one or two labelled runs of the same load (the second dashed) into `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = runs[0][1]
    hours = [t / 60.0 for t in range(first.minutes)]
    fig, (ax_load, ax_cap, ax_lat) = plt.subplots(
        3, 1, figsize=(12, 9), sharex=True, gridspec_kw={"height_ratios": [1, 1.2, 1]}
    )
    ax_load.plot(hours, first.load, color="tab:gray", linewidth=1)
    ax_load.fill_between(hours, first.load, color="tab:gray", alpha=0.2)
    ax_load.set_ylabel("load (requests/min)")

    styles = ["-", "--"]
    for (label, result), style in zip(runs, styles, strict=False):
        ax_cap.step(
            hours,
            result.desired,
            where="post",
            linestyle=style,
            color="tab:orange",
            label=f"{label}: desired",
        )
        ax_cap.step(
            hours,
            result.serving,
            where="post",
            linestyle=style,
            color="tab:blue",
            label=f"{label}: serving (in service, warmed up)",
        )
        if any(v is not None for v in result.predictive_min):
            ax_cap.step(
                hours,
                [v if v is not None else float("nan") for v in result.predictive_min],
                where="post",
                linestyle=style,
                color="tab:green",
                linewidth=0.8,
                label=f"{label}: predictive forecast capacity",
            )
        ax_lat.plot(
            hours,
            result.p95_ms,
            linestyle=style,
            color="tab:purple",
            linewidth=1,
            label=f"{label}: p95 latency",
        )
    ax_cap.axhline(
        first.scaling.max_size, color="tab:red", linewidth=0.6, linestyle=":", label="max size"
    )
    ax_cap.set_ylabel("instances")
    ax_cap.legend(loc="upper left", fontsize=8)

    ax_lat.axhline(target_ms, color="tab:red", linewidth=1, label=f"target {target_ms:g} ms")
    ax_lat.set_yscale("log")
    ax_lat.set_ylabel("p95 latency (ms)")
    ax_lat.set_xlabel("hours since start")
    ax_lat.legend(loc="upper left", fontsize=8)

    if spike is not None:
        start, length = spike
        for ax in (ax_load, ax_cap, ax_lat):
            ax.axvspan(start / 60.0, (start + (length or 1)) / 60.0, color="tab:red", alpha=0.08)
    for ax in (ax_load, ax_cap, ax_lat):
        ax.grid(True, alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
