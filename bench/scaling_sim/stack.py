"""Bridge from the project's typed stack settings to the simulation's `ScalingConfig`.

The project's `settings` module (the only reader of stack config) is imported lazily, so the
simulation runs without it when settings are given as flags. Every scaling-relevant value the
program deploys is read here, from the same settings object the program gets:

- every phase: `hosting.min_size`, `hosting.max_size`, `hosting.cpu_target` (the CPU policy)
  and `scaling.instance_warmup_seconds` (the group's default instance warmup);
- phase `growth` only (what `blueprint` deploys then): `scaling.requests_per_target`,
  `scaling.latency_p95_ms` with its alarm's `latency_datapoints_to_alarm` of
  `latency_evaluation_periods`, the step policy's +1 / +2 steps (`components.scaling`),
  `scaling.predictive` with `scheduling_buffer_seconds`. (A warm pool is refused by settings
  while the pipeline deploys with CodeDeploy, so no stack has one to simulate.)

`stack_notes` says what the stack sets that the simulation leaves out, and why.
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


# The stack's latency step policy (components/scaling.py `latency_steps`): +1 instance while
# p95 is up to twice the threshold, +2 beyond.
STACK_LATENCY_STEPS = (1, 2)


def params_from_settings(settings: Any, **extra: Any) -> ScalingConfig:
    """The stack's scaling as deployed, as a `ScalingConfig`; `extra` sets other fields.

    Outside the growth phase only the CPU target-tracking policy exists, whatever
    `scaling.*` says, because that is what the stack deploys (docs/scaling-simulation.md).
    """
    hosting = settings.hosting
    scaling = getattr(settings, "scaling", None)
    growth = scaling if _is_growth(settings) else None
    config = ScalingConfig(
        min_size=hosting.min_size,
        max_size=hosting.max_size,
        cpu_target=_optional_number(hosting.cpu_target),
        instance_warmup_s=(int(scaling.instance_warmup_seconds) if scaling is not None else 300),
    )
    if growth is not None:
        config = replace(
            config,
            requests_per_target=_optional_number(growth.requests_per_target),
            latency_p95_ms=_optional_number(growth.latency_p95_ms),
            latency_alarm_m=int(growth.latency_datapoints_to_alarm),
            latency_alarm_n=int(growth.latency_evaluation_periods),
            latency_step_add=STACK_LATENCY_STEPS[0],
            latency_step_add_far=STACK_LATENCY_STEPS[1],
            predictive=bool(growth.predictive),
            predictive_buffer_s=int(growth.scheduling_buffer_seconds),
        )
    return replace(config, **extra)


def stack_notes(settings: Any) -> list[str]:
    """What the stack file sets that this simulation does not play, each with the reason."""
    scaling = getattr(settings, "scaling", None)
    if scaling is None:
        return []
    notes = []
    if not _is_growth(settings):
        ignored = [
            f"requestsPerTarget {scaling.requests_per_target}",
            f"latencyP95Ms {scaling.latency_p95_ms}",
        ]
        if scaling.predictive:
            ignored.append("predictive")
        notes.append(
            f"groundwork:scaling ({', '.join(ignored)}) is not deployed before phase growth; "
            "only the CPU policy is simulated"
        )
    return notes


def phase_drops(settings: Any, flags: dict[str, Any]) -> list[str]:
    """Warnings for flags that ask for a policy the stack's phase does not deploy."""
    if _is_growth(settings):
        return []
    growth_only = {
        "requests_per_target": "--requests-per-target",
        "latency_p95_ms": "--latency-p95-ms",
        "predictive": "--predictive",
    }
    phase = getattr(getattr(settings, "phase", None), "value", getattr(settings, "phase", "?"))
    return [
        f"warning: {flag}: phase {phase} does not deploy this policy (growth only); "
        "simulating it anyway, as asked"
        for field, flag in growth_only.items()
        if flags.get(field) not in (None, False)
    ]


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
            f"({exc}). Run from the project root (where settings/ lives), pass --project-dir, "
            "or give the settings as flags (--min-size, --max-size, --cpu-target, ...)."
        ) from exc
    loader = getattr(module, "load_stack_file", None)
    if not callable(loader):
        raise StackError(
            f"--stack {stack}: settings has no load_stack_file(stack, project_dir); give "
            "the settings as flags instead"
        )
    try:
        return loader(stack, project_dir)
    except Exception as exc:  # the settings module's own errors already name key and value
        raise StackError(f"--stack {stack}: {exc}") from exc
