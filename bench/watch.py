"""Benchmark: a watch-mode re-run after a stack-file edit (prints figures, exits 1 on a miss).

Run: `venv/bin/python -m bench.watch [--stack prod] [--runs 5] [--target 1.5]`. Copies the
project to a temporary directory, starts a watch session (SDK imported, pack running), then
edits the stack file before each timed run, the user's edit loop. The running pack is sent the
new stack config (ConfigureStack) rather than restarted; the figure line says how many times
the pack started, so a restart on the critical path shows. Between runs the session does what
the watch loop does while it waits for the next edit (`settle()`), untimed; the loop notices an
edit within its poll interval (0.1 s), which the figure leaves out.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from offline import stackfile
from offline.watch import WatchSession

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns("venv", ".git", "tests", "out", "__pycache__", "bench")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--stack-file", type=Path, help="stack file to use instead")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target", type=float, default=1.5, help="seconds per re-run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(ROOT, project, ignore=IGNORE)
        stack_file = project / f"Pulumi.{args.stack}.yaml"
        overlay = ROOT / "tests" / "stacks" / f"{args.stack}.operator.yaml"
        if args.stack_file:
            shutil.copy(args.stack_file, stack_file)
        elif overlay.is_file():
            # As bench.preview: the stack as an operator completes it (the shipped prod
            # template refuses a recorded update until its placeholders are replaced).
            config = stackfile.merge(
                stackfile.read_config(stack_file), stackfile.read_config(overlay)
            )
            stack_file.write_text(yaml.safe_dump({"config": config}))
        session = WatchSession(args.stack, project)
        times = []
        try:
            session.run()
            for i in range(args.runs):
                session.settle()
                # A comment-only edit still changes the file: the session must re-run.
                stack_file.write_text(stack_file.read_text() + f"# edit {i}\n")
                start = time.perf_counter()
                session.run()
                times.append(time.perf_counter() - start)
            starts = session.pack_starts
        finally:
            session.close()
    median = statistics.median(times)
    verdict = "ok" if median <= args.target else "MISSED"
    print(
        f"watch re-run after a stack-file edit ({args.stack}, {args.runs} runs): min "
        f"{min(times):.2f} s, median {median:.2f} s, max {max(times):.2f} s "
        f"(target <= {args.target:.1f} s, pack started {starts}x): {verdict}"
    )
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
