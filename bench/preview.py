"""Benchmark: wall time of the whole offline prod preview, policies included (prints numbers).

Run: `venv/bin/python bench/preview.py [--stack prod] [--runs 5]`. Each run is a fresh
`python -m offline preview` process, exactly what `make preview STACK=prod` runs after install:
interpreter start, the program under mocks, the policy pack started as the CLI starts it and
every resource judged over gRPC. Target on a 2-core machine: under 3 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--preview", action="store_true", help="preview mode (unknowns)")
    args = parser.parse_args()

    times: list[float] = []
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "offline", "preview", "--stack", args.stack]
        # prod as an operator completes it (tests/stacks): the shipped template refuses an
        # update until its placeholders are replaced.
        overlay = ROOT / "tests" / "stacks" / f"{args.stack}.operator.yaml"
        command += ["--overlay", str(overlay)] if overlay.is_file() else []
        command += ["--json", str(out)] + (["--preview"] if args.preview else [])
        for _ in range(args.runs):
            start = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if done.returncode not in (0, 1):
                print(done.stderr, file=sys.stderr)
                return 2
        report = json.loads(out.read_text())
    summary = report["policies"]["summary"] if report.get("policies") else {}
    print(
        f"stack {args.stack}: {len(report['resources'])} resources, "
        f"{summary.get('policies', 0)} policies, {summary.get('mandatory', 0)} mandatory"
    )
    print(
        f"offline preview wall time over {args.runs} runs: min {min(times):.2f} s, "
        f"median {statistics.median(times):.2f} s, max {max(times):.2f} s (target < 3 s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
