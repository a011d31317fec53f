"""The preview's cost section: the estimate of a recording, as text and as a JSON report.

The arithmetic lives in `policies/cost` (the policy pack's cost rules use the same code); this
module only feeds it the recorded resources and prints the result, always with the
assumptions that produced it.
"""

from __future__ import annotations

from typing import Any

from offline.model import Recording, plain
from policies.cost.estimate import Estimate, Item, estimate, unclassified_types


def items_of(recording: Recording) -> list[Item]:
    """The recorded resources as the estimator sees them (declared inputs)."""
    regions = {
        r.urn: r.input("region")
        for r in recording.resources
        if r.type.startswith("pulumi:providers:")
    }
    return [
        Item(
            type=r.type,
            urn=r.urn,
            name=r.name,
            parent=r.parent,
            props=plain(r.inputs),
            deps=dict(r.property_dependencies),
            # A provider reference is "<provider urn>::<id>"; the id is unknown in a preview.
            region=regions.get(r.provider.rsplit("::", 1)[0]) if r.provider else None,
        )
        for r in recording.resources
    ]


def estimate_recording(recording: Recording, region: str) -> Estimate:
    return estimate(items_of(recording), region)


def _usd(value: float) -> str:
    return f"{value:>10,.2f}"


def _assumption(name: str, spec: Any) -> str:
    value = spec["value"]
    if isinstance(value, dict):
        value = ", ".join(f"{k} {v:g}" for k, v in value.items())
    return f"  {name} = {value} {spec['unit']}: {spec['description']}"


def render_text(est: Estimate, recording: Recording) -> str:
    """Per component and total, minimum and maximum capacity, then every assumption used."""
    lines = [
        f"Estimated monthly cost of {recording.project}/{recording.stack} in {est.region} "
        f"(USD, on-demand list prices read {est.read}, {est.hours:g} hours a month; a range "
        "from minimum to maximum capacity)",
        f"  {'component':<40}{'minimum':>10}  {'maximum':>10}",
    ]
    for component, (low, high) in est.by_component().items():
        lines.append(f"  {component:<40}{_usd(low)}  {_usd(high)}")
    lines.append(f"  {'total':<40}{_usd(est.low)}  {_usd(est.high)}")
    if est.usage_only:
        types = sorted({urn.rsplit("::", 2)[-2].rsplit("$", 1)[-1] for urn in est.usage_only})
        lines.append(
            f"  not in the total (billed by use only): {len(est.usage_only)} resources of type "
            f"{', '.join(types)}"
        )
    for problem in est.missing:
        lines.append(f"  NOT PRICED: {problem}")
    unclassified = unclassified_types(r.type for r in recording.resources)
    if unclassified:
        lines.append(f"  NOT CLASSIFIED (missing from the price file): {', '.join(unclassified)}")
    lines.append(
        "Assumptions (policies/cost/prices.json; excludes data transfer beyond them, "
        "support plan, taxes, free tiers):"
    )
    lines.extend(_assumption(name, spec) for name, spec in est.assumptions.items())
    return "\n".join(lines)


def to_report(est: Estimate) -> dict[str, Any]:
    return {
        "region": est.region,
        "currency": "USD",
        "pricesRead": est.read,
        "hoursPerMonth": est.hours,
        "monthly": {"minimum": est.low, "maximum": est.high},
        "components": {
            name: {"minimum": low, "maximum": high}
            for name, (low, high) in est.by_component().items()
        },
        "lines": [
            {
                "component": x.component,
                "urn": x.urn,
                "type": x.type,
                "minimum": round(x.low, 2),
                "maximum": round(x.high, 2),
                "basis": x.basis,
            }
            for x in est.lines
        ],
        "usageOnly": est.usage_only,
        "notPriced": est.missing,
        "assumptions": est.assumptions,
    }
