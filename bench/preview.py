"""Benchmark: the whole offline preview beside its import floor (prints figures, exits 1 on a miss).

Run: `venv/bin/python -m bench.preview [--stack prod] [--runs 5] [--target-ratio 1.3]`.

Each run is a fresh `python -m offline preview` process, what `make preview` runs after
install: interpreter start, the program under mocks, the policy pack started as the CLI starts
it and every resource judged over gRPC. The floor is a fresh process that imports exactly the
SDK classes the preview's own JSON report lists, one per resource type, and nothing more: any
Python Pulumi program with these services pays that, a real `pulumi preview` included. Runs
alternate (preview, floor, preview, ...) so machine load hits both alike; the figure that
counts is the ratio of the medians.

The preview ends its process without the interpreter's teardown (offline.__main__.exit_now);
the floor, a plain script, pays it (nearly a second: freeing every class it imported). So a
third process, the floor ending the same way, is timed too, and the like-for-like ratio
printed beside the target's: what the preview spends beyond importing the SDK, teardown aside.
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

# Type-token package -> importable SDK module (the rest are components, providers, the stack).
SDK_MODULES = {"aws": "pulumi_aws", "random": "pulumi_random"}


def floor_script(types: list[str]) -> str:
    """Python source that loads each SDK class the report lists (`aws:ec2/vpc:Vpc` -> ec2.Vpc)."""
    lines = ["import pulumi"]
    for token in sorted(set(types)):
        package, _, rest = token.partition(":")
        if package not in SDK_MODULES or "/" not in rest:
            continue
        module_path, _, cls = rest.partition(":")
        module = module_path.split("/")[0]
        sdk = SDK_MODULES[package]
        lines.append(f"import {sdk}")
        if module == "index":  # the package's top level (random:index/randomId:RandomId)
            lines.append(f"getattr({sdk}, {cls!r})")
            continue
        # Modules that are Python keywords carry a trailing underscore (lambda_).
        lines.append(f"getattr(getattr({sdk}, {module!r}, None) or {sdk}.{module}_, {cls!r})")
    return "\n".join(lines) + "\n"


# Appended to the floor for the like-for-like figure: the preview's own way of ending.
FAST_EXIT = "import os, sys\nsys.stdout.flush()\nos._exit(0)\n"


def timed(command: list[str], ok: tuple[int, ...] = (0, 1)) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in ok:  # preview: 1 is a mandatory violation, still a full preview
        raise SystemExit(f"FAIL {' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    return elapsed


def summary(label: str, times: list[float]) -> str:
    return (
        f"{label}: min {min(times):.2f} s, median {statistics.median(times):.2f} s, "
        f"max {max(times):.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--stack-file", help="a stack file other than Pulumi.<stack>.yaml")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target-ratio", type=float, default=1.3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        preview = [sys.executable, "-m", "offline", "preview", "--stack", args.stack]
        # prod as an operator completes it (tests/stacks), recorded as an update: the shipped
        # template refuses an update until its placeholders are replaced.
        overlay = ROOT / "tests" / "stacks" / f"{args.stack}.operator.yaml"
        preview += ["--overlay", str(overlay)] if overlay.is_file() else []
        preview += ["--json", str(report_path)]
        if args.stack_file:
            preview += ["--stack-file", args.stack_file]
        timed(preview)  # warm the file cache; also writes the report the floor is built from
        report = json.loads(report_path.read_text())
        source = floor_script([r["type"] for r in report["resources"]])
        script, fast = Path(tmp) / "floor.py", Path(tmp) / "floor_fast_exit.py"
        script.write_text(source)
        fast.write_text(source + FAST_EXIT)
        floor, floor_fast = [sys.executable, str(script)], [sys.executable, str(fast)]
        preview_times, floor_times, fast_times = [], [], []
        for _ in range(args.runs):
            preview_times.append(timed(preview))
            floor_times.append(timed(floor, ok=(0,)))  # a floor that stops early is no floor
            fast_times.append(timed(floor_fast, ok=(0,)))

    median = statistics.median
    ratio = median(preview_times) / median(floor_times)
    print(f"stack {args.stack}: {len(report['resources'])} resources")
    print(summary(f"offline preview ({args.runs} runs)", preview_times))
    print(summary(f"import floor    ({args.runs} runs)", floor_times))
    print(summary(f"floor, no teardown ({args.runs} runs)", fast_times))
    like = median(preview_times) / median(fast_times)
    print(f"like for like (both end without teardown): {like:.2f}x (no target; see docstring)")
    verdict = "ok" if ratio <= args.target_ratio else "MISSED"
    print(f"ratio {ratio:.2f}x the floor (target <= {args.target_ratio:.2f}x): {verdict}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
