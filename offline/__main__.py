"""`python -m offline`: the offline preview of a stack, without the Pulumi CLI or AWS.

    python -m offline preview --stack dev [--preview] [--json report.json]

Records the real program for `Pulumi.<stack>.yaml` under mocks, prints the resource tree and a
summary. Exit status: 0 when the program ran, 1 when the stack config is invalid or the
program failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from offline import stackfile, tree
from offline.recorder import ProgramError, record


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("preview", help="record the program for a stack and print its tree")
    p.add_argument("--stack", default="dev", help="stack name (reads Pulumi.<stack>.yaml)")
    p.add_argument("--stack-file", type=Path, help="a stack file other than Pulumi.<stack>.yaml")
    p.add_argument("--project-dir", type=Path, default=Path("."), help="the Pulumi project")
    p.add_argument(
        "--preview",
        action="store_true",
        help="preview mode: computed outputs are unknown, as in `pulumi preview` of a create",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write a JSON report here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        recording = record(
            args.stack,
            project_dir=args.project_dir,
            stack_file=args.stack_file,
            preview=args.preview,
        )
    except (ProgramError, stackfile.StackFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(tree.render(recording))
    if args.json:
        report = {
            "project": recording.project,
            "stack": recording.stack,
            "preview": recording.preview,
            "summary": tree.summary(recording),
            "resources": [
                {"urn": r.urn, "type": r.type, "parent": r.parent, "protect": bool(r.protect)}
                for r in sorted(recording.resources, key=lambda r: r.urn)
            ],
            "outputs": recording.outputs,
        }
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
