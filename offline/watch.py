"""`python -m offline preview --watch`: a warm process for the edit -> preview loop.

The SDK stays imported and the policy pack stays running between runs, so a re-run costs the
program and the policies, not the interpreter, the ~20 `pulumi_aws` modules and the pack's
start. No module state survives from one run to the next: the project's modules (blueprint,
settings, components, ops, ...) that ran are forgotten, and the next run uses modules imported
afresh, either by settle() while the session waits for an edit (kept only if nothing but the
stack file changed since) or by the run itself; the SDK and the offline engine stay loaded.
A stack-file edit reaches the running pack as a new ConfigureStack (the pack takes its stack
config from that request when this session starts it, see policies/rules/sdk.py); a change to
`policies/` restarts it, since its rules are imported at start. Each resource is judged while
the program registers it. After the first full report, each run prints only what changed:
resources added, removed or changed (with the changed input keys), and verdicts that appeared
or went away.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import importlib
import json
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from offline import stackfile, tree, verdicts
from offline.analyzer import (
    AnalysisResult,
    AnalyzerError,
    PolicyPackProcess,
    StreamingAnalysis,
    load_policy_config,
)
from offline.model import ARCHIVE_SIG, ASSET_SIG, SIG_KEY, Recording
from offline.recorder import program_environment, record

# The pack's switch for taking stack config from ConfigureStack (policies/rules/sdk.py; the
# offline engine does not import the pack's modules).
STACK_CONFIG_SOURCE_ENV = "GROUNDWORK_STACK_CONFIG_SOURCE"

# What a recording depends on (a stack file is added per session). The offline engine is
# loaded once per process and is not reloaded.
WATCHED = (
    "Pulumi.yaml",
    "__main__.py",
    "blueprint.py",
    "settings.py",
    "settings",
    "components",
    "ops",
    "app",
    "policies",
)
# Modules under these project folders stay loaded between runs: the engine, tests, tools.
_KEEP = ("offline", "tests", "bench", "venv", ".venv")
Fingerprint = dict[Path, tuple[int, int]]


def fingerprint(paths: Iterable[Path]) -> Fingerprint:
    """(mtime_ns, size) of every file under `paths` (bytecode caches excluded)."""
    out: Fingerprint = {}
    for path in paths:
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts:
                stat = f.stat()
                out[f] = (stat.st_mtime_ns, stat.st_size)
    return out


def changed_files(before: Fingerprint, after: Fingerprint) -> list[Path]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def _project_module_names(project_dir: Path) -> set[str]:
    """Top-level modules and packages the project provides (blueprint, settings, components...)."""
    names = {p.stem for p in project_dir.glob("*.py") if p.stem != "__main__"}
    names |= {d.name for d in project_dir.iterdir() if (d / "__init__.py").is_file()}
    return names - set(_KEEP)


def forget_project_modules(project_dir: Path) -> list[str]:
    """Drop the project's own modules from `sys.modules`, so the next run imports them anew.

    By name as well as by file: a module of the same name loaded from elsewhere (another
    checkout in the same process) would otherwise shadow the project's own. Returns the names
    in import order.
    """
    names = _project_module_names(project_dir)
    gone = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name.split(".")[0] in names or (file and _in_project(file, project_dir)):
            del sys.modules[name]
            gone.append(name)
    return gone


@functools.cache
def _in_project(file: str, project_dir: Path) -> bool:
    """Whether a module file is the project's own (not the engine's, the tests' or the venv's).

    Cached: resolving the ~1,500 SDK module paths on every run cost a tenth of a re-run, and a
    module's file does not move while the session runs.
    """
    path = Path(file).resolve()
    keep = [project_dir / name for name in _KEEP]
    return path.is_relative_to(project_dir) and not any(map(path.is_relative_to, keep))


def import_fresh(project_dir: Path, names: Iterable[str]) -> bool:
    """Import the project modules `names` anew, in order, as the program's run would.

    Fresh modules have never run the program, so using them for the next run leaks nothing;
    importing them ahead moves their cost (dataclass and pydantic class creation) off the run.
    False (with the partial import forgotten) if one fails; the run then imports and reports.
    """
    try:
        with program_environment(project_dir):
            for name in names:
                importlib.import_module(name)
    except Exception:  # the run imports again and reports the error itself
        forget_project_modules(project_dir)
        return False
    return True


@dataclass
class Snapshot:
    """What one run produced, in the form the diff compares."""

    inputs: dict[str, str]  # urn -> canonical JSON of its inputs
    verdicts: set[tuple[str, str, str, str]] = field(default_factory=set)

    @classmethod
    def of(
        cls, recording: Recording, result: AnalysisResult | None, root: Path | None = None
    ) -> Snapshot:
        """`root`: the directory the program ran in, where its file assets' paths lead."""
        inputs = {r.urn: _canonical(r.inputs, root) for r in recording.resources}
        violations = result.violations if result else []
        return cls(inputs, {(v.level, v.policy, v.urn, v.message) for v in violations})


def _canonical(inputs: dict[str, Any], root: Path | None) -> str:
    text = json.dumps(inputs, sort_keys=True)
    if root is None or (ASSET_SIG not in text and ARCHIVE_SIG not in text):
        return text  # most resources ship no file: one pass
    return json.dumps(with_content(inputs, root), sort_keys=True)


def with_content(value: Any, root: Path | None) -> Any:
    """`value` with each file asset or archive given the digest of what its path holds.

    A recording keeps an asset as the program wrote it, a path; the engine diffs it by the
    hash of the file's bytes, so an edit to a shipped source (ops/, a Lambda's handler) is a
    change although no path moved."""
    if isinstance(value, list):
        return [with_content(v, root) for v in value]
    if not isinstance(value, dict):
        return value
    found = {k: with_content(v, root) for k, v in value.items()}
    if root is not None and value.get(SIG_KEY) in (ASSET_SIG, ARCHIVE_SIG) and "path" in value:
        found["contentDigest"] = _digest(root / str(value["path"]))
    return found


def _digest(path: Path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else file.name).encode())
        try:
            digest.update(file.read_bytes())
        except OSError:
            digest.update(b"\0missing")
    return digest.hexdigest()


def diff(before: Snapshot, after: Snapshot) -> list[str]:
    """Resources added (+), removed (-), changed (~, with their changed keys); verdicts likewise."""
    lines = [f"+ {urn}" for urn in sorted(after.inputs.keys() - before.inputs.keys())]
    lines += [f"- {urn}" for urn in sorted(before.inputs.keys() - after.inputs.keys())]
    for urn in sorted(before.inputs.keys() & after.inputs.keys()):
        if before.inputs[urn] != after.inputs[urn]:
            old, new = json.loads(before.inputs[urn]), json.loads(after.inputs[urn])
            keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            lines.append(f"~ {urn} ({', '.join(keys)})")
    appeared, gone = after.verdicts - before.verdicts, before.verdicts - after.verdicts
    for sign, found in (("+", appeared), ("-", gone)):
        lines += [f"{sign} [{lvl}] {pol}: {urn}: {msg}" for lvl, pol, urn, msg in sorted(found)]
    return lines


class WatchSession:
    """One stack, recorded again on demand, judged by a pack kept running between runs."""

    def __init__(
        self,
        stack: str,
        project_dir: Path,
        *,
        stack_file: Path | None = None,
        preview: bool = False,
        policy_config: Path | None = None,
        policies: bool = True,
    ) -> None:
        self.stack, self.project_dir = stack, project_dir.resolve()
        self.stack_file, self.preview = stack_file, preview
        self.pack_dir = self.project_dir / "policies"
        self.policy_path = policy_config or self.pack_dir / "config" / f"{stack}.json"
        self.policies = policies
        self.stack_path = stack_file or self.project_dir / f"Pulumi.{stack}.yaml"
        self.paths = [self.project_dir / p for p in WATCHED] + [self.stack_path]
        self._pack: PolicyPackProcess | None = None
        self._pack_inputs: Fingerprint = {}
        self._start_error: Exception | None = None
        self.last: Snapshot | None = None
        self.seen = fingerprint(self.paths)
        self.pack_starts = 0
        # The watched files as they were when settle() imported fresh project modules.
        self._imported_at: Fingerprint | None = None
        # What the process holds before the first run (interpreter, engine) is never a run's
        # garbage: the collector stops walking it (settle() freezes the warm SDK as well).
        # A process that froze objects of its own before (a test run) keeps them frozen.
        self._froze_before = gc.get_freeze_count() > 0
        gc.freeze()
        self._frozen_sdk = False

    def _pack_for(self, config: stackfile.StackConfig) -> threading.Event | None:
        """The pack for this run: the running one, told the stack config if it changed, or a
        new one when `policies/` changed (its rules are imported at start). A new pack boots in
        the background while the program records; the returned event is set once it answers
        (or failed), and the analysis waits for it."""
        inputs = fingerprint([self.pack_dir])
        if self._pack is not None and inputs == self._pack_inputs:
            try:
                if config != self._pack.stack_config:
                    self._pack.configure_stack(config)
                return None
            except AnalyzerError:  # the pack died since the last run: start another
                pass
        if self._pack is not None:
            self._pack.close()
        pack = PolicyPackProcess(
            config,
            pack_dir=self.pack_dir,
            dry_run=self.preview,
            # The pack then takes stack config from ConfigureStack (policies/rules/sdk.py), so
            # a stack-file edit reaches the running pack instead of starting another.
            extra_env={STACK_CONFIG_SOURCE_ENV: "request"},
        )
        self._pack, self._pack_inputs = pack, inputs
        self.pack_starts += 1
        self._start_error = None
        ready = threading.Event()

        def start() -> None:
            try:
                pack.start()
            except Exception as exc:  # raised in the caller's thread by run()
                self._start_error = exc
            finally:
                ready.set()

        threading.Thread(target=start, name="policy-pack-start", daemon=True).start()
        return ready

    def run(self) -> tuple[Recording, AnalysisResult | None, list[str] | None]:
        """Record and judge once; the diff against the previous run (None the first time)."""
        # The cyclic collector would walk the warm SDK's objects again and again during the
        # run; it runs once afterwards instead, while the session waits (settle()).
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if was_enabled:
                gc.enable()

    def _run(self) -> tuple[Recording, AnalysisResult | None, list[str] | None]:
        self.seen = fingerprint(self.paths)
        if not self._fresh_modules_current():
            forget_project_modules(self.project_dir)
        self._imported_at = None
        config = stackfile.load(self.stack, self.project_dir, self.stack_file)
        stream = None
        if self.policies:
            policy_config = load_policy_config(self.policy_path)
            ready = self._pack_for(config)
            assert self._pack is not None
            # Each resource is judged as the program registers it (the pack works on the other
            # core), as in the one-shot preview; AnalyzeStack follows the program.
            stream = self._pack.stream(policy_config, ready)
        try:
            recording = record(
                self.stack,
                project_dir=self.project_dir,
                stack_file=self.stack_file,
                preview=self.preview,
                on_register=stream.submit if stream is not None else None,
            )
            result = self._finish(stream, recording) if stream is not None else None
        finally:
            if stream is not None:
                stream.abort()
        snapshot = Snapshot.of(recording, result, self.project_dir)
        changes = None if self.last is None else diff(self.last, snapshot)
        self.last = snapshot
        return recording, result, changes

    def _finish(self, stream: StreamingAnalysis, recording: Recording) -> AnalysisResult:
        try:
            return stream.finish(recording)
        except AnalyzerError:
            # The pack did not start or failed mid-run: the next run starts a fresh one.
            if self._pack is not None:
                self._pack.close()
                self._pack = None
            if self._start_error is not None:  # the real cause
                raise self._start_error from None
            raise

    def _fresh_modules_current(self) -> bool:
        """Whether settle()'s fresh modules still match the sources: only the stack file (read
        at run time, never at import) may have changed since they were imported."""
        if self._imported_at is None:
            return False
        return all(p == self.stack_path for p in changed_files(self._imported_at, self.seen))

    def settle(self) -> None:
        """The work a run leaves for the idle time before the next edit: forget the modules
        that ran, collect the garbage, and import the project's modules afresh for the next
        run (it re-imports them anyway if a source changes in the meantime)."""
        names = forget_project_modules(self.project_dir)
        # The garbage is the runs' objects and the forgotten modules, all made after the last
        # freeze; a full walk of the warm heap cost more than the re-run it was waiting for.
        gc.collect()
        if not self._frozen_sdk:  # what the first run imported (the SDK) stays for good
            gc.freeze()
            self._frozen_sdk = True
        # Taken before the import: an edit landing during it shows as a change in run().
        before = fingerprint(self.paths)
        if import_fresh(self.project_dir, names):
            self._imported_at = before

    @property
    def pack_pid(self) -> int | None:
        """The running pack's process id (None before the first run or with policies off)."""
        return self._pack.pid if self._pack is not None else None

    def pending(self) -> list[Path]:
        """Files changed since the last run started."""
        return changed_files(self.seen, fingerprint(self.paths))

    def close(self) -> None:
        if self._pack is not None:
            self._pack.close()
            self._pack = None
        # The process goes on (a test run, an embedding tool): its objects are walked again,
        # unless it had frozen some itself (only it knows when to undo that).
        if not self._froze_before:
            gc.unfreeze()


def watch(
    session: WatchSession,
    out: TextIO = sys.stdout,
    stop: threading.Event | None = None,
    # A poll stats the ~120 watched files (a few ms); every tenth of a second keeps the
    # delay between an edit and its re-run small beside the re-run itself.
    interval: float = 0.1,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Run once in full, then re-run on every change until `stop` is set (or Ctrl-C)."""
    stop = stop or threading.Event()
    first = True
    while not stop.is_set():
        try:
            recording, result, changes = session.run()
        except Exception as exc:  # a broken edit: say so and wait for the next one
            (on_error or (lambda e: out.write(f"error: {e}\n")))(exc)
        else:
            if first or changes is None:
                out.write(tree.render(recording) + "\n")
                if result is not None:
                    out.write("\n" + verdicts.render_text(result))
            else:
                out.write("\n".join(changes or ["(no change in resources or verdicts)"]) + "\n")
            first = False
        out.write(f"watching {session.project_dir} for changes (Ctrl-C to stop)\n")
        out.flush()
        session.settle()
        while not stop.is_set() and not session.pending():
            stop.wait(interval)
