"""Process control shared by the backup tools: SIGTERM/SIGINT become a clean failure, child
programs are always stopped, temp files live in a private directory that is always removed,
and a watchdog stops a child that makes no progress.

Why a client-side watchdog: server-side timeouts cannot catch a stalled database. pg_dump
sets its own `statement_timeout = 0`, and a stopped (SIGSTOP) or wedged server keeps the TCP
connection alive, so the client would wait forever. Progress is what the child reads and
writes (`/proc/<pid>/io` rchar + wchar, over its process tree, which counts socket traffic
too) plus the size of a file it writes; no change for `stall_seconds` ends it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from ops.awsenv import OpsError

# A stalled child is stopped after this long without progress (a single long statement,
# e.g. an index build during a restore, must fit; see docs/backups.md).
DEFAULT_STALL_SECONDS = 900.0
# psql runs short catalog statements; a stalled server must not hold cleanup for long.
PSQL_STALL_SECONDS = 60.0
KILL_GRACE_SECONDS = 5.0


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived; raised in the main thread so every cleanup unwinds.

    A BaseException, like KeyboardInterrupt, and not an OpsError: the handler raises it
    wherever the main thread happens to be, and library code there catches Exception.
    botocore's HTTP send wraps any Exception in HTTPClientError, which its retry policy
    treats as transient, so a signal that arrived while waiting for S3's response headers
    was retried into the same stalled request (later signals are ignored) and the run hung.
    The tools' own `except OpsError`/`except Exception` must not absorb it either.
    """

    def __init__(self, signame: str) -> None:
        super().__init__(f"interrupted by {signame}")
        self.signame = signame


@contextlib.contextmanager
def signals_as_errors() -> Iterator[None]:
    """Turn the first SIGTERM/SIGINT into `Interrupted`; later ones are ignored so the
    cleanup they started (stop children, drop the scratch database, remove temp files)
    runs to the end. Previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: list[str] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        if seen:
            return
        seen.append(signal.Signals(signum).name)
        raise Interrupted(seen[0])

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold SIGTERM/SIGINT back while cleanup runs, so a second signal cannot cut it short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    blocked = {signal.SIGTERM, signal.SIGINT}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def private_dir(prefix: str, parent: str | None) -> Path:
    """A new 0700 directory (mkdtemp's mode) under parent; a bad parent is one clear error."""
    if parent is not None and not Path(parent).is_dir():
        raise OpsError(f"--work-dir {parent} does not exist or is not a directory")
    try:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    except OSError as err:
        raise OpsError(
            f"cannot create a temp directory in {parent or tempfile.gettempdir()}: {err.strerror}"
        ) from None


def remove_dir(path: Path) -> None:
    with shielded():
        shutil.rmtree(path, ignore_errors=True)


def free_bytes(path: str | Path) -> int:
    """Free space for an unprivileged writer on path's file system."""
    return shutil.disk_usage(path).free


def _tree(pid: int) -> list[int]:
    """pid and its descendants (pg_restore --jobs forks workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            text = Path(f"/proc/{current}/task/{current}/children").read_text()
        except OSError:
            continue
        todo += [int(child) for child in text.split()]
    return found


def io_counter(pid: int) -> int:
    """Bytes read plus written by the process tree (sockets included); 0 where unreadable."""
    total = 0
    for member in _tree(pid):
        try:
            for line in Path(f"/proc/{member}/io").read_text().splitlines():
                if line.startswith(("rchar:", "wchar:")):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total


@dataclass
class Finished:
    returncode: int
    stderr: str
    stalled: bool


class _Watchdog(threading.Thread):
    def __init__(self, process: subprocess.Popen, stall: float, watch: Path | None) -> None:
        super().__init__(daemon=True)
        self.process, self.stall, self.watch = process, stall, watch
        self.stalled = False
        self.done = threading.Event()

    def progress(self) -> int:
        size = 0
        if self.watch is not None:
            with contextlib.suppress(OSError):
                size = self.watch.stat().st_size
        return io_counter(self.process.pid) + size

    def run(self) -> None:
        poll = max(0.05, min(1.0, self.stall / 8))
        last, idle = self.progress(), 0.0
        while not self.done.wait(poll):
            current = self.progress()
            idle = 0.0 if current != last else idle + poll
            last = current
            if idle >= self.stall:
                self.stalled = True
                stop(self.process)
                return


def stop(process: subprocess.Popen) -> None:
    """Terminate the child's process group, then kill it if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stall_seconds: float,
    stdin_text: str | None = None,
    on_stdout: Callable[[IO[bytes]], None] | None = None,
    watch: Path | None = None,
) -> Finished:
    """Run a child in its own process group under the watchdog; always stopped on the way out
    (an exception, a signal). stdout goes to on_stdout (in this thread) or is discarded."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE if on_stdout else subprocess.DEVNULL,
            stderr=errors,
            env=dict(env) if env is not None else None,
            start_new_session=True,  # our signals are ours to handle; we stop the group
        )
        dog = _Watchdog(process, stall_seconds, watch)
        dog.start()
        try:
            if stdin_text is not None:
                assert process.stdin is not None
                with contextlib.suppress(BrokenPipeError):
                    process.stdin.write(stdin_text.encode("utf-8"))
                    process.stdin.close()
            if on_stdout is not None:
                assert process.stdout is not None
                on_stdout(process.stdout)
            returncode = process.wait()
        finally:
            dog.done.set()
            with shielded():
                stop(process)
            dog.join()
        errors.seek(0)
        return Finished(returncode, errors.read().decode("utf-8", "replace"), dog.stalled)
