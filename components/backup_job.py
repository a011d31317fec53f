"""BackupJob: the scheduled logical backup of the database into the backup vault.

Runner: a CodeBuild project in the VPC, started by an EventBridge Scheduler schedule.
Why CodeBuild rather than a Fargate task or a Lambda function:

- it needs no container image to build, scan and keep patched: the AWS-maintained Amazon
  Linux 2023 image has Python 3.11, and each run installs the PostgreSQL 16 client
  (`pg_dump` must be at least the server's major version) with `dnf` from the Amazon Linux
  repositories, whose packages dnf verifies against Amazon's GPG signing key, and the
  Python dependencies with `pip --require-hashes` from ops/requirements-backup-job.txt
  (every wheel pinned by SHA-256), so neither a compromised package mirror nor a newly
  published release can put code next to the database connection;
- a run may take hours and needs disk for the dump; Lambda stops at 15 minutes and has
  10 GB of temporary storage, CodeBuild runs up to 36 hours with 64 GB or more;
- each run is a build with a status, a log stream and CloudWatch metrics per project
  (`SucceededBuilds`, `FailedBuilds`), which the alarms here watch; a one-run-at-a-time limit
  stops a slow backup from overlapping the next;
- the code it runs is this repository's `ops/` package (the same code as the restore drill),
  shipped by Pulumi as a versioned S3 object, so a deploy pins the exact code version.

Least privilege. Each nightly run (`python -m ops.backup --iam-auth-user <role>`) logs in as
a read-only database role with IAM database authentication: a 15-minute token that boto3
signs locally from the job's own credentials, over verified TLS. The job never holds the
master secret; its IAM role may `rds-db:connect` as exactly that database user of exactly
this instance
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html).
The database role is made by a second CodeBuild project in the same subnets, the setup
(`python -m ops.backup_role`), the only holder of the master secret here; `pulumi up` starts
it once through a small Lambda function (`ops/run_build.py`, an `aws.lambda_.Invocation`,
again when the setup's code or settings change) that waits for the build and fails the
deploy unless it succeeded. The nightly schedule is created after that invocation, so the
first backup never meets a missing role. The dump goes to `postgres/<db>/<UTC timestamp>.dump`
with SSE-KMS and an S3-checked SHA-256, and takes the vault's default object lock. Nothing
secret is in either project: their environments hold names, ARNs and the endpoint only.

The nightly role may: write and read back objects under its own prefix, read the vault's
lock configuration, use the vault key through S3, connect to the database as the backup
user, write its own log group, fetch its own source object, and manage the network
interfaces CodeBuild places in the private subnets. The `ec2:Describe*`,
`ec2:CreateNetworkInterface` and `ec2:DeleteNetworkInterface` actions CodeBuild needs for a
VPC build do not support resource-level scoping in the way CodeBuild calls them, so they are
granted on `*`; the one that attaches an interface to the build is limited to these subnets
and to CodeBuild. The setup role has the same network and source grants, its own log group,
and the master secret (decrypted only through Secrets Manager) instead of S3 and rds-db.

Alarms (alarm and OK actions to the alerts topic): a failed run, and a missed backup, i.e. no
successful run for `max_backup_age_hours` (missing data counts as missing backups), which
also catches a schedule that stopped firing or a build that never started.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import buckets, context, iam, secgroups, sources
from components.alarms import AlarmSpec, metric_alarm
from components.loggroups import log_group
from components.outputs import register_all

IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
PYTHON_RUNTIME = "3.11"
PG_CLIENT_PACKAGE = "postgresql16"
# AL2023's packages are signed and dnf verifies them with the preinstalled Amazon key
# (https://docs.aws.amazon.com/linux/al2023/ug/gnupg-minimal.html).
DNF_VERIFIED = "--setopt=gpgcheck=1"
# Hash-pinned wheels (see its header); shipped in the job's source archive with ops/.
REQUIREMENTS_FILE = "ops/requirements-backup-job.txt"
CA_BUNDLE_PATH = "/tmp/rds-ca-bundle.pem"
SOURCE_KEY = "backup-job/source.zip"
# The read-only database role the nightly job logs in as (created by ops/backup_role.py).
DB_USER = "groundwork_backup"
# The setup's starter (ops/run_build.py) on the Lambda Python runtime, waiting up to the
# Lambda maximum for the build; the build itself is stopped well before that.
# The starter's source: its key in `BackupJobArgs.sources` (the ops package's files).
STARTER_SOURCE = "ops/run_build.py"
STARTER_HANDLER = "run_build.handler"
STARTER_RUNTIME = "python3.13"
STARTER_TIMEOUT_SECONDS = 900
SETUP_TIMEOUT_MINUTES = 10
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


def buildspec(region: str, command: str) -> str:
    """The build's commands. No secrets: the nightly job signs an IAM token, the setup reads
    the master password from Secrets Manager at run time."""
    spec = {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {
            "install": {
                "runtime-versions": {"python": PYTHON_RUNTIME},
                "commands": [
                    # From the Amazon Linux repositories: dnf checks each package's signature
                    # against Amazon's GPG key (forced on here, whatever the image's config).
                    f"dnf install -y -q {DNF_VERIFIED} {PG_CLIENT_PACKAGE}",
                    "pg_dump --version",
                    # Every wheel pinned by SHA-256; no source builds, no unpinned deps.
                    "python -m pip install -q --disable-pip-version-check --require-hashes "
                    f"--no-deps --only-binary=:all: -r {REQUIREMENTS_FILE}",
                ],
            },
            "pre_build": {
                "commands": [
                    f"curl -fsS --retry 3 -o {CA_BUNDLE_PATH} {ca_bundle_url(region)}",
                ],
            },
            "build": {"commands": [command]},
        },
    }
    # JSON is valid YAML, and unambiguous for the version number.
    return json.dumps(spec, indent=2)


def backup_command(db_user: str) -> str:
    return f"python -m ops.backup --verbose --iam-auth-user {db_user}"


def setup_command(db_user: str) -> str:
    return f"python -m ops.backup_role --role-name {db_user}"


def source_archive(files: Mapping[str, Path]) -> pulumi.AssetArchive:
    """The job's source archive: each file at its path in the archive, recorded relative to the
    working directory (see components.sources)."""
    return pulumi.AssetArchive(
        {path: sources.file_asset(local) for path, local in sorted(files.items())}
    )


def ops_sources(ops_dir: Path) -> dict[str, Path]:
    """The `ops` package's Python files and pinned requirements, keyed by their path in the
    job's source archive."""
    files = sorted(
        p
        for p in ops_dir.rglob("*")
        if p.suffix in (".py", ".txt") and p.is_file() and "__pycache__" not in p.parts
    )
    if not any(p.name == "__init__.py" for p in files):
        raise ValueError(f"{ops_dir} is not a Python package (no __init__.py)")
    return {f"ops/{p.relative_to(ops_dir).as_posix()}": p for p in files}


@dataclass(frozen=True, kw_only=True)
class BackupJobArgs:
    region: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    # The database's backup-client security group (it admits this group on 5432).
    security_group_id: pulumi.Input[str]
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    database_name: str
    # For rds-db:connect: the instance's resource id (db-...), not its identifier.
    db_resource_id: pulumi.Input[str]
    # Only the setup project reads the master-user secret (through Secrets Manager).
    master_secret_arn: pulumi.Input[str]
    master_secret_key_arn: pulumi.Input[str]
    vault_bucket_name: pulumi.Input[str]
    vault_bucket_arn: pulumi.Input[str]
    vault_key_arn: pulumi.Input[str]
    alerts_topic_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    # Files of the ops package: archive path -> local file (see ops_sources).
    sources: Mapping[str, Path]
    # The alarms are named `<alarm_name_prefix>-backup-failed` and `-backup-missed`.
    alarm_name_prefix: str
    # What the setup run needs before it starts (the private subnets' outbound routes: it
    # installs packages); depending on a component waits for all of its children.
    network_ready: Sequence[pulumi.Resource] = ()
    schedule: str
    timeout_minutes: int
    compute_type: str
    max_backup_age_hours: int
    protect: bool


@dataclass(frozen=True)
class _Source:
    """The job's code: a private bucket and the versioned zip object in it."""

    bucket: aws.s3.Bucket
    obj: aws.s3.BucketObjectv2

    @property
    def object_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.bucket.arn, "/", SOURCE_KEY)


class BackupJob(pulumi.ComponentResource):
    """CodeBuild project + schedule + least-privilege role + failed/missed alarms, and the
    one-off setup that creates the job's read-only database role."""

    project_name: pulumi.Output[str]
    project_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    failure_alarm_arn: pulumi.Output[str]
    missed_alarm_arn: pulumi.Output[str]
    setup_project_name: pulumi.Output[str]
    db_user: str

    def __init__(
        self, name: str, args: BackupJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:data:BackupJob", name, None, opts)
        partition = context.partition_of(args.region)
        account = context.account_id(self)
        # The job's group (the database's backup client) also needs HTTPS out.
        https = secgroups.Rule(
            f"{name}-out-https",
            "HTTPS to AWS APIs, the PostgreSQL packages and the RDS CA bundle",
        )
        secgroups.allow("out", https, self, args.security_group_id, 443, cidr=secgroups.ANYWHERE)
        source_bucket, source_object = self._source(name, args)
        source = _Source(source_bucket, source_object)
        log_group = self._log_group(f"{name}-logs", args)
        role, policy = self._job_role(name, args, source, log_group, partition, account)
        project = self._backup_project(name, args, source, role, policy, log_group)
        setup_project, setup_run = self._setup(name, args, source, partition, account)
        self._schedule(name, args, project, account, after=setup_run)
        failure_alarm, missed_alarm = self._alarms(name, args, project)

        self.project_name = project.name
        self.project_arn = project.arn
        self.role_arn = role.arn
        self.log_group_name = log_group.name
        self.failure_alarm_arn = failure_alarm.arn
        self.missed_alarm_arn = missed_alarm.arn
        self.setup_project_name = setup_project.name
        self.db_user = DB_USER
        register_all(self)

    def _job_role(
        self,
        name: str,
        args: BackupJobArgs,
        source: _Source,
        log_group: aws.cloudwatch.LogGroup,
        partition: str,
        account: pulumi.Output[str],
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        document = job_policy(
            partition=partition,
            region=args.region,
            account=account,
            subnet_ids=args.private_subnet_ids,
            log_group_arn=log_group.arn,
            source_bucket_arn=source.bucket.arn,
            source_object_arn=source.object_arn,
            vault_bucket_arn=args.vault_bucket_arn,
            vault_key_arn=args.vault_key_arn,
            database_name=args.database_name,
            db_resource_id=args.db_resource_id,
            db_user=DB_USER,
        )
        return iam.role_with_policy(
            f"{name}-role",
            f"{name}-policy",
            self,
            iam.assume_role_for_account("codebuild.amazonaws.com", account),
            document,
        )

    def _backup_project(
        self,
        name: str,
        args: BackupJobArgs,
        source: _Source,
        role: aws.iam.Role,
        policy: aws.iam.RolePolicy,
        log_group: aws.cloudwatch.LogGroup,
    ) -> aws.codebuild.Project:
        """The scheduled project: pg_dump as the read-only role, into the vault."""
        return self._project(
            f"{name}-project",
            args,
            source,
            role=role,
            policy=policy,
            log_group=log_group,
            command=backup_command(DB_USER),
            variables={
                "DB_HOST": args.db_host,
                "DB_PORT": pulumi.Output.from_input(args.db_port).apply(str),
                "DB_NAME": args.database_name,
                "DB_CA_BUNDLE": CA_BUNDLE_PATH,
                "BACKUP_BUCKET": args.vault_bucket_name,
                "BACKUP_KMS_KEY_ID": args.vault_key_arn,
            },
            description=f"Logical backup (pg_dump) of database {args.database_name} into the vault",
            timeout_minutes=args.timeout_minutes,
        )

    def _log_group(self, name: str, args: BackupJobArgs) -> aws.cloudwatch.LogGroup:
        return log_group(
            name,
            self,
            retention_days=args.log_retention_days,
            kms_key_arn=args.logs_key_arn,
            # The run log is the evidence that backups were taken (and who set up the role).
            log_class="audit",
            protect=args.protect,
        )

    def _project(
        self,
        name: str,
        args: BackupJobArgs,
        source: _Source,
        *,
        role: aws.iam.Role,
        policy: aws.iam.RolePolicy,
        log_group: aws.cloudwatch.LogGroup,
        command: str,
        variables: Mapping[str, pulumi.Input[str]],
        description: str,
        timeout_minutes: int,
    ) -> aws.codebuild.Project:
        """A CodeBuild project in the private subnets running `command` on the ops source."""
        return aws.codebuild.Project(
            name,
            description=description,
            service_role=role.arn,
            build_timeout=timeout_minutes,
            queued_timeout=60,
            # One run at a time: a slow backup is never overlapped by the next.
            concurrent_build_limit=1,
            encryption_key=args.vault_key_arn,
            source={
                "type": "S3",
                "location": pulumi.Output.concat(source.bucket.bucket, "/", SOURCE_KEY),
                "buildspec": buildspec(args.region, command),
            },
            source_version=source.obj.version_id,
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

    def _setup(
        self,
        name: str,
        args: BackupJobArgs,
        source: _Source,
        partition: str,
        account: pulumi.Output[str],
    ) -> tuple[aws.codebuild.Project, aws.lambda_.Invocation]:
        """The setup project (holds the master secret) and its one run per deploy."""
        log_group = self._log_group(f"{name}-setup-logs", args)
        document = setup_policy(
            partition=partition,
            region=args.region,
            account=account,
            subnet_ids=args.private_subnet_ids,
            log_group_arn=log_group.arn,
            source_bucket_arn=source.bucket.arn,
            source_object_arn=source.object_arn,
            vault_key_arn=args.vault_key_arn,
            secret_arn=args.master_secret_arn,
            secret_key_arn=args.master_secret_key_arn,
        )
        role, policy = iam.role_with_policy(
            f"{name}-setup-role",
            f"{name}-setup-policy",
            self,
            iam.assume_role_for_account("codebuild.amazonaws.com", account),
            document,
        )
        project = self._project(
            f"{name}-setup",
            args,
            source,
            role=role,
            policy=policy,
            log_group=log_group,
            command=setup_command(DB_USER),
            variables={
                "DB_HOST": args.db_host,
                "DB_PORT": pulumi.Output.from_input(args.db_port).apply(str),
                "DB_NAME": args.database_name,
                "DB_CA_BUNDLE": CA_BUNDLE_PATH,
                "DB_SECRET_ARN": args.master_secret_arn,
            },
            description=f"Creates the read-only backup role {DB_USER} in {args.database_name}",
            timeout_minutes=SETUP_TIMEOUT_MINUTES,
        )
        return project, self._starter(name, args, project, source, account, partition)

    def _starter(
        self,
        name: str,
        args: BackupJobArgs,
        project: aws.codebuild.Project,
        source: _Source,
        account: pulumi.Output[str],
        partition: str,
    ) -> aws.lambda_.Invocation:
        """A function that runs the setup build to completion, invoked once per deploy."""
        starter_logs = log_group(
            f"{name}-setup-starter-logs",
            self,
            retention_days=args.log_retention_days,
            kms_key_arn=args.logs_key_arn,
            log_class="runtime",
            protect=args.protect,
        )
        role, policy = iam.role_with_policy(
            f"{name}-setup-starter-role",
            f"{name}-setup-starter-policy",
            self,
            iam.lambda_trust(),
            iam.document(
                iam.statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [pulumi.Output.concat(starter_logs.arn, ":*")],
                    sid="OwnLogs",
                ),
                iam.statement(
                    ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                    [project.arn],
                    sid="RunTheSetup",
                ),
            ),
        )
        function = aws.lambda_.Function(
            f"{name}-setup-starter",
            description="Runs the backup role setup build once per deploy and waits for it",
            runtime=STARTER_RUNTIME,
            architectures=["arm64"],
            handler=STARTER_HANDLER,
            code=sources.handler_archive(args.sources[STARTER_SOURCE]),
            role=role.arn,
            timeout=STARTER_TIMEOUT_SECONDS,
            memory_size=128,
            logging_config={"log_format": "JSON", "log_group": starter_logs.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        return aws.lambda_.Invocation(
            f"{name}-setup-run",
            function_name=function.name,
            # Runs on create and again whenever an input changes (new code version, another
            # database or host): the setup is idempotent. A delete leaves the role in place.
            lifecycle_scope="CREATE_ONLY",
            input=pulumi.Output.json_dumps(_setup_run_input(args, project, source)),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[policy, project, *args.network_ready]
            ),
        )

    def _schedule(
        self,
        name: str,
        args: BackupJobArgs,
        project: aws.codebuild.Project,
        account: pulumi.Output[str],
        *,
        after: pulumi.Resource,
    ) -> None:
        scheduler_role, _ = iam.role_with_policy(
            f"{name}-scheduler-role",
            f"{name}-scheduler-policy",
            self,
            iam.assume_role_for_account("scheduler.amazonaws.com", account),
            iam.document(iam.statement(["codebuild:StartBuild"], [project.arn])),
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
            # The first run must find the database role the setup creates.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[after]),
        )

    def _alarms(
        self, name: str, args: BackupJobArgs, project: aws.codebuild.Project
    ) -> tuple[aws.cloudwatch.MetricAlarm, aws.cloudwatch.MetricAlarm]:
        topic = args.alerts_topic_arn
        failed = AlarmSpec(
            role="backupFailed",
            suffix="failed",
            name=f"{args.alarm_name_prefix}-backup-failed",
            description=(
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
            comparison="GreaterThanOrEqualToThreshold",
            # No run, no failure; a run that never happens is the missed alarm's job.
            treat_missing_data="notBreaching",
            # Unset: AWS's default (enabled).
            actions_enabled=None,
            alarm_actions=(topic,),
            ok_actions=(topic,),
        )
        missed = dataclasses.replace(
            failed,
            role="backupMissed",
            suffix="missed",
            name=f"{args.alarm_name_prefix}-backup-missed",
            description=(
                f"No logical backup of {args.database_name} succeeded in the last "
                f"{args.max_backup_age_hours} hours."
            ),
            metric_name="SucceededBuilds",
            period=args.max_backup_age_hours * 3600,
            comparison="LessThanThreshold",
            # No data means no successful run in the window. `breaching` would page from
            # the moment the alarm exists until the first scheduled run (up to a day on day
            # one). `missing` puts silence in INSUFFICIENT_DATA instead: a new alarm already
            # starts there (no state change, no notice), and once a backup has succeeded the
            # move OK -> INSUFFICIENT_DATA notifies through insufficient_data_actions.
            treat_missing_data="missing",
            insufficient_data_actions=(topic,),
        )
        child = pulumi.ResourceOptions(parent=self)
        return (
            metric_alarm(f"{name}-{failed.suffix}", failed, child),
            metric_alarm(f"{name}-{missed.suffix}", missed, child),
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
        source = aws.s3.BucketObjectv2(
            f"{name}-source-code",
            bucket=bucket.id,
            key=SOURCE_KEY,
            source=source_archive(args.sources),
            content_type="application/zip",
            server_side_encryption="aws:kms",
            kms_key_id=args.vault_key_arn,
            bucket_key_enabled=True,
            # A version id only exists once versioning is on.
            # versioned=True always makes the versioning resource.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[_required(private.versioning)]),
        )
        return bucket, source


def _setup_run_input(
    args: BackupJobArgs, project: aws.codebuild.Project, source: _Source
) -> dict[str, pulumi.Input[str]]:
    """What the starter is invoked with: a change to any of these runs the setup again."""
    return {
        "projectName": project.name,
        "sourceVersion": source.obj.version_id,
        "databaseName": args.database_name,
        "dbUser": DB_USER,
        "dbHost": args.db_host,
    }


def _build_statements(
    *,
    partition: str,
    region: str,
    account: pulumi.Input[str],
    subnet_ids: Sequence[pulumi.Input[str]],
    log_group_arn: pulumi.Input[str],
    source_bucket_arn: pulumi.Input[str],
    source_object_arn: pulumi.Input[str],
    vault_key_arn: pulumi.Input[str],
) -> list[iam.Statement]:
    """What any of these CodeBuild projects needs: its logs, its source, its network."""
    dns_suffix = context.dns_suffix_of(region)
    subnet_arns = [
        context.arn_in(partition, "ec2", region, account, "subnet/", subnet)
        for subnet in subnet_ids
    ]
    return [
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
        # Through S3 only (uploads, multipart completion, the source download).
        iam.statement(
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [vault_key_arn],
            sid="UseVaultKey",
            conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.{dns_suffix}"}},
        ),
        iam.statement(list(VPC_BUILD_ACTIONS), ["*"], sid="VpcBuildNetworkInterfaces"),
        iam.statement(
            ["ec2:CreateNetworkInterfacePermission"],
            [context.arn_in(partition, "ec2", region, account, "network-interface/*")],
            sid="AttachBuildInterfaces",
            conditions={
                "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                "ArnEquals": {"ec2:Subnet": subnet_arns},
            },
        ),
    ]


def db_user_arn(
    partition: str,
    region: str,
    account: pulumi.Input[str],
    resource_id: pulumi.Input[str],
    user: str,
) -> pulumi.Output[str]:
    """The rds-db:connect resource for one database user of one instance (its resource id)."""
    return context.arn_in(partition, "rds-db", region, account, "dbuser:", resource_id, f"/{user}")


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
    db_resource_id: pulumi.Input[str],
    db_user: str,
) -> dict[str, object]:
    """The nightly role's permissions, as data (what `ops.backup` and CodeBuild need, no more).
    No secret: it connects with an IAM token as `db_user`."""
    backups = pulumi.Output.concat(vault_bucket_arn, "/", backup_prefix(database_name), "*")
    return iam.document(
        *_build_statements(
            partition=partition,
            region=region,
            account=account,
            subnet_ids=subnet_ids,
            log_group_arn=log_group_arn,
            source_bucket_arn=source_bucket_arn,
            source_object_arn=source_object_arn,
            vault_key_arn=vault_key_arn,
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
        iam.statement(
            ["rds-db:connect"],
            [db_user_arn(partition, region, account, db_resource_id, db_user)],
            sid="ConnectAsBackupUser",
        ),
    )


def setup_policy(
    *,
    partition: str,
    region: str,
    account: pulumi.Input[str],
    subnet_ids: Sequence[pulumi.Input[str]],
    log_group_arn: pulumi.Input[str],
    source_bucket_arn: pulumi.Input[str],
    source_object_arn: pulumi.Input[str],
    vault_key_arn: pulumi.Input[str],
    secret_arn: pulumi.Input[str],
    secret_key_arn: pulumi.Input[str],
) -> dict[str, object]:
    """The setup role: the build basics and the master secret, nothing of the vault."""
    dns_suffix = context.dns_suffix_of(region)
    return iam.document(
        *_build_statements(
            partition=partition,
            region=region,
            account=account,
            subnet_ids=subnet_ids,
            log_group_arn=log_group_arn,
            source_bucket_arn=source_bucket_arn,
            source_object_arn=source_object_arn,
            vault_key_arn=vault_key_arn,
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
    )


def _required(resource: pulumi.Resource | None) -> pulumi.Resource:
    if resource is None:
        raise ValueError("a versioned private bucket has no versioning resource")
    return resource
