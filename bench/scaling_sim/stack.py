"""Bridge from the project's typed stack settings to the simulation's `ScalingConfig`.

The project's `settings` module (the only reader of stack config) is imported lazily, so the
simulation runs without it when settings are given as flags. The attributes read are exactly:
`hosting.min_size`, `hosting.max_size`, `hosting.cpu_target`, `scaling.requests_per_target`,
`scaling.latency_p95_ms`, `scaling.predictive`, and, when present, `phase`.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from .model import ParamsError, ScalingConfig


class StackError(RuntimeError):
    """The stack's settings could not be loaded; the message says why and what to do."""


def _is_growth(settings: Any) -> bool:
    """Request-count, latency and predictive policies exist only in the growth phase."""
    phase = getattr(settings, "phase", None)
    if phase is None:
        return True  # no phase on the object: take the scaling values as given
    value = getattr(phase, "value", phase)  # an Enum or a plain value
    if isinstance(value, str):
        return value.strip().lower() == "growth"
    if isinstance(value, int) and not isinstance(value, bool):
        return value >= 3
    raise ParamsError([f"groundwork:phase: cannot tell the phase from {phase!r}"])


def _optional_number(value: Any) -> float | None:
    return None if value is None else float(value)


def params_from_settings(settings: Any, **extra: Any) -> ScalingConfig:
    """The stack's scaling settings as a `ScalingConfig`; `extra` sets the other fields.

    Outside the growth phase only the CPU target-tracking policy exists, whatever
    `scaling.*` says, because that is what the stack deploys (docs/scaling-simulation.md).
    """
    hosting = settings.hosting
    scaling = getattr(settings, "scaling", None) if _is_growth(settings) else None
    config = ScalingConfig(
        min_size=hosting.min_size,
        max_size=hosting.max_size,
        cpu_target=_optional_number(hosting.cpu_target),
        requests_per_target=(
            _optional_number(scaling.requests_per_target) if scaling is not None else None
        ),
        latency_p95_ms=_optional_number(scaling.latency_p95_ms) if scaling is not None else None,
        predictive=bool(scaling.predictive) if scaling is not None else False,
    )
    return replace(config, **extra)


def load_stack_settings(stack: str, project_dir: Path) -> Any:
    """`settings.load_stack_file(stack, project_dir)` from the project, imported only now."""
    root = str(project_dir.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module("settings")
    except ImportError as exc:
        raise StackError(
            f"--stack {stack}: the project's settings module cannot be imported from {root} "
            f"({exc}). Run from the project root (where settings.py lives), pass --project-dir, "
            "or give the settings as flags (--min-size, --max-size, --cpu-target, ...)."
        ) from exc
    loader = getattr(module, "load_stack_file", None)
    if not callable(loader):
        raise StackError(
            f"--stack {stack}: settings.py has no load_stack_file(stack, project_dir); give "
            "the settings as flags instead"
        )
    try:
        return loader(stack, project_dir)
    except Exception as exc:  # the settings module's own errors already name key and value
        raise StackError(f"--stack {stack}: {exc}") from exc
