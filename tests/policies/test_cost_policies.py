"""Cheap dev, enforced through the real protocol: the shipped dev stack passes the dev-only cost
policies, a prod-sized dev stack fails each of them, the policy config can only lower the
budget, and the pack's figure is the offline preview's figure (one estimator)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import policy_builders as b
import pytest
from conftest import DEV_CONFIG, PROD_CONFIG, config_with, run
from policy_builders import UNKNOWN

from offline import costs, stackfile
from offline.analyzer import AnalysisResult, PolicyPackProcess
from offline.model import Recording
from tests.conftest import PROD_SIZED, ROOT, stack_config

DEV_POLICIES = (
    "dev-cost-within-budget",
    "dev-instance-classes",
    "dev-single-nat-gateway",
    "dev-single-az-database",
)


def _judge(
    stack_packs: Callable[..., PolicyPackProcess],
    rec: Recording,
    stack_file: Path,
    config: Any = DEV_CONFIG,
) -> AnalysisResult:
    """A variant dev stack file, judged by the session's reconfigurable pack."""
    return stack_packs(stackfile.load("dev", ROOT, stack_file)).run(rec, config)


@pytest.fixture(scope="module")
def prod_sized_dev(
    tmp_path_factory: pytest.TempPathFactory, phase_variant: Callable[..., Recording]
) -> tuple[Recording, Path]:
    from tests.conftest import DEV_ALTERED, write_stack_file

    # dev with other groups changed too (DEV_ALTERED): one recording for several files. It
    # carries every prod-sized value.
    carried = {group: {k: DEV_ALTERED[group][k] for k in v} for group, v in PROD_SIZED.items()}
    assert carried == PROD_SIZED, "DEV_ALTERED lost a prod size"
    path = write_stack_file(tmp_path_factory.mktemp("big-dev"), "dev", DEV_ALTERED)
    return phase_variant("dev", "early", DEV_ALTERED), path


def test_shipped_dev_passes_the_cost_policies(dev: Recording) -> None:
    # The shipped file through a pack started as the CLI starts it (PULUMI_CONFIG).
    with PolicyPackProcess(stackfile.load("dev", ROOT)) as pack:
        result = pack.run(dev, DEV_CONFIG)
    assert all(result.levels[p] == "mandatory" for p in DEV_POLICIES), result.levels
    found = [(v.policy, v.urn) for v in result.violations if v.policy in DEV_POLICIES]
    assert found == [], found


def test_prod_sized_dev_fails_every_cost_policy(
    stack_packs: Callable[..., PolicyPackProcess],
    prod_sized_dev: tuple[Recording, Path],
) -> None:
    rec, path = prod_sized_dev
    result = _judge(stack_packs, rec, path)
    failed = {v.policy for v in result.mandatory}
    assert set(DEV_POLICIES) <= failed, sorted(failed)
    # The pack priced it with the preview's estimator: the same maximum, to the cent.
    region = stack_config("dev")["aws:region"]
    high = costs.estimate_recording(rec, region).high
    (budget,) = result.of("dev-cost-within-budget")
    assert f"is {high:,.2f} USD" in budget.message, (budget.message, high)
    assert "assumptions: " in budget.message, "the figure comes with its assumptions"


def test_raising_the_stack_budget_does_not_escape_the_dev_cap(
    stack_packs: Callable[..., PolicyPackProcess],
    tmp_path: Path,
    prod_sized_dev: tuple[Recording, Path],
) -> None:
    """A developer who lifts groundwork:cost.monthlyBudgetUsd still meets dev.json's cap."""
    from tests.conftest import write_stack_file

    rec, _ = prod_sized_dev
    lifted = write_stack_file(
        tmp_path, "dev", {**PROD_SIZED, "groundwork:cost": {"monthlyBudgetUsd": 1_000_000}}
    )
    cap = DEV_CONFIG["dev-cost-within-budget"]["maxMonthlyUsd"]
    (budget,) = _judge(stack_packs, rec, lifted).of("dev-cost-within-budget")
    assert f"over {cap:,.2f} USD (policy config maxMonthlyUsd)" in budget.message, budget.message


def test_prod_config_never_runs_the_cost_policies(
    stack_packs: Callable[..., PolicyPackProcess],
    prod_sized_dev: tuple[Recording, Path],
) -> None:
    rec, path = prod_sized_dev
    result = _judge(stack_packs, rec, path, PROD_CONFIG)
    assert not [p for p in result.policies if p in DEV_POLICIES], result.policies


def _web() -> list[Any]:
    return [b.lt(instanceType="t4g.small"), b.asg(minSize=1, maxSize=2)]


@pytest.mark.parametrize(
    "stack_budget,config_cap,fails",
    [
        (150, None, False),  # 30.38 USD at max is under the stack budget
        (20, None, True),  # over the stack budget
        (20, 1_000_000, True),  # a generous config cannot raise the stack's budget
        (150, 10, True),  # the config may lower it
        (None, 150, False),  # without a stack budget the config's cap applies
    ],
)
def test_policy_config_may_only_lower_the_budget(
    packs: Callable[..., PolicyPackProcess],
    stack_budget: float | None,
    config_cap: float | None,
    fails: bool,
) -> None:
    cost = None if stack_budget is None else json.dumps({"monthlyBudgetUsd": stack_budget})
    pack = packs(**{"groundwork:cost": cost})
    knobs = {"enforcementLevel": "mandatory"}
    if config_cap is not None:
        knobs["maxMonthlyUsd"] = config_cap
    result = run(pack, _web(), config_with(DEV_CONFIG, dev_cost_within_budget=knobs))
    found = result.of("dev-cost-within-budget")
    assert bool(found) is fails, [v.message for v in found]


def test_no_budget_anywhere_is_a_violation_not_a_pass() -> None:
    from policies.rules.base import StackSettings
    from policies.rules.props import Resource
    from policies.rules.spend import estimate_within_budget

    web = [Resource(r.type, r.urn, r.name, r.inputs) for r in _web()]
    found = estimate_within_budget(web, {}, StackSettings(region="eu-west-1"))
    assert [f.message for f in found if "no budget" in f.message], found
    ok = estimate_within_budget(web, {}, StackSettings(region="eu-west-1", monthly_budget_usd=150))
    assert ok == [], ok


def test_a_resource_is_priced_in_its_providers_region_when_known() -> None:
    """An explicit provider's region (the backup replica's) prices its resources; one unknown
    at preview leaves them at the stack's rate instead of naming a region that is no region."""
    from policies.rules.props import Resource
    from policies.rules.spend import _items

    def region_of(provider_props: dict[str, object] | None) -> str | None:
        r = Resource("aws:s3/bucket:Bucket", "urn:b", "b", {}, provider_props=provider_props)
        return _items([r])[0].region

    assert region_of({"region": "eu-central-1"}) == "eu-central-1"
    assert region_of({"region": UNKNOWN}) is None, "an unknown provider region"
    assert region_of({}) is None and region_of(None) is None
