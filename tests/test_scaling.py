"""Performance-driven scaling (phase growth): request-count, latency and predictive policies."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from components import scaling
from offline.model import Recording
from settings import SettingsError, parse
from tests import performance_checks as pc
from tests.checks import replace_inputs
from tests.conftest import GROWTH_ALTERED

# One custom growth variant covers the switches: no predictive scaling. (A warm pool is refused
# while the pipeline deploys with CodeDeploy: test_warm_pool_is_refused_with_codedeploy.)
CUSTOM = {
    "groundwork:scaling": {
        "predictive": False,
        "requestsPerTarget": 600,
        "schedulingBufferSeconds": 600,
    }
}


@pytest.fixture(scope="module")
def growth(phase_variant: Callable[..., Recording]) -> Recording:
    return phase_variant("prod", "growth")


@pytest.fixture(scope="module")
def custom(phase_variant: Callable[..., Recording]) -> Recording:
    # CUSTOM with tests/test_rum.py's RUM settings too (GROWTH_ALTERED): one recording.
    assert GROWTH_ALTERED["groundwork:scaling"] == CUSTOM["groundwork:scaling"]
    return phase_variant("prod", "growth", GROWTH_ALTERED)


def policy(rec: Recording, name: str):
    return pc.named(rec, pc.POLICY, name)


def test_every_scaling_policy_targets_the_web_tier_group(
    growth: Recording, custom: Recording
) -> None:
    for rec in (growth, custom):
        assert pc.scaling_target_problems(rec) == []
        assert pc.resource_label_problems(rec) == []
    names = {p.name for p in growth.of_type(pc.POLICY)}
    assert names == {
        "web-cpu-tracking",
        "scaling-request-tracking",
        "scaling-latency-step",
        "scaling-predictive",
    }


@pytest.mark.parametrize("name", ["scaling-request-tracking", "scaling-latency-step"])
def test_target_check_catches_a_policy_on_another_group(growth: Recording, name: str) -> None:
    p = policy(growth, name)
    broken = replace_inputs(growth, p.urn, lambda i: i.update(autoscalingGroupName="other"))
    assert any(p.urn in x for x in pc.scaling_target_problems(broken))
    # Same name, but not wired to the group: a policy on a group of the same name elsewhere.
    detached = dataclasses.replace(
        growth,
        resources=[
            dataclasses.replace(r, property_dependencies={}) if r.urn == p.urn else r
            for r in growth
        ],
    )
    assert any(p.urn in x for x in pc.scaling_target_problems(detached))


def test_request_count_target_tracking(growth: Recording, custom: Recording) -> None:
    for rec, target in ((growth, 1000), (custom, 600)):
        p = policy(rec, "scaling-request-tracking")
        spec = p.input("targetTrackingConfiguration")
        assert p.input("policyType") == "TargetTrackingScaling", p.urn
        assert spec["predefinedMetricSpecification"]["predefinedMetricType"] == (
            "ALBRequestCountPerTarget"
        )
        assert spec["targetValue"] == target, p.urn
        alb, tg = rec.one(pc.ALB), rec.one(pc.TG)
        label = spec["predefinedMetricSpecification"]["resourceLabel"]
        assert label == f"{pc.out(alb, 'arnSuffix')}/{pc.out(tg, 'arnSuffix')}", p.urn
    # CPU tracking stays alongside it.
    assert policy(growth, "web-cpu-tracking").input("policyType") == "TargetTrackingScaling"


def test_label_check_catches_a_foreign_target_group(growth: Recording) -> None:
    p = policy(growth, "scaling-request-tracking")

    def relabel(inputs: dict) -> None:
        spec = inputs["targetTrackingConfiguration"]["predefinedMetricSpecification"]
        spec["resourceLabel"] = "app/other/1/targetgroup/other/2"

    assert pc.resource_label_problems(replace_inputs(growth, p.urn, relabel))


def test_latency_step_policy_adds_capacity_when_the_p95_alarm_fires(growth: Recording) -> None:
    p = policy(growth, "scaling-latency-step")
    assert (p.input("policyType"), p.input("adjustmentType")) == ("StepScaling", "ChangeInCapacity")
    steps = p.input("stepAdjustments")
    assert [s["scalingAdjustment"] for s in steps] == [1, 2], p.urn
    assert all(s["scalingAdjustment"] > 0 for s in steps), "it only ever scales out"
    # Bounds are relative to the alarm's threshold, in seconds: breaching by up to the target
    # itself (p95 up to twice the target) adds one instance, more adds two.
    assert steps[0]["metricIntervalLowerBound"] == "0"
    assert steps[0]["metricIntervalUpperBound"] == steps[1]["metricIntervalLowerBound"] == "0.4"
    assert "metricIntervalUpperBound" not in steps[1]
    alarm = pc.named(growth, pc.METRIC_ALARM, "performance-latency-p95")
    assert pc.out(p, "arn") in alarm.input("alarmActions"), alarm.urn


def test_latency_steps_follow_the_target() -> None:
    assert scaling.latency_steps(250) == [
        {
            "metric_interval_lower_bound": "0",
            "metric_interval_upper_bound": "0.25",
            "scaling_adjustment": 1,
        },
        {"metric_interval_lower_bound": "0.25", "scaling_adjustment": 2},
    ]


def test_predictive_scaling_only_when_enabled(growth: Recording, custom: Recording) -> None:
    p = policy(growth, "scaling-predictive")
    config = p.input("predictiveScalingConfiguration")
    assert p.input("policyType") == "PredictiveScaling", p.urn
    assert config["mode"] == "ForecastAndScale", p.urn
    assert config["schedulingBufferTime"] == "300", p.urn
    assert config["maxCapacityBreachBehavior"] == "HonorMaxCapacity", p.urn
    metric = config["metricSpecification"]
    assert metric["predefinedMetricPairSpecification"]["predefinedMetricType"] == "ALBRequestCount"
    assert metric["targetValue"] == 1000
    assert "predictive-scaling" not in pc.capabilities(custom), "predictive: false"


def test_group_keeps_warmup_and_leaves_desired_capacity_to_the_policies(
    growth: Recording, custom: Recording
) -> None:
    for rec in (growth, custom):
        asg = rec.one(pc.ASG)
        assert asg.input("defaultInstanceWarmup") == 300, asg.urn
        assert "desiredCapacity" in asg.ignore_changes, asg.urn
        assert asg.input("desiredCapacity") is None, asg.urn


def test_warm_pool_is_off_by_default(growth: Recording, custom: Recording) -> None:
    for rec in (growth, custom):
        assert rec.one(pc.ASG).input("warmPool") is None, rec.one(pc.ASG).urn


def test_warm_pool_is_refused_with_codedeploy() -> None:
    """CodeDeploy's launch hook does not handle Warmed:Pending:Wait (aws-codedeploy-agent#390,
    still open): a warmed instance would enter service without the current release."""
    values = {"aws:region": "eu-west-1", "groundwork:scaling": json.dumps({"warmPool": True})}
    with pytest.raises(SettingsError) as err:
        parse(values, project="p", stack="s")
    (problem,) = err.value.problems
    assert problem.startswith("groundwork:scaling.warmPool must be false while the pipeline")
    assert "CodeDeploy" in problem and "#390" in problem and "(got true)" in problem
    parse({**values, "groundwork:scaling": json.dumps({"warmPool": False})}, project="p", stack="s")


def test_warm_pool_needs_growth_phase(phase_variant: Callable[..., Recording]) -> None:
    # The switch alone does nothing before phase growth.
    pmf = phase_variant("prod", "pmf")
    assert pmf.one(pc.ASG).input("warmPool") is None
    assert not any(p.name.startswith("scaling-") for p in pmf.of_type(pc.POLICY))


@pytest.mark.parametrize(
    ("scaling_config", "message"),
    [
        (
            {"latencyDatapointsToAlarm": 6, "latencyEvaluationPeriods": 5},
            r"groundwork:scaling\.latencyDatapointsToAlarm must be <= latencyEvaluationPeriods "
            r"\(got 6 > 5\)",
        ),
        (
            {"warmPool": True, "warmPoolMinSize": 9},
            r"groundwork:scaling\.warmPoolMinSize must be <= hosting\.maxSize \(got 9 > 4\)",
        ),
        ({"warmPoolState": "Hibernated"}, r"groundwork:scaling\.warmPoolState must be one of"),
    ],
)
def test_bad_scaling_settings_are_refused(scaling_config: dict, message: str) -> None:
    values = {"aws:region": "eu-west-1", "groundwork:scaling": json.dumps(scaling_config)}
    with pytest.raises(SettingsError, match=message):
        parse(values, project="p", stack="s")
