"""The scaling simulation against hand-computed runs, its inputs, its CLI and its PNG.

Unless a test says otherwise the model is small enough to compute by hand:
one instance saturates at 100 requests/minute, idle p95 is 100 ms, launch takes 1 minute and
warmup 5 minutes. An instance launched at boundary b is InService at b+1 and serves from b+6.
Minute t's datapoint is complete at boundary t+1, where decisions take effect.
"""

from __future__ import annotations

import io
import struct
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import settings
from bench.scaling_sim import (
    ModelConfig,
    ParamsError,
    ScalingConfig,
    daily_with_spike,
    from_csv,
    params_from_settings,
    simulate,
    summarize,
)
from bench.scaling_sim.cli import main
from bench.scaling_sim.stack import phase_drops, stack_notes
from offline import stackfile
from offline.model import Recording
from tests.conftest import ELSEWHERE, PROD_ALTERED, ROOT, SIM_SCALING, write_stack_file
from tests.scaling_sim_checks import simulator_drift

MODEL = ModelConfig(
    capacity_per_instance=100.0, base_latency_ms=100.0, latency_cap_ms=5000.0, launch_delay_s=60
)
# Only the request-count policy: its metric is not capped like CPU, so ceil() is exact.
REQUESTS_50 = ScalingConfig(
    min_size=2, max_size=10, cpu_target=None, requests_per_target=50.0, instance_warmup_s=300
)
# 2 instances at 100 req/min for 10 minutes, then 300 req/min.
STEP_UP = [100.0] * 10 + [300.0] * 50


def _changes(series: list[int]) -> list[tuple[int, int]]:
    return [(t, v) for t, v in enumerate(series) if t == 0 or series[t - 1] != v]


# --- steady state and the ceil() of target tracking ------------------------------------------


def test_constant_load_keeps_the_steady_capacity() -> None:
    # CPU target 50 % of 100 req/min = 50 req/min per instance; 300 / 50 = 6 instances.
    # CPU = 300 / 6 = 50 %: not above 50 (no scale-out), not below 45 (no scale-in).
    scaling = replace(REQUESTS_50, cpu_target=50.0, requests_per_target=None)
    result = simulate([300.0] * 60, scaling, MODEL)
    assert set(result.desired) == {6}, f"cpuTarget=50: desired {_changes(result.desired)}"
    assert result.activities == [], f"cpuTarget=50: unexpected {result.activities}"


def test_load_just_above_target_scales_out_to_the_ceiling() -> None:
    # 301 req/min on 6 instances: CPU 50.17 % > 50 for minutes 0, 1, 2 -> at boundary 3
    # desired = ceil(6 * 50.1667 / 50) = ceil(6.02) = 7 (not 6, not 8).
    scaling = replace(REQUESTS_50, cpu_target=50.0, requests_per_target=None)
    result = simulate([301.0] * 30, scaling, replace(MODEL, initial_capacity=6))
    assert result.desired[2] == 6, "cpuTarget=50: scaled out before 3 breaching minutes"
    assert result.desired[3] == 7, f"cpuTarget=50: desired {_changes(result.desired)}"
    assert max(result.desired) == 7, f"cpuTarget=50: overshoot {_changes(result.desired)}"


def test_exact_capacity_is_not_rounded_up_by_float_error() -> None:
    # CPU target 40 % = 40 req/min per instance. 360 req/min on 7: CPU 51.43 % > 40 ->
    # ceil(7 * 51.43 / 40) = 360 / 40 = 9 exactly (floats give 9.000000000000002, not 10).
    scaling = replace(REQUESTS_50, cpu_target=40.0, requests_per_target=None)
    result = simulate([360.0] * 10, scaling, replace(MODEL, initial_capacity=7))
    assert result.desired[3] == 9, f"cpuTarget=40: desired {_changes(result.desired)}"


# --- scale-out timing: alarm, launch, warmup ---------------------------------------------------


def test_step_up_reaches_capacity_only_after_launch_and_warmup() -> None:
    # Minutes 10, 11, 12: 300 / 2 = 150 req/target > 50 -> boundary 13:
    # desired = ceil(2 * 150 / 50) = 6. Launched at 13, InService at 14, serving from 19.
    result = simulate(STEP_UP, REQUESTS_50, MODEL)
    assert result.desired[12] == 2 and result.desired[13] == 6, (
        f"requestsPerTarget=50: desired {_changes(result.desired)}"
    )
    assert result.in_service[13] == 2 and result.in_service[14] == 6, (
        f"requestsPerTarget=50: in service {_changes(result.in_service)}"
    )
    # Not reached before the warmup ends ...
    assert result.serving[18] == 2, f"serving before warmup: {_changes(result.serving)}"
    # ... and reached right when it ends.
    assert result.serving[19] == 6, f"serving after warmup: {_changes(result.serving)}"
    # The alarm stays in ALARM while the 4 new instances warm up, but they already count in
    # the desired capacity: ceil(2 * 150 / 50) = 6 again, nothing is added twice.
    assert max(result.desired) == 6, f"over-added during warmup: {_changes(result.desired)}"


def test_no_warmup_serves_one_minute_after_launch() -> None:
    # warmup 0: launched at 13, serving from 14.
    result = simulate(STEP_UP, replace(REQUESTS_50, instance_warmup_s=0), MODEL)
    assert result.serving[13] == 2 and result.serving[14] == 6, (
        f"instance warmup 0: serving {_changes(result.serving)}"
    )


def test_warming_instances_serve_when_the_model_says_so() -> None:
    # Same launch at 13; serving from InService (14). At boundary 15 the datapoints 12, 13, 14
    # are 150, 150, 50: not all above 50, so the alarm is OK and nothing more is added.
    result = simulate(STEP_UP, REQUESTS_50, replace(MODEL, warming_serves_traffic=True))
    assert result.serving[13] == 2 and result.serving[14] == 6, (
        f"warming_serves_traffic: serving {_changes(result.serving)}"
    )
    assert max(result.desired) == 6, f"warming_serves_traffic: {_changes(result.desired)}"


def test_saturated_cpu_underasks_and_scales_out_twice() -> None:
    # CPU caps at 100 %, so at boundary 13 CPU tracking asks ceil(2 * 100 / 50) = 4, not 6.
    # Serving 4 from 19: 300 / 4 = 75 %. Boundary 20 sees datapoints 17, 18, 19 = 100, 100, 75,
    # all > 50: desired = ceil(4 * 75 / 50) = 6; serving 6 from 26 at exactly 50 %.
    scaling = replace(REQUESTS_50, cpu_target=50.0, requests_per_target=None)
    result = simulate(STEP_UP, scaling, MODEL)
    assert _changes(result.desired) == [(0, 2), (13, 4), (20, 6)], (
        f"cpuTarget=50 under saturation: desired {_changes(result.desired)}"
    )
    assert result.serving[25] == 4 and result.serving[26] == 6, (
        f"cpuTarget=50: serving {_changes(result.serving)}"
    )


# --- bounds ------------------------------------------------------------------------------------


def test_max_size_clamps_the_scale_out() -> None:
    # The step-up wants 6; maxSize 4 allows 4.
    clamped = simulate(STEP_UP, replace(REQUESTS_50, max_size=4), MODEL)
    assert max(clamped.desired) == 4 and clamped.desired[13] == 4, (
        f"hosting.maxSize=4: desired {_changes(clamped.desired)}"
    )
    free = simulate(STEP_UP, replace(REQUESTS_50, max_size=10), MODEL)
    assert max(free.desired) == 6, f"hosting.maxSize=10: desired {_changes(free.desired)}"


def test_scale_in_is_gradual_and_stops_at_min_size() -> None:
    # 6 instances, 100 req/min: 16.7 req/target < 0.9 * 50 = 45 for minutes 0..14 ->
    # boundary 15: keep = ceil(6 * 16.7 / 50) = 2, but at most one less: 5.
    # Cooldown 5 min -> boundary 20: 4 (= minSize). Boundary 25: max(2, 3, 4) = 4, no change.
    scaling = replace(REQUESTS_50, min_size=4)
    result = simulate([100.0] * 60, scaling, replace(MODEL, initial_capacity=6))
    assert _changes(result.desired) == [(0, 6), (15, 5), (20, 4)], (
        f"hosting.minSize=4: desired {_changes(result.desired)}"
    )
    assert result.desired[19] == 5, "scaled in again before the cooldown ended"
    assert min(result.desired) == 4, f"went below hosting.minSize=4: {_changes(result.desired)}"


def test_scale_in_continues_to_the_target_when_min_allows() -> None:
    # minSize 2: 15 -> 5, 20 -> 4, 25 -> 3, 30 -> 2; then keep = ceil(2 * 50 / 50) = 2.
    result = simulate([100.0] * 60, REQUESTS_50, replace(MODEL, initial_capacity=6))
    assert _changes(result.desired) == [(0, 6), (15, 5), (20, 4), (25, 3), (30, 2)], (
        f"hosting.minSize=2: desired {_changes(result.desired)}"
    )


def test_scale_in_never_goes_past_the_target() -> None:
    # 200 req/min on 8: 25 req/target < 45. With up to 10 removable at once and minSize 1,
    # scale-in stops at ceil(8 * 25 / 50) = 4 (50 req/target, exactly the target), not at 1;
    # afterwards 50 is not below 45, so it stays at 4.
    scaling = replace(REQUESTS_50, min_size=1)
    result = simulate([200.0] * 60, scaling, replace(MODEL, initial_capacity=8, scale_in_step=10))
    assert _changes(result.desired) == [(0, 8), (15, 4)], (
        f"requestsPerTarget=50: desired {_changes(result.desired)}"
    )


def test_scale_in_waits_for_warmup_to_end() -> None:
    # Latency step only fires once: 80 req/min on 2 instances is rho 0.4, p95 = 100 / 0.6 =
    # 167 ms > 150 for minutes 0, 1, 2 -> boundary 3: 3 instances; then 40 req/min (125 ms).
    # The request policy (1000/target) has its low alarm from boundary 15, but the third
    # instance warms up until 3 + 1 + 20 = 24: scale-in waits until boundary 24, where
    # serving is 2 at 20 req/target: keep = 1, one less = 2, minSize 2 -> 2.
    scaling = replace(
        REQUESTS_50, requests_per_target=1000.0, latency_p95_ms=150.0, instance_warmup_s=1200
    )
    load = [80.0] * 3 + [40.0] * 57
    result = simulate(load, scaling, MODEL)
    assert _changes(result.desired) == [(0, 2), (3, 3), (24, 2)], (
        f"warmup 1200 s: desired {_changes(result.desired)}"
    )
    quick = simulate(load, replace(scaling, instance_warmup_s=60), MODEL)
    assert _changes(quick.desired) == [(0, 2), (3, 3), (15, 2)], (
        f"warmup 60 s: desired {_changes(quick.desired)}"
    )


# --- several policies --------------------------------------------------------------------------


def test_several_policies_take_the_largest_scale_out() -> None:
    # 200 req/min on 2 instances: CPU 100 % (capped) -> ceil(2 * 100 / 50) = 4;
    # 100 req/target with target 40 -> ceil(2 * 100 / 40) = 5. Together: 5 at boundary 3.
    model = replace(MODEL, initial_capacity=2)
    load = [200.0] * 30
    base = replace(REQUESTS_50, min_size=1)
    cpu = simulate(load, replace(base, cpu_target=50.0, requests_per_target=None), model)
    req = simulate(load, replace(base, cpu_target=None, requests_per_target=40.0), model)
    both = simulate(load, replace(base, cpu_target=50.0, requests_per_target=40.0), model)
    assert cpu.desired[3] == 4, f"cpuTarget=50 alone: {_changes(cpu.desired)}"
    assert req.desired[3] == 5, f"requestsPerTarget=40 alone: {_changes(req.desired)}"
    assert both.desired[3] == 5, f"both policies: {_changes(both.desired)}"
    assert both.activities[0].cause == "target tracking (requests)", both.activities
    # And when CPU asks more: target 25 % -> ceil(2 * 100 / 25) = 8 > 5.
    cpu_wins = simulate(load, replace(base, cpu_target=25.0, requests_per_target=40.0), model)
    assert cpu_wins.desired[3] == 8, f"cpuTarget=25 with requests 40: {_changes(cpu_wins.desired)}"


def test_scale_in_needs_every_policy() -> None:
    # 100 req/min on 4: CPU 25 % < 45 (CPU would scale in), but 25 req/target is not below
    # 0.9 * 25 = 22.5 (requests would not) -> nothing happens.
    model = replace(MODEL, initial_capacity=4)
    base = replace(REQUESTS_50, min_size=1)
    both = simulate([100.0] * 60, replace(base, cpu_target=50.0, requests_per_target=25.0), model)
    assert set(both.desired) == {4}, f"both policies: desired {_changes(both.desired)}"
    # CPU alone: boundary 15, keep = ceil(4 * 25 / 50) = 2, one less = 3.
    cpu = simulate([100.0] * 60, replace(base, cpu_target=50.0, requests_per_target=None), model)
    assert cpu.desired[14] == 4 and cpu.desired[15] == 3, (
        f"cpuTarget=50 alone: desired {_changes(cpu.desired)}"
    )


# --- latency step policy ------------------------------------------------------------------------

# No target tracking; latency target 300 ms. p95 = 100 / (1 - rho) > 300 iff rho > 2/3:
# 150 req/min on 2 instances (rho 0.75, 400 ms) breaches, 100 (rho 0.5, 200 ms) does not.
LATENCY_ONLY = replace(REQUESTS_50, requests_per_target=None, latency_p95_ms=300.0)


def _breaches_at(minutes: set[int], n: int = 30) -> list[float]:
    return [150.0 if t in minutes else 100.0 for t in range(n)]


def test_latency_step_fires_after_m_of_n_breaching_minutes() -> None:
    # 2 of 3: windows ending at 5..9 hold one breach; (8, 9, 10) holds two -> boundary 11.
    scaling = replace(LATENCY_ONLY, latency_alarm_m=2, latency_alarm_n=3, latency_step_add=1)
    result = simulate(_breaches_at({5, 8, 10}), scaling, MODEL)
    assert result.desired[10] == 2 and result.desired[11] == 3, (
        f"latencyP95Ms=300, 2 of 3: desired {_changes(result.desired)}"
    )
    assert result.activities[0].cause == "latency step", result.activities


def test_latency_step_does_not_fire_below_m_of_n() -> None:
    three_of_three = replace(LATENCY_ONLY, latency_alarm_m=3, latency_alarm_n=3)
    result = simulate(_breaches_at({5, 8, 10}), three_of_three, MODEL)
    assert set(result.desired) == {2}, f"3 of 3: desired {_changes(result.desired)}"
    two_of_three = replace(LATENCY_ONLY, latency_alarm_m=2, latency_alarm_n=3)
    sparse = simulate(_breaches_at({5, 8}), two_of_three, MODEL)
    assert set(sparse.desired) == {2}, f"2 of 3, breaches 3 apart: {_changes(sparse.desired)}"


def test_latency_step_does_not_repeat_while_its_instances_warm_up() -> None:
    # 150 req/min throughout, 3 of 3: boundary 3 -> 3 instances (serving from 9). Boundaries
    # 4..8 are still in ALARM but the step's instances are warming: no new step. Boundary 9
    # still sees breaching minutes 6, 7, 8 -> 4. Then 150 / 3 = 50 each, 200 ms: alarm OK.
    result = simulate([150.0] * 30, LATENCY_ONLY, MODEL)
    assert _changes(result.desired) == [(0, 2), (3, 3), (9, 4)], (
        f"latencyP95Ms=300, step +1: desired {_changes(result.desired)}"
    )


# --- run metrics --------------------------------------------------------------------------------


def test_instance_hours_count_every_launched_instance() -> None:
    # Constant: 150 req/min at 50 req/instance = 3 instances for 120 min = 6.0 instance-hours.
    scaling = replace(REQUESTS_50, cpu_target=50.0, requests_per_target=None)
    constant = simulate([150.0] * 120, scaling, MODEL)
    assert constant.instance_hours() == pytest.approx(6.0)
    # Step-up: 2 billed for minutes 0..12 (13 min), 6 for 13..59 (47 min):
    # (2 * 13 + 6 * 47) / 60 = 308 / 60 = 5.1333 ...
    step = simulate(STEP_UP, REQUESTS_50, MODEL)
    assert step.instance_hours() == pytest.approx(308 / 60)
    # ... not the serving count (2 * 19 + 6 * 41) / 60 = 284 / 60: warming instances are billed.
    assert step.instance_hours() != pytest.approx(284 / 60)


SPIKE = [100.0] * 10 + [300.0] * 30 + [100.0] * 50  # spike at minute 10 for 30 minutes


def test_recovery_time_of_a_known_spike() -> None:
    # 2 instances: 100 / 2 = rho 0.5 -> 200 ms. Spike: rho 1.5 -> capped 5000 ms from minute
    # 10. Boundary 13 -> 6 instances, serving from 19: rho 0.5 -> 200 ms. Over 300 ms for
    # minutes 10..18 = 9 minutes; recovered at 19, 9 minutes after the spike started.
    summary = summarize(simulate(SPIKE, REQUESTS_50, MODEL), 300.0, spike_start=10)
    assert (summary.first_breach, summary.recovered_at) == (10, 19), summary
    assert summary.recovery_minutes == 9, summary
    assert summary.minutes_above_target == 9, summary
    assert summary.peak_serving == 6 and summary.peak_desired == 6, summary


def test_longer_warmup_recovers_later() -> None:
    # Warmup 10 min: serving from 13 + 1 + 10 = 24 -> recovery 14, 14 minutes over.
    slow = replace(REQUESTS_50, instance_warmup_s=600)
    summary = summarize(simulate(SPIKE, slow, MODEL), 300.0, spike_start=10)
    assert summary.recovery_minutes == 14, summary
    assert summary.minutes_above_target == 14, summary


def test_a_spike_beyond_max_size_does_not_recover() -> None:
    # maxSize 2: 300 / 2 stays saturated for the whole spike; the spike ends at minute 40 and
    # only then p95 drops (recovered at 40, 30 minutes).
    capped = replace(REQUESTS_50, max_size=2)
    summary = summarize(simulate(SPIKE, capped, MODEL), 300.0, spike_start=10)
    assert summary.recovered_at == 40 and summary.recovery_minutes == 30, summary
    endless = summarize(simulate(SPIKE[:40], capped, MODEL), 300.0, spike_start=10)
    assert endless.recovery_minutes is None and endless.recovered_at is None, endless


def test_an_empty_group_is_slow_only_when_there_is_load() -> None:
    # minSize 0, no instance, no target tracking (CPU has no datapoint without instances):
    # zero load reports the idle p95 (100 ms); any load waits for the cap, 5000 ms.
    scaling = replace(REQUESTS_50, min_size=0, requests_per_target=None)
    result = simulate([0.0, 0.0, 50.0], scaling, replace(MODEL, initial_capacity=0))
    assert result.serving == [0, 0, 0], result.serving
    assert result.p95_ms == [100.0, 100.0, 5000.0], f"hosting.minSize=0: p95 {result.p95_ms}"


def test_no_breach_means_zero_recovery() -> None:
    summary = summarize(simulate([100.0] * 30, REQUESTS_50, MODEL), 300.0, spike_start=10)
    assert summary.first_breach is None and summary.recovery_minutes == 0, summary
    assert summary.minutes_above_target == 0, summary


def test_a_short_dip_between_breaches_is_not_a_recovery() -> None:
    # Over target 10..19, a 5-minute dip (20..24), over again 25..39, then under for good.
    p95 = [100.0] * 10 + [900.0] * 10 + [100.0] * 5 + [900.0] * 15 + [100.0] * 30
    result = simulate([100.0] * len(p95), REQUESTS_50, MODEL)
    result = replace(result, p95_ms=p95)
    summary = summarize(result, 300.0, spike_start=10)
    assert summary.hold == 15, "the recovery window the report states"
    assert summary.recovered_at == 40, f"a 5-minute dip is not a recovery: {summary}"
    assert summary.recovery_minutes == 30, summary
    cut = summarize(replace(result, p95_ms=p95[:50], load=result.load[:50]), 300.0, 10)
    assert cut.recovered_at is None, "10 minutes under target before the run ends are not 15"


# --- predictive scaling --------------------------------------------------------------------------


def test_predictive_scaling_schedules_yesterdays_hour_ahead_of_time() -> None:
    # Day 1 10:00-10:59 (minutes 600..659) runs at 500 req/min, everything else at 100.
    # Forecast for day 2 10:00 (minute 2040): mean 500 / 50 = 10 instances, in force from
    # buffer = launch + warmup = 6 min earlier (2034): serving 10 at 2034 + 1 + 5 = 2040.
    load = [500.0 if 600 <= t < 660 else 100.0 for t in range(2880)]
    scaling = replace(REQUESTS_50, max_size=20, predictive=True)
    result = simulate(load, scaling, MODEL)
    assert result.predictive_min[600] is None, "scaling.predictive: forecast before 24 h of data"
    assert result.desired[2033] == 2 and result.desired[2034] == 10, (
        f"scaling.predictive: desired around d2 10:00 {_changes(result.desired[2020:2100])}"
    )
    assert result.serving[2040] == 10, "scaling.predictive: capacity not ready at d2 10:00"
    assert any(a.minute == 2034 and a.cause == "predictive" for a in result.activities)
    reactive = simulate(load, replace(scaling, predictive=False), MODEL)
    assert reactive.desired[2040] == 2, "without scaling.predictive nothing happens on day 2"


def test_predictive_forecast_averages_up_to_14_days_of_history() -> None:
    # Hour 10 runs at 1000 req/min on day 1 and 100 on days 2..15: day 16's forecast for 10:00
    # averages days 2..15 (14 days) and so no longer sees day 1.
    days = 16
    load = [1000.0 if t < 1440 and 600 <= t < 660 else 100.0 for t in range(days * 1440)]
    scaling = replace(REQUESTS_50, max_size=40, predictive=True)
    result = simulate(load, scaling, MODEL)
    day2 = result.predictive_min[1440 + 600]
    assert day2 == 20, f"d2 10:00 forecast from d1 alone: 1000 / 50 = 20 (got {day2})"
    day3 = result.predictive_min[2 * 1440 + 600]
    assert day3 == 11, f"d3 10:00: mean(1000, 100) / 50 = 11 (got {day3})"
    day16 = result.predictive_min[15 * 1440 + 600]
    assert day16 == 2, f"d16 10:00: only days 2..15 count, 100 / 50 = 2 (got {day16})"


def test_latency_step_adds_more_beyond_twice_the_threshold() -> None:
    # The stack's steps: +1 while p95 is up to twice latencyP95Ms, +2 beyond.
    latency = replace(
        REQUESTS_50, requests_per_target=None, cpu_target=None, latency_p95_ms=300.0,
        latency_alarm_m=1, latency_alarm_n=1, latency_step_add=1, latency_step_add_far=2,
    )  # fmt: skip
    # 2 instances: 170 req/min -> rho 0.85 -> 667 ms (> 600): +2; 130 -> rho 0.65 -> 286 ms.
    far = simulate([170.0] * 3, latency, MODEL)
    assert far.activities[0].new - far.activities[0].old == 2, far.activities
    near = simulate([150.0] * 3, latency, MODEL)  # rho 0.75 -> 400 ms: over, under twice
    assert near.activities[0].new - near.activities[0].old == 1, near.activities


# --- the simulator follows what the stack deploys ------------------------------------------------


def _recorded(request: pytest.FixtureRequest, phase: str) -> tuple[Recording, dict[str, Any]]:
    """prod at `phase` with GROWTH_SCALING's scaling values, and the overrides it was recorded
    with: variants with other groups changed too, one recording each for several files (early:
    PROD_ALTERED; growth: ELSEWHERE, in another region and account)."""
    scaling = GROWTH_SCALING["groundwork:scaling"]
    if phase == "early":
        assert PROD_ALTERED["groundwork:scaling"] == scaling
        overrides = {**PROD_ALTERED, "groundwork:phase": "early"}
        return request.getfixturevalue("phase_variant")("prod", "early", PROD_ALTERED), overrides
    assert ELSEWHERE["groundwork:scaling"] == scaling and ELSEWHERE["groundwork:phase"] == phase
    return request.getfixturevalue("prod_elsewhere"), ELSEWHERE


@pytest.mark.parametrize("phase", ["early", "growth"])
def test_simulator_parameters_match_the_recorded_stack(
    request: pytest.FixtureRequest, tmp_path: Path, phase: str
) -> None:
    rec, overrides = _recorded(request, phase)
    stack = _settings(tmp_path, "prod", overrides)
    assert simulator_drift(rec, params_from_settings(stack)) == []


def test_simulator_drift_is_detected(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    rec, overrides = _recorded(request, "growth")
    config = params_from_settings(_settings(tmp_path, "prod", overrides))
    for broken in (
        replace(config, instance_warmup_s=300),
        replace(config, latency_alarm_n=3),
        replace(config, latency_step_add_far=1),
        replace(config, predictive_buffer_s=None),
    ):
        assert simulator_drift(rec, broken), f"drift not detected: {broken}"


# --- inputs --------------------------------------------------------------------------------------


def test_invalid_settings_are_reported_together_with_their_keys() -> None:
    bad = ScalingConfig(min_size=5, max_size=3, cpu_target=150.0, requests_per_target=-1.0)
    with pytest.raises(ParamsError) as err:
        simulate([100.0], bad, MODEL)
    text = str(err.value)
    assert "groundwork:hosting.minSize must be <= maxSize (got 5 > 3)" in text, text
    assert "groundwork:hosting.cpuTarget (--cpu-target)" in text and "150.0" in text, text
    assert "groundwork:scaling.requestsPerTarget" in text, text
    assert len(err.value.problems) == 3, err.value.problems
    assert ScalingConfig().problems() == [], "the default ScalingConfig must be valid"


def test_invalid_model_and_load_are_rejected() -> None:
    with pytest.raises(ParamsError, match=r"--scale-in-ratio must be in \(0, 1\] \(got 1.5\)"):
        simulate([100.0], REQUESTS_50, replace(MODEL, scale_in_ratio=1.5))
    with pytest.raises(ParamsError, match=r"load minute 1 must be a number >= 0 \(got -5\)"):
        simulate([100.0, -5], REQUESTS_50, MODEL)
    with pytest.raises(ParamsError, match="instance warmup"):
        simulate([100.0], replace(REQUESTS_50, instance_warmup_s=4000), MODEL)
    with pytest.raises(ParamsError, match="predictive needs cpuTarget or requestsPerTarget"):
        simulate([100.0], replace(LATENCY_ONLY, predictive=True), MODEL)


def _settings(tmp_path: Path, stack: str, overrides: dict[str, Any] | None = None) -> Any:
    """The real `settings.Settings` of a shipped stack with `overrides`, as the program gets it."""
    path = write_stack_file(tmp_path, stack, overrides or {})
    config = stackfile.load(stack, ROOT, path)
    return settings.parse(config.values, project=config.project, stack=stack)


GROWTH_SCALING: dict[str, Any] = {"groundwork:phase": "growth", "groundwork:scaling": SIM_SCALING}


def test_params_from_settings_reads_every_deployed_value(tmp_path: Path) -> None:
    config = params_from_settings(_settings(tmp_path, "prod", GROWTH_SCALING))
    assert (config.min_size, config.max_size, config.cpu_target) == (3, 12, 50.0), config
    assert (config.requests_per_target, config.latency_p95_ms, config.predictive) == (
        800.0,
        400.0,
        True,
    ), config
    assert config.instance_warmup_s == 120, "groundwork:scaling.instanceWarmupSeconds"
    assert (config.latency_alarm_m, config.latency_alarm_n) == (2, 4), (
        "groundwork:scaling.latencyDatapointsToAlarm of latencyEvaluationPeriods"
    )
    assert config.predictive_buffer_s == 600, "groundwork:scaling.schedulingBufferSeconds"
    assert (config.latency_step_add, config.latency_step_add_far) == (1, 2), config


def test_params_from_settings_drops_growth_policies_before_growth(tmp_path: Path) -> None:
    early_settings = _settings(tmp_path, "prod", {**GROWTH_SCALING, "groundwork:phase": "early"})
    early = params_from_settings(early_settings)
    assert (early.requests_per_target, early.latency_p95_ms, early.predictive) == (
        None,
        None,
        False,
    ), f"groundwork:phase=early: {early}"
    assert early.cpu_target == 50.0, "groundwork:hosting.cpuTarget applies in every phase"
    assert early.instance_warmup_s == 120, "the group's warmup applies in every phase"
    notes = stack_notes(early_settings)
    assert notes and "not deployed before phase growth" in notes[0], notes
    assert "requestsPerTarget 800" in notes[0] and "predictive" in notes[0], notes
    assert stack_notes(_settings(tmp_path, "prod", GROWTH_SCALING)) == []


def test_flags_for_policies_the_phase_does_not_deploy_warn(tmp_path: Path) -> None:
    early = _settings(tmp_path, "prod")
    warnings = phase_drops(early, {"requests_per_target": 800.0, "predictive": True})
    assert [w.split(":")[1].strip() for w in warnings] == [
        "--requests-per-target",
        "--predictive",
    ], warnings
    assert phase_drops(early, {"min_size": 4}) == [], "a size flag applies in every phase"
    assert phase_drops(_settings(tmp_path, "prod", GROWTH_SCALING), {"predictive": True}) == []


def test_csv_loader_reads_the_request_column(tmp_path: Path) -> None:
    path = tmp_path / "load.csv"
    path.write_text("timestamp,requests\n2026-01-01T00:00Z,120\n2026-01-01T00:01Z,130.5\n")
    assert from_csv(path).values == (120.0, 130.5)
    bare = tmp_path / "bare.csv"
    bare.write_text("5\n6\n7\n")
    assert from_csv(bare).values == (5.0, 6.0, 7.0)


def test_csv_loader_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "load.csv"
    path.write_text("timestamp,requests\nt0,120\nt1,lots\n")
    with pytest.raises(ParamsError, match=r"line 3: request count must be a number >= 0"):
        from_csv(path)
    with pytest.raises(ParamsError, match="'count' is not a column"):
        from_csv(path, column="count")
    with pytest.raises(ParamsError, match="cannot read it"):
        from_csv(tmp_path / "missing.csv")


def test_daily_curve_has_its_base_peak_and_spike() -> None:
    # base 1000, peak 3000 at 12:00: midnight 1000, 06:00 halfway 2000, 12:00 3000;
    # spike x2 for minutes 360..369: 4000 at 06:00; at 06:10 the plain cycle again, about
    # 1000 + 2000 * (1 + cos(2 pi * -5.83 / 24)) / 2 = 2044 (spiked it would be about 4088).
    curve = daily_with_spike(
        days=1,
        base=1000,
        peak=3000,
        peak_hour=12,
        spike_multiplier=2,
        spike_start=360,
        spike_minutes=10,
    )
    assert curve.values[0] == pytest.approx(1000)
    assert curve.values[720] == pytest.approx(3000)
    assert curve.values[360] == pytest.approx(4000)
    assert curve.values[370] == pytest.approx(2044, abs=1), "the spike must end after 10 min"
    assert len(curve.values) == 1440 and curve.spike_start == 360


# --- CLI and PNG ---------------------------------------------------------------------------------

CLI_FLAGS = [
    "--min-size",
    "2",
    "--max-size",
    "10",
    "--cpu-target",
    "none",
    "--requests-per-target",
    "50",
    "--capacity-per-instance",
    "100",
    "--base-latency-ms",
    "100",
    "--launch-delay",
    "60",
    "--warmup",
    "300",
    "--latency-slo-ms",
    "300",
    "--spike-start",
    "10",
]


def _is_png(path: Path) -> tuple[int, int] | None:
    """(width, height) if `path` starts with the PNG signature and an IHDR chunk, else None."""
    head = path.read_bytes()[:24]
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def _spike_csv(tmp_path: Path) -> Path:
    path = tmp_path / "spike.csv"
    path.write_text("minute,requests\n" + "".join(f"{t},{v:g}\n" for t, v in enumerate(SPIKE)))
    return path


def test_cli_prints_the_summary_and_writes_a_png(tmp_path: Path) -> None:
    png = tmp_path / "plots" / "run.png"
    out = io.StringIO()
    code = main([*CLI_FLAGS, "--csv", str(_spike_csv(tmp_path)), "--plot", str(png)], out)
    text = out.getvalue()
    assert code == 0, text
    # Same run as test_recovery_time_of_a_known_spike.
    assert "recovery after spike     9 min" in text, text
    assert "minutes p95 > 300 ms     9" in text, text
    assert "peak capacity            6 serving, 6 desired" in text, text
    size = _is_png(png)
    assert size is not None and size[0] > 0 and size[1] > 0, f"{png} is not a PNG"


def test_png_check_rejects_other_files(tmp_path: Path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"GIF89a" + b"\0" * 30)
    assert _is_png(fake) is None


def test_cli_compare_runs_both_settings(tmp_path: Path) -> None:
    out = io.StringIO()
    code = main(
        [*CLI_FLAGS, "--csv", str(_spike_csv(tmp_path)), "--vs-warmup", "600", "--no-plot"], out
    )
    text = out.getvalue()
    assert code == 0, text
    recovery = next(line for line in text.splitlines() if "recovery (min)" in line)
    assert recovery.split()[-2:] == ["9", "14"], recovery
    assert "plot:" not in text, "--no-plot must not write a PNG"


def test_cli_rejects_bad_settings_naming_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--min-size", "5", "--max-size", "3", "--days", "1", "--no-plot"], io.StringIO())
    assert code == 2
    assert "groundwork:hosting.minSize must be <= maxSize (got 5 > 3)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--cpu-target", "lots"])
    assert "argument --cpu-target: expected a number, got 'lots'" in capsys.readouterr().err


def test_cli_stack_fails_clearly_without_the_settings_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setitem(sys.modules, "settings", None)  # import settings -> ImportError
    code = main(["--stack", "dev", "--project-dir", str(tmp_path), "--no-plot"], io.StringIO())
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--stack dev: the project's settings module cannot be imported" in err, err


def test_cli_stack_reads_the_real_stack_and_warns_about_undeployed_policies() -> None:
    out = io.StringIO()
    code = main(
        [
            "--stack",
            "prod",
            "--project-dir",
            str(ROOT),
            "--days",
            "1",
            "--max-size",
            "9",
            "--requests-per-target",
            "800",
            "--no-plot",
        ],
        out,
    )
    text = out.getvalue()
    assert code == 0, text
    # Stack values, with --max-size overriding hosting.maxSize.
    assert "A (stack prod): size 3..9, CPU target 50%" in text, text[:800]
    assert "not deployed before phase growth" in text, "the stack's own scaling keys were dropped"
    assert "warning: --requests-per-target: phase early" in text, text[:1200]
