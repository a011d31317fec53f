"""The offline engine's two changes to how Pulumi's runtime runs a program (nothing it records).

Both are installed only while `offline.recorder.record` runs the program (`installed()`):

- No source positions. The SDK walks the Python stack on every registration to tell the engine
  which source line created it. The recording keeps no source positions, so the walk (a tenth
  of the registration time) is skipped; an empty trace is what the SDK sends when it finds none.
- Fewer passes while waiting for the program's outputs. After the program returns, the SDK's
  `wait_for_rpcs` waits for every outstanding output task with `asyncio.wait(FIRST_COMPLETED)`
  over all of them, once per task that finishes: each pass attaches and detaches a callback
  on every pending task, quadratic in the program's few thousand outputs and about a fifth of
  the recording's time for prod. `wait_for_rpcs` here is the same loop with one change: a pass
  ends at the first task that fails or when all of them are done (FIRST_EXCEPTION), so a
  failure is still raised as soon as it happens, and outputs created meanwhile are picked up
  by the next pass, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pulumi.runtime import resource as runtime_resource
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime import stack as runtime_stack
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import _get_rpc_manager

# The runtime's settings; `lock` and `outputs` are context properties its type stubs do not show.
SETTINGS: Any = runtime_settings.SETTINGS


def _no_stack_trace() -> Any:
    return source_pb2.StackTrace()


async def _await_rpcs() -> None:
    """Await every queued RPC (the SDK's first phase, unchanged)."""
    rpc_manager = _get_rpc_manager()
    while rpc_manager.rpcs:
        await asyncio.sleep(0)  # let the RPCs just queued run
        try:
            await rpc_manager.rpcs.pop()
        except Exception as exn:
            if rpc_manager.unhandled_exception is not None:
                cause = rpc_manager.unhandled_exception.with_traceback(
                    rpc_manager.exception_traceback
                )
                raise exn from cause
            raise
    if rpc_manager.unhandled_exception is not None:
        raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)


async def _await_outputs() -> None:
    """Await every outstanding output task, raising the first failure as it happens."""
    while True:
        with SETTINGS.lock:
            if not SETTINGS.outputs:
                return
            pending = list(SETTINGS.outputs)
            SETTINGS.outputs.clear()  # outputs created while waiting go to the next pass
        done, not_done = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            await task  # re-raises a failure here
        if not_done:
            with SETTINGS.lock:
                SETTINGS.outputs.update(not_done)


async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """`pulumi.runtime.stack.wait_for_rpcs` with fewer passes over the outputs (see the module)."""
    while True:
        await _await_rpcs()
        if await_all_outstanding_tasks:
            await _await_outputs()
        if not _get_rpc_manager().rpcs:
            return


@contextmanager
def installed() -> Iterator[None]:
    """Both changes, for the duration of one recording (restored even if it fails)."""
    saved = runtime_resource._get_stack_trace, runtime_stack.wait_for_rpcs
    runtime_resource._get_stack_trace = _no_stack_trace
    runtime_stack.wait_for_rpcs = wait_for_rpcs
    try:
        yield
    finally:
        runtime_resource._get_stack_trace, runtime_stack.wait_for_rpcs = saved
