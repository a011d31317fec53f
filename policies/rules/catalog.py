"""The catalogue: every policy of the groundwork-guardrails pack, in a stable order.

Each entry names its rule function, default enforcement level, config knobs (JSON schema with
defaults; `exemptions` is added to every policy), remediation, the AWS Security Hub control /
AWS Config managed rule it corresponds to, what an unknown value at preview does, and which
properties it reads. docs/policies.md is written from this table.
"""

from __future__ import annotations

from . import database as db
from . import delivery as cd
from . import hosting as h
from . import observability as obs
from . import platform as pf
from . import security as sec
from . import spend
from . import storage as s3
from .base import ADVISORY, MANDATORY, RESOURCE, STACK, PolicySpec
from .tagging import ASG as ASG_TYPE
from .tagging import required_tags, taggable_types

DEFER = "undecidable: the SDK's advisory 'can't run policy during preview' diagnostic"
PASS = "treated as set (a reference to a resource of this stack): compliant"
FAIL = "violation (fail closed)"


def _int(default: int, minimum: int = 0, maximum: int | None = None, desc: str = "") -> dict:
    out: dict = {"type": "integer", "minimum": minimum, "default": default, "description": desc}
    if maximum is not None:
        out["maximum"] = maximum
    return out


def _bool(default: bool, desc: str) -> dict:
    return {"type": "boolean", "default": default, "description": desc}


LOCK_MODES = {
    "type": "array",
    "items": {"type": "string", "enum": ["GOVERNANCE", "COMPLIANCE"]},
    "minItems": 1,
    "uniqueItems": True,
    "default": ["COMPLIANCE"],
    "description": "Object lock modes accepted.",
}
LOCK_CONFIG = {
    "allowedModes": LOCK_MODES,
    "minDays": _int(30, 1, desc="Shortest default retention accepted (years count 365 days)."),
    "maxDays": _int(
        3653, 1, desc="Longest default retention accepted (COMPLIANCE cannot be shortened)."
    ),
}
# Only values CloudWatch Logs accepts for retentionInDays (PutRetentionPolicy:
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html),
# and at least a week: logs kept for less cannot serve an incident found after a weekend.
RETENTION_DAYS = {"type": "integer", "enum": [d for d in obs.VALID_RETENTION if d >= 7]}
RETENTION_CLASS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["minDays", "maxDays"],
    "properties": {"minDays": RETENTION_DAYS, "maxDays": RETENTION_DAYS},
}
# Variable names any secret-name pattern must catch (varied case and context, so a pattern
# that lists a few exact names does not pass for one that finds secrets).
SECRET_NAMES = [
    "DB_PASSWORD",
    "db_password",
    "DATABASE_PASSWD",
    "API_KEY",
    "stripeApiKey",
    "AUTH_TOKEN",
    "GITHUB_TOKEN",
    "CLIENT_SECRET",
    "JWT_SECRET",
    "PRIVATE_KEY",
    "SSH_PRIVATE_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "GOOGLE_CREDENTIALS",
]

# Strictness of the levels: the code default of every policy is at least prod's level, so a
# missing or emptied config file can only make the pack stricter.
STRICTNESS = {"disabled": 0, ADVISORY: 1, MANDATORY: 2}
ALARMED_TYPES = sorted({*h.LOAD_BALANCERS, h.ASG, db.RDS_INSTANCE, db.RDS_CLUSTER})

CATALOG: tuple[PolicySpec, ...] = (
    # ---- hosting -------------------------------------------------------------------------
    PolicySpec(
        name="ec2-imdsv2-required",
        description="EC2 instances, spot requests and fleets, launch templates and launch "
        "configurations require IMDSv2 session tokens.",
        kind=STACK,
        check=h.imdsv2_required,
        level=MANDATORY,
        remediation="Set metadataOptions.httpTokens to 'required' (and keep "
        "httpPutResponseHopLimit low).",
        security_hub=("EC2.8", "EC2.170", "AutoScaling.3"),
        config_rules=("ec2-imdsv2-check",),
        unknowns=DEFER,
        reads=(
            "metadataOptions.httpTokens, .httpEndpoint (instance, else its launch template)",
            "spot fleet: launchSpecifications",
            "account: InstanceMetadataDefaults.httpTokens",
        ),
    ),
    PolicySpec(
        name="ec2-ebs-encrypted",
        description="EBS volumes (standalone, or declared by launch templates, instances and "
        "spot fleets) are encrypted.",
        kind=STACK,
        check=h.ebs_encrypted,
        level=MANDATORY,
        remediation="Declare the root volume in blockDeviceMappings with ebs.encrypted 'true' "
        "(instances: rootBlockDevice.encrypted true) and a kmsKeyId.",
        security_hub=("EC2.3",),
        config_rules=("encrypted-volumes",),
        unknowns=DEFER,
        reads=(
            "blockDeviceMappings[].ebs.encrypted (launch templates, string)",
            "rootBlockDevice.encrypted",
            "ebsBlockDevices[].encrypted",
            "spot fleet: launchSpecifications[].rootBlockDevices[], .ebsBlockDevices[]",
            "ebs volume: encrypted",
            "account: EncryptionByDefault.enabled; instance: its launch template's mappings",
        ),
    ),
    PolicySpec(
        name="ec2-no-public-ip",
        description="Instances, spot fleets, launch templates and autoscaling groups do not "
        "get public IPv4 addresses.",
        kind=STACK,
        check=h.no_public_ip,
        level=MANDATORY,
        remediation="Remove associatePublicIpAddress (or set it false); reach instances through "
        "the ALB "
        "and Session Manager.",
        security_hub=("EC2.9", "EC2.25", "AutoScaling.5"),
        config_rules=("ec2-instance-no-public-ip",),
        unknowns=DEFER,
        reads=(
            "networkInterfaces[].associatePublicIpAddress (launch templates, string)",
            "associatePublicIpAddress",
            "subnet (by subnetId / vpcZoneIdentifiers): mapPublicIpOnLaunch",
            "elastic IP: instance; EIP association: instanceId",
        ),
    ),
    PolicySpec(
        name="ec2-launch-template-required",
        description="Autoscaling groups and instances are launched from launch templates.",
        kind=RESOURCE,
        types=frozenset({h.ASG, h.INSTANCE, h.SPOT_INSTANCE, h.SPOT_FLEET}),
        check=h.launch_template_required,
        level=MANDATORY,
        remediation="Give the group launchTemplate {id, version} (or "
        "mixedInstancesPolicy.launchTemplate); "
        "drop launchConfiguration.",
        security_hub=("AutoScaling.9",),
        config_rules=("autoscaling-launch-template",),
        unknowns="an unknown template reference is compliant (the template is created in this "
        "stack)",
        reads=(
            "launchTemplate",
            "launchConfiguration",
            "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification",
        ),
    ),
    PolicySpec(
        name="asg-elb-health-check",
        description="Autoscaling groups use load balancer health checks.",
        kind=RESOURCE,
        types=frozenset({h.ASG}),
        check=h.asg_elb_health_check,
        level=MANDATORY,
        remediation="Set healthCheckType 'ELB', a healthCheckGracePeriod that covers boot time (at "
        "most an hour), and do not suspend HealthCheck or ReplaceUnhealthy.",
        security_hub=("AutoScaling.1",),
        config_rules=("autoscaling-group-elb-healthcheck-required",),
        unknowns=DEFER,
        reads=("healthCheckType", "suspendedProcesses", "healthCheckGracePeriod"),
    ),
    PolicySpec(
        name="asg-multi-az",
        description="Autoscaling groups span at least the configured number of availability zones.",
        kind=STACK,
        check=h.asg_availability_zones,
        level=MANDATORY,
        config={
            "minAvailabilityZones": _int(
                3, 1, 6, "Fewest distinct zones of the subnets in vpcZoneIdentifiers."
            )
        },
        remediation="List one private subnet per availability zone in vpcZoneIdentifiers.",
        security_hub=("AutoScaling.2",),
        config_rules=("autoscaling-multiple-az",),
        unknowns="subnets with an unknown zone, and subnets not declared in the stack, count one "
        "zone each; an unknown list is " + DEFER,
        reads=(
            "vpcZoneIdentifiers (subnets: availabilityZone, availabilityZoneId)",
            "availabilityZones",
        ),
    ),
    PolicySpec(
        name="alb-drop-invalid-headers",
        description="Application load balancers drop invalid HTTP header fields.",
        kind=RESOURCE,
        types=h.LOAD_BALANCERS,
        check=h.alb_drop_invalid_headers,
        level=MANDATORY,
        remediation="Set dropInvalidHeaderFields true.",
        security_hub=("ELB.4",),
        config_rules=("alb-http-drop-invalid-header-enabled",),
        unknowns=DEFER,
        reads=("loadBalancerType", "dropInvalidHeaderFields"),
    ),
    PolicySpec(
        name="alb-deletion-protection",
        description="Load balancers have deletion protection when the stack requires it.",
        kind=RESOURCE,
        types=h.LOAD_BALANCERS,
        check=h.lb_deletion_protection,
        level=MANDATORY,
        config={"required": _bool(True, "Require enableDeletionProtection (prod).")},
        remediation="Set enableDeletionProtection true.",
        security_hub=("ELB.6",),
        config_rules=("elb-deletion-protection-enabled",),
        unknowns=DEFER,
        reads=("enableDeletionProtection",),
    ),
    PolicySpec(
        name="alb-https-redirect",
        description="HTTP listeners redirect to HTTPS on load balancers that have an HTTPS "
        "listener.",
        kind=STACK,
        check=h.alb_https_redirect,
        level=MANDATORY,
        remediation="Make the port-80 listener's default action a redirect with protocol 'HTTPS' "
        "and "
        "statusCode 'HTTP_301'.",
        security_hub=("ELB.1",),
        config_rules=("alb-http-to-https-redirection-check",),
        unknowns="an unknown defaultActions list is " + DEFER,
        reads=(
            "listener: loadBalancerArn (property dependency or value = LB arn)",
            "listener: protocol",
            "listener: certificateArn",
            "listener: defaultActions[].type, .redirect.protocol",
        ),
    ),
    PolicySpec(
        name="alb-public-https-only",
        description="Internet-facing load balancers serve nothing over plain HTTP: every HTTP "
        "listener and listener rule only redirects to HTTPS.",
        kind=STACK,
        check=h.alb_public_http,
        level=MANDATORY,
        remediation="Serve HTTPS (groundwork:hosting.domainName or certificateArn) and make the "
        "port-80 listener's only action a redirect to HTTPS.",
        security_hub=("ELB.1",),
        config_rules=("alb-http-to-https-redirection-check",),
        unknowns="an unknown internal flag, defaultActions or rule actions list is " + DEFER,
        reads=(
            "load balancer: internal",
            "listener: loadBalancerArn (property dependency or value = LB arn)",
            "listener: protocol, certificateArn, defaultActions[].type, .redirect.protocol",
            "listener rule: listenerArn (property dependency), actions",
        ),
    ),
    # ---- database ------------------------------------------------------------------------
    PolicySpec(
        name="rds-backup-retention",
        description="RDS instances keep automated backups for at least the configured number of "
        "days.",
        kind=RESOURCE,
        types=db.DATA_OWNERS,
        check=db.backup_retention,
        level=MANDATORY,
        config={"minRetentionDays": _int(14, 1, 35, "Shortest backupRetentionPeriod accepted.")},
        remediation="Set backupRetentionPeriod to at least the minimum (max 35).",
        security_hub=("RDS.11",),
        config_rules=("db-instance-backup-enabled",),
        unknowns=DEFER,
        reads=("backupRetentionPeriod",),
    ),
    PolicySpec(
        name="rds-deletion-protection",
        description="RDS instances have deletion protection when the stack requires it.",
        kind=RESOURCE,
        types=db.DATA_OWNERS,
        check=db.deletion_protection,
        level=MANDATORY,
        config={"required": _bool(True, "Require deletionProtection (prod).")},
        remediation="Set deletionProtection true.",
        security_hub=("RDS.8",),
        config_rules=("rds-instance-deletion-protection-enabled",),
        unknowns=DEFER,
        reads=("deletionProtection",),
    ),
    PolicySpec(
        name="rds-final-snapshot",
        description="Deleting an RDS instance keeps a named final snapshot.",
        kind=RESOURCE,
        types=db.DATA_OWNERS,
        check=db.final_snapshot,
        level=MANDATORY,
        remediation="Leave skipFinalSnapshot false and set finalSnapshotIdentifier.",
        unknowns="unknown skipFinalSnapshot is " + DEFER + "; an unknown identifier counts as set",
        reads=("skipFinalSnapshot", "finalSnapshotIdentifier"),
    ),
    PolicySpec(
        name="rds-storage-encrypted",
        description="RDS instance storage is encrypted.",
        kind=RESOURCE,
        types=db.DATA_OWNERS,
        check=db.storage_encrypted,
        level=MANDATORY,
        remediation="Set storageEncrypted true and kmsKeyId (requires a new instance from a "
        "snapshot).",
        security_hub=("RDS.3",),
        config_rules=("rds-storage-encrypted",),
        unknowns=DEFER,
        reads=("storageEncrypted",),
    ),
    PolicySpec(
        name="rds-not-public",
        description="RDS instances are not publicly accessible.",
        kind=RESOURCE,
        types=db.NETWORK_MEMBERS,
        check=db.not_public,
        level=MANDATORY,
        remediation="Set publiclyAccessible false and use private subnets in the DB subnet group.",
        security_hub=("RDS.2",),
        config_rules=("rds-instance-public-access-check",),
        unknowns=FAIL,
        reads=("publiclyAccessible",),
    ),
    PolicySpec(
        name="rds-multi-az",
        description="RDS instances run Multi-AZ when the stack requires it.",
        kind=RESOURCE,
        types=frozenset({db.RDS_INSTANCE}),
        check=db.multi_az,
        level=MANDATORY,
        config={"required": _bool(True, "Require multiAz (prod).")},
        remediation="Set multiAz true.",
        security_hub=("RDS.5",),
        config_rules=("rds-multi-az-support",),
        unknowns=DEFER,
        reads=("multiAz",),
    ),
    PolicySpec(
        name="rds-copy-tags-to-snapshot",
        description="RDS instances copy their tags to snapshots.",
        kind=RESOURCE,
        types=db.DATA_OWNERS,
        check=db.copy_tags_to_snapshot,
        level=MANDATORY,
        remediation="Set copyTagsToSnapshot true.",
        security_hub=("RDS.17",),
        config_rules=("rds-instance-copy-tags-to-snapshots-enabled",),
        unknowns=DEFER,
        reads=("copyTagsToSnapshot",),
    ),
    PolicySpec(
        name="rds-keep-automated-backups",
        description="RDS automated backups survive deletion of the instance.",
        kind=RESOURCE,
        types=db.DATA_OWNERS,
        check=db.keep_automated_backups,
        level=MANDATORY,
        remediation="Set deleteAutomatedBackups false (the provider default is true).",
        unknowns=DEFER,
        reads=("deleteAutomatedBackups",),
    ),
    PolicySpec(
        name="rds-performance-insights",
        description="RDS instances have Performance Insights turned on.",
        kind=RESOURCE,
        types=db.COMPUTE_MEMBERS,
        check=db.performance_insights,
        level=MANDATORY,
        remediation="Set performanceInsightsEnabled true (and performanceInsightsKmsKeyId).",
        unknowns=DEFER,
        reads=("performanceInsightsEnabled", "databaseInsightsMode"),
    ),
    # ---- backup storage ------------------------------------------------------------------
    PolicySpec(
        name="s3-object-lock-retention",
        description="S3 object lock configurations use an allowed mode and a retention within the "
        "configured bounds.",
        kind=RESOURCE,
        types=s3.LOCK,
        check=s3.object_lock_retention,
        level=MANDATORY,
        config=LOCK_CONFIG,
        remediation="Set rule.defaultRetention {mode, days} within the bounds (prod: COMPLIANCE, "
        ">= 30 days).",
        security_hub=("S3.15",),
        config_rules=("s3-bucket-default-lock-enabled",),
        unknowns=DEFER,
        reads=(
            "rule.defaultRetention.mode",
            "rule.defaultRetention.days",
            "rule.defaultRetention.years",
        ),
    ),
    PolicySpec(
        name="s3-backup-object-lock",
        description="Backup buckets are created with object lock and have a default retention.",
        kind=STACK,
        check=s3.backup_object_lock,
        level=MANDATORY,
        config=LOCK_CONFIG,
        remediation="Create the bucket with objectLockEnabled true and add a "
        "BucketObjectLockConfiguration.",
        security_hub=("S3.15",),
        config_rules=("s3-bucket-default-lock-enabled",),
        unknowns=DEFER,
        reads=(
            "bucket: objectLockEnabled, tags['groundwork:purpose']",
            "lock configuration: bucket",
            "bucket (deprecated inline): objectLockConfiguration.rule.defaultRetention",
        ),
    ),
    PolicySpec(
        name="s3-backup-versioning",
        description="Backup buckets have versioning enabled.",
        kind=STACK,
        check=s3.backup_versioning,
        level=MANDATORY,
        remediation="Add a BucketVersioning with versioningConfiguration.status 'Enabled'.",
        security_hub=("S3.14",),
        config_rules=("s3-bucket-versioning-enabled",),
        unknowns=DEFER,
        reads=(
            "versioning: bucket, versioningConfiguration.status",
            "bucket (deprecated inline): versioning.enabled",
        ),
    ),
    PolicySpec(
        name="s3-backup-public-access-block",
        description="Backup buckets block all four kinds of public access.",
        kind=STACK,
        check=s3.backup_public_access_block,
        level=MANDATORY,
        remediation="Add a BucketPublicAccessBlock with all four flags true.",
        security_hub=("S3.8",),
        config_rules=("s3-bucket-level-public-access-prohibited",),
        unknowns=DEFER,
        reads=("public access block: bucket, " + ", ".join(s3.PAB_FLAGS),),
    ),
    PolicySpec(
        name="s3-bucket-public-access-block",
        description="Every bucket blocks all four kinds of public access, and no public access "
        "block turns one off.",
        kind=STACK,
        check=s3.bucket_public_access_block,
        level=MANDATORY,
        remediation="Add a BucketPublicAccessBlock with all four flags true for each bucket (or "
        "an AccountPublicAccessBlock with all four true).",
        security_hub=("S3.1", "S3.8"),
        config_rules=(
            "s3-account-level-public-access-blocks-periodic",
            "s3-bucket-level-public-access-prohibited",
        ),
        unknowns="an unknown flag is " + DEFER,
        reads=(
            "public access block: bucket, " + ", ".join(s3.PAB_FLAGS),
            "account public access block: " + ", ".join(s3.PAB_FLAGS),
        ),
    ),
    PolicySpec(
        name="s3-backup-kms-encryption",
        description="Backup buckets encrypt objects with SSE-KMS by default.",
        kind=STACK,
        check=s3.backup_kms_encryption,
        level=MANDATORY,
        config={
            "requireCustomerKey": _bool(True, "Require kmsMasterKeyId (a customer managed key).")
        },
        remediation="Add a BucketServerSideEncryptionConfiguration rule with sseAlgorithm "
        "'aws:kms', "
        "kmsMasterKeyId and bucketKeyEnabled.",
        security_hub=("S3.17",),
        config_rules=("s3-default-encryption-kms",),
        unknowns="unknown algorithm is " + DEFER + "; an unknown key id counts as set",
        reads=(
            "encryption: bucket, rules[].applyServerSideEncryptionByDefault.sseAlgorithm, "
            ".kmsMasterKeyId",
            "bucket (deprecated inline): serverSideEncryptionConfiguration.rule",
        ),
    ),
    PolicySpec(
        name="s3-bucket-customer-key",
        description="Buckets encrypt with a customer managed key, except a load balancer's "
        "access-log bucket, which uses SSE-S3.",
        kind=STACK,
        check=s3.bucket_customer_key,
        level=MANDATORY,
        remediation="Add a BucketServerSideEncryptionConfiguration rule with sseAlgorithm "
        "'aws:kms' and kmsMasterKeyId set to a key of the stack; tag a bucket "
        "groundwork:purpose=access-logs only if a load balancer delivers its access logs to it "
        "(SSE-S3 there: ALB log delivery supports nothing else).",
        security_hub=("S3.17",),
        config_rules=("s3-default-encryption-kms",),
        unknowns="unknown rules or algorithm is " + DEFER + "; an unknown key id counts as set",
        reads=(
            "bucket: tags['groundwork:purpose'], bucket, id",
            "encryption: bucket, rules[].applyServerSideEncryptionByDefault.sseAlgorithm, "
            ".kmsMasterKeyId",
            "load balancer: accessLogs.bucket (and its property dependency), accessLogs.enabled",
        ),
    ),
    PolicySpec(
        name="s3-backup-tls-only",
        description="Backup bucket policies deny requests that do not use TLS.",
        kind=STACK,
        check=s3.backup_tls_only,
        level=MANDATORY,
        remediation="Add a BucketPolicy statement: Effect Deny, Principal '*', Action 's3:*', "
        "bucket and "
        "objects, Condition Bool aws:SecureTransport 'false'.",
        security_hub=("S3.5",),
        config_rules=("s3-bucket-ssl-requests-only",),
        unknowns="a policy document unknown at preview (built from the bucket ARN) is " + DEFER,
        reads=(
            "bucket policy: bucket, policy (JSON string or object): Statement[].Effect, "
            "Principal, Action, Condition",
            "bucket (deprecated inline): policy",
        ),
    ),
    PolicySpec(
        name="s3-backup-lifecycle-covers-lock",
        description="Backup bucket lifecycle rules never expire objects sooner than the object "
        "lock keeps them.",
        kind=STACK,
        check=s3.backup_lifecycle_covers_lock,
        level=MANDATORY,
        remediation="Raise expiration.days and noncurrentVersionExpiration.noncurrentDays to at "
        "least the lock days.",
        security_hub=("S3.13",),
        config_rules=("s3-lifecycle-policy-check",),
        unknowns=DEFER,
        reads=(
            "lifecycle: bucket, rules[].status, rules[].expiration.days, "
            "rules[].noncurrentVersionExpiration.noncurrentDays",
            "lock configuration: rule.defaultRetention.days/years",
        ),
    ),
    PolicySpec(
        name="s3-analytics-retention",
        description="Analytics buckets expire events within the configured retention.",
        kind=STACK,
        check=s3.analytics_retention,
        level=MANDATORY,
        config={
            "maxRetentionDays": _int(
                400,
                1,
                desc="Upper bound; stack config groundwork:analytics.retentionDays lowers it.",
            )
        },
        remediation="Add a BucketLifecycleConfiguration rule with expiration.days <= "
        "groundwork:analytics.retentionDays.",
        config_rules=("s3-lifecycle-policy-check",),
        unknowns=DEFER,
        reads=(
            "bucket: tags['groundwork:purpose'] = 'analytics'",
            "lifecycle: bucket, rules[].status, rules[].expiration.days",
            "stack config groundwork:analytics.retentionDays",
        ),
    ),
    # ---- logging and alarms --------------------------------------------------------------
    PolicySpec(
        name="log-group-retention",
        description="Log groups set a retention within the bounds of their log class.",
        kind=RESOURCE,
        types=frozenset({obs.LOG_GROUP}),
        check=obs.log_retention,
        level=MANDATORY,
        config={
            "classes": {
                "type": "object",
                "description": "Per class (tag groundwork:logClass, default runtime): minDays, "
                "maxDays.",
                "additionalProperties": RETENTION_CLASS,
                "required": ["runtime", "error", "audit"],
                "default": {
                    "runtime": {"minDays": 30, "maxDays": 365},
                    "error": {"minDays": 90, "maxDays": 731},
                    "audit": {"minDays": 365, "maxDays": 3653},
                },
            }
        },
        remediation="Tag the group groundwork:logClass (runtime|error|audit) and set "
        "retentionInDays "
        "within that class's bounds.",
        security_hub=("CloudWatch.16",),
        config_rules=("cw-loggroup-retention-period-check",),
        unknowns=DEFER,
        reads=("retentionInDays", "tags['groundwork:logClass']"),
    ),
    PolicySpec(
        name="log-group-kms",
        description="Log groups are encrypted with a KMS key.",
        kind=RESOURCE,
        types=frozenset({obs.LOG_GROUP}),
        check=obs.log_kms,
        level=MANDATORY,
        remediation="Set kmsKeyId to the stack's key (its policy must allow "
        "logs.<region>.amazonaws.com).",
        config_rules=("cloudwatch-log-group-encrypted",),
        unknowns=PASS,
        reads=("kmsKeyId",),
    ),
    PolicySpec(
        name="alarm-actions-enabled",
        description="Alarms notify: actions enabled and at least one alarm action, or part of a "
        "composite alarm that does.",
        kind=STACK,
        check=obs.alarm_actions,
        level=MANDATORY,
        remediation="Leave actionsEnabled true and add the alerts SNS topic to alarmActions.",
        security_hub=("CloudWatch.15", "CloudWatch.17"),
        config_rules=("cloudwatch-alarm-action-check", "cloudwatch-alarm-action-enabled-check"),
        unknowns="unknown actionsEnabled is " + DEFER + "; an unknown action list counts as set",
        reads=(
            "actionsEnabled, alarmActions",
            "composite alarm: alarmRule (property dependency or alarm name), actions",
        ),
    ),
    PolicySpec(
        name="alerts-topic-subscribed",
        description="Every SNS topic that alarms or manual approvals notify has at least one "
        "subscription whose address is not on a reserved documentation domain and that has no "
        "filter policy.",
        kind=STACK,
        check=obs.alerts_topic_subscribed,
        level=MANDATORY,
        remediation="Subscribe someone to the alerts topic (groundwork:alerts.emails).",
        unknowns="references through property dependencies are followed, so unknown ARNs at "
        "preview still decide",
        reads=(
            "alarm: alarmActions, okActions (property dependency or value = topic arn)",
            "pipeline: stages[].actions[] of category Approval, configuration.NotificationArn",
            "subscription: topic (property dependency or value = topic arn), protocol, "
            "endpoint (the domain of an email, email-json, http or https address), "
            "filterPolicy",
        ),
    ),
    PolicySpec(
        name="resources-alarmed",
        description="Every load balancer, autoscaling group and database has an alarm that "
        "notifies someone.",
        kind=STACK,
        check=obs.resources_alarmed,
        level=MANDATORY,
        config={
            "types": {
                "type": "array",
                "items": {"type": "string", "x-typeToken": True},
                "minItems": 1,
                "uniqueItems": True,
                "x-includes": ALARMED_TYPES,
                "description": "Type tokens that need an alarm (more may be added).",
                "default": ALARMED_TYPES,
            }
        },
        remediation="Add a MetricAlarm whose dimensions reference the resource (e.g. LoadBalancer "
        "= "
        "alb.arn_suffix) with alarmActions set.",
        unknowns="correlation uses property dependencies, so unknown dimension values still match",
        reads=(
            "alarm: dimensions, metricQueries[].metric.dimensions (property dependencies or "
            "values)",
            "alarm: actionsEnabled, alarmActions, name",
            "composite alarm: alarmRule, alarmActions",
            "watched resource: arnSuffix, name, id, identifier",
        ),
    ),
    # ---- delivery ------------------------------------------------------------------------
    PolicySpec(
        name="codebuild-no-privileged-mode",
        description="CodeBuild projects do not run in privileged mode.",
        kind=RESOURCE,
        types=frozenset({cd.CODEBUILD}),
        check=cd.no_privileged_mode,
        level=MANDATORY,
        remediation="Set environment.privilegedMode false.",
        security_hub=("CodeBuild.5",),
        config_rules=("codebuild-project-environment-privileged-check",),
        unknowns=DEFER,
        reads=("environment.privilegedMode",),
    ),
    PolicySpec(
        name="codebuild-no-plaintext-secrets",
        description="Build, pipeline, Lambda and ECS environment variables and plain SSM "
        "parameters do not carry secrets in plain text.",
        kind=RESOURCE,
        types=frozenset({cd.CODEBUILD, cd.PIPELINE, cd.LAMBDA, cd.ECS_TASK, cd.SSM_PARAMETER}),
        check=cd.no_plaintext_secrets,
        level=MANDATORY,
        config={
            "secretNamePattern": {
                "type": "string",
                "x-regex": {"mustMatch": SECRET_NAMES},
                "default": cd.DEFAULT_SECRET_NAME,
                "description": "Regex for variable names that hold secrets.",
            }
        },
        remediation="Use type SECRETS_MANAGER or PARAMETER_STORE with the secret's name as the "
        "value (ECS: secrets; SSM: type SecureString).",
        security_hub=("CodeBuild.2",),
        config_rules=("codebuild-project-envvar-awscred-check",),
        unknowns="an unknown value is not inspected; an unknown variable list is " + DEFER,
        reads=(
            "codebuild: environment.environmentVariables[].name, .value, .type",
            "pipeline: stages[].actions[].configuration.EnvironmentVariables (JSON)",
            "lambda: environment.variables",
            "ecs task definition: containerDefinitions[].environment (JSON)",
            "ssm parameter (String, StringList): name, value, insecureValue",
        ),
    ),
    PolicySpec(
        name="codebuild-logging",
        description="CodeBuild projects send build logs to a log group or bucket the stack "
        "manages.",
        kind=RESOURCE,
        types=frozenset({cd.CODEBUILD}),
        check=cd.codebuild_logging,
        level=MANDATORY,
        remediation="Set logsConfig.cloudwatchLogs {status 'ENABLED', groupName: the stack's "
        "build log group}.",
        security_hub=("CodeBuild.4",),
        config_rules=("codebuild-project-logging-enabled",),
        unknowns=DEFER,
        reads=(
            "logsConfig.cloudwatchLogs.status, .groupName",
            "logsConfig.s3Logs.status, .location",
        ),
    ),
    PolicySpec(
        name="build-artifacts-encrypted",
        description="CodeBuild output and CodePipeline artifact stores are encrypted with a KMS "
        "key.",
        kind=RESOURCE,
        types=frozenset({cd.CODEBUILD, cd.PIPELINE}),
        check=cd.artifacts_encrypted,
        level=MANDATORY,
        config={
            "requireCustomerKey": _bool(True, "Require a customer managed key (encryptionKey).")
        },
        remediation="Set the project's encryptionKey and each artifact store's encryptionKey {id, "
        "type 'KMS'}; "
        "never set encryptionDisabled.",
        security_hub=("CodeBuild.3",),
        config_rules=("codebuild-project-artifact-encryption",),
        unknowns="an unknown key id counts as set; an unknown store list is " + DEFER,
        reads=(
            "codebuild: encryptionKey, artifacts.encryptionDisabled, "
            "secondaryArtifacts[].encryptionDisabled, "
            "logsConfig.s3Logs.encryptionDisabled",
            "pipeline: artifactStores[].encryptionKey.id",
        ),
    ),
    PolicySpec(
        name="pipeline-test-before-deploy",
        description="Every pipeline deploy stage comes after a stage that tests or builds.",
        kind=RESOURCE,
        types=frozenset({cd.PIPELINE}),
        check=cd.tested_before_deploy,
        level=MANDATORY,
        config={
            "testCategories": {
                "type": "array",
                "items": {"type": "string", "enum": ["Test", "Build"]},
                "minItems": 1,
                "uniqueItems": True,
                "default": ["Test", "Build"],
                "description": "Action categories that count as a test gate.",
            }
        },
        remediation="Add a stage with a Test (or Build running the tests) action before the "
        "Deploy stage.",
        unknowns=DEFER,
        reads=("stages[].name", "stages[].actions[].category"),
    ),
    PolicySpec(
        name="pipeline-approval-stage",
        description="Pipelines wait for a manual approval before deploying when the stack "
        "requires it.",
        kind=RESOURCE,
        types=frozenset({cd.PIPELINE}),
        check=cd.approval_before_deploy,
        level=MANDATORY,
        config={
            "required": _bool(True, "Require an Approval action before the first Deploy (prod).")
        },
        remediation="Add a stage with an action of category 'Approval' (owner AWS, provider "
        "Manual) before Deploy.",
        unknowns=DEFER,
        reads=("stages[].actions[].category",),
    ),
    # ---- RUM and analytics ---------------------------------------------------------------
    PolicySpec(
        name="rum-session-sample-rate",
        description="RUM app monitors sample no more sessions than the configured cap.",
        kind=RESOURCE,
        types=frozenset({sec.RUM_MONITOR}),
        check=sec.rum_sample_rate,
        level=MANDATORY,
        config={
            "maxSessionSampleRate": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "default": 0.25,
                "description": "Highest sessionSampleRate accepted (0..1).",
            }
        },
        remediation="Lower appMonitorConfiguration.sessionSampleRate "
        "(groundwork:rum.sessionSampleRate).",
        unknowns=DEFER + " (unset means the service default 0.1)",
        reads=("appMonitorConfiguration.sessionSampleRate",),
    ),
    PolicySpec(
        name="rum-cookies-consented",
        description="RUM app monitors set cookies only where both stack config and policy config "
        "allow it.",
        kind=RESOURCE,
        types=frozenset({sec.RUM_MONITOR}),
        check=sec.rum_cookies,
        level=MANDATORY,
        config={
            "allowCookies": _bool(
                False, "Whether this stack may use RUM cookies at all (needs consent)."
            )
        },
        remediation="Set appMonitorConfiguration.allowCookies false, or allow it in "
        "groundwork:rum.allowCookies "
        "and in this policy's allowCookies once consent is collected.",
        unknowns=DEFER,
        reads=("appMonitorConfiguration.allowCookies", "stack config groundwork:rum.allowCookies"),
    ),
    PolicySpec(
        name="athena-enforce-workgroup-config",
        description="Athena workgroups enforce their configuration on clients.",
        kind=RESOURCE,
        types=frozenset({sec.ATHENA_WORKGROUP}),
        check=sec.athena_enforce_configuration,
        level=MANDATORY,
        remediation="Leave configuration.enforceWorkgroupConfiguration true (the default).",
        unknowns=DEFER,
        reads=("configuration.enforceWorkgroupConfiguration",),
    ),
    PolicySpec(
        name="athena-results-encrypted",
        description="Athena workgroups encrypt query results with KMS.",
        kind=RESOURCE,
        types=frozenset({sec.ATHENA_WORKGROUP}),
        check=sec.athena_results_encrypted,
        level=MANDATORY,
        config={
            "allowedEncryptionOptions": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "enum": ["SSE_S3", "SSE_KMS", "CSE_KMS"]},
                "default": ["SSE_KMS", "CSE_KMS"],
            }
        },
        remediation="Set configuration.resultConfiguration.encryptionConfiguration "
        "{encryptionOption 'SSE_KMS', kmsKeyArn}.",
        config_rules=("athena-workgroup-encrypted-at-rest",),
        unknowns=DEFER,
        reads=("configuration.resultConfiguration.encryptionConfiguration.encryptionOption",),
    ),
    # ---- identity, keys, tags ------------------------------------------------------------
    PolicySpec(
        name="kms-key-rotation",
        description="Symmetric KMS keys rotate automatically.",
        kind=RESOURCE,
        types=frozenset({sec.KMS_KEY, sec.KMS_EXTERNAL_KEY}),
        check=sec.kms_rotation,
        level=MANDATORY,
        config={
            "maxRotationPeriodDays": _int(
                365, 90, 2560, "Longest rotationPeriodInDays accepted (KMS allows 90..2560)."
            )
        },
        remediation="Set enableKeyRotation true (and rotationPeriodInDays within the limit); "
        "use aws.kms.Key rather than imported key material.",
        security_hub=("KMS.4",),
        config_rules=("cmk-backing-key-rotation-enabled",),
        unknowns="an unknown key spec, usage, rotation flag or period is " + DEFER,
        reads=(
            "enableKeyRotation",
            "rotationPeriodInDays",
            "customerMasterKeySpec",
            "keyUsage",
            "customKeyStoreId, xksKeyId",
            "aws:kms/externalKey:ExternalKey (always a violation)",
        ),
    ),
    PolicySpec(
        name="iam-no-wildcard-admin",
        description="IAM policies do not allow every action on every resource.",
        kind=RESOURCE,
        types=frozenset({*sec.IAM_DOCUMENT_TYPES, *sec.IAM_ATTACHMENT_TYPES, sec.IAM_ROLE}),
        check=sec.iam_no_wildcard_admin,
        level=MANDATORY,
        remediation='List the actions and resources the principal needs instead of "*" (and avoid '
        "Allow + NotAction).",
        security_hub=("IAM.1",),
        config_rules=("iam-policy-no-statements-with-admin-access",),
        unknowns="an unknown document (e.g. built from ARNs) is " + DEFER,
        reads=(
            "policy (JSON string or object): Statement[].Effect, Action, NotAction, Resource",
            "role: inlinePolicies[].policy, managedPolicyArns",
            "attachments: policyArn, policyArns (AdministratorAccess*, IAMFullAccess)",
        ),
    ),
    PolicySpec(
        name="required-tags",
        description="Taggable resources carry the required tags, from their own tags or the "
        "provider's default tags.",
        kind=RESOURCE,
        types=taggable_types() | {ASG_TYPE},
        check=required_tags,
        level=MANDATORY,
        config={
            "keys": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "uniqueItems": True,
                "x-includes": ["Project", "Environment", "Owner"],
                "default": ["Project", "Environment", "Owner"],
                "description": "Tag keys every resource needs.",
            }
        },
        remediation="Set the keys in aws:defaultTags (stack config) or the resource's tags; "
        "autoscaling groups "
        "list them in tags with propagateAtLaunch true.",
        config_rules=("required-tags",),
        unknowns=DEFER,
        reads=(
            "tags",
            "autoscaling group: tags[].key, .propagateAtLaunch",
            "provider inputs defaultTags, else stack config aws:defaultTags",
        ),
    ),
    PolicySpec(
        name="cognito-no-unauthenticated-identities",
        description="Cognito identity pools do not hand out guest (unauthenticated) identities.",
        kind=RESOURCE,
        types=frozenset({sec.IDENTITY_POOL}),
        check=sec.cognito_no_guest_identities,
        level=MANDATORY,
        remediation="Set allowUnauthenticatedIdentities false, or record an exemption with the "
        "reason (RUM's "
        "guest pool) and scope its guest role to rum:PutRumEvents.",
        security_hub=("Cognito.2",),
        unknowns=DEFER,
        reads=("allowUnauthenticatedIdentities",),
    ),
    # ---- stack-wide ----------------------------------------------------------------------
    PolicySpec(
        name="asg-scaling-policy",
        description="Every autoscaling group has a scaling policy that can act (enabled, "
        "invoked by an alarm if step or simple, not forecast-only).",
        kind=STACK,
        check=pf.asg_scaling_policy,
        level=MANDATORY,
        remediation="Add an aws.autoscaling.Policy (target tracking on CPU or request count) for "
        "the group.",
        unknowns="correlation uses the property dependency of autoscalingGroupName, so unknown "
        "names match",
        reads=(
            "scaling policy: autoscalingGroupName (property dependency or value = group name/id)",
            "scaling policy: enabled, policyType, predictiveScalingConfiguration.mode",
            "alarm: alarmActions (property dependency or value = policy arn), actionsEnabled",
            "group: minSize, maxSize, suspendedProcesses",
        ),
    ),
    PolicySpec(
        name="stateful-resources-protected",
        description="Databases, backup and analytics buckets, KMS keys and log groups are "
        "protected from deletion.",
        kind=STACK,
        check=pf.stateful_protected,
        level=MANDATORY,
        config={"required": _bool(True, "Require protect on stateful resources (prod).")},
        remediation="Pass opts=ResourceOptions(protect=True) to the stateful child resources.",
        unknowns="not applicable (reads resource options)",
        reads=("resource option protect", "bucket: tags['groundwork:purpose'], objectLockEnabled"),
    ),
    PolicySpec(
        name="phase-capabilities",
        description="The stack has the capabilities its phase promises (RUM from pmf, dashboard "
        "and request scaling in growth).",
        kind=STACK,
        check=pf.phase_capabilities,
        level=MANDATORY,
        config={
            "requestScalingMetric": {
                "type": "string",
                "enum": ["ALBRequestCountPerTarget"],
                "default": "ALBRequestCountPerTarget",
                "description": "Predefined metric of the growth-phase target-tracking policy.",
            }
        },
        remediation="Add what the phase needs, or set groundwork:phase to the phase the stack "
        "really is in.",
        unknowns="not applicable (reads resource types and literal policy settings)",
        reads=(
            "stack config groundwork:phase",
            "scaling policy: policyType, "
            "targetTrackingConfiguration.predefinedMetricSpecification.predefinedMetricType",
        ),
    ),
)

# ---- cheap dev: mandatory in dev.json, disabled in prod.json --------------------------------
DEV_INSTANCE_TYPES = ["t4g.nano", "t4g.micro", "t4g.small", "t4g.medium", "t3.micro", "t3.small"]
DEV_DB_CLASSES = ["db.t4g.micro", "db.t4g.small", "db.t4g.medium"]


def _classes(default: list[str], desc: str) -> dict:
    return {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "uniqueItems": True,
        "default": default,
        "description": desc,
    }


CATALOG += (
    PolicySpec(
        name="dev-cost-within-budget",
        description="The estimated monthly cost at maximum capacity stays under the stack's "
        "groundwork:cost budget.",
        kind=STACK,
        check=spend.estimate_within_budget,
        level=ADVISORY,
        config={
            "maxMonthlyUsd": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "A lower cap than the stack's budget (a higher one has no "
                "effect: the lower of the two applies).",
            }
        },
        remediation="Shrink the stack (instance and database classes, maxSize, NAT mode, "
        "storage limit) or raise groundwork:cost.monthlyBudgetUsd knowingly; `make preview` "
        "shows the estimate per component with its assumptions.",
        unknowns=DEFER + " (instance type, class, group sizes, storage)",
        reads=(
            "stack config aws:region, groundwork:cost.monthlyBudgetUsd",
            "every priced resource (policies/cost/prices.json)",
        ),
    ),
    PolicySpec(
        name="dev-instance-classes",
        description="Developer instances and databases use classes from an allowed small list.",
        kind=RESOURCE,
        types=spend.CLASSED,
        check=spend.allowed_classes,
        level=ADVISORY,
        config={
            "allowedInstanceTypes": _classes(DEV_INSTANCE_TYPES, "EC2 instance types allowed."),
            "allowedDbClasses": _classes(DEV_DB_CLASSES, "RDS instance classes allowed."),
        },
        remediation="Use a small burstable class (groundwork:hosting.instanceType, "
        "groundwork:database.instanceClass).",
        unknowns=DEFER,
        reads=(
            "launch template / launch configuration / instance: instanceType",
            "autoscaling group: mixedInstancesPolicy.launchTemplate.overrides[].instanceType",
            "database / Aurora instance: instanceClass",
        ),
    ),
    PolicySpec(
        name="dev-single-nat-gateway",
        description="A developer stack has at most one NAT gateway, not one per AZ.",
        kind=STACK,
        check=spend.nat_gateways,
        level=ADVISORY,
        config={"maxNatGateways": _int(1, 0, desc="NAT gateways allowed.")},
        remediation="Set groundwork:network.natGateways to single.",
        unknowns="not applicable (counts NAT gateway resources)",
        reads=("resource type aws:ec2/natGateway:NatGateway",),
    ),
    PolicySpec(
        name="dev-single-az-database",
        description="A developer database runs in one AZ (no multi-AZ standby).",
        kind=RESOURCE,
        types=frozenset({spend.RDS}),
        check=spend.single_az_database,
        level=ADVISORY,
        remediation="Set groundwork:database.multiAz to false.",
        unknowns=DEFER,
        reads=("multiAz",),
    ),
)

BY_NAME = {spec.name: spec for spec in CATALOG}
assert len(BY_NAME) == len(CATALOG), "duplicate policy names"
