"""Scaling simulation: what a scaling setting does to capacity, latency and cost, before deploying.

`model` is the pure simulation, `loads` the load curves, `report` the numbers and text,
`plot` the PNG, `stack` the bridge from the project's settings, `cli` the command line.
"""

from .loads import LoadCurve, daily_with_spike, from_csv
from .model import (
    Activity,
    ModelConfig,
    ParamsError,
    ScalingConfig,
    SimResult,
    simulate,
    steady_capacity,
)
from .report import Summary, summarize
from .stack import StackError, params_from_settings

__all__ = [
    "Activity",
    "LoadCurve",
    "ModelConfig",
    "ParamsError",
    "ScalingConfig",
    "SimResult",
    "StackError",
    "Summary",
    "daily_with_spike",
    "from_csv",
    "params_from_settings",
    "simulate",
    "steady_capacity",
    "summarize",
]
