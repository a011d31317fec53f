"""The cost estimate: hand-computed arithmetic, complete coverage of the shipped stacks' resource
types, a price file that names its sources, and the preview that prints it with its assumptions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest

from offline.costs import items_of
from offline.model import Recording
from policies.cost.estimate import (
    RULES,
    CostDataError,
    Item,
    classification,
    estimate,
    load_prices,
    runs_per_month,
    unclassified_types,
)
from tests.cli import run_offline

ROOT = Path(__file__).resolve().parent.parent
S = "urn:pulumi:t::p::"


def _item(type_: str, name: str, parent: str = "", deps: dict | None = None, **props) -> Item:
    return Item(type_, f"{S}{type_}::{name}", name, parent, props, deps or {})


def synthetic_stack() -> list[Item]:
    """A web tier, one NAT gateway, an ALB and a small database in one component."""
    comp = _item("groundwork:test:Small", "small")
    lt = _item(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "lt",
        comp.urn,
        instanceType="t4g.small",
        blockDeviceMappings=[{"ebs": {"volumeSize": 20, "volumeType": "gp3"}}],
    )
    asg = _item(
        "aws:autoscaling/group:Group",
        "asg",
        comp.urn,
        {"launchTemplate": [lt.urn]},
        minSize=1,
        maxSize=2,
    )
    return [
        comp,
        lt,
        asg,
        _item("aws:ec2/natGateway:NatGateway", "nat", comp.urn),
        _item("aws:ec2/eip:Eip", "eip", comp.urn),
        _item("aws:lb/loadBalancer:LoadBalancer", "alb", comp.urn),
        _item(
            "aws:rds/instance:Instance",
            "db",
            comp.urn,
            instanceClass="db.t4g.micro",
            multiAz=False,
            allocatedStorage=20,
            maxAllocatedStorage=50,
            backupRetentionPeriod=3,
        ),
        _item("aws:iam/role:Role", "role", comp.urn),
    ]


def test_synthetic_stack_matches_hand_computed_figures() -> None:
    # eu-west-1, 730 h, assumptions natProcessedGbPerMonth=50, albAverageLcu=1,
    # rdsBackupDailyChangeFraction=0.02:
    #   asg   per instance 0.0184*730 + 20*0.088 = 13.432 + 1.76 = 15.192; x1 .. x2
    #   nat   0.048*730 + 50*0.048 = 35.04 + 2.40 = 37.44
    #   eip   0.005*730 = 3.65
    #   alb   (0.0252 + 1*0.008)*730 = 24.236
    #   db    0.017*730 + 20*0.127 + 20*0.02*3*0.095 = 12.41 + 2.54 + 0.114 = 15.064
    #         0.017*730 + 50*0.127 + 50*0.02*3*0.095 = 12.41 + 6.35 + 0.285 = 19.045
    est = estimate(synthetic_stack(), "eu-west-1")
    by_name = {line.urn.rsplit("::", 1)[-1]: (line.low, line.high) for line in est.lines}
    expected = {
        "asg": (15.192, 30.384),
        "nat": (37.44, 37.44),
        "eip": (3.65, 3.65),
        "alb": (24.236, 24.236),
        "db": (15.064, 19.045),
    }
    assert by_name.keys() == expected.keys(), f"priced lines: {sorted(by_name)}"
    for name, (low, high) in expected.items():
        assert by_name[name] == pytest.approx((low, high), abs=1e-3), f"{S}...::{name}"
    assert (est.low, est.high) == pytest.approx((95.58, 114.76), abs=0.01)
    assert est.by_component() == {"small (Small)": (est.low, est.high)}
    assert {"natProcessedGbPerMonth", "albAverageLcu", "rdsBackupDailyChangeFraction"} <= set(
        est.assumptions
    ), "every assumption used is reported with the estimate"


def test_prod_sized_changes_move_the_estimate() -> None:
    """The same stack with a multi-AZ database must cost more: the figure is not a constant."""
    small = estimate(synthetic_stack(), "eu-west-1")
    bigger = [
        Item(i.type, i.urn, i.name, i.parent, {**i.props, "multiAz": True}, i.deps)
        if i.type == "aws:rds/instance:Instance"
        else i
        for i in synthetic_stack()
    ]
    assert estimate(bigger, "eu-west-1").high > small.high + 13


def test_a_standalone_instance_is_priced_too() -> None:
    # t4g.small 0.0184*730 + an 8 GB gp3 root volume 8*0.088 = 13.432 + 0.704 = 14.136
    vm = _item("aws:ec2/instance:Instance", "vm", instanceType="t4g.small")
    (line,) = estimate([vm], "eu-west-1").lines
    assert (line.low, line.high) == pytest.approx((14.136, 14.136), abs=1e-3), line.basis


def test_unknown_class_is_reported_not_priced_at_zero() -> None:
    items = [
        Item(i.type, i.urn, i.name, i.parent, {**i.props, "instanceType": "x9.huge"}, i.deps)
        if i.name == "lt"
        else i
        for i in synthetic_stack()
    ]
    est = estimate(items, "eu-west-1")
    assert any("::asg" in m for m in est.missing), est.missing


def test_region_without_prices_is_an_error() -> None:
    with pytest.raises(CostDataError, match="ap-south-2"):
        estimate(synthetic_stack(), "ap-south-2")


# Every phase, and both stacks' own types: pmf only adds RUM's types, the same in either stack,
# so prod at pmf (the recording tests/test_rum.py and tests/test_performance.py share) covers
# them.
@pytest.mark.parametrize(
    "stack,phase", [("dev", "early"), ("prod", "early"), ("prod", "pmf"), ("prod", "growth")]
)
def test_every_registered_type_is_classified(
    phase_variant: Callable[..., Recording], stack: str, phase: str
) -> None:
    rec = phase_variant(stack, phase)
    assert unclassified_types(r.type for r in rec.resources) == [], (
        f"{stack}@{phase}: add these types to policies/cost/prices.json resourceTypes"
    )
    est = estimate(items_of(rec), "eu-west-1")
    assert est.missing == [], f"{stack}@{phase}: {est.missing}"


def test_an_unclassified_type_is_caught() -> None:
    assert unclassified_types(["aws:ec2/vpc:Vpc", "aws:new/thing:Thing"]) == ["aws:new/thing:Thing"]


def test_every_priced_type_has_a_rule_and_every_token_exists_in_pulumi_aws() -> None:
    data = load_prices()
    assert set(RULES) == set(data["resourceTypes"]["priced"])
    root = Path(find_spec("pulumi_aws").origin).parent  # type: ignore[arg-type]
    missing = []
    for token in classification():
        if not token.startswith("aws:"):
            continue
        module, cls = token.split(":")[1], token.split(":")[2]
        pkg, name = module.split("/")
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        # Python keywords get a trailing underscore (pulumi_aws.lambda_).
        path = root / (pkg + "_" if pkg in ("lambda",) else pkg) / f"{snake}.py"
        if not path.exists() or f"'{token}'" not in path.read_text():
            missing.append(f"{token} ({cls})")
    assert missing == [], "types in prices.json that pulumi_aws does not register"


def test_price_file_names_sources_regions_and_assumptions() -> None:
    data = load_prices()
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", data["read"])
    assert {"eu-west-1", "eu-central-1"} <= set(data["regions"])
    keys = {region: set(prices) for region, prices in data["regions"].items()}
    assert len({frozenset(k) for k in keys.values()}) == 1, "regions price different things"
    for region, prices in data["regions"].items():
        for key, entry in prices.items():
            url = data["sources"].get(entry["source"], "")
            assert url.startswith("https://aws.amazon.com/"), f"{region}.{key}: source {url!r}"
    for name, spec in data["assumptions"].items():
        assert {"value", "unit", "description"} <= set(spec), f"assumptions.{name}"


def test_schedules_turn_into_runs() -> None:
    assert runs_per_month("rate(5 minutes)", 730) == pytest.approx(8760)
    assert runs_per_month("cron(0 3 * * ? *)", 730) == pytest.approx(730 / 24)
    assert runs_per_month("cron(0/5 * * * ? *)", 730) is None


def test_preview_prints_estimate_with_assumptions_and_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "report.json"
    # `make preview STACK=prod`: a dry run of the shipped template (it warns, and prices).
    code, text, err = run_offline(
        ["preview", "--stack", "prod", "--no-policies", "--preview", "--json", str(out)], capsys
    )
    assert code == 0, err
    assert "Estimated monthly cost of groundwork/prod in eu-west-1" in text
    assert text.index("Estimated monthly cost") < text.index("Assumptions")
    assert "natProcessedGbPerMonth = 50" in text
    cost = json.loads(out.read_text())["cost"]
    parts = cost["components"].values()
    assert cost["monthly"]["minimum"] == pytest.approx(sum(p["minimum"] for p in parts), abs=0.05)
    assert cost["monthly"]["minimum"] < cost["monthly"]["maximum"], "a range, min to max"
    assert "natProcessedGbPerMonth" in cost["assumptions"]


@pytest.mark.parametrize("doc", ["README.md", "docs/cost.md"])
def test_docs_show_the_current_shipped_figures(doc: str, dev: Recording, prod: Recording) -> None:
    """The figures the README and docs/cost.md quote are what the preview prints today."""
    text = (ROOT / doc).read_text()
    for rec in (dev, prod):
        est = estimate(items_of(rec), "eu-west-1")
        for figure in (f"{est.low:,.2f}", f"{est.high:,.2f}"):
            assert figure in text, (
                f"{doc}: {rec.stack} now estimates {est.low:,.2f} .. {est.high:,.2f} USD "
                f"(make preview STACK={rec.stack}); update the figures"
            )


REPLICA = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"


def _replica_line(region: str | None) -> str:
    db = _item("aws:rds/instance:Instance", "db", instanceClass="db.t4g.micro", allocatedStorage=20)
    replica = Item(REPLICA, f"{S}{REPLICA}::r", "r", "", {"retentionPeriod": 7}, {}, region)
    (line,) = [li for li in estimate([db, replica], "eu-west-1").lines if li.type == REPLICA]
    return line.basis


def test_the_backup_replica_is_priced_in_its_own_region() -> None:
    """Backups stored in Frankfurt cost Frankfurt's rate (0.103), not Ireland's (0.095)."""
    assert "$0.103/GB (eu-central-1)" in _replica_line("eu-central-1")
    assert "$0.095/GB (eu-west-1)" in _replica_line(None), "no provider region: the stack's"
    assert "no prices for ap-south-2" in _replica_line("ap-south-2")


def test_the_recorded_replica_carries_its_provider_region(prod: Recording) -> None:
    (replica,) = [i for i in items_of(prod) if i.type == REPLICA]
    assert replica.region == "eu-central-1", (
        f"{replica.urn}: the estimator sees region {replica.region!r}, "
        "not the replica provider's eu-central-1"
    )
