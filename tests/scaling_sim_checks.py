"""Whether the scaling simulator (bench/scaling_sim) models what the stack deploys.

params_from_recording reads every simulator parameter back from the scaling resources the
program registered (the ASG, its target-tracking, step and predictive policies and the latency
alarm); simulator_drift lists the parameters where the simulator's reading of the settings and
the recorded stack disagree (empty = in step). tests/test_scaling_sim.py runs it on recorded
stacks and on deliberately drifted configs.
"""

from __future__ import annotations

from typing import Any

from bench.scaling_sim import ScalingConfig
from offline.model import Recording


def params_from_recording(rec: Recording) -> dict[str, Any]:
    """Every simulator parameter, read from the scaling resources the program registered."""
    asg = rec.one("aws:autoscaling/group:Group")
    out: dict[str, Any] = {
        "min_size": asg.input("minSize"),
        "max_size": asg.input("maxSize"),
        "instance_warmup_s": asg.input("defaultInstanceWarmup"),
        "cpu_target": None,
        "requests_per_target": None,
        "latency_p95_ms": None,
        "predictive": False,
    }
    predictive_target: tuple[str, Any] = ("", None)
    for policy in rec.of_type("aws:autoscaling/policy:Policy"):
        kind = policy.input("policyType")
        if kind == "TargetTrackingScaling":
            tracking = policy.input("targetTrackingConfiguration")
            metric = tracking["predefinedMetricSpecification"]["predefinedMetricType"]
            field = {"ASGAverageCPUUtilization": "cpu_target"}.get(metric, "requests_per_target")
            out[field] = tracking["targetValue"]
        elif kind == "StepScaling":
            steps = sorted(
                policy.input("stepAdjustments"), key=lambda s: float(s["metricIntervalLowerBound"])
            )
            out["latency_step_add"] = steps[0]["scalingAdjustment"]
            out["latency_step_add_far"] = steps[-1]["scalingAdjustment"]
            alarm = next(
                a
                for a in rec.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
                if any(policy.name in arn for arn in a.input("alarmActions", default=[]))
            )
            out["latency_p95_ms"] = alarm.input("threshold") * 1000
            out["latency_alarm_n"] = alarm.input("evaluationPeriods")
            out["latency_alarm_m"] = alarm.input("datapointsToAlarm")
            # The second step starts where the first ends: twice the threshold.
            assert float(steps[0]["metricIntervalUpperBound"]) == alarm.input("threshold"), (
                f"{policy.urn}: the simulator assumes +far beyond twice the threshold"
            )
        elif kind == "PredictiveScaling":
            config = policy.input("predictiveScalingConfiguration")
            out["predictive"] = config["mode"] == "ForecastAndScale"
            out["predictive_buffer_s"] = int(config["schedulingBufferTime"])
            predictive_target = (policy.urn, config["metricSpecification"]["targetValue"])
    if out["predictive"]:
        urn, target = predictive_target
        assert target == out["requests_per_target"], (
            f"{urn}: the simulator forecasts with requestsPerTarget"
        )
    return out


def simulator_drift(rec: Recording, config: ScalingConfig) -> list[str]:
    """Parameters where the simulator's reading of the settings and the stack disagree."""
    return [
        f"{rec.stack}: {name} simulated as {getattr(config, name)!r}, deployed as {value!r}"
        for name, value in params_from_recording(rec).items()
        if getattr(config, name) != value
    ]
