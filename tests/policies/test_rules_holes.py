"""Adversarial cases for issue 12's holes and false positives, through the real Analyzer.

Every input is built with the real pulumi_aws constructors (aws_cases.py) and recorded the way
a preview records it; the verdict comes from the pack over gRPC with policies/config/prod.json.
Each case names the resource (by logical name) the verdict is about; "" is the root stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import aws_cases as a
import pulumi
import pulumi_aws as aws
import pytest
from conftest import run, undecided, violations
from constructed import constructed
from policy_builders import STACK_URN

from offline.model import RecordedResource


@dataclass(frozen=True)
class Case:
    policy: str
    id: str
    build: Callable[[], object]
    expect: str  # "pass", "violation" or "undecided"
    target: str  # logical name of the resource judged; "" for the root stack
    preview: bool = True

    def __str__(self) -> str:
        return f"{self.policy}:{self.id}"


def _aurora_pair(**cluster: object) -> Callable[[], object]:
    def build() -> None:
        a.aurora_instance(a.aurora(**cluster))

    return build


def _aurora_member(**instance: object) -> Callable[[], object]:
    def build() -> None:
        a.aurora_instance(a.aurora(), **instance)

    return build


CASES: list[Case] = [
    # 1. Aurora clusters and their instances get the database rules.
    Case("rds-storage-encrypted", "aurora-compliant", _aurora_pair(), "pass", "aurora"),
    Case(
        "rds-storage-encrypted",
        "aurora-unencrypted",
        _aurora_pair(storage_encrypted=False),
        "violation",
        "aurora",
    ),
    Case(
        "rds-storage-encrypted",
        "aurora-serverless-v1-default",
        _aurora_pair(storage_encrypted=None, engine_mode="serverless"),
        "pass",
        "aurora",
    ),
    Case(
        "rds-backup-retention",
        "aurora-default-one-day",
        _aurora_pair(backup_retention_period=None),
        "violation",
        "aurora",
    ),
    Case(
        "rds-deletion-protection",
        "aurora-unprotected",
        _aurora_pair(deletion_protection=False),
        "violation",
        "aurora",
    ),
    Case(
        "rds-final-snapshot",
        "aurora-skips-snapshot",
        _aurora_pair(skip_final_snapshot=True),
        "violation",
        "aurora",
    ),
    Case(
        "rds-copy-tags-to-snapshot",
        "aurora-no-copy",
        _aurora_pair(copy_tags_to_snapshot=None),
        "violation",
        "aurora",
    ),
    Case(
        "rds-keep-automated-backups",
        "aurora-default-deletes",
        _aurora_pair(delete_automated_backups=None),
        "violation",
        "aurora",
    ),
    Case("rds-not-public", "aurora-instance-private", _aurora_member(), "pass", "aurora-1"),
    Case(
        "rds-not-public",
        "aurora-instance-public",
        _aurora_member(publicly_accessible=True),
        "violation",
        "aurora-1",
    ),
    Case(
        "rds-not-public",
        "multi-az-cluster-public",
        _aurora_pair(publicly_accessible=True),
        "violation",
        "aurora",
    ),
    Case(
        "rds-performance-insights",
        "aurora-instance-off",
        _aurora_member(performance_insights_enabled=None),
        "violation",
        "aurora-1",
    ),
    Case(
        "resources-alarmed",
        "aurora-unwatched",
        _aurora_pair(),
        "violation",
        "aurora",
    ),
    Case(
        "resources-alarmed",
        "aurora-watched",
        lambda: aws.cloudwatch.MetricAlarm(
            "aurora-cpu",
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=3,
            metric_name="CPUUtilization",
            namespace="AWS/RDS",
            period=60,
            statistic="Average",
            threshold=80,
            alarm_actions=[a.TOPIC_ARN],
            dimensions={"DBClusterIdentifier": a.aurora().cluster_identifier},
        ),
        "pass",
        "aurora",
    ),
    Case(
        "stateful-resources-protected",
        "aurora-protected",
        _aurora_pair(),
        "pass",
        "aurora",
    ),
    Case(
        "stateful-resources-protected",
        "aurora-unprotected",
        _aurora_pair(opts=None),
        "violation",
        "aurora",
    ),
    # 11. Other stateful types.
    Case(
        "stateful-resources-protected",
        "dynamodb-unprotected",
        lambda: aws.dynamodb.Table(
            "sessions",
            hash_key="id",
            attributes=[{"name": "id", "type": "S"}],
            billing_mode="PAY_PER_REQUEST",
        ),
        "violation",
        "sessions",
    ),
    Case(
        "stateful-resources-protected",
        "efs-unprotected",
        lambda: aws.efs.FileSystem("shared", encrypted=True),
        "violation",
        "shared",
    ),
    Case(
        "stateful-resources-protected",
        "backup-vault-unprotected",
        lambda: aws.backup.Vault("vault", kms_key_arn=a.KEY_ARN),
        "violation",
        "vault",
    ),
    Case(
        "stateful-resources-protected",
        "backup-vault-protected",
        lambda: aws.backup.Vault("vault", kms_key_arn=a.KEY_ARN, opts=a.PROTECT),
        "pass",
        "vault",
    ),
    # 2. Admin without "Action": "*" on "Resource": "*".
    *[
        Case(
            "iam-no-wildcard-admin",
            f"{kind.__name__}-{arn.rsplit('/', 1)[1]}-{arn.split(':')[1]}",
            (lambda kind=kind, arn=arn, key=key: kind("attach", policy_arn=arn, **{key: "app"})),
            "violation",
            "attach",
        )
        for kind, key in (
            (aws.iam.RolePolicyAttachment, "role"),
            (aws.iam.UserPolicyAttachment, "user"),
            (aws.iam.GroupPolicyAttachment, "group"),
        )
        for arn in (
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws-cn:iam::aws:policy/IAMFullAccess",
        )
    ],
    Case(
        "iam-no-wildcard-admin",
        "attach-read-only",
        lambda: aws.iam.RolePolicyAttachment(
            "attach", role="app", policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        ),
        "pass",
        "attach",
    ),
    Case(
        "iam-no-wildcard-admin",
        "policy-attachment-admin",
        lambda: aws.iam.PolicyAttachment(
            "attach",
            roles=["app"],
            policy_arn="arn:aws-us-gov:iam::aws:policy/AdministratorAccess",
        ),
        "violation",
        "attach",
    ),
    Case(
        "iam-no-wildcard-admin",
        "exclusive-attachments-admin",
        lambda: aws.iam.RolePolicyAttachmentsExclusive(
            "attach",
            role_name="app",
            policy_arns=["arn:aws:iam::aws:policy/AdministratorAccess"],
        ),
        "violation",
        "attach",
    ),
    Case(
        "iam-no-wildcard-admin",
        "role-managed-policy-arns",
        lambda: aws.iam.Role(
            "app",
            assume_role_policy=a.EC2_TRUST,
            managed_policy_arns=["arn:aws:iam::aws:policy/AdministratorAccess"],
        ),
        "violation",
        "app",
    ),
    Case(
        "iam-no-wildcard-admin",
        "star-on-not-resource",
        lambda: a.iam_policy({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::x"}),
        "violation",
        "app-policy",
    ),
    Case(
        "iam-no-wildcard-admin",
        "star-on-wildcard-arn",
        lambda: a.iam_policy({"Effect": "Allow", "Action": ["*"], "Resource": "arn:aws:*:*:*:*"}),
        "violation",
        "app-policy",
    ),
    Case(
        "iam-no-wildcard-admin",
        "star-on-arn-star",
        lambda: a.iam_policy({"Effect": "Allow", "Action": "*", "Resource": "arn:*"}),
        "violation",
        "app-policy",
    ),
    Case(
        "iam-no-wildcard-admin",
        "iam-star-escalates",
        lambda: a.iam_policy({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}),
        "violation",
        "app-policy",
    ),
    Case(
        "iam-no-wildcard-admin",
        "attach-role-policy-escalates",
        lambda: a.iam_policy({"Effect": "Allow", "Action": ["IAM:Attach*"], "Resource": ["*"]}),
        "violation",
        "app-policy",
    ),
    Case(
        "iam-no-wildcard-admin",
        "star-on-one-bucket",
        lambda: a.iam_policy(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/*"}
        ),
        "pass",
        "app-policy",
    ),
    Case(
        "iam-no-wildcard-admin",
        "iam-read-everything",
        lambda: a.iam_policy({"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}),
        "pass",
        "app-policy",
    ),
    # 7. Disabled rather than removed.
    Case(
        "asg-scaling-policy",
        "target-tracking",
        lambda: a.target_tracking(a.asg()),
        "pass",
        "web-asg",
    ),
    Case(
        "asg-scaling-policy",
        "target-tracking-disabled",
        lambda: a.target_tracking(a.asg(), enabled=False),
        "violation",
        "web-asg",
    ),
    Case(
        "asg-scaling-policy",
        "step-policy-no-alarm",
        lambda: a.step_policy(a.asg()),
        "violation",
        "web-asg",
    ),
    Case(
        "asg-scaling-policy",
        "step-policy-alarm-disabled",
        lambda: a.alarm("slow", [a.step_policy(a.asg()).arn], actions_enabled=False),
        "violation",
        "web-asg",
    ),
    Case(
        "asg-scaling-policy",
        "step-policy-triggered",
        lambda: a.alarm("slow", [a.step_policy(a.asg()).arn]),
        "pass",
        "web-asg",
    ),
    Case(
        "asg-scaling-policy",
        "predictive-forecast-only",
        lambda: aws.autoscaling.Policy(
            "predictive",
            autoscaling_group_name=a.asg().name,
            policy_type="PredictiveScaling",
            predictive_scaling_configuration={
                "metric_specification": {
                    "target_value": 500,
                    "predefined_metric_pair_specification": {
                        "predefined_metric_type": "ALBRequestCount",
                        "resource_label": "app/web/x/targetgroup/web/y",
                    },
                },
            },
        ),
        "violation",
        "web-asg",
    ),
    Case(
        "phase-capabilities",
        "growth-request-policy-disabled",
        lambda: (
            a.target_tracking(a.asg(), enabled=False),
            aws.cloudwatch.Dashboard("performance", dashboard_name="p", dashboard_body="{}"),
            aws.rum.AppMonitor("rum", domain="app.example.com"),
        ),
        "violation",
        "",
    ),
    Case(
        "phase-capabilities",
        "growth-request-policy-enabled",
        lambda: (
            a.target_tracking(a.asg()),
            aws.cloudwatch.Dashboard("performance", dashboard_name="p", dashboard_body="{}"),
            aws.rum.AppMonitor("rum", domain="app.example.com"),
        ),
        "pass",
        "",
    ),
    # 5. TLS-only bucket policy.
    Case("s3-backup-tls-only", "deny-everyone", a.backup_bucket, "pass", "backups", False),
    Case(
        "s3-backup-tls-only",
        "lower-case-key",
        lambda: a.backup_bucket(a.tls_deny(Condition={"Bool": {"aws:securetransport": "false"}})),
        "pass",
        "backups",
        False,
    ),
    Case(
        "s3-backup-tls-only",
        "deny-star-resource",
        lambda: a.backup_bucket(a.tls_deny(Resource="*", Principal={"AWS": "*"}, Action="*")),
        "pass",
        "backups",
        False,
    ),
    Case(
        "s3-backup-tls-only",
        "one-service-principal",
        lambda: a.backup_bucket(a.tls_deny(Principal={"Service": "logging.s3.amazonaws.com"})),
        "violation",
        "backups",
        False,
    ),
    Case(
        "s3-backup-tls-only",
        "not-principal",
        lambda: a.backup_bucket(
            {**a.tls_deny(), "Principal": None, "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}}
        ),
        "violation",
        "backups",
        False,
    ),
    Case(
        "s3-backup-tls-only",
        "objects-only",
        lambda: a.backup_bucket(a.tls_deny(Resource="arn:aws:s3:::backups/*")),
        "violation",
        "backups",
        False,
    ),
    Case(
        "s3-backup-tls-only",
        "another-bucket",
        lambda: a.backup_bucket(
            a.tls_deny(Resource=["arn:aws:s3:::other", "arn:aws:s3:::other/*"])
        ),
        "violation",
        "backups",
        False,
    ),
    Case(
        "s3-backup-tls-only",
        "one-prefix",
        lambda: a.backup_bucket(
            a.tls_deny(Resource=["arn:aws:s3:::backups", "arn:aws:s3:::backups/logs/*"])
        ),
        "violation",
        "backups",
        False,
    ),
    Case(
        "s3-backup-tls-only",
        "get-object-only",
        lambda: a.backup_bucket(a.tls_deny(Action="s3:GetObject")),
        "violation",
        "backups",
        False,
    ),
    Case(
        "s3-backup-tls-only",
        "true-not-false",
        lambda: a.backup_bucket(a.tls_deny(Condition={"Bool": {"aws:SecureTransport": "true"}})),
        "violation",
        "backups",
        False,
    ),
    # 6. An AWS managed key is not a customer key.
    Case(
        "s3-backup-kms-encryption",
        "aws-managed-alias",
        lambda: a.backup_bucket(key="alias/aws/s3"),
        "violation",
        "backups",
        False,
    ),
    Case(
        "s3-backup-kms-encryption",
        "aws-managed-alias-arn",
        lambda: a.backup_bucket(key="arn:aws:kms:eu-west-1:111111111111:alias/aws/s3"),
        "violation",
        "backups",
        False,
    ),
    Case(
        "s3-backup-kms-encryption",
        "customer-alias",
        lambda: a.backup_bucket(key="alias/groundwork-backups"),
        "pass",
        "backups",
        False,
    ),
    Case(
        "build-artifacts-encrypted",
        "codebuild-aws-managed",
        lambda: a.codebuild(encryption_key="alias/aws/s3"),
        "violation",
        "tests",
    ),
    Case("build-artifacts-encrypted", "codebuild-customer", a.codebuild, "pass", "tests"),
    Case(
        "build-artifacts-encrypted",
        "pipeline-aws-managed",
        lambda: a.pipeline(
            ("Source", [a.action("s", "Source")]),
            ("Test", [a.action("t", "Test")]),
            artifact_stores=[
                {
                    "location": "artifacts",
                    "type": "S3",
                    "encryption_key": {"id": "alias/aws/s3", "type": "KMS"},
                }
            ],
        ),
        "violation",
        "delivery",
    ),
    # 9. Public access block on every bucket.
    Case(
        "s3-bucket-public-access-block",
        "analytics-bucket-without",
        lambda: aws.s3.Bucket("events", tags={"groundwork:purpose": "analytics"}),
        "violation",
        "events",
    ),
    Case(
        "s3-bucket-public-access-block",
        "plain-bucket-blocked",
        lambda: aws.s3.BucketPublicAccessBlock(
            "site-pab",
            bucket=aws.s3.Bucket("site").bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        ),
        "pass",
        "site",
    ),
    Case(
        "s3-bucket-public-access-block",
        "standalone-block-acls-off",
        lambda: aws.s3.BucketPublicAccessBlock(
            "site-pab",
            bucket="someone-elses-bucket",
            block_public_acls=False,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        ),
        "violation",
        "site-pab",
    ),
    Case(
        "s3-bucket-public-access-block",
        "standalone-block-defaults-off",
        lambda: aws.s3.BucketPublicAccessBlock("site-pab", bucket="someone-elses-bucket"),
        "violation",
        "site-pab",
    ),
    Case(
        "s3-bucket-public-access-block",
        "account-level-block",
        lambda: (
            aws.s3.Bucket("site"),
            aws.s3.AccountPublicAccessBlock(
                "account",
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
        ),
        "pass",
        "site",
    ),
    Case(
        "s3-bucket-public-access-block",
        "account-level-block-partial",
        lambda: (
            aws.s3.Bucket("site"),
            aws.s3.AccountPublicAccessBlock("account", block_public_acls=True),
        ),
        "violation",
        "site",
    ),
    # 10. Plaintext secrets by value shape as well as name, without false positives.
    *[
        Case(
            "codebuild-no-plaintext-secrets",
            f"secret-{label}",
            (lambda name=name, value=value: a.build_env((name, value))),
            "violation",
            "tests",
        )
        for label, name, value in (
            ("postgres-url", "DATABASE_URL", "postgres://app:s3cretpw@db.internal:5432/app"),
            ("redis-url-no-user", "CACHE", "redis://:s3cretpw@cache.internal:6379"),
            ("aws-key-id", "CONFIG", "AKIAIOSFODNN7EXAMPLE"),
            ("github-pat-name", "GITHUB_PAT", "0123456789abcdef0123456789abcdef"),
            ("github-token-value", "GH", "ghp_" + "a1B2c3D4e5" * 4),
            ("npm-auth", "NPM_AUTH", "dXNlcjpwYXNzd29yZA=="),
            ("npmrc-line", "NPMRC", "//registry.npmjs.org/:_authToken=abcdef0123456789"),
            ("private-key", "TLS", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow..."),
            ("slack-webhook", "ALERTS", "https://hooks.slack.com/services/T000/B000/XXXX"),
            ("token-in-query", "HOOK", "https://api.example.com/hook?token=abcdef0123456789"),
            ("bearer", "HEADER", "Bearer abcdef0123456789abcdef"),
            ("stripe", "PAYMENTS", "sk_live_" + "a" * 24),
        )
    ],
    *[
        Case(
            "codebuild-no-plaintext-secrets",
            f"harmless-{label}",
            (lambda name=name, value=value: a.build_env((name, value))),
            "pass",
            "tests",
        )
        for label, name, value in (
            ("token-endpoint", "TOKEN_ENDPOINT", "https://auth.example.com/oauth2/token"),
            ("https-url", "DOCS_URL", "https://example.com/docs"),
            ("secret-name", "DB_SECRET_NAME", "groundwork/prod/db"),
            ("password-length", "PASSWORD_MIN_LENGTH", "14"),
            ("auth-enabled", "AUTH", "true"),
            ("url-placeholder", "DATABASE_URL", "postgres://app:${DB_PASSWORD}@db:5432/app"),
            ("author", "AUTHOR", "platform team"),
            ("stage", "STACK", "prod"),
        )
    ],
    Case(
        "codebuild-no-plaintext-secrets",
        "secrets-manager-reference",
        lambda: a.build_env(("DB_PASSWORD", "groundwork/db:password", "SECRETS_MANAGER")),
        "pass",
        "tests",
    ),
    Case(
        "codebuild-no-plaintext-secrets",
        "pipeline-action-variable",
        lambda: a.pipeline(
            ("Source", [a.action("s", "Source")]),
            (
                "Test",
                [
                    a.action(
                        "t",
                        "Test",
                        input_artifacts=["source"],
                        configuration={
                            "ProjectName": "tests",
                            "EnvironmentVariables": json.dumps(
                                [
                                    {
                                        "name": "DATABASE_URL",
                                        "value": "postgres://u:pw0rd123@h/db",
                                        "type": "PLAINTEXT",
                                    }
                                ]
                            ),
                        },
                    )
                ],
            ),
        ),
        "violation",
        "delivery",
    ),
    Case(
        "codebuild-no-plaintext-secrets",
        "lambda-variable",
        lambda: aws.lambda_.Function(
            "fn",
            role="arn:aws:iam::111111111111:role/fn",
            runtime="python3.12",
            handler="app.handler",
            code=pulumi.AssetArchive({}),
            environment={"variables": {"STRIPE": "sk_live_" + "b" * 24, "STAGE": "prod"}},
        ),
        "violation",
        "fn",
    ),
    # 12. Spot requests and fleets, standalone EBS volumes, public subnets.
    Case(
        "ec2-imdsv2-required",
        "spot-request-imdsv1",
        lambda: aws.ec2.SpotInstanceRequest(
            "spot",
            ami="ami-0123456789abcdef0",
            instance_type="t4g.small",
            metadata_options={"http_tokens": "optional"},
            root_block_device={"encrypted": True},
        ),
        "violation",
        "spot",
    ),
    Case(
        "ec2-imdsv2-required",
        "spot-fleet-launch-specifications",
        lambda: a.spot_fleet(),
        "violation",
        "fleet",
    ),
    Case(
        "ec2-ebs-encrypted",
        "spot-fleet-unencrypted-root",
        lambda: a.spot_fleet(),
        "violation",
        "fleet",
    ),
    Case(
        "ec2-no-public-ip",
        "spot-fleet-public-ip",
        lambda: a.spot_fleet(associate_public_ip_address=True),
        "violation",
        "fleet",
    ),
    Case(
        "ec2-launch-template-required",
        "spot-fleet-without-template",
        lambda: a.spot_fleet(),
        "violation",
        "fleet",
    ),
    Case(
        "ec2-ebs-encrypted",
        "standalone-volume-unencrypted",
        lambda: aws.ebs.Volume("data", availability_zone="eu-west-1a", size=20),
        "violation",
        "data",
    ),
    Case(
        "ec2-ebs-encrypted",
        "standalone-volume-encrypted",
        lambda: aws.ebs.Volume("data", availability_zone="eu-west-1a", size=20, encrypted=True),
        "pass",
        "data",
    ),
    Case(
        "ec2-no-public-ip",
        "instance-in-public-subnet",
        lambda: a.bare_instance(subnet_id=a.subnet("public-a", "eu-west-1a", public=True).id),
        "violation",
        "worker",
    ),
    Case(
        "ec2-no-public-ip",
        "instance-in-public-subnet-opted-out",
        lambda: a.bare_instance(
            subnet_id=a.subnet("public-a", "eu-west-1a", public=True).id,
            associate_public_ip_address=False,
        ),
        "pass",
        "worker",
    ),
    Case(
        "ec2-no-public-ip",
        "instance-in-private-subnet",
        lambda: a.bare_instance(subnet_id=a.subnet("private-a", "eu-west-1a").id),
        "pass",
        "worker",
    ),
    Case(
        "ec2-no-public-ip",
        "asg-in-public-subnets-template-silent",
        lambda: a.asg(
            subnets=[a.subnet(f"public-{z}", f"eu-west-1{z}", public=True).id for z in "abc"],
            launch_template={
                "id": a.launch_template(network_interfaces=None).id,
                "version": "$Latest",
            },
        ),
        "violation",
        "web-asg",
    ),
    Case(
        "ec2-no-public-ip",
        "asg-in-public-subnets-template-opts-out",
        lambda: a.asg(
            subnets=[a.subnet(f"public-{z}", f"eu-west-1{z}", public=True).id for z in "abc"],
            launch_template={"id": a.launch_template().id, "version": "$Latest"},
        ),
        "pass",
        "web-asg",
    ),
    Case(
        "ec2-no-public-ip",
        "elastic-ip-on-instance",
        lambda: aws.ec2.Eip("ip", domain="vpc", instance=a.bare_instance().id),
        "violation",
        "ip",
    ),
    Case(
        "ec2-no-public-ip",
        "elastic-ip-for-nat",
        lambda: aws.ec2.Eip("nat-ip", domain="vpc"),
        "pass",
        "nat-ip",
    ),
    # 8. Zones, not subnets.
    Case(
        "asg-multi-az",
        "three-subnets-one-zone",
        lambda: a.asg(subnets=[a.subnet(f"s{i}", "eu-west-1a").id for i in range(3)]),
        "violation",
        "web-asg",
    ),
    Case(
        "asg-multi-az",
        "three-subnets-three-zones",
        lambda: a.asg(subnets=[a.subnet(f"s{z}", f"eu-west-1{z}").id for z in "abc"]),
        "pass",
        "web-asg",
    ),
    Case(
        "asg-multi-az",
        "duplicate-zone-list",
        lambda: a.asg(vpc_zone_identifiers=None, availability_zones=["eu-west-1a"] * 3),
        "violation",
        "web-asg",
    ),
    # False positives: templates, account defaults, health check lists.
    Case(
        "ec2-imdsv2-required",
        "instance-from-compliant-template",
        lambda: aws.ec2.Instance(
            "worker",
            launch_template={"id": a.launch_template().id, "version": "$Latest"},
            subnet_id="subnet-0123456789abcdef0",
        ),
        "pass",
        "worker",
    ),
    Case(
        "ec2-ebs-encrypted",
        "instance-from-compliant-template",
        lambda: aws.ec2.Instance(
            "worker",
            launch_template={"id": a.launch_template().id, "version": "$Latest"},
            subnet_id="subnet-0123456789abcdef0",
        ),
        "pass",
        "worker",
    ),
    Case(
        "ec2-imdsv2-required",
        "instance-from-imdsv1-template",
        lambda: aws.ec2.Instance(
            "worker",
            launch_template={
                "id": a.launch_template(metadata_options={"http_tokens": "optional"}).id,
                "version": "$Latest",
            },
        ),
        "violation",
        "worker",
    ),
    Case(
        "ec2-imdsv2-required",
        "account-metadata-defaults",
        lambda: (
            aws.ec2.InstanceMetadataDefaults("imds", http_tokens="required"),
            a.bare_instance(metadata_options=None),
        ),
        "pass",
        "worker",
    ),
    Case(
        "ec2-imdsv2-required",
        "account-defaults-do-not-override-explicit-optional",
        lambda: (
            aws.ec2.InstanceMetadataDefaults("imds", http_tokens="required"),
            a.bare_instance(metadata_options={"http_tokens": "optional"}),
        ),
        "violation",
        "worker",
    ),
    Case(
        "ec2-imdsv2-required",
        "account-defaults-no-preference",
        lambda: (
            aws.ec2.InstanceMetadataDefaults("imds", http_tokens="no-preference"),
            a.bare_instance(metadata_options=None),
        ),
        "violation",
        "worker",
    ),
    Case(
        "ec2-ebs-encrypted",
        "account-encryption-by-default",
        lambda: (
            aws.ebs.EncryptionByDefault("ebs", enabled=True),
            a.bare_instance(root_block_device=None),
            aws.ebs.Volume("data", availability_zone="eu-west-1a", size=20),
        ),
        "pass",
        "worker",
    ),
    Case(
        "ec2-ebs-encrypted",
        "account-encryption-off",
        lambda: (
            aws.ebs.EncryptionByDefault("ebs", enabled=False),
            aws.ebs.Volume("data", availability_zone="eu-west-1a", size=20),
        ),
        "violation",
        "data",
    ),
    Case(
        "asg-elb-health-check",
        "elb-and-ebs",
        lambda: a.asg(health_check_type="ELB,EBS"),
        "pass",
        "web-asg",
    ),
    Case(
        "asg-elb-health-check",
        "ec2-and-ebs",
        lambda: a.asg(health_check_type="EC2,EBS"),
        "violation",
        "web-asg",
    ),
    # 13. Pipelines: deploys by CodeBuild, and order within a stage.
    Case(
        "pipeline-approval-stage",
        "codebuild-pulumi-up-unapproved",
        lambda: a.pipeline(
            ("Source", [a.action("source", "Source")]),
            ("Test", [a.action("tests", "Test", input_artifacts=["source"])]),
            (
                "Release",
                [
                    a.action(
                        "pulumi-up",
                        "Build",
                        input_artifacts=["source"],
                        configuration={"ProjectName": "groundwork-pulumi-up"},
                    )
                ],
            ),
        ),
        "violation",
        "delivery",
    ),
    Case(
        "pipeline-approval-stage",
        "codebuild-deploy-after-approval",
        lambda: a.pipeline(
            ("Source", [a.action("source", "Source")]),
            ("Test", [a.action("tests", "Test", input_artifacts=["source"])]),
            ("Approve", [a.action("approve", "Approval")]),
            (
                "Release",
                [
                    a.action(
                        "apply",
                        "Build",
                        input_artifacts=["source"],
                        configuration={"ProjectName": "groundwork-deploy"},
                    )
                ],
            ),
        ),
        "pass",
        "delivery",
    ),
    Case(
        "pipeline-approval-stage",
        "approval-then-deploy-same-stage",
        lambda: a.pipeline(
            ("Source", [a.action("source", "Source")]),
            ("Test", [a.action("tests", "Test", input_artifacts=["source"])]),
            (
                "Release",
                [
                    a.action("approve", "Approval", run_order=1),
                    a.action("deploy", "Deploy", run_order=2, input_artifacts=["source"]),
                ],
            ),
        ),
        "pass",
        "delivery",
    ),
    Case(
        "pipeline-approval-stage",
        "approval-parallel-to-deploy",
        lambda: a.pipeline(
            ("Source", [a.action("source", "Source")]),
            ("Test", [a.action("tests", "Test", input_artifacts=["source"])]),
            (
                "Release",
                [
                    a.action("approve", "Approval", run_order=1),
                    a.action("deploy", "Deploy", run_order=1, input_artifacts=["source"]),
                ],
            ),
        ),
        "violation",
        "delivery",
    ),
    Case(
        "pipeline-approval-stage",
        "approval-after-deploy-same-stage",
        lambda: a.pipeline(
            ("Source", [a.action("source", "Source")]),
            ("Test", [a.action("tests", "Test", input_artifacts=["source"])]),
            (
                "Release",
                [
                    a.action("deploy", "Deploy", run_order=1, input_artifacts=["source"]),
                    a.action("approve", "Approval", run_order=2),
                ],
            ),
        ),
        "violation",
        "delivery",
    ),
    Case(
        "pipeline-test-before-deploy",
        "test-then-deploy-same-stage",
        lambda: a.pipeline(
            ("Source", [a.action("source", "Source")]),
            ("Approve", [a.action("approve", "Approval")]),
            (
                "Ship",
                [
                    a.action("tests", "Test", run_order=1, input_artifacts=["source"]),
                    a.action("deploy", "Deploy", run_order=2, input_artifacts=["source"]),
                ],
            ),
        ),
        "pass",
        "delivery",
    ),
    Case(
        "pipeline-test-before-deploy",
        "codebuild-deploy-is-not-a-test",
        lambda: a.pipeline(
            ("Source", [a.action("source", "Source")]),
            ("Approve", [a.action("approve", "Approval")]),
            (
                "Deploy",
                [
                    a.action(
                        "pulumi-up",
                        "Build",
                        input_artifacts=["source"],
                        configuration={"ProjectName": "groundwork-pulumi-up"},
                    )
                ],
            ),
        ),
        "violation",
        "delivery",
    ),
    Case(
        "pipeline-test-before-deploy",
        "build-named-update-is-a-test",
        lambda: a.pipeline(
            ("Source", [a.action("source", "Source")]),
            ("Build", [a.action("build-and-update-deps", "Build", input_artifacts=["source"])]),
            ("Approve", [a.action("approve", "Approval")]),
            ("Deploy", [a.action("deploy", "Deploy", input_artifacts=["source"])]),
        ),
        "pass",
        "delivery",
    ),
    # 4. Listener protocol defaults, case, rules and unknowns.
    Case("alb-https-redirect", "redirects", a.alb_with_listeners, "pass", "web-http"),
    Case(
        "alb-https-redirect",
        "no-protocol-forwards",
        lambda: a.alb_with_listeners({"protocol": None, "default_actions": a.FORWARD}),
        "violation",
        "web-http",
    ),
    Case(
        "alb-https-redirect",
        "lower-case-http-forwards",
        lambda: a.alb_with_listeners({"protocol": "http", "default_actions": a.FORWARD}),
        "violation",
        "web-http",
    ),
    Case(
        "alb-https-redirect",
        "lower-case-redirect",
        lambda: a.alb_with_listeners(
            {
                "protocol": "http",
                "default_actions": [
                    {
                        "type": "redirect",
                        "redirect": {"protocol": "https", "status_code": "HTTP_301"},
                    }
                ],
            }
        ),
        "pass",
        "web-http",
    ),
    Case(
        "alb-https-redirect",
        "redirect-keeps-protocol",
        lambda: a.alb_with_listeners(
            {
                "default_actions": [
                    {
                        "type": "redirect",
                        "redirect": {"protocol": "#{protocol}", "status_code": "HTTP_301"},
                    }
                ]
            }
        ),
        "violation",
        "web-http",
    ),
    Case(
        "alb-https-redirect",
        "rule-forwards-on-http",
        lambda: aws.lb.ListenerRule(
            "api-over-http",
            listener_arn=a.alb_with_listeners()[1].arn,
            priority=10,
            actions=a.FORWARD,
            conditions=[{"path_pattern": {"values": ["/api/*"]}}],
        ),
        "violation",
        "api-over-http",
    ),
    Case(
        "alb-https-redirect",
        "rule-fixed-response-on-http",
        lambda: aws.lb.ListenerRule(
            "deny-admin",
            listener_arn=a.alb_with_listeners()[1].arn,
            priority=10,
            actions=[
                {
                    "type": "fixed-response",
                    "fixed_response": {"content_type": "text/plain", "status_code": "404"},
                }
            ],
            conditions=[{"path_pattern": {"values": ["/admin/*"]}}],
        ),
        "pass",
        "deny-admin",
    ),
    Case(
        "alb-https-redirect",
        "unknown-protocol",
        lambda: a.alb_with_listeners({"protocol": aws.ec2.Vpc("v", cidr_block="10.0.0.0/16").arn}),
        "undecided",
        "",
    ),
    Case(
        "alb-https-redirect",
        "not-an-alb-protocol",
        lambda: a.alb_with_listeners({"protocol": "TCP"}),
        "violation",
        "web-http",
    ),
    # 3. An explicit provider applies its own default tags, not the stack's.
    Case(
        "required-tags",
        "stack-default-tags",
        lambda: aws.sqs.Queue("jobs"),
        "pass",
        "jobs",
    ),
    Case(
        "required-tags",
        "explicit-provider-without-default-tags",
        lambda: aws.sqs.Queue(
            "jobs",
            opts=pulumi.ResourceOptions(provider=aws.Provider("replica", region="eu-central-1")),
        ),
        "violation",
        "jobs",
    ),
    Case(
        "required-tags",
        "explicit-provider-with-default-tags",
        lambda: aws.sqs.Queue(
            "jobs",
            opts=pulumi.ResourceOptions(
                provider=aws.Provider(
                    "replica",
                    region="eu-central-1",
                    default_tags={
                        "tags": {"Project": "g", "Environment": "prod", "Owner": "platform"}
                    },
                )
            ),
        ),
        "pass",
        "jobs",
    ),
    # False positives: composite children, BucketV2 inline shapes, partial lifecycle rules.
    Case(
        "alarm-actions-enabled",
        "child-of-notifying-composite",
        lambda: aws.cloudwatch.CompositeAlarm(
            "web-any",
            alarm_name="web-any",
            alarm_rule=a.alarm("web-5xx", [], name="web-5xx").name.apply(lambda n: f'ALARM("{n}")'),
            alarm_actions=[a.TOPIC_ARN],
        ),
        "pass",
        "web-5xx",
    ),
    Case(
        "alarm-actions-enabled",
        "child-of-silent-composite",
        lambda: aws.cloudwatch.CompositeAlarm(
            "web-any",
            alarm_name="web-any",
            alarm_rule=a.alarm("web-5xx", [], name="web-5xx").name.apply(lambda n: f'ALARM("{n}")'),
            actions_enabled=False,
            alarm_actions=[a.TOPIC_ARN],
        ),
        "violation",
        "web-5xx",
    ),
    Case(
        "alarm-actions-enabled",
        "alarm-without-actions",
        lambda: a.alarm("web-5xx", []),
        "violation",
        "web-5xx",
    ),
    *[
        Case(policy, "bucket-v2-inline", a.bucket_v2, "pass", "archive")
        for policy in (
            "s3-backup-versioning",
            "s3-backup-kms-encryption",
            "s3-backup-object-lock",
            "s3-backup-lifecycle-covers-lock",
        )
    ],
    Case(
        "s3-backup-versioning",
        "bucket-v2-inline-suspended",
        lambda: a.bucket_v2(versionings=[{"enabled": False}]),
        "violation",
        "archive",
    ),
    Case(
        "s3-backup-kms-encryption",
        "bucket-v2-inline-sse-s3",
        lambda: a.bucket_v2(
            server_side_encryption_configurations=[
                {
                    "rules": [
                        {"apply_server_side_encryption_by_defaults": [{"sse_algorithm": "AES256"}]}
                    ]
                }
            ]
        ),
        "violation",
        "archive",
    ),
    Case(
        "s3-backup-object-lock",
        "bucket-v2-inline-governance",
        lambda: a.bucket_v2(
            object_lock_configuration={
                "object_lock_enabled": "Enabled",
                "rules": [{"default_retentions": [{"mode": "GOVERNANCE", "days": 30}]}],
            }
        ),
        "violation",
        "archive",
    ),
    Case(
        "s3-backup-lifecycle-covers-lock",
        "bucket-v2-inline-expires-early",
        lambda: a.bucket_v2(lifecycle_rules=[{"enabled": True, "expirations": [{"days": 5}]}]),
        "violation",
        "archive",
    ),
    Case(
        "s3-analytics-retention",
        "only-tmp-prefix-expires",
        lambda: a.analytics_bucket({"prefix": "tmp/"}),
        "violation",
        "events",
    ),
    Case(
        "s3-analytics-retention",
        "only-tagged-objects-expire",
        lambda: a.analytics_bucket({"tag": {"key": "class", "value": "scratch"}}),
        "violation",
        "events",
    ),
    Case(
        "s3-analytics-retention",
        "whole-bucket-expires",
        lambda: a.analytics_bucket({}),
        "pass",
        "events",
    ),
    # Also: kms-key-rotation and key specs.
    Case(
        "kms-key-rotation",
        "unknown-key-spec",
        lambda: aws.kms.Key(
            "key",
            customer_master_key_spec=aws.ssm.Parameter("spec", type="String", value="x").arn,
            enable_key_rotation=False,
        ),
        "undecided",
        "key",
    ),
    Case(
        "kms-key-rotation",
        "unrecognised-key-spec-needs-rotation",
        lambda: aws.kms.Key("key", customer_master_key_spec="symmetric_default"),
        "violation",
        "key",
    ),
    Case(
        "kms-key-rotation",
        "hmac-key",
        lambda: aws.kms.Key(
            "key", customer_master_key_spec="HMAC_256", key_usage="GENERATE_VERIFY_MAC"
        ),
        "pass",
        "key",
    ),
    Case(
        "kms-key-rotation",
        "rotation-every-seven-years",
        lambda: aws.kms.Key("key", enable_key_rotation=True, rotation_period_in_days=2560),
        "violation",
        "key",
    ),
    Case(
        "kms-key-rotation",
        "rotation-yearly",
        lambda: aws.kms.Key("key", enable_key_rotation=True, rotation_period_in_days=365),
        "pass",
        "key",
    ),
    Case(
        "kms-key-rotation",
        "imported-key-material",
        lambda: aws.kms.ExternalKey("key", description="imported"),
        "violation",
        "key",
    ),
    # Own adversarial cases.
    Case(
        "ec2-launch-template-required",
        "spot-request-without-template",
        lambda: aws.ec2.SpotInstanceRequest(
            "spot",
            ami="ami-0123456789abcdef0",
            instance_type="t4g.small",
            metadata_options={"http_tokens": "required"},
            root_block_device={"encrypted": True},
        ),
        "violation",
        "spot",
    ),
    Case(
        "required-tags",
        "blank-owner-tag",
        lambda: aws.sqs.Queue("jobs", tags={"Owner": "  "}),
        "violation",
        "jobs",
    ),
    Case(
        "rds-not-public",
        "aurora-instance-unknown-fails-closed",
        _aurora_member(publicly_accessible=aws.ssm.Parameter("p", type="String", value="x").arn),
        "violation",
        "aurora-1",
    ),
    Case(
        "rds-backup-retention",
        "aurora-fourteen-days",
        _aurora_pair(backup_retention_period=14),
        "pass",
        "aurora",
    ),
    # Own: controls suspended rather than removed.
    Case(
        "asg-elb-health-check",
        "health-check-suspended",
        lambda: a.asg(suspended_processes=["ReplaceUnhealthy"]),
        "violation",
        "web-asg",
    ),
    Case(
        "asg-elb-health-check",
        "grace-period-a-day",
        lambda: a.asg(health_check_grace_period=86400),
        "violation",
        "web-asg",
    ),
    Case(
        "asg-elb-health-check",
        "az-rebalance-suspended-is-fine",
        lambda: a.asg(suspended_processes=["AZRebalance"], health_check_grace_period=300),
        "pass",
        "web-asg",
    ),
    Case(
        "asg-scaling-policy",
        "alarm-notification-suspended",
        lambda: a.target_tracking(a.asg(suspended_processes=["AlarmNotification"])),
        "violation",
        "web-asg",
    ),
    Case(
        "asg-scaling-policy",
        "max-equals-min",
        lambda: a.target_tracking(a.asg(min_size=3, max_size=3)),
        "violation",
        "web-asg",
    ),
    Case(
        "codebuild-no-plaintext-secrets",
        "ssm-string-with-credentials-url",
        lambda: aws.ssm.Parameter(
            "db-url",
            name="/app/prod/database-url",
            type="String",
            value="postgres://u:pw0rd123@h/db",
        ),
        "violation",
        "db-url",
    ),
    Case(
        "codebuild-no-plaintext-secrets",
        "ssm-string-named-password",
        lambda: aws.ssm.Parameter(
            "db-password", name="/app/prod/db_password", type="String", value="hunter2hunter2"
        ),
        "violation",
        "db-password",
    ),
    Case(
        "codebuild-no-plaintext-secrets",
        "ssm-secure-string",
        lambda: aws.ssm.Parameter(
            "db-password", name="/app/prod/db_password", type="SecureString", value="hunter2hunter2"
        ),
        "pass",
        "db-password",
    ),
    Case(
        "codebuild-no-plaintext-secrets",
        "ssm-plain-config",
        lambda: aws.ssm.Parameter(
            "agent", name="/app/prod/agent-config", type="String", insecure_value='{"logs": {}}'
        ),
        "pass",
        "agent",
    ),
    Case(
        "codebuild-no-plaintext-secrets",
        "ecs-environment",
        lambda: aws.ecs.TaskDefinition(
            "web",
            family="web",
            container_definitions=json.dumps(
                [
                    {
                        "name": "web",
                        "image": "nginx",
                        "environment": [
                            {"name": "GITHUB_TOKEN", "value": "ghp_" + "x1Y2z3W4v5" * 4}
                        ],
                    }
                ]
            ),
        ),
        "violation",
        "web",
    ),
    Case(
        "s3-backup-tls-only",
        "split-over-two-statements",
        lambda: a.backup_bucket(
            [
                a.tls_deny(Sid="Bucket", Resource="arn:aws:s3:::backups"),
                a.tls_deny(Sid="Objects", Resource="arn:aws:s3:::backups/*"),
            ]
        ),
        "pass",
        "backups",
        False,
    ),
    Case(
        "s3-backup-tls-only",
        "split-but-one-is-for-a-service",
        lambda: a.backup_bucket(
            [
                a.tls_deny(Sid="Bucket", Resource="arn:aws:s3:::backups"),
                a.tls_deny(
                    Sid="Objects",
                    Resource="arn:aws:s3:::backups/*",
                    Principal={"Service": "cloudtrail.amazonaws.com"},
                ),
            ]
        ),
        "violation",
        "backups",
        False,
    ),
    Case(
        "s3-backup-tls-only",
        "preview-bucket-name-unknown",
        lambda: a.backup_bucket(name="backups"),
        "pass",
        "backups",
    ),
    Case(
        "ec2-ebs-encrypted",
        "account-encryption-overrides-explicit-false",
        lambda: (
            aws.ebs.EncryptionByDefault("ebs", enabled=True),
            aws.ebs.Volume("data", availability_zone="eu-west-1a", size=20, encrypted=False),
        ),
        "pass",
        "data",
    ),
    Case(
        "pipeline-approval-stage",
        "test-project-named-for-release-is-a-test",
        lambda: a.pipeline(
            ("Source", [a.action("source", "Source")]),
            (
                "Test",
                [
                    a.action(
                        "tests",
                        "Test",
                        input_artifacts=["source"],
                        configuration={"ProjectName": "groundwork-prod-release-tests"},
                    )
                ],
            ),
            ("Approve", [a.action("approve", "Approval")]),
            ("Deploy", [a.action("deploy", "Deploy", input_artifacts=["source"])]),
        ),
        "pass",
        "delivery",
    ),
    Case(
        "iam-no-wildcard-admin",
        "iam-star-on-every-role",
        lambda: a.iam_policy(
            {"Effect": "Allow", "Action": "iam:*", "Resource": "arn:aws:iam::*:role/*"}
        ),
        "violation",
        "app-policy",
    ),
    Case(
        "iam-no-wildcard-admin",
        "put-role-policy-on-every-role-of-an-account",
        lambda: a.iam_policy(
            {
                "Effect": "Allow",
                "Action": "iam:PutRolePolicy",
                "Resource": "arn:aws:iam::111122223333:role/*",
            }
        ),
        "violation",
        "app-policy",
    ),
    Case(
        "iam-no-wildcard-admin",
        "put-role-policy-on-one-role",
        lambda: a.iam_policy(
            {
                "Effect": "Allow",
                "Action": "iam:PutRolePolicy",
                "Resource": "arn:aws:iam::111122223333:role/app-worker",
            }
        ),
        "pass",
        "app-policy",
    ),
]


def _target(resources: list[RecordedResource], name: str) -> str:
    if not name:
        return STACK_URN
    found = [r.urn for r in resources if r.name == name]
    assert found, f"case builds no resource named {name!r}: {[r.name for r in resources]}"
    return found[0]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hole_case(pack, case: Case) -> None:
    resources = constructed(case.build, preview=case.preview)
    urn = _target(resources, case.target)
    result = run(pack, resources)
    found, pending = violations(result, case.policy, urn), undecided(result, case.policy, urn)
    if case.expect == "pass":
        assert not found and not pending, (
            f"{case.policy} flagged {urn}: {[v.message for v in found + pending]}"
        )
    elif case.expect == "violation":
        assert found, (
            f"{case.policy} did not flag {urn}; got "
            f"{[(v.policy, v.urn, v.message) for v in result.violations]}"
        )
        assert all(v.level == "mandatory" for v in found), f"{case.policy} on {urn}: mandatory"
    else:
        assert pending and not found, f"{case.policy} on {urn}: expected only undecided: {found}"


@pytest.mark.parametrize("days", [90, "90"])
def test_analytics_retention_from_stack_config_number_or_string(packs, days: object) -> None:
    """groundwork:analytics.retentionDays caps the lifecycle whether YAML gave a number or a
    string; 120 days of events must fail a stack that promises 90."""

    def build() -> None:
        b = aws.s3.Bucket("events", tags={"groundwork:purpose": "analytics"}, opts=a.PROTECT)
        aws.s3.BucketLifecycleConfiguration(
            "events-lifecycle",
            bucket=b.bucket,
            rules=[{"id": "expire", "status": "Enabled", "expiration": {"days": 120}}],
        )

    resources = constructed(build)
    pack = packs(**{"groundwork:analytics": json.dumps({"retentionDays": days})})
    urn = _target(resources, "events")
    assert violations(run(pack, resources), "s3-analytics-retention", urn), (
        f"groundwork:analytics.retentionDays={days!r} must cap expiration.days (120) on {urn}"
    )
