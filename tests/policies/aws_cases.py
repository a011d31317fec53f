"""Adversarial inputs made with the real pulumi_aws constructors (compliant unless overridden).

Each builder creates resources inside `constructed()` (tests/policies/constructed.py), so the
property maps are exactly what the SDK sends the engine. Keyword overrides use the SDK's own
snake_case argument names: `aurora(storage_encrypted=False)`.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

PROTECT = pulumi.ResourceOptions(protect=True)
TAGS = {"groundwork:component": "test"}
KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC_ARN = "arn:aws:sns:eu-west-1:111111111111:groundwork-alerts"


EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def iam_policy(*statements: dict[str, Any], name: str = "app-policy") -> aws.iam.Policy:
    return aws.iam.Policy(
        name, policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    )


def _args(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = {**base, **overrides}
    return {k: v for k, v in out.items() if v is not None}


def aurora(name: str = "aurora", opts: pulumi.ResourceOptions | None = PROTECT, **o: Any):
    return aws.rds.Cluster(
        name,
        **_args(
            {
                "engine": "aurora-postgresql",
                "engine_version": "16.4",
                "master_username": "app",
                "manage_master_user_password": True,
                "backup_retention_period": 14,
                "deletion_protection": True,
                "skip_final_snapshot": False,
                "final_snapshot_identifier": f"{name}-final",
                "storage_encrypted": True,
                "kms_key_id": KEY_ARN,
                "copy_tags_to_snapshot": True,
                "delete_automated_backups": False,
                "tags": TAGS,
            },
            o,
        ),
        opts=opts,
    )


def aurora_instance(
    cluster: aws.rds.Cluster,
    name: str = "aurora-1",
    opts: pulumi.ResourceOptions | None = PROTECT,
    **o: Any,
):
    return aws.rds.ClusterInstance(
        name,
        **_args(
            {
                "cluster_identifier": cluster.id,
                "engine": cluster.engine,
                "instance_class": "db.r6g.large",
                "publicly_accessible": False,
                "performance_insights_enabled": True,
                "tags": TAGS,
            },
            o,
        ),
        opts=opts,
    )


def asg(name: str = "web-asg", subnets: list[Any] | None = None, **o: Any) -> aws.autoscaling.Group:
    return aws.autoscaling.Group(
        name,
        **_args(
            {
                "min_size": 3,
                "max_size": 6,
                "health_check_type": "ELB",
                "vpc_zone_identifiers": subnets or ["subnet-a", "subnet-b", "subnet-c"],
                "launch_template": {"id": "lt-0123456789abcdef0", "version": "$Latest"},
                "tags": [
                    {"key": k, "value": v, "propagate_at_launch": True}
                    for k, v in (("Project", "g"), ("Environment", "prod"), ("Owner", "p"))
                ],
            },
            o,
        ),
    )


def target_tracking(
    group: aws.autoscaling.Group, name: str = "requests", **o: Any
) -> aws.autoscaling.Policy:
    return aws.autoscaling.Policy(
        name,
        **_args(
            {
                "autoscaling_group_name": group.name,
                "policy_type": "TargetTrackingScaling",
                "target_tracking_configuration": {
                    "target_value": 500,
                    "predefined_metric_specification": {
                        "predefined_metric_type": "ALBRequestCountPerTarget",
                        "resource_label": "app/web/x/targetgroup/web/y",
                    },
                },
            },
            o,
        ),
    )


def step_policy(group: aws.autoscaling.Group, name: str = "latency") -> aws.autoscaling.Policy:
    return aws.autoscaling.Policy(
        name,
        autoscaling_group_name=group.name,
        policy_type="StepScaling",
        adjustment_type="ChangeInCapacity",
        step_adjustments=[{"scaling_adjustment": 1, "metric_interval_lower_bound": "0"}],
    )


def alarm(name: str, actions: list[Any], **o: Any) -> aws.cloudwatch.MetricAlarm:
    return aws.cloudwatch.MetricAlarm(
        name,
        **_args(
            {
                "comparison_operator": "GreaterThanThreshold",
                "evaluation_periods": 3,
                "metric_name": "TargetResponseTime",
                "namespace": "AWS/ApplicationELB",
                "period": 60,
                "statistic": "Average",
                "threshold": 0.5,
                "alarm_actions": actions,
            },
            o,
        ),
    )
