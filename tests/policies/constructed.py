"""Record resources made with the real pulumi_aws constructors, as the engine receives them.

`constructed(build)` runs `build()` (a function that creates resources) under the offline
engine's recording monitor in preview mode, so the property maps, property dependencies and
unknowns are exactly what `pulumi preview` would hand the policy pack. Pulumi's runtime is
process-global: this resets it before and after, like `offline.recorder.record`.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi
from policy_builders import PROJECT, STACK
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from offline.model import RecordedResource
from offline.recorder import FakeCloud, RecordingMonitor

REGION = "eu-west-1"


def _reset() -> None:
    runtime_settings.ROOT.set(None)
    set_all_config({}, [])


def constructed(build: Callable[[], object], *, preview: bool = True) -> list[RecordedResource]:
    """Every custom resource (providers included) `build` registers, in registration order."""
    cloud = FakeCloud(region=REGION, preview=preview)
    monitor = RecordingMonitor(cloud, PROJECT, STACK)
    _reset()
    runtime_settings.ROOT.set(object())  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(cloud, PROJECT, STACK, preview, monitor=monitor)
    runtime_settings.ROOT.set(None)
    set_all_config({"aws:region": REGION}, [])
    try:
        _sync_await(run_in_stack(build))
    finally:
        _reset()
    return [r for r in monitor.records if r.custom]
