"""Where a workflow points `pulumi` and the AWS credentials action for one stack.

Prints `region=<aws:region>` and `stack-name=<[org/]stack>` as `$GITHUB_OUTPUT` lines, so the
region has one source of truth (`Pulumi.<stack>.yaml`) and the Pulumi organisation comes
from the optional `PULUMI_ORG` repository variable. Both values are validated before they
reach the output file: they come from the checked-out branch, and a newline in either would
let it write extra step outputs.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import yaml

REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class TargetError(ValueError):
    """The stack file or the environment does not name a usable target."""


def stack_target(stack: str, project_dir: Path, org: str = "") -> dict[str, str]:
    """Return the `region` and `stack-name` outputs for `stack`."""
    if not NAME.match(stack):
        raise TargetError(f"stack name {stack!r} is not a valid Pulumi stack name")
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise TargetError(f"no stack file {path.name} for stack {stack!r}")
    doc = yaml.safe_load(path.read_text()) or {}
    config = doc.get("config") or {}
    region = config.get("aws:region") if isinstance(config, dict) else None
    if not isinstance(region, str) or not REGION.match(region):
        raise TargetError(
            f"{path.name}: aws:region must be an AWS region name such as eu-west-1 (got {region!r})"
        )
    if org and not NAME.match(org):
        raise TargetError(
            f"PULUMI_ORG must be a Pulumi organisation name (letters, digits, '-', '_', '.'), "
            f"got {org!r}"
        )
    return {"region": region, "stack-name": f"{org}/{stack}" if org else stack}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: stack_target.py <stack>", file=sys.stderr)
        return 2
    try:
        target = stack_target(argv[1], Path.cwd(), os.environ.get("PULUMI_ORG", "").strip())
    except TargetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for key, value in target.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
