"""The simulation itself: an EC2 Auto Scaling group behind an ALB, one minute at a time.

Pure Python, no AWS and no Pulumi: given a per-minute load curve (requests per minute), the
stack's scaling settings (`ScalingConfig`) and a model of the app and of AWS internals
(`ModelConfig`), `simulate` returns what the group would do minute by minute.

What is modelled, and why it is modelled that way (docs/scaling-simulation.md has the long form):

* Time. Minute `t` covers [t, t+1). Its CloudWatch datapoint is complete at the boundary t+1,
  where alarms are evaluated and the group's desired capacity may change. The series in
  `SimResult` describe each minute *after* the decisions taken at its start.
* Instances. An instance launched at boundary `b` is InService at `b + launch` and finishes
  its warmup at `b + launch + warmup` (durations rounded up to whole minutes). Only warmed-up
  instances contribute to the aggregated metrics (what AWS's default instance warmup does).
  By default they are also the only ones that carry traffic, which is pessimistic: a real ALB
  sends requests to an instance as soon as its health check passes
  (`ModelConfig.warming_serves_traffic` turns that on).
* Load is spread evenly over the serving instances. Per instance, CPU% =
  load / capacity_per_instance * 100 (capped at 100, as a real CPU is) and p95 latency =
  base / (1 - utilisation), the M/M/1 queue (whose response-time percentiles all scale with
  1 / (1 - rho)), capped at `latency_cap_ms` and pinned to the cap at or above saturation.
* Target tracking (per policy: average CPU, ALB request count per target). The scale-out
  alarm fires when the last `scale_out_datapoints` datapoints are all above the target
  (AWS creates "> target for 3 datapoints within 3 minutes"); the policy then asks for
  desired = ceil(serving * metric / target). Warming instances are already part of the
  desired capacity, so a repeated alarm does not add them twice (AWS documents this).
  Scale-in needs *every* target-tracking policy's low alarm ("< ratio * target for 15
  datapoints", the alarm AWS creates; ratio 0.9 by default) and no instance in warmup (AWS
  blocks scale-in during warmup). AWS does not publish how far it then scales in, only that
  it is gradual; the model removes at most `scale_in_step` instances per activity, never
  below ceil(serving * metric / target) (so the metric stays at or under the target), and
  waits `scale_in_cooldown_s` between scale-in activities.
* Several policies: the largest desired capacity wins, for scale-out and for scale-in.
* Step scaling on p95 latency: the alarm is in ALARM when at least M of the last N
  datapoints are above `latency_p95_ms`; CloudWatch re-invokes an Auto Scaling action every
  minute the alarm stays in ALARM, and each invocation adds `latency_step_add` instances to
  the current capacity, except while instances from the previous step are still launching or
  warming up (AWS does not repeat the same step adjustment during warmup).
* Predictive scaling (optional, simple): the forecast for each hour is the mean load of the
  same hour the previous day (so nothing happens until 24 hours of history exist, as in
  AWS); it is turned into capacity with the most demanding target-tracking target and
  becomes the group's minimum from `predictive_buffer_s` before that hour starts
  (SchedulingBufferTime), capped at max size (HonorMaxCapacity).
* Desired capacity is clamped to [min size, max size].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# ceil() of a ratio that float arithmetic left a hair above an integer (6.000000000001) must
# still give 6: a capacity that exactly meets the target is enough.
_EPS = 1e-9

# AWS accepts a default instance warmup and a predictive SchedulingBufferTime of 0..3600 s.
MAX_WARMUP_S = 3600
MAX_BUFFER_S = 3600


class ParamsError(ValueError):
    """Invalid simulation inputs; `problems` lists every one, each naming its key and value."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _ceil(x: float) -> int:
    return math.ceil(x - _EPS)


def minutes(seconds: float) -> int:
    """Whole one-minute steps a duration occupies (a 90 s launch takes 2 steps)."""
    return _ceil(seconds / 60.0) if seconds > 0 else 0


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class ScalingConfig:
    """What the stack decides: group bounds and scaling policies.

    None for `cpu_target`, `requests_per_target` or `latency_p95_ms` means that policy is
    absent. Units: percent, requests per target per minute (ALBRequestCountPerTarget is a
    per-minute Sum), milliseconds, seconds.
    """

    min_size: int = 2
    max_size: int = 10
    cpu_target: float | None = 50.0
    requests_per_target: float | None = None
    latency_p95_ms: float | None = None
    predictive: bool = False
    instance_warmup_s: int = 300
    latency_alarm_m: int = 3
    latency_alarm_n: int = 3
    latency_step_add: int = 1
    # Instances added when p95 is more than twice the threshold (the stack's second step).
    # None: the same as `latency_step_add` (a single step).
    latency_step_add_far: int | None = None
    # None: launch + warmup, so forecast capacity is serving when its hour starts.
    predictive_buffer_s: int | None = None

    def problems(self) -> list[str]:
        out: list[str] = []
        for name, key in (
            ("min_size", "groundwork:hosting.minSize (--min-size)"),
            ("max_size", "groundwork:hosting.maxSize (--max-size)"),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                out.append(f"{key} must be a whole number >= 0 (got {value!r})")
        if (
            isinstance(self.min_size, int)
            and isinstance(self.max_size, int)
            and self.min_size > self.max_size
        ):
            out.append(
                "groundwork:hosting.minSize must be <= maxSize "
                f"(got {self.min_size} > {self.max_size})"
            )
        if isinstance(self.max_size, int) and self.max_size == 0:
            out.append("groundwork:hosting.maxSize (--max-size) must be >= 1 (got 0)")
        if self.cpu_target is not None and not (
            _is_number(self.cpu_target) and 0 < self.cpu_target <= 100
        ):
            out.append(
                "groundwork:hosting.cpuTarget (--cpu-target) must be a percentage in (0, 100] "
                f"or absent (got {self.cpu_target!r})"
            )
        if self.requests_per_target is not None and not (
            _is_number(self.requests_per_target) and self.requests_per_target > 0
        ):
            out.append(
                "groundwork:scaling.requestsPerTarget (--requests-per-target) must be > 0 "
                f"requests per target per minute, or absent (got {self.requests_per_target!r})"
            )
        if self.latency_p95_ms is not None and not (
            _is_number(self.latency_p95_ms) and self.latency_p95_ms > 0
        ):
            out.append(
                "groundwork:scaling.latencyP95Ms (--latency-p95-ms) must be > 0 ms or absent "
                f"(got {self.latency_p95_ms!r})"
            )
        if not isinstance(self.predictive, bool):
            out.append(
                "groundwork:scaling.predictive (--predictive) must be true or false "
                f"(got {self.predictive!r})"
            )
        elif self.predictive and self.cpu_target is None and self.requests_per_target is None:
            out.append(
                "groundwork:scaling.predictive needs cpuTarget or requestsPerTarget: the "
                "forecast load is turned into capacity with a target-tracking target"
            )
        out += _int_range(self.instance_warmup_s, "instance warmup (--warmup)", 0, MAX_WARMUP_S)
        out += _int_range(self.latency_alarm_n, "latency alarm N (--latency-alarm-n)", 1, 1440)
        out += _int_range(self.latency_alarm_m, "latency alarm M (--latency-alarm-m)", 1, 1440)
        if (
            isinstance(self.latency_alarm_m, int)
            and isinstance(self.latency_alarm_n, int)
            and self.latency_alarm_m > self.latency_alarm_n
        ):
            out.append(
                "latency alarm M (--latency-alarm-m) must be <= N (--latency-alarm-n) "
                f"(got {self.latency_alarm_m} > {self.latency_alarm_n})"
            )
        out += _int_range(
            self.latency_step_add, "latency step adjustment (--latency-step-add)", 1, 10_000
        )
        if self.latency_step_add_far is not None:
            out += _int_range(
                self.latency_step_add_far,
                "latency step adjustment beyond twice the threshold (--latency-step-add-far)",
                1,
                10_000,
            )
        if self.predictive_buffer_s is not None:
            out += _int_range(
                self.predictive_buffer_s,
                "predictive scheduling buffer (--predictive-buffer)",
                0,
                MAX_BUFFER_S,
            )
        return out


@dataclass(frozen=True)
class ModelConfig:
    """How the app behaves and how AWS behaves where AWS does not document it.

    Defaults describe a modest web tier: 6000 requests per minute (100 per second) saturate
    one instance, p95 is 80 ms on an idle instance, launching takes two minutes.
    """

    capacity_per_instance: float = 6000.0  # requests per minute one instance serves at 100 % CPU
    base_latency_ms: float = 80.0  # p95 at zero load
    latency_cap_ms: float = 5000.0  # what an overloaded instance answers in (timeouts beyond)
    launch_delay_s: int = 120  # launch, boot, pass the health check: pending -> InService
    warming_serves_traffic: bool = False
    scale_out_datapoints: int = 3  # AWS: "> target for 3 datapoints within 3 minutes"
    scale_in_datapoints: int = 15  # AWS: "< 0.9 * target for 15 datapoints within 15 minutes"
    scale_in_ratio: float = 0.9  # low-alarm threshold as a fraction of the target
    scale_in_step: int = 1  # instances removed per scale-in activity at most
    scale_in_cooldown_s: int = 300
    initial_capacity: int | None = None  # None: steady state for the first minute's load

    def problems(self) -> list[str]:
        out: list[str] = []
        if not (_is_number(self.capacity_per_instance) and self.capacity_per_instance > 0):
            out.append(
                "--capacity-per-instance must be > 0 requests per minute "
                f"(got {self.capacity_per_instance!r})"
            )
        if not (_is_number(self.base_latency_ms) and self.base_latency_ms > 0):
            out.append(f"--base-latency-ms must be > 0 (got {self.base_latency_ms!r})")
        if not (_is_number(self.latency_cap_ms) and self.latency_cap_ms > 0):
            out.append(f"--latency-cap-ms must be > 0 (got {self.latency_cap_ms!r})")
        elif _is_number(self.base_latency_ms) and self.latency_cap_ms < self.base_latency_ms:
            out.append(
                "--latency-cap-ms must be >= --base-latency-ms "
                f"(got {self.latency_cap_ms} < {self.base_latency_ms})"
            )
        out += _int_range(self.launch_delay_s, "--launch-delay", 0, 3600)
        out += _int_range(self.scale_out_datapoints, "--scale-out-datapoints", 1, 1440)
        out += _int_range(self.scale_in_datapoints, "--scale-in-datapoints", 1, 1440)
        if not (_is_number(self.scale_in_ratio) and 0 < self.scale_in_ratio <= 1):
            out.append(f"--scale-in-ratio must be in (0, 1] (got {self.scale_in_ratio!r})")
        out += _int_range(self.scale_in_step, "--scale-in-step", 1, 10_000)
        out += _int_range(self.scale_in_cooldown_s, "--scale-in-cooldown", 0, 86_400)
        if not isinstance(self.warming_serves_traffic, bool):
            out.append(
                f"--warming-serves-traffic must be true or false "
                f"(got {self.warming_serves_traffic!r})"
            )
        if self.initial_capacity is not None:
            out += _int_range(self.initial_capacity, "--initial-capacity", 0, 10_000)
        return out


def _int_range(value: object, key: str, low: int, high: int) -> list[str]:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        return [f"{key} must be a whole number in [{low}, {high}] (got {value!r})"]
    return []


@dataclass(frozen=True)
class TargetPolicy:
    """One target-tracking policy: its name, target and what one instance carries at target."""

    name: str  # "cpu" or "requests"
    target: float
    load_at_target: float  # requests per minute per instance that put the metric at target


def target_policies(scaling: ScalingConfig, model: ModelConfig) -> list[TargetPolicy]:
    policies = []
    if scaling.cpu_target is not None:
        policies.append(
            TargetPolicy(
                "cpu",
                float(scaling.cpu_target),
                model.capacity_per_instance * scaling.cpu_target / 100.0,
            )
        )
    if scaling.requests_per_target is not None:
        t = float(scaling.requests_per_target)
        policies.append(TargetPolicy("requests", t, t))
    return policies


def steady_capacity(load: float, scaling: ScalingConfig, model: ModelConfig) -> int:
    """Instances at which every target-tracking metric is at or under its target, clamped."""
    need = max((_ceil(load / p.load_at_target) for p in target_policies(scaling, model)), default=0)
    return min(max(need, scaling.min_size), scaling.max_size)


def p95_latency(utilisation: float, model: ModelConfig) -> float:
    """M/M/1: every response-time percentile is its zero-load value / (1 - rho); capped."""
    if utilisation >= 1.0:
        return model.latency_cap_ms
    return min(model.latency_cap_ms, model.base_latency_ms / (1.0 - utilisation))


# AWS predictive scaling forecasts from up to 14 days of history and needs at least 24 hours
# of it (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-predictive-scaling.html).
PREDICTIVE_HISTORY_DAYS = 14
PREDICTIVE_MIN_HISTORY_HOURS = 24


def predictive_target(scaling: ScalingConfig, model: ModelConfig) -> float | None:
    """Requests per minute one instance carries at the predictive policy's target.

    The stack's predictive policy uses the request-count metric pair with
    `requestsPerTarget` as its target; without that policy, the most demanding target.
    """
    if scaling.requests_per_target is not None:
        return float(scaling.requests_per_target)
    policies = target_policies(scaling, model)
    return min((p.load_at_target for p in policies), default=None)


def forecast_hour(load: Sequence[float], hour: int) -> float | None:
    """Mean load of the same hour over the previous (up to 14) days; None with < 24 h of it."""
    if hour < PREDICTIVE_MIN_HISTORY_HOURS:
        return None
    days = range(1, min(PREDICTIVE_HISTORY_DAYS, hour // 24) + 1)
    means = [sum(load[(hour - 24 * d) * 60 : (hour - 24 * d) * 60 + 60]) / 60.0 for d in days]
    return sum(means) / len(means)


def predictive_minimum(
    load: Sequence[float], scaling: ScalingConfig, model: ModelConfig
) -> list[int | None]:
    """Per minute, the minimum capacity predictive scaling has scheduled (None: no forecast).

    The forecast for hour H (`forecast_hour`) is turned into capacity with the predictive
    target and is in force from the scheduling buffer before H until the buffer before H + 1 h.
    """
    n = len(load)
    out: list[int | None] = [None] * n
    per_instance = predictive_target(scaling, model) if scaling.predictive else None
    if per_instance is None:
        return out
    buffer = minutes(
        scaling.predictive_buffer_s
        if scaling.predictive_buffer_s is not None
        else model.launch_delay_s + scaling.instance_warmup_s
    )
    for hour in range(PREDICTIVE_MIN_HISTORY_HOURS, (n + buffer) // 60 + 1):
        forecast = forecast_hour(load, hour)
        if forecast is None:
            continue
        capacity = min(_ceil(forecast / per_instance), scaling.max_size)
        for t in range(max(0, hour * 60 - buffer), min(n, hour * 60 + 60 - buffer)):
            out[t] = capacity
    return out


def latency_step(p95_ms: float, scaling: ScalingConfig) -> int:
    """Instances the step policy adds for this breach: its steps are relative to the threshold,
    +`latency_step_add` up to twice the threshold, +`latency_step_add_far` beyond."""
    far = scaling.latency_step_add_far
    threshold = scaling.latency_p95_ms or 0.0
    if far is not None and p95_ms > 2 * threshold:
        return far
    return scaling.latency_step_add


@dataclass(frozen=True)
class Activity:
    """A change of desired capacity at a minute boundary (effective from that minute)."""

    minute: int
    old: int
    new: int
    cause: str  # "target tracking (cpu)", "latency step", "predictive", "scale-in", ...


@dataclass(frozen=True)
class SimResult:
    """Per-minute series (index = minute) and the scaling activities of one run."""

    scaling: ScalingConfig
    model: ModelConfig
    load: list[float]
    desired: list[int]  # desired capacity = instances running and billed (no launch failures)
    in_service: list[int]  # past the launch delay
    serving: list[int]  # carrying traffic (warmed up, or InService if warming serves)
    cpu: list[float]  # average CPU of the serving instances, percent
    requests_per_target: list[float | None]  # None: no healthy target
    p95_ms: list[float]
    predictive_min: list[int | None]
    activities: list[Activity] = field(default_factory=list)

    @property
    def minutes(self) -> int:
        return len(self.load)

    def instance_hours(self) -> float:
        """Billed instance-hours: every launched instance counts from its launch, warming or not."""
        return sum(self.desired) / 60.0


def _above(threshold: float) -> Callable[[float], bool]:
    return lambda v: v > threshold


def _below(threshold: float) -> Callable[[float], bool]:
    return lambda v: v < threshold


def _breaching(series: list[float | None], count: int, test: Callable[[float], bool]) -> bool:
    """True when the last `count` datapoints exist and all satisfy `test` (missing: no)."""
    if len(series) < count:
        return False
    return all(v is not None and test(v) for v in series[-count:])


def simulate(
    load: Sequence[float], scaling: ScalingConfig, model: ModelConfig | None = None
) -> SimResult:
    """Run the group against `load` (requests per minute, one value per minute)."""
    model = model or ModelConfig()
    problems = scaling.problems() + model.problems()
    if not load:
        problems.append("the load curve is empty: give at least one minute")
    problems += [
        f"load minute {i} must be a number >= 0 (got {v!r})"
        for i, v in enumerate(load)
        if not (_is_number(v) and v >= 0)
    ][:5]
    if problems:
        raise ParamsError(problems)

    load = [float(v) for v in load]
    n = len(load)
    launch = minutes(model.launch_delay_s)
    warmup = minutes(scaling.instance_warmup_s)
    ready_after = launch + warmup
    policies = target_policies(scaling, model)
    pred_min = predictive_minimum(load, scaling, model)
    scale_in_cooldown = minutes(model.scale_in_cooldown_s)

    if model.initial_capacity is not None:
        desired = min(max(model.initial_capacity, scaling.min_size), scaling.max_size)
    else:
        desired = steady_capacity(load[0], scaling, model)
    # Launch boundary of each running instance; the initial ones are warm at minute 0.
    launched: list[int] = [-ready_after] * desired

    # Datapoint history, one list per alarm.
    metric_history: dict[str, list[float | None]] = {p.name: [] for p in policies}
    latency_history: list[float] = []

    result = SimResult(scaling, model, load, [], [], [], [], [], [], pred_min)
    last_scale_in = -(10**9)
    step_ready_at = 0  # the latency step may fire again from this boundary on

    for t in range(n):
        in_service = sum(1 for b in launched if b + launch <= t)
        warm = sum(1 for b in launched if b + ready_after <= t)
        serving = in_service if model.warming_serves_traffic else warm
        # No instance to serve: a request waits forever; no request: nothing waits.
        per_instance = load[t] / serving if serving else (math.inf if load[t] else 0.0)
        utilisation = per_instance / model.capacity_per_instance
        cpu = min(100.0, utilisation * 100.0)
        p95 = p95_latency(utilisation, model)
        rpt = load[t] / serving if serving else None

        result.desired.append(desired)
        result.in_service.append(in_service)
        result.serving.append(serving)
        result.cpu.append(cpu)
        result.requests_per_target.append(rpt)
        result.p95_ms.append(p95)

        # Datapoints: the ASG's CPU average covers only warmed-up instances (no data when
        # none is warm); the ALB's per-target count divides by the targets receiving traffic.
        for p in policies:
            value = (cpu if warm else None) if p.name == "cpu" else rpt
            metric_history[p.name].append(value)
        latency_history.append(p95)

        boundary = t + 1
        if boundary >= n:
            break
        metric = {p.name: metric_history[p.name][-1] for p in policies}

        # Predictive scaling works by raising the group's minimum for the forecast hour.
        scheduled = pred_min[boundary]
        floor = min(max(scaling.min_size, scheduled or 0), scaling.max_size)

        # Scale-out: every policy that is in ALARM proposes a capacity; the largest wins.
        candidates: list[tuple[int, str]] = [
            (floor, "predictive" if floor > scaling.min_size else "min size")
        ]
        for p in policies:
            value = metric[p.name]  # a breach means the datapoint exists (datapoints >= 1)
            if value is not None and _breaching(
                metric_history[p.name], model.scale_out_datapoints, _above(p.target)
            ):
                candidates.append(
                    (_ceil(serving * value / p.target), f"target tracking ({p.name})")
                )
        if scaling.latency_p95_ms is not None and boundary >= step_ready_at:
            window = latency_history[-scaling.latency_alarm_n :]
            if sum(1 for v in window if v > scaling.latency_p95_ms) >= scaling.latency_alarm_m:
                add = latency_step(p95, scaling)
                candidates.append((len(launched) + add, "latency step"))
                step_ready_at = boundary + ready_after

        want, cause = max(candidates, key=lambda c: c[0])
        want = min(want, scaling.max_size)
        new = desired
        if want > desired:
            new = want
            launched += [boundary] * (new - desired)
        elif (
            policies
            and all(
                _breaching(
                    metric_history[p.name],
                    model.scale_in_datapoints,
                    _below(model.scale_in_ratio * p.target),
                )
                for p in policies
            )
            and all(b + ready_after <= boundary for b in launched)
            and boundary - last_scale_in >= scale_in_cooldown
        ):
            keep = max(
                _ceil(serving * value / p.target)
                for p in policies
                if (value := metric[p.name]) is not None  # all breach: every one exists
            )
            new = max(keep, desired - model.scale_in_step, floor)
            if new < desired:
                cause = "scale-in"
                # All instances are warm here (scale-in waits for warmup): drop the newest.
                launched = sorted(launched)[:new]
                last_scale_in = boundary
            else:
                new = desired
        if new != desired:
            result.activities.append(Activity(boundary, desired, new, cause))
            desired = new

    return result
