"""PerformanceScaling: scale the web tier on load and latency, and ahead of forecast load.

The web tier already tracks average CPU. This adds, on the same autoscaling group:

- target tracking on `ALBRequestCountPerTarget` (requests per instance per minute), so
  capacity follows traffic before CPU shows it;
- step scaling that adds instances while the p95 latency alarm is in ALARM (the alarm lives in
  `PerformanceMonitoring`, which puts this policy's ARN in its alarm actions): +1 when p95 is
  up to twice the target, +2 beyond that; it never scales in (target tracking does);
- optionally predictive scaling (forecast and scale) on the request-count metric pair, which
  launches forecast capacity `scheduling_buffer_seconds` early.

Every policy leaves the group's desired capacity to the policies (the group ignores changes to
it); new instances count towards the metrics after the group's default instance warmup.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.outputs import register_all

REQUEST_METRIC = "ALBRequestCountPerTarget"
PREDICTIVE_METRIC_PAIR = "ALBRequestCount"


def resource_label(
    alb_arn_suffix: pulumi.Input[str], target_group_arn_suffix: pulumi.Input[str]
) -> pulumi.Output[str]:
    """`app/<alb>/<id>/targetgroup/<tg>/<id>`: how scaling names one ALB target group."""
    return pulumi.Output.concat(alb_arn_suffix, "/", target_group_arn_suffix)


def latency_steps(latency_p95_ms: int) -> list[aws.autoscaling.PolicyStepAdjustmentArgsDict]:
    """Step adjustments relative to the alarm threshold (in seconds, the metric's unit)."""
    over = latency_p95_ms / 1000  # a breach as large as the target itself: p95 twice the target
    return [
        {"metric_interval_lower_bound": "0", "metric_interval_upper_bound": f"{over:g}",
         "scaling_adjustment": 1},
        {"metric_interval_lower_bound": f"{over:g}", "scaling_adjustment": 2},
    ]  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class PerformanceScalingArgs:
    asg_name: pulumi.Input[str]
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    requests_per_target: int
    latency_p95_ms: int
    predictive: bool
    scheduling_buffer_seconds: int


class PerformanceScaling(pulumi.ComponentResource):
    """Request-count target tracking, latency step scaling, optional predictive scaling."""

    request_tracking_policy_arn: pulumi.Output[str]
    latency_step_policy_arn: pulumi.Output[str]
    predictive_policy_arn: pulumi.Output[str] | None
    policy_arns: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: PerformanceScalingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:hosting:PerformanceScaling", name, None, opts)
        if args.requests_per_target < 1:
            raise ValueError(
                f"{name}: requests_per_target must be >= 1 (got {args.requests_per_target})"
            )
        if args.latency_p95_ms < 1:
            raise ValueError(f"{name}: latency_p95_ms must be >= 1 (got {args.latency_p95_ms})")
        child = pulumi.ResourceOptions(parent=self)
        label = resource_label(args.alb_arn_suffix, args.target_group_arn_suffix)

        requests = aws.autoscaling.Policy(
            f"{name}-request-tracking",
            autoscaling_group_name=args.asg_name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration={
                "predefined_metric_specification": {
                    "predefined_metric_type": REQUEST_METRIC,
                    "resource_label": label,
                },
                "target_value": args.requests_per_target,
            },
            opts=child,
        )
        latency = aws.autoscaling.Policy(
            f"{name}-latency-step",
            autoscaling_group_name=args.asg_name,
            policy_type="StepScaling",
            adjustment_type="ChangeInCapacity",
            metric_aggregation_type="Average",
            step_adjustments=latency_steps(args.latency_p95_ms),
            opts=child,
        )
        self.request_tracking_policy_arn = requests.arn
        self.latency_step_policy_arn = latency.arn
        self.policy_arns = [requests.arn, latency.arn]
        self.predictive_policy_arn = None
        if args.predictive:
            predictive = self._predictive(name, args, label)
            self.predictive_policy_arn = predictive.arn
            self.policy_arns.append(predictive.arn)
        register_all(self)

    def _predictive(
        self, name: str, args: PerformanceScalingArgs, label: pulumi.Output[str]
    ) -> aws.autoscaling.Policy:
        """Capacity ahead of the forecast request count, never above the group's maximum."""
        return aws.autoscaling.Policy(
            f"{name}-predictive",
            autoscaling_group_name=args.asg_name,
            policy_type="PredictiveScaling",
            predictive_scaling_configuration={
                "mode": "ForecastAndScale",
                "scheduling_buffer_time": str(args.scheduling_buffer_seconds),
                # The group's maximum is a cost ceiling the forecast may not lift.
                "max_capacity_breach_behavior": "HonorMaxCapacity",
                "metric_specification": {
                    "target_value": args.requests_per_target,
                    "predefined_metric_pair_specification": {
                        "predefined_metric_type": PREDICTIVE_METRIC_PAIR,
                        "resource_label": label,
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
