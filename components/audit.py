"""AuditTrail: who did what in the account, kept where nobody can quietly erase it, and alarms
on the few events that must wake someone.

With no organisation trail (`existing_trail_arn` unset) the component creates:

- a multi-region CloudTrail trail with global service events and log file validation (a
  digest file per hour proves no log file was changed or removed), encrypted with its own
  KMS key;
- an object-locked, versioned, private, TLS-only bucket that receives the log files, with
  the bucket policy CloudTrail documents, scoped to this trail (`aws:SourceArn`);
- a log group in the audit log class (the stack's logs key, the audit retention) that the
  trail also delivers to, through a role CloudTrail assumes.

On the trail's log group (or on `existing_log_group_name`, a log group in this account that
an organisation trail delivers to), metric filters and alarms to the alerts topic for: KMS key
deletion, disabling or key-policy change; any use of the root user; console sign-in without
MFA; changes to a trail; Object Lock or bucket-policy changes on the watched buckets (the
backup vault). With an organisation trail and no log group in this account there is nothing
to put a filter on: no alarms, and the preview says so.

AWS documentation this follows:
- bucket policy: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
- key policy: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
- CloudWatch Logs delivery role: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/send-cloudtrail-events-to-cloudwatch-logs.html
- filter patterns (Security Hub CloudWatch.1/.3/.5/.7/.8, the CIS benchmark's):
  https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components import buckets, context, iam, kms
from components.alarms import AlarmSpec, metric_alarm
from components.loggroups import log_group
from components.outputs import register_all

CLOUDTRAIL = "cloudtrail.amazonaws.com"
# The KMS events the backup vault's key (and every other key) must never see unnoticed.
KMS_EVENTS = ("DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy")
TRAIL_EVENTS = ("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging",
                "PutEventSelectors")  # fmt: skip
BUCKET_GUARD_EVENTS = ("PutObjectLockConfiguration", "PutBucketPolicy", "DeleteBucketPolicy")


def _any_event(names: Sequence[str]) -> str:
    return "(" + " || ".join(f"($.eventName = {n})" for n in names) + ")"


@dataclass(frozen=True)
class AuditFilter:
    """A metric filter on the trail's log group and the alarm on its metric."""

    key: str
    metric: str
    description: str
    pattern: pulumi.Input[str]


def audit_filters(watched_bucket_names: Sequence[pulumi.Input[str]]) -> list[AuditFilter]:
    """The filters, as the CIS AWS Foundations benchmark writes them (Security Hub controls)."""
    filters = [
        AuditFilter(
            "kms-key-changes",
            "KmsKeyDisableDeleteOrPolicyChange",
            "A KMS key was disabled, scheduled for deletion, or its key policy changed",
            "{ ($.eventSource = kms.amazonaws.com) && " + _any_event(KMS_EVENTS) + " }",
        ),
        AuditFilter(
            "root-use",
            "RootAccountUse",
            "The account's root user made a request",
            '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && '
            '$.eventType != "AwsServiceEvent" }',
        ),
        AuditFilter(
            "console-signin-without-mfa",
            "ConsoleSignInWithoutMfa",
            "An IAM user signed in to the console without MFA",
            '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
            '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
        ),
        AuditFilter(
            "trail-changes",
            "TrailConfigurationChange",
            "A CloudTrail trail was created, changed, stopped or deleted",
            "{ ($.eventSource = cloudtrail.amazonaws.com) && " + _any_event(TRAIL_EVENTS) + " }",
        ),
    ]
    if watched_bucket_names:
        buckets_clause = pulumi.Output.concat(
            "(",
            *_joined(
                [pulumi.Output.concat('($.requestParameters.bucketName = "', b, '")')
                 for b in watched_bucket_names],
                " || ",
            ),
            ")",
        )  # fmt: skip
        filters.append(
            AuditFilter(
                "vault-guard-changes",
                "BackupVaultLockOrPolicyChange",
                "The backup vault's Object Lock configuration or bucket policy was changed",
                pulumi.Output.concat(
                    "{ ($.eventSource = s3.amazonaws.com) && ",
                    _any_event(BUCKET_GUARD_EVENTS),
                    " && ",
                    buckets_clause,
                    " }",
                ),
            )
        )
    return filters


def _joined(parts: list[pulumi.Output[str]], sep: str) -> list[pulumi.Input[str]]:
    out: list[pulumi.Input[str]] = []
    for i, part in enumerate(parts):
        if i:
            out.append(sep)
        out.append(part)
    return out


def trail_arn(
    partition: str, region: str, account: pulumi.Input[str], name: str
) -> pulumi.Output[str]:
    """The trail's ARN spelled out, so the key and bucket policies can name it before it exists."""
    return context.arn_in(partition, "cloudtrail", region, account, "trail/", name)


def trail_key_statements(
    partition: str, account: pulumi.Input[str], arn: pulumi.Input[str]
) -> list[iam.Statement]:
    """What CloudTrail needs on its key: encrypt log and digest files for this trail, read the
    key's properties, and decrypt (required when the bucket uses an S3 Bucket Key)."""
    source = {"StringEquals": {"aws:SourceArn": arn}}
    return [
        kms.service_statement(
            "CloudTrailEncryptsLogs",
            CLOUDTRAIL,
            ["kms:GenerateDataKey*"],
            {
                **source,
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": context.arn_in(
                        partition, "cloudtrail", "*", account, "trail/*"
                    )
                },
            },
        ),
        kms.service_statement("CloudTrailDescribesKey", CLOUDTRAIL, ["kms:DescribeKey"], source),
        kms.service_statement("CloudTrailBucketKey", CLOUDTRAIL, ["kms:Decrypt"], source),
    ]


def trail_bucket_statements(
    bucket_arn: pulumi.Input[str], account: pulumi.Input[str], arn: pulumi.Input[str]
) -> list[iam.Statement]:
    """CloudTrail may read the bucket ACL and write this account's log files, for this trail."""
    principal = {"Service": CLOUDTRAIL}
    return [
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"aws:SourceArn": arn}},
        },
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat(bucket_arn, "/AWSLogs/", account, "/*"),
            "Condition": {
                "StringEquals": {
                    "s3:x-amz-acl": "bucket-owner-full-control",
                    "aws:SourceArn": arn,
                }
            },
        },
    ]


@dataclass(frozen=True)
class AuditTrailArgs:
    region: str
    trail_name: str
    # The trail's CloudWatch Logs copy: name, retention (the audit class) and the stack's key.
    log_group_name: str
    log_retention_days: int
    logs_key_arn: pulumi.Input[str]
    lock_mode: Literal["GOVERNANCE", "COMPLIANCE"]
    lock_days: int
    expire_after_days: int
    alerts_topic_arn: pulumi.Input[str]
    # Buckets whose Object Lock or policy must not change unnoticed (the backup vault).
    watched_bucket_names: Sequence[pulumi.Input[str]]
    metric_namespace: str
    alarm_name_prefix: str
    # An organisation trail already records the account: create no second one.
    existing_trail_arn: str | None
    # A log group in this account receiving that trail: the alarms go on it.
    existing_log_group_name: str | None
    protect: bool


class AuditTrail(pulumi.ComponentResource):
    """CloudTrail trail, its key, locked bucket and log group; audit filters and alarms."""

    trail_arn: pulumi.Output[str] | None
    bucket_name: pulumi.Output[str] | None
    log_group_name: pulumi.Output[str] | None
    alarm_names: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:security:AuditTrail", name, None, opts)
        self.trail_arn = self.bucket_name = None
        log_group: pulumi.Input[str] | None = args.existing_log_group_name
        if args.existing_trail_arn is None:
            log_group = self._trail(name, args)
        elif log_group is None:
            pulumi.log.warn(
                f"{name}: audit alarms skipped: organisation trail {args.existing_trail_arn} "
                "delivers to no log group in this account (set groundwork:audit."
                "existingTrailLogGroupName); the organisation owns those alarms",
                resource=self,
            )
        self.log_group_name = pulumi.Output.from_input(log_group) if log_group else None
        self.alarm_names = {}
        if log_group is not None:
            self._alarms(name, args, log_group)
        register_all(self)

    def _trail(self, name: str, args: AuditTrailArgs) -> pulumi.Output[str]:
        partition = context.partition_of(args.region)
        account = context.account_id(self)
        arn = trail_arn(partition, args.region, account, args.trail_name)
        key = kms.encryption_key(
            f"{name}-key",
            description="Audit trail log and digest file encryption",
            partition=partition,
            account=account,
            statements=trail_key_statements(partition, account, arn),
            parent=self,
            protect=args.protect,
        )
        bucket = buckets.private_bucket(
            f"{name}-bucket",
            parent=self,
            purpose="audit-trail",
            kms_key_arn=key.arn,
            protect=args.protect,
            versioned=True,
            object_lock=buckets.ObjectLock(mode=args.lock_mode, days=args.lock_days),
            writers=lambda bucket_arn: trail_bucket_statements(bucket_arn, account, arn),
            lifecycle_rules=[
                buckets.expiry_rule(
                    "trail-logs",
                    args.expire_after_days,
                    # A log file hidden by a delete marker is still kept as long as its lock.
                    noncurrent_days=args.lock_days,
                    abort_upload_days=1,
                ),
            ],
        )
        group, role, role_policy = self._trail_logs(name, args, account)
        trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=args.trail_name,
            s3_bucket_name=bucket.bucket.id,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=key.arn,
            # CloudTrail wants the log-stream wildcard on the group's ARN.
            cloud_watch_logs_group_arn=pulumi.Output.concat(group.arn, ":*"),
            cloud_watch_logs_role_arn=role.arn,
            # CloudTrail checks the bucket policy, the lock and the role when the trail is made.
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=[bucket.policy, *(x for x in [bucket.lock] if x), role_policy],
            ),
        )
        self.trail_arn = trail.arn
        self.bucket_name = bucket.bucket.bucket
        return group.name

    def _trail_logs(
        self, name: str, args: AuditTrailArgs, account: pulumi.Output[str]
    ) -> tuple[aws.cloudwatch.LogGroup, aws.iam.Role, aws.iam.RolePolicy]:
        """The trail's copy in CloudWatch Logs (what the alarms read) and the role it uses."""
        group = log_group(
            f"{name}-logs",
            self,
            name=args.log_group_name,
            retention_days=args.log_retention_days,
            kms_key_arn=args.logs_key_arn,
            log_class="audit",
            protect=args.protect,
        )
        group_arn = context.arn(args.region, account, "logs", "log-group:", args.log_group_name)
        role, role_policy = iam.role_with_policy(
            f"{name}-logs-role",
            f"{name}-logs-policy",
            self,
            # Plain service trust: only principals allowed iam:PassRole can hand it to a trail.
            iam.assume_role(CLOUDTRAIL),
            iam.document(
                iam.statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [pulumi.Output.concat(group_arn, ":log-stream:*")],
                    sid="DeliverTrailEvents",
                )
            ),
        )
        return group, role, role_policy

    def _alarms(self, name: str, args: AuditTrailArgs, log_group: pulumi.Input[str]) -> None:
        for f in audit_filters(args.watched_bucket_names):
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{f.key}",
                log_group_name=log_group,
                pattern=f.pattern,
                metric_transformation={
                    "name": f.metric,
                    "namespace": args.metric_namespace,
                    "value": "1",
                    "unit": "Count",
                },
                opts=pulumi.ResourceOptions(parent=self),
            )
            spec = AlarmSpec(
                role=f.key,
                suffix=f"{f.key}-alarm",
                name=f"{args.alarm_name_prefix}-audit-{f.key}",
                description=f.description,
                namespace=args.metric_namespace,
                metric_name=f.metric,
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=1,
                comparison="GreaterThanOrEqualToThreshold",
                # No event is the normal state: OK from day one, not INSUFFICIENT_DATA.
                treat_missing_data="notBreaching",
                alarm_actions=(args.alerts_topic_arn,),
                ok_actions=(args.alerts_topic_arn,),
            )
            alarm = metric_alarm(f"{name}-{spec.suffix}", spec, pulumi.ResourceOptions(parent=self))
            self.alarm_names[f.key] = alarm.name
