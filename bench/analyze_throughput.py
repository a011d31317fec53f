"""Benchmark: resources per second through the policy pack's Analyze RPC (prints numbers).

Run: `venv/bin/python bench/analyze_throughput.py [--count 3000]`. Sends a realistic mix of
pulumi-aws 7 resources through one pack process serially (as the engine's step generator does)
and with 4 concurrent callers, and pipelined (all requests in flight at once, as the offline
preview sends them), with the pack's request memo on and off.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent import futures
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "policies")]

import policy_builders as b  # noqa: E402

from offline.analyzer import PolicyPackProcess, load_policy_config  # noqa: E402
from offline.stackfile import StackConfig  # noqa: E402


def mix() -> list:
    bucket = b.bucket()
    group = b.asg()
    return [
        b.lt(),
        group,
        b.alb(),
        b.rds(),
        bucket,
        b.lock_config(bucket),
        b.versioning(bucket),
        b.pab(bucket),
        b.sse(bucket),
        b.bucket_policy(bucket),
        b.log_group(),
        b.alarm("a", group),
        b.codebuild(),
        b.pipeline(),
        b.rum(),
        b.athena(),
        b.kms_key(),
        b.iam_policy(),
        b.identity_pool(),
        b.scaling_policy(group),
        b.component(),
    ]


def measure(memo: bool, count: int) -> tuple[float, float, float]:
    values = {
        "aws:region": "eu-west-1",
        "groundwork:phase": "growth",
        "aws:defaultTags": json.dumps(
            {"tags": {"Project": "g", "Environment": "prod", "Owner": "o"}}
        ),
    }
    config = StackConfig("groundwork", "prod", values, (), ROOT / "Pulumi.prod.yaml")
    env = {} if memo else {"GROUNDWORK_POLICY_MEMO": "0"}
    with PolicyPackProcess(config, extra_env=env) as pack:
        pack.configure(load_policy_config(ROOT / "policies" / "config" / "prod.json"))
        resources = mix()
        requests = [pack.analyze_request(r, None) for r in resources]
        stub = pack._stub  # the benchmark times the RPC itself, not request building
        for req in requests:
            stub.Analyze(req)
        start = time.perf_counter()
        for i in range(count):
            stub.Analyze(requests[i % len(requests)])
        serial = count / (time.perf_counter() - start)
        with futures.ThreadPoolExecutor(4) as pool:
            start = time.perf_counter()
            list(pool.map(lambda i: stub.Analyze(requests[i % len(requests)]), range(count)))
            concurrent = count / (time.perf_counter() - start)
        # The offline preview's way (offline.analyzer.StreamingAnalysis): every request sent
        # at once as a future, answers collected afterwards.
        start = time.perf_counter()
        pending = [stub.Analyze.future(requests[i % len(requests)]) for i in range(count)]
        for future in pending:
            future.result()
        pipelined = count / (time.perf_counter() - start)
    return serial, concurrent, pipelined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    args = parser.parse_args()
    for memo in (True, False):
        serial, concurrent, pipelined = measure(memo, args.count)
        print(
            f"memo {'on ' if memo else 'off'}: {serial:6.0f}/s serial, {concurrent:6.0f}/s with "
            f"4 concurrent callers, {pipelined:6.0f}/s pipelined ({args.count} Analyze calls; "
            "target >= 1000/s)"
        )


if __name__ == "__main__":
    main()
