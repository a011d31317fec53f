"""A behaviour snapshot of the program: what a refactor must leave unchanged.

It records dev, prod (with the operator overlay, as deployed) and prod at the growth phase,
and writes, per stack, the sorted list of every registration's URN, inputs, protect,
ignoreChanges, provider, dependencies and property dependencies (URNs sorted) as JSON.
Two snapshots are compared with `--compare`, which names every URN and field that differs.

    python -m tests.behaviour_snapshot --out before.json
    python -m tests.behaviour_snapshot --out after.json --compare before.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from offline.model import Recording
from offline.recorder import record

ROOT = Path(__file__).resolve().parent.parent
OPERATOR_OVERLAY = ROOT / "tests" / "stacks" / "prod.operator.yaml"
# name -> (stack, config overrides merged over the shipped file and its overlay)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "prod-growth": ("prod", {"groundwork:phase": "growth"}),
}


def snapshot(recording: Recording) -> list[dict[str, Any]]:
    """Every registration of `recording` in a form that does not depend on its order."""
    entries = [
        {
            "urn": r.urn,
            "inputs": r.inputs,
            "protect": r.protect,
            "ignoreChanges": sorted(r.ignore_changes),
            "provider": r.provider,
            "dependencies": sorted(r.dependencies),
            "propertyDependencies": {
                key: sorted(urns) for key, urns in sorted(r.property_dependencies.items())
            },
        }
        for r in recording.resources
    ]
    # Canonical JSON so that equal snapshots are equal strings.
    return json.loads(json.dumps(sorted(entries, key=lambda e: e["urn"]), sort_keys=True))


def record_variant(stack: str, overrides: dict[str, Any]) -> Recording:
    # Imported here: conftest imports pytest, which the comparison alone does not need.
    from tests.conftest import write_stack_file

    with tempfile.TemporaryDirectory() as directory:
        path = write_stack_file(Path(directory), stack, overrides)
        return record(stack, project_dir=ROOT, stack_file=path)


def snapshot_all() -> dict[str, list[dict[str, Any]]]:
    return {name: snapshot(record_variant(*variant)) for name, variant in VARIANTS.items()}


def differences(
    before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """One line per variant, URN and field that differ between two snapshots."""
    lines: list[str] = []
    for variant in sorted(set(before) | set(after)):
        old = {e["urn"]: e for e in before.get(variant, [])}
        new = {e["urn"]: e for e in after.get(variant, [])}
        lines += [f"{variant}: only before: {urn}" for urn in sorted(set(old) - set(new))]
        lines += [f"{variant}: only after: {urn}" for urn in sorted(set(new) - set(old))]
        for urn in sorted(set(old) & set(new)):
            lines += _field_differences(variant, urn, old[urn], new[urn])
    return lines


def _field_differences(
    variant: str, urn: str, old: dict[str, Any], new: dict[str, Any]
) -> list[str]:
    lines = []
    for field in sorted(set(old) | set(new)):
        if old.get(field) == new.get(field):
            continue
        if field == "inputs":
            for key in sorted(set(old["inputs"]) | set(new["inputs"])):
                if old["inputs"].get(key) != new["inputs"].get(key):
                    lines.append(
                        f"{variant}: {urn} inputs.{key}: "
                        f"{old['inputs'].get(key)!r} -> {new['inputs'].get(key)!r}"
                    )
        else:
            lines.append(f"{variant}: {urn} {field}: {old.get(field)!r} -> {new.get(field)!r}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the snapshot")
    parser.add_argument("--compare", type=Path, help="an earlier snapshot to compare with")
    args = parser.parse_args(argv)
    current = snapshot_all()
    args.out.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    if args.compare is None:
        return 0
    lines = differences(json.loads(args.compare.read_text()), current)
    for line in lines:
        print(line)
    print(f"{len(lines)} difference(s)")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
