"""Cheap dev, enforced: the cost estimate under the stack's budget, small classes, one NAT
gateway and a single-AZ database.

These rules are for developer stacks: `policies/config/dev.json` makes them mandatory and
`prod.json` disables them, so they can never flag a compliant prod stack. The budget rule runs
the same estimator as the offline preview (`policies/cost`), on the resources the engine sends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import StackSettings
from .props import Finding, Resource, get, is_unknown, undecided, violation

try:  # tests import the pack as `policies.rules`
    from ..cost import estimate as est
except ImportError:  # the pack runs from its own directory: `cost` is a top-level package
    from cost import estimate as est

LT = "aws:ec2/launchTemplate:LaunchTemplate"
LC = "aws:ec2/launchConfiguration:LaunchConfiguration"
INSTANCE = "aws:ec2/instance:Instance"
ASG = "aws:autoscaling/group:Group"
RDS = "aws:rds/instance:Instance"
AURORA = "aws:rds/clusterInstance:ClusterInstance"
NAT = "aws:ec2/natGateway:NatGateway"
# Every way a class reaches AWS: templates, configurations, instances, a group's overrides.
CLASSED = frozenset({LT, LC, INSTANCE, ASG, RDS, AURORA})

# Properties the estimate cannot do without: unknown at preview means undecided.
DECISIVE: dict[str, tuple[str, ...]] = {
    LT: ("instanceType",),
    INSTANCE: ("instanceType",),
    ASG: ("minSize", "maxSize"),
    RDS: ("instanceClass", "multiAz", "allocatedStorage", "maxAllocatedStorage"),
}


def _provider_region(r: Resource) -> str | None:
    """The region an explicit provider names (a replica region); None for the stack's, and
    for a region unknown at preview (priced at the stack's rate, as before it is known)."""
    region = (r.provider_props or {}).get("region")
    return region if isinstance(region, str) and region and not is_unknown(region) else None


def _items(resources: Sequence[Resource]) -> list[est.Item]:
    return [
        est.Item(
            r.type,
            r.urn,
            r.name,
            r.parent,
            r.props,
            dict(r.property_dependencies),
            region=_provider_region(r),
        )
        for r in resources
    ]


def _limit(cfg: Mapping[str, Any], st: StackSettings) -> tuple[str, float] | None:
    """The lowest of the stack's budget and the policy config's cap: config may only lower it."""
    found = [
        ("groundwork:cost.monthlyBudgetUsd", st.monthly_budget_usd),
        ("policy config maxMonthlyUsd", cfg.get("maxMonthlyUsd")),
    ]
    valid = [
        (where, float(v))
        for where, v in found
        if isinstance(v, int | float) and not isinstance(v, bool) and v > 0
    ]
    return min(valid, key=lambda x: x[1]) if valid else None


def _assumptions(e: est.Estimate) -> str:
    parts = []
    for name, spec in e.assumptions.items():
        value = spec["value"]
        shown = "{...}" if isinstance(value, dict) else f"{value:g}"
        parts.append(f"{name}={shown}")
    return ", ".join(parts)


def estimate_within_budget(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    pending = [
        undecided(f"{r.name}.{key}", r.urn)
        for r in resources
        for key in DECISIVE.get(r.type, ())
        if is_unknown(get(r.props, key))
    ]
    if pending:
        return pending
    limit = _limit(cfg, st)
    if limit is None:
        return [
            violation(
                "no budget to hold the estimate under: set groundwork:cost.monthlyBudgetUsd in "
                "the stack config"
            )
        ]
    try:
        e = est.estimate(_items(resources), st.region)
    except est.CostDataError as exc:
        return [violation(f"cannot estimate: {exc}")]
    # Fail closed: a class without a price could be any size.
    out = [violation(f"cannot price {m}", m.rsplit(": ", 1)[0]) for m in e.missing]
    where, usd = limit
    if e.high > usd:
        top = sorted(e.by_component().items(), key=lambda kv: -kv[1][1])[:3]
        biggest = "; ".join(f"{name} {high:,.2f}" for name, (_, high) in top)
        out.append(
            violation(
                f"estimated monthly cost at maximum capacity is {e.high:,.2f} USD "
                f"(minimum {e.low:,.2f}) in {e.region}, over {usd:,.2f} USD ({where}); "
                f"largest: {biggest}; assumptions: {_assumptions(e)}"
            )
        )
    return out


def _classes_of(r: Resource) -> list[tuple[str, Any]]:
    """(property path, value) of every class `r` asks for."""
    if r.type in (RDS, AURORA):
        return [("instanceClass", get(r.props, "instanceClass"))]
    if r.type == ASG:
        overrides = get(r.props, "mixedInstancesPolicy", "launchTemplate", "overrides")
        if is_unknown(overrides):
            return [("mixedInstancesPolicy.launchTemplate.overrides", overrides)]
        return [
            (
                f"mixedInstancesPolicy.launchTemplate.overrides[{i}].instanceType",
                o.get("instanceType"),
            )
            for i, o in enumerate(overrides or [])
            if isinstance(o, Mapping) and o.get("instanceType") is not None
        ]
    return [("instanceType", get(r.props, "instanceType"))]


def allowed_classes(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    db = r.type in (RDS, AURORA)
    allowed = cfg.get("allowedDbClasses" if db else "allowedInstanceTypes", [])
    out: list[Finding] = []
    for path, value in _classes_of(r):
        if is_unknown(value):
            out.append(undecided(path))
        elif value not in allowed:
            out.append(
                violation(f"{path} {value or '(none)'!r} is not one of {', '.join(allowed)}")
            )
    return out


def nat_gateways(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    nats = sorted((r for r in resources if r.type == NAT), key=lambda r: r.urn)
    most = int(cfg.get("maxNatGateways", 1))
    if len(nats) <= most:
        return []
    return [
        violation(
            f"{len(nats)} NAT gateways (a gateway per AZ); a developer stack uses at most {most} "
            "(groundwork:network.natGateways: single)",
            r.urn,
        )
        for r in nats[most:]
    ]


def single_az_database(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    value = get(r.props, "multiAz")
    if is_unknown(value):
        return [undecided("multiAz")]
    if value is True or str(value).lower() == "true":
        return [violation("multiAz is true: a developer database runs in one AZ")]
    return []
