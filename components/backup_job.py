"""BackupJob: the scheduled logical backup of the database into the backup vault.

Runner: a CodeBuild project in the VPC, started by an EventBridge Scheduler schedule.
Why CodeBuild rather than a Fargate task or a Lambda function:

- it needs no container image to build, scan and keep patched: the AWS-maintained Amazon
  Linux 2023 image already has Python 3.11 with boto3, and `dnf` installs the PostgreSQL 16
  client (`pg_dump` must be at least the server's major version) at the start of each run;
- a run may take hours and needs disk for the dump; Lambda stops at 15 minutes and has
  10 GB of temporary storage, CodeBuild runs up to 36 hours with 64 GB or more;
- each run is a build with a status, a log stream and CloudWatch metrics per project
  (`SucceededBuilds`, `FailedBuilds`), which the alarms here watch; a one-run-at-a-time limit
  stops a slow backup from overlapping the next;
- the code it runs is this repository's `ops/` package (the same code as the restore drill),
  shipped by Pulumi as a versioned S3 object, so a deploy pins the exact code version.

Each run (`python -m ops.backup`) reads the login from the RDS-managed master-user secret,
dumps the database with `pg_dump --format=custom` over verified TLS, and uploads the dump to
`postgres/<db>/<UTC timestamp>.dump` with SSE-KMS and an S3-checked SHA-256; the object takes
the vault's default object lock. Nothing secret is in the project: its environment holds
names, ARNs and the endpoint only.

The role may do exactly that: write and read back objects under its own prefix, read the
vault's lock configuration, read that one secret (and decrypt it only through Secrets
Manager), use the vault key through S3, write its own log group, fetch its own source object,
and manage the network interfaces CodeBuild places in the private subnets. The `ec2:Describe*`,
`ec2:CreateNetworkInterface` and `ec2:DeleteNetworkInterface` actions CodeBuild needs for a
VPC build do not support resource-level scoping in the way CodeBuild calls them, so they are
granted on `*`; the one that attaches an interface to the build is limited to these subnets
and to CodeBuild.

Alarms (alarm and OK actions to the alerts topic): a failed run, and a missed backup, i.e. no
successful run for `max_backup_age_hours` (missing data counts as missing backups), which
also catches a schedule that stopped firing or a build that never started.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import buckets, context, iam

IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
PYTHON_RUNTIME = "3.11"
PG_CLIENT_PACKAGE = "postgresql16"
# ops/ uses S3 conditional writes and the flexible-checksum client settings (botocore 1.36).
BOTO3_REQUIREMENT = "boto3>=1.36,<2"
CA_BUNDLE_PATH = "/tmp/rds-ca-bundle.pem"
SOURCE_KEY = "backup-job/source.zip"
# How long the scheduler keeps retrying to start a run before the missed alarm has to tell.
SCHEDULER_MAX_EVENT_AGE_SECONDS = 3600
# Actions CodeBuild needs to place a build in a VPC; AWS does not scope these by resource.
VPC_BUILD_ACTIONS: tuple[str, ...] = (
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)


def backup_prefix(database_name: str) -> str:
    """The key prefix one database's backups live under (the ops tools' layout)."""
    return f"postgres/{database_name}/"


def ca_bundle_url(region: str) -> str:
    """AWS's published CA bundle for RDS in `region`."""
    return f"https://truststore.pki.rds.amazonaws.com/{region}/{region}-bundle.pem"


def buildspec(region: str) -> str:
    """The build's commands. No secrets: the job reads the password from Secrets Manager."""
    spec = {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {
            "install": {
                "runtime-versions": {"python": PYTHON_RUNTIME},
                "commands": [
                    f"dnf install -y -q {PG_CLIENT_PACKAGE}",
                    "pg_dump --version",
                    # The image ships boto3; this only upgrades one older than ops/ needs.
                    f'python -m pip install -q --disable-pip-version-check "{BOTO3_REQUIREMENT}"',
                ],
            },
            "pre_build": {
                "commands": [
                    f"curl -fsS --retry 3 -o {CA_BUNDLE_PATH} {ca_bundle_url(region)}",
                ],
            },
            "build": {"commands": ["python -m ops.backup --verbose"]},
        },
    }
    # JSON is valid YAML, and unambiguous for the version number.
    return json.dumps(spec, indent=2)


def ops_sources(ops_dir: Path) -> dict[str, Path]:
    """The `ops` package's Python files, keyed by their path in the job's source archive."""
    files = sorted(p for p in ops_dir.rglob("*.py") if "__pycache__" not in p.parts)
    if not any(p.name == "__init__.py" for p in files):
        raise ValueError(f"{ops_dir} is not a Python package (no __init__.py)")
    return {f"ops/{p.relative_to(ops_dir).as_posix()}": p for p in files}


@dataclass(frozen=True)
class BackupJobArgs:
    region: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    # The database's backup-client security group (it admits this group on 5432).
    security_group_id: pulumi.Input[str]
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    database_name: str
    db_secret_arn: pulumi.Input[str]
    # The key the master-user secret is encrypted with (decrypt through Secrets Manager only).
    db_secret_key_arn: pulumi.Input[str]
    vault_bucket_name: pulumi.Input[str]
    vault_bucket_arn: pulumi.Input[str]
    vault_key_arn: pulumi.Input[str]
    alerts_topic_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    # Files of the ops package: archive path -> local file (see ops_sources).
    sources: Mapping[str, Path]
    schedule: str = "cron(0 3 * * ? *)"
    timeout_minutes: int = 60
    compute_type: str = "BUILD_GENERAL1_SMALL"
    max_backup_age_hours: int = 26
    protect: bool = True


class BackupJob(pulumi.ComponentResource):
    """CodeBuild project + schedule + least-privilege role + failed/missed alarms."""

    project_name: pulumi.Output[str]
    project_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    failure_alarm_arn: pulumi.Output[str]
    missed_alarm_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: BackupJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:data:BackupJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = context.partition_of(args.region)
        account = context.account_id(self)

        aws.vpc.SecurityGroupEgressRule(
            f"{name}-out-https",
            security_group_id=args.security_group_id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS to AWS APIs, the PostgreSQL packages and the RDS CA bundle",
            opts=child,
        )

        source_bucket, source_object = self._source(name, args)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            # The run log is the evidence that backups were taken.
            tags={"groundwork:logClass": "audit"},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=iam.to_json(
                iam.assume_role_for_account("codebuild.amazonaws.com", account)
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=iam.to_json(
                job_policy(
                    partition=partition,
                    region=args.region,
                    account=account,
                    subnet_ids=args.private_subnet_ids,
                    log_group_arn=log_group.arn,
                    source_bucket_arn=source_bucket.arn,
                    source_object_arn=pulumi.Output.concat(source_bucket.arn, "/", SOURCE_KEY),
                    vault_bucket_arn=args.vault_bucket_arn,
                    vault_key_arn=args.vault_key_arn,
                    database_name=args.database_name,
                    secret_arn=args.db_secret_arn,
                    secret_key_arn=args.db_secret_key_arn,
                )
            ),
            opts=child,
        )

        variables = {
            "DB_HOST": args.db_host,
            "DB_PORT": pulumi.Output.from_input(args.db_port).apply(str),
            "DB_NAME": args.database_name,
            "DB_SECRET_ARN": args.db_secret_arn,
            "DB_CA_BUNDLE": CA_BUNDLE_PATH,
            "BACKUP_BUCKET": args.vault_bucket_name,
            "BACKUP_KMS_KEY_ID": args.vault_key_arn,
        }
        project = aws.codebuild.Project(
            f"{name}-project",
            description=f"Logical backup (pg_dump) of database {args.database_name} into the vault",
            service_role=role.arn,
            build_timeout=args.timeout_minutes,
            queued_timeout=60,
            # One run at a time: a slow backup is never overlapped by the next.
            concurrent_build_limit=1,
            encryption_key=args.vault_key_arn,
            source={
                "type": "S3",
                "location": pulumi.Output.concat(source_bucket.bucket, "/", SOURCE_KEY),
                "buildspec": buildspec(args.region),
            },
            source_version=source_object.version_id,
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "compute_type": args.compute_type,
                "image": IMAGE,
                "image_pull_credentials_type": "CODEBUILD",
                "privileged_mode": False,
                "environment_variables": [
                    {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in variables.items()
                ],
            },
            vpc_config={
                "vpc_id": args.vpc_id,
                "subnets": list(args.private_subnet_ids),
                "security_group_ids": [args.security_group_id],
            },
            logs_config={
                "cloudwatch_logs": {"status": "ENABLED", "group_name": log_group.name},
                "s3_logs": {"status": "DISABLED"},
            },
            # CodeBuild checks the role's permissions (VPC, logs) when the project is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

        scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role",
            assume_role_policy=iam.to_json(
                iam.assume_role_for_account("scheduler.amazonaws.com", account)
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-scheduler-policy",
            role=scheduler_role.id,
            policy=iam.to_json(
                iam.document(iam.statement(["codebuild:StartBuild"], [project.arn]))
            ),
            opts=child,
        )
        aws.scheduler.Schedule(
            f"{name}-schedule",
            description=f"Start the logical backup of {args.database_name}",
            schedule_expression=args.schedule,
            schedule_expression_timezone="UTC",
            flexible_time_window={"mode": "OFF"},
            # CodeBuild is a templated target: the project ARN alone means StartBuild.
            target={
                "arn": project.arn,
                "role_arn": scheduler_role.arn,
                "retry_policy": {
                    "maximum_event_age_in_seconds": SCHEDULER_MAX_EVENT_AGE_SECONDS,
                    "maximum_retry_attempts": 10,
                },
            },
            opts=child,
        )

        failure_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-failed",
            alarm_description=(
                f"The logical backup of {args.database_name} failed; see the run's log in "
                "the backup job's log group."
            ),
            namespace="AWS/CodeBuild",
            metric_name="FailedBuilds",
            dimensions={"ProjectName": project.name},
            statistic="Sum",
            period=300,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # No run, no failure; a run that never happens is the missed alarm's job.
            treat_missing_data="notBreaching",
            alarm_actions=[args.alerts_topic_arn],
            ok_actions=[args.alerts_topic_arn],
            opts=child,
        )
        missed_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-missed",
            alarm_description=(
                f"No logical backup of {args.database_name} succeeded in the last "
                f"{args.max_backup_age_hours} hours."
            ),
            namespace="AWS/CodeBuild",
            metric_name="SucceededBuilds",
            dimensions={"ProjectName": project.name},
            statistic="Sum",
            period=args.max_backup_age_hours * 3600,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="LessThanThreshold",
            # No data means no successful run in the window. `breaching` would page from
            # the moment the alarm exists until the first scheduled run (up to a day on day
            # one). `missing` puts silence in INSUFFICIENT_DATA instead: a new alarm already
            # starts there (no state change, no notice), and once a backup has succeeded the
            # move OK -> INSUFFICIENT_DATA notifies through insufficient_data_actions.
            treat_missing_data="missing",
            alarm_actions=[args.alerts_topic_arn],
            ok_actions=[args.alerts_topic_arn],
            insufficient_data_actions=[args.alerts_topic_arn],
            opts=child,
        )

        self.project_name = project.name
        self.project_arn = project.arn
        self.role_arn = role.arn
        self.log_group_name = log_group.name
        self.failure_alarm_arn = failure_alarm.arn
        self.missed_alarm_arn = missed_alarm.arn
        self.register_outputs(
            {
                "projectName": self.project_name,
                "failureAlarmArn": self.failure_alarm_arn,
                "missedAlarmArn": self.missed_alarm_arn,
            }
        )

    def _source(
        self, name: str, args: BackupJobArgs
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketObjectv2]:
        """A private bucket holding the job's code as one versioned zip object."""
        private = buckets.private_bucket(
            f"{name}-source",
            parent=self,
            purpose="artifacts",
            kms_key_arn=args.vault_key_arn,
            # Rebuilt from the repository at any time; old versions need not outlive the stack.
            protect=None,
            force_destroy=True,
            versioned=True,
            lifecycle_rules=[
                {
                    "id": "old-code",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {"noncurrent_days": 30},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
        )
        bucket = private.bucket
        archive = pulumi.AssetArchive(
            # Paths relative to the working directory (the project), so the state does not
            # depend on where the repository is checked out.
            {
                path: pulumi.FileAsset(os.path.relpath(local))
                for path, local in sorted(args.sources.items())
            }
        )
        source = aws.s3.BucketObjectv2(
            f"{name}-source-code",
            bucket=bucket.id,
            key=SOURCE_KEY,
            source=archive,
            content_type="application/zip",
            server_side_encryption="aws:kms",
            kms_key_id=args.vault_key_arn,
            bucket_key_enabled=True,
            # A version id only exists once versioning is on.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[private.versioning]),
        )
        return bucket, source


def job_policy(
    *,
    partition: str,
    region: str,
    account: pulumi.Input[str],
    subnet_ids: Sequence[pulumi.Input[str]],
    log_group_arn: pulumi.Input[str],
    source_bucket_arn: pulumi.Input[str],
    source_object_arn: pulumi.Input[str],
    vault_bucket_arn: pulumi.Input[str],
    vault_key_arn: pulumi.Input[str],
    database_name: str,
    secret_arn: pulumi.Input[str],
    secret_key_arn: pulumi.Input[str],
) -> dict[str, object]:
    """The job role's permissions, as data (what `ops.backup` and CodeBuild need, no more)."""
    dns_suffix = context.dns_suffix_of(region)
    backups = pulumi.Output.concat(vault_bucket_arn, "/", backup_prefix(database_name), "*")
    subnet_arns = [
        pulumi.Output.concat(f"arn:{partition}:ec2:{region}:", account, ":subnet/", subnet)
        for subnet in subnet_ids
    ]
    return iam.document(
        iam.statement(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [log_group_arn, pulumi.Output.concat(log_group_arn, ":*")],
            sid="WriteOwnLogs",
        ),
        iam.statement(
            ["s3:GetObject", "s3:GetObjectVersion"], [source_object_arn], sid="ReadOwnSource"
        ),
        iam.statement(
            ["s3:GetBucketAcl", "s3:GetBucketLocation"], [source_bucket_arn], sid="LocateSource"
        ),
        iam.statement(["s3:PutObject", "s3:AbortMultipartUpload"], [backups], sid="WriteBackups"),
        # Read back what was written: size, checksum, key and retain-until date.
        iam.statement(
            ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectRetention"],
            [backups],
            sid="VerifyBackups",
        ),
        iam.statement(
            ["s3:GetBucketObjectLockConfiguration"], [vault_bucket_arn], sid="ReadVaultLock"
        ),
        # Through S3 only (uploads, multipart completion, the source download).
        iam.statement(
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [vault_key_arn],
            sid="UseVaultKey",
            conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.{dns_suffix}"}},
        ),
        iam.statement(["secretsmanager:GetSecretValue"], [secret_arn], sid="ReadDbSecret"),
        iam.statement(
            ["kms:Decrypt"],
            [secret_key_arn],
            sid="DecryptDbSecret",
            conditions={
                "StringEquals": {
                    "kms:ViaService": f"secretsmanager.{region}.{dns_suffix}",
                    "kms:EncryptionContext:SecretARN": secret_arn,
                }
            },
        ),
        iam.statement(list(VPC_BUILD_ACTIONS), ["*"], sid="VpcBuildNetworkInterfaces"),
        iam.statement(
            ["ec2:CreateNetworkInterfacePermission"],
            [
                pulumi.Output.concat(
                    f"arn:{partition}:ec2:{region}:", account, ":network-interface/*"
                )
            ],
            sid="AttachBuildInterfaces",
            conditions={
                "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                "ArnEquals": {"ec2:Subnet": subnet_arns},
            },
        ),
    )
