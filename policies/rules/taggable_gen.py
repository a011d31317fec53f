"""Regenerate taggable_types.txt from the installed pulumi-aws (dev tool, not used by the pack).

Run: `python -m policies.rules.taggable_gen > policies/rules/taggable_types.txt`. A type is
taggable when its resource args take a `tags` map; autoscaling groups (a tag list) are handled
separately by the required-tags rule.
"""

from __future__ import annotations

import re
import sys
from importlib.util import find_spec
from pathlib import Path

_TOKEN = re.compile(r"^\s+'(aws:[a-zA-Z0-9]+/[a-zA-Z0-9]+:[A-Za-z0-9]+)',\s*$", re.M)
_ARGS = re.compile(r"class \w+Args:.*?def __init__\(__self__, \*,(.*?)\):", re.S)
_TAGS = re.compile(r"\btags: pulumi\.Input\[Optional\[Mapping")


def generate() -> list[str]:
    spec = find_spec("pulumi_aws")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pulumi_aws is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    found: set[str] = set()
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        tokens = _TOKEN.findall(text)
        if not tokens:
            continue
        args = _ARGS.search(text)
        if args and _TAGS.search(args.group(1)):
            found.update(tokens)
    return sorted(found)


def main() -> None:
    from importlib.metadata import version

    sys.stdout.write(
        f"# aws type tokens with a `tags` map input, from pulumi-aws {version('pulumi_aws')}\n"
    )
    sys.stdout.write("".join(t + "\n" for t in generate()))


if __name__ == "__main__":
    main()
