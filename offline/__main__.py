"""`python -m offline`: the offline preview of a stack, without the Pulumi CLI or AWS.

    python -m offline preview --stack dev [--preview] [--overlay FILE] [--json report.json]
                              [--no-policies]
    python -m offline preview --stack dev --watch     # stay running, print what changed

Records the real program for `Pulumi.<stack>.yaml` under mocks, prints the resource tree, then
starts the policy pack the way the Pulumi CLI does, sends it every resource over its gRPC
protocol with `policies/config/<stack>.json`, and prints the verdicts grouped by enforcement
level and a summary. Exit status: 0 when the program ran and no mandatory policy failed, 1 when
the stack config is invalid, the program failed or a mandatory policy was violated, 2 for a
usage error.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:  # the engine itself is imported once the collector is tuned (see run())
    from offline.analyzer import AnalysisResult, PolicyPackProcess, StreamingAnalysis
    from offline.model import Recording
    from offline.stackfile import StackConfig
    from policies.cost.estimate import Estimate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m offline", description=(__doc__ or "").split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("preview", help="record the program for a stack and print its tree")
    p.add_argument("--stack", default="dev", help="stack name (reads Pulumi.<stack>.yaml)")
    p.add_argument("--stack-file", type=Path, help="a stack file other than Pulumi.<stack>.yaml")
    p.add_argument(
        "--overlay",
        type=Path,
        metavar="FILE",
        help="a file of the stack file's shape deep-merged over it (e.g. operator-set values)",
    )
    p.add_argument("--project-dir", type=Path, default=Path("."), help="the Pulumi project")
    p.add_argument(
        "--preview",
        action="store_true",
        help="preview mode: computed outputs are unknown, as in `pulumi preview` of a create",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write a JSON report here")
    p.add_argument(
        "--policy-config",
        type=Path,
        metavar="FILE",
        help="policy pack config (default: policies/config/<stack>.json)",
    )
    p.add_argument("--no-policies", action="store_true", help="print the tree only")
    p.add_argument(
        "--watch",
        action="store_true",
        help="stay running: re-run on every change and print only what changed",
    )
    return parser


def _watch(args: argparse.Namespace) -> int:
    # Imported only here: the one-shot preview does not pay for it.
    from offline.watch import WatchSession, watch

    session = WatchSession(
        args.stack,
        args.project_dir,
        stack_file=args.stack_file,
        preview=args.preview,
        policy_config=args.policy_config,
        policies=not args.no_policies,
    )
    try:
        watch(session)
    except KeyboardInterrupt:
        print("stopped")
    finally:
        session.close()
    return 0


def _start_in_background(pack: PolicyPackProcess) -> tuple[threading.Event, list[Exception]]:
    """Boot the pack while the program records; `ready` is set once it answers (or failed)."""
    ready = threading.Event()
    errors: list[Exception] = []

    def start() -> None:
        try:
            pack.start()
        except Exception as exc:  # reported by the analysis, in the main thread
            errors.append(exc)
        finally:
            ready.set()

    threading.Thread(target=start, name="policy-pack-start", daemon=True).start()
    return ready, errors


def _estimate(recording: Recording, region: str) -> Estimate | None:
    """The cost estimate, printed after the tree; None (and a note) if the region has no prices."""
    from offline import costs
    from policies.cost.estimate import CostDataError

    try:
        est = costs.estimate_recording(recording, region)
    except CostDataError as exc:
        print(f"\nCost estimate unavailable: {exc}")
        return None
    print()
    print(costs.render_text(est, recording))
    return est


def _report(
    recording: Recording, result: AnalysisResult | None, est: Estimate | None = None
) -> dict[str, object]:
    from offline import costs, tree, verdicts

    return {
        "project": recording.project,
        "stack": recording.stack,
        "preview": recording.preview,
        "summary": tree.summary(recording),
        "resources": [
            {"urn": r.urn, "type": r.type, "parent": r.parent, "protect": bool(r.protect)}
            for r in sorted(recording.resources, key=lambda r: r.urn)
        ],
        "outputs": recording.outputs,
        "warnings": recording.warnings,
        "policies": verdicts.to_report(result) if result else None,
        "cost": costs.to_report(est) if est is not None else None,
    }


def main(argv: list[str] | None = None, *, own_process: bool = False) -> int:
    """The command; callable in-process (tests), leaving the interpreter's settings alone
    unless it has the process to itself (`run()`)."""
    args = _parser().parse_args(argv)
    if own_process:
        _tune_collector(long_lived=args.watch)
    if args.watch:
        return _watch(args)
    return _preview(args)


def _preview(args: argparse.Namespace) -> int:
    """Record, print the tree, the cost and the verdicts; write the report; the exit status."""
    from offline import stackfile
    from offline.analyzer import PACK_DIR, PolicyConfigError, PolicyPackProcess, load_policy_config

    try:
        project_dir = args.project_dir.resolve()
        config = stackfile.load(args.stack, project_dir, args.stack_file, args.overlay)
        policy_path = args.policy_config or PACK_DIR / "config" / f"{args.stack}.json"
        policy_config = None if args.no_policies else load_policy_config(policy_path)
    except (stackfile.StackFileError, PolicyConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    pack = None if policy_config is None else PolicyPackProcess(config, dry_run=args.preview)
    stream = None
    errors: list[Exception] = []
    if pack is not None:
        # The pack boots while the program runs and judges each resource as it registers,
        # as the engine does; AnalyzeStack follows once the program is done.
        ready, errors = _start_in_background(pack)
        stream = pack.stream(policy_config, ready)
    try:
        outcome = _record_and_judge(args, config, stream, errors)
    finally:
        if stream is not None:
            stream.abort()
        if pack is not None:
            pack.close()
    if outcome is None:
        return 1
    recording, result, est = outcome
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = _report(recording, result, est)
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return 1 if result is not None and result.mandatory else 0


def _record_and_judge(
    args: argparse.Namespace,
    config: StackConfig,
    stream: StreamingAnalysis | None,
    errors: list[Exception],
) -> tuple[Recording, AnalysisResult | None, Estimate | None] | None:
    """Run the program and print what it made, then the verdicts; None (after printing the
    error) if the program or the pack failed."""
    from offline import tree, verdicts
    from offline.analyzer import AnalyzerError, PolicyConfigError
    from offline.recorder import ProgramError, record

    try:
        recording = record(
            args.stack,
            project_dir=args.project_dir.resolve(),
            stack_file=args.stack_file,
            preview=args.preview,
            on_register=stream.submit if stream is not None else None,
            overlay=args.overlay,
        )
    except ProgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    print(tree.render(recording))
    for message in recording.warnings:
        print(f"warning: {message}")
    est = _estimate(recording, config.values.get("aws:region", ""))
    if stream is None:
        return recording, None, est
    try:
        if errors:
            raise errors[0]
        result = stream.finish(recording)
    except (AnalyzerError, PolicyConfigError) as exc:
        print(f"error: policy pack: {exc}", file=sys.stderr)
        return None
    print()
    print(verdicts.render_text(result), end="")
    return recording, result, est


def _tune_collector(long_lived: bool) -> None:
    """Collect cyclic garbage as this process needs, before the engine is imported.

    A preview builds a few hundred thousand objects (pulumi_aws's classes, the runtime's outputs
    and tasks), nearly all alive until exit, and a few thousand objects of cyclic garbage:
    every collection scans the young objects and frees next to nothing. At the default
    thresholds that was about a fifth of the wall time; at a threshold of 200,000 it is still
    three collections and about 0.2 s of CPU for prod. A one-shot preview therefore does not
    collect at all (its peak memory is unchanged, about 230 MB for prod). The watch process
    lives on across re-runs, so it keeps collecting, rarely.
    """
    if long_lived:
        gc.set_threshold(200_000, 50, 100)
    else:
        gc.disable()


def run() -> int:
    """`python -m offline`: a process of its own."""
    return main(own_process=True)


def exit_now(code: int) -> NoReturn:
    """End the process with `code`, its output flushed, without the interpreter's teardown.

    By the time the command returns, the pack process is closed and the report written; what
    is left is freeing each of the million objects the run keeps (pulumi_aws's classes, the
    runtime's outputs) and a final full collection: about 0.7 s of a 3.3 s prod preview,
    spent on a process that is ending anyway. Type checkers do the same (mypy's fast exit).
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    try:
        status = run()
    except SystemExit as exc:  # argparse's usage errors (2) and --help (0)
        status = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)  # what the interpreter would have printed
    exit_now(status)
