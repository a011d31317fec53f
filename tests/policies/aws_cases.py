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


def alarm(resource_name: str, actions: list[Any], **o: Any) -> aws.cloudwatch.MetricAlarm:
    return aws.cloudwatch.MetricAlarm(
        resource_name,
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


def tls_deny(**o: Any) -> dict[str, Any]:
    """The statement that makes a bucket TLS-only (override parts to weaken it)."""
    return {
        **{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::backups", "arn:aws:s3:::backups/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        **o,
    }


def backup_bucket(
    statement: dict[str, Any] | list[dict[str, Any]] | None = None,
    key: Any = KEY_ARN,
    name: str = "backups",
    purpose: str = "backups",
    lock: bool = True,
) -> aws.s3.Bucket:
    """A bucket with every companion the backup rules ask for."""
    b = aws.s3.Bucket(
        name,
        bucket=name,
        object_lock_enabled=lock or None,
        tags={**TAGS, "groundwork:purpose": purpose},
        opts=PROTECT,
    )
    if lock:
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-lock",
            bucket=b.bucket,
            rule={"default_retention": {"mode": "COMPLIANCE", "days": 30}},
        )
    aws.s3.BucketVersioning(
        f"{name}-versioning", bucket=b.bucket, versioning_configuration={"status": "Enabled"}
    )
    aws.s3.BucketPublicAccessBlock(
        f"{name}-pab",
        bucket=b.bucket,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-sse",
        bucket=b.bucket,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": key,
                },
                "bucket_key_enabled": True,
            }
        ],
    )
    stmts = statement if isinstance(statement, list) else [statement or tls_deny()]
    doc = {"Version": "2012-10-17", "Statement": stmts}
    aws.s3.BucketPolicy(f"{name}-policy", bucket=b.bucket, policy=json.dumps(doc))
    return b


def codebuild(name: str = "tests", **o: Any) -> aws.codebuild.Project:
    return aws.codebuild.Project(
        name,
        **_args(
            {
                "service_role": "arn:aws:iam::111111111111:role/build",
                "encryption_key": KEY_ARN,
                "artifacts": {"type": "CODEPIPELINE"},
                "source": {"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
                "environment": {
                    "compute_type": "BUILD_GENERAL1_SMALL",
                    "image": "aws/codebuild/standard:7.0",
                    "type": "LINUX_CONTAINER",
                },
                "logs_config": {
                    "cloudwatch_logs": {"status": "ENABLED", "group_name": "/groundwork/build"}
                },
                "tags": TAGS,
            },
            o,
        ),
    )


def action(name: str, category: str, run_order: int | None = None, **o: Any) -> dict[str, Any]:
    provider = {
        "Source": "S3",
        "Build": "CodeBuild",
        "Test": "CodeBuild",
        "Approval": "Manual",
        "Deploy": "CodeDeploy",
    }[category]
    out: dict[str, Any] = {
        "name": name,
        "category": category,
        "owner": "AWS",
        "provider": provider,
        "version": "1",
        **o,
    }
    if category == "Source":
        out["output_artifacts"] = ["source"]
    if run_order is not None:
        out["run_order"] = run_order
    return out


def pipeline(*stages: tuple[str, list[dict[str, Any]]], **o: Any) -> aws.codepipeline.Pipeline:
    return aws.codepipeline.Pipeline(
        "delivery",
        **_args(
            {
                "role_arn": "arn:aws:iam::111111111111:role/pipeline",
                "pipeline_type": "V2",
                "artifact_stores": [
                    {
                        "location": "artifacts",
                        "type": "S3",
                        "encryption_key": {"id": KEY_ARN, "type": "KMS"},
                    }
                ],
                "stages": [{"name": n, "actions": acts} for n, acts in stages],
                "tags": TAGS,
            },
            o,
        ),
    )


def build_env(*variables: tuple[str, str] | tuple[str, str, str]) -> aws.codebuild.Project:
    """A CodeBuild project whose environment sets `variables` (name, value[, type])."""
    return codebuild(
        environment={
            "compute_type": "BUILD_GENERAL1_SMALL",
            "image": "aws/codebuild/standard:7.0",
            "type": "LINUX_CONTAINER",
            "environment_variables": [
                {"name": v[0], "value": v[1], "type": v[2] if len(v) > 2 else "PLAINTEXT"}
                for v in variables
            ],
        }
    )


def launch_template(name: str = "web-lt", **o: Any) -> aws.ec2.LaunchTemplate:
    return aws.ec2.LaunchTemplate(
        name,
        **_args(
            {
                "image_id": "ami-0123456789abcdef0",
                "instance_type": "t4g.small",
                "metadata_options": {"http_tokens": "required", "http_endpoint": "enabled"},
                "block_device_mappings": [
                    {"device_name": "/dev/xvda", "ebs": {"encrypted": "true", "volume_size": 20}}
                ],
                "network_interfaces": [{"associate_public_ip_address": "false"}],
                "tags": TAGS,
            },
            o,
        ),
    )


def subnet(name: str, zone: str, public: bool = False) -> aws.ec2.Subnet:
    return aws.ec2.Subnet(
        name,
        vpc_id="vpc-0123456789abcdef0",
        cidr_block="10.0.0.0/24",
        availability_zone=zone,
        map_public_ip_on_launch=public or None,
        tags=TAGS,
    )


def bare_instance(name: str = "worker", **o: Any) -> aws.ec2.Instance:
    """An instance with every setting explicit and compliant (no template)."""
    return aws.ec2.Instance(
        name,
        **_args(
            {
                "ami": "ami-0123456789abcdef0",
                "instance_type": "t4g.small",
                "subnet_id": "subnet-0123456789abcdef0",
                "metadata_options": {"http_tokens": "required"},
                "root_block_device": {"encrypted": True},
                "tags": TAGS,
            },
            o,
        ),
    )


def spot_fleet(**spec: Any) -> aws.ec2.SpotFleetRequest:
    """A spot fleet launched from inline launch specifications (no template)."""
    return aws.ec2.SpotFleetRequest(
        "fleet",
        iam_fleet_role="arn:aws:iam::111111111111:role/fleet",
        target_capacity=2,
        launch_specifications=[
            {
                "ami": "ami-0123456789abcdef0",
                "instance_type": "t4g.small",
                "subnet_id": "subnet-0123456789abcdef0",
                **spec,
            }
        ],
    )


CERT_ARN = "arn:aws:acm:eu-west-1:111111111111:certificate/abc"
TG_ARN = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:targetgroup/web/0123456789abcdef"
REDIRECT = [
    {
        "type": "redirect",
        "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"},
    }
]
FORWARD = [{"type": "forward", "target_group_arn": TG_ARN}]


def alb_with_listeners(
    http: dict[str, Any] | None = None, https: bool = True
) -> tuple[aws.lb.LoadBalancer, aws.lb.Listener]:
    """An ALB with an HTTPS listener and an HTTP listener (`http` overrides its arguments)."""
    lb = aws.lb.LoadBalancer(
        "web-alb",
        load_balancer_type="application",
        subnets=["subnet-a", "subnet-b", "subnet-c"],
        drop_invalid_header_fields=True,
        enable_deletion_protection=True,
        tags=TAGS,
    )
    if https:
        aws.lb.Listener(
            "web-https",
            load_balancer_arn=lb.arn,
            port=443,
            protocol="HTTPS",
            certificate_arn=CERT_ARN,
            default_actions=FORWARD,
        )
    plain = aws.lb.Listener(
        "web-http",
        **_args(
            {
                "load_balancer_arn": lb.arn,
                "port": 80,
                "protocol": "HTTP",
                "default_actions": REDIRECT,
            },
            http or {},
        ),
    )
    return lb, plain


def bucket_v2(name: str = "archive", **o: Any) -> aws.s3.BucketV2:
    """A backup bucket configured only through the deprecated BucketV2's inline lists."""
    return aws.s3.BucketV2(
        name,
        **_args(
            {
                "bucket": name,
                "object_lock_enabled": True,
                "tags": {**TAGS, "groundwork:purpose": "backups"},
                "versionings": [{"enabled": True}],
                "server_side_encryption_configurations": [
                    {
                        "rules": [
                            {
                                "apply_server_side_encryption_by_defaults": [
                                    {"sse_algorithm": "aws:kms", "kms_master_key_id": KEY_ARN}
                                ],
                                "bucket_key_enabled": True,
                            }
                        ]
                    }
                ],
                "object_lock_configuration": {
                    "object_lock_enabled": "Enabled",
                    "rules": [{"default_retentions": [{"mode": "COMPLIANCE", "days": 30}]}],
                },
                "lifecycle_rules": [
                    {
                        "enabled": True,
                        "expirations": [{"days": 400}],
                        "noncurrent_version_expirations": [{"days": 400}],
                    }
                ],
            },
            o,
        ),
        opts=PROTECT,
    )


def analytics_bucket(lifecycle_filter: dict[str, Any]) -> aws.s3.Bucket:
    """An analytics bucket whose one lifecycle rule expires after 90 days under `filter`."""
    b = aws.s3.Bucket("events", tags={**TAGS, "groundwork:purpose": "analytics"}, opts=PROTECT)
    aws.s3.BucketLifecycleConfiguration(
        "events-lifecycle",
        bucket=b.bucket,
        rules=[
            {
                "id": "expire",
                "status": "Enabled",
                "filter": lifecycle_filter,
                "expiration": {"days": 90},
            }
        ],
    )
    return b
