"""Database: the RDS PostgreSQL 16 instance and everything that keeps its data safe.

The instance lives in private subnets behind a security group that admits PostgreSQL only
from the web tier and the logical backup job. Storage, Performance Insights and the
RDS-managed master-user secret are encrypted with one customer-managed key (rotation on).
The password never exists in config or state: RDS generates it into Secrets Manager and
rotates it; clients read the secret at run time (or use IAM database authentication).

Backups: automated backups for `backup_retention_days` in a daily window that cannot overlap
the weekly maintenance window, tags copied to snapshots, automated backups kept when the
instance is deleted, and, when `backup_replica_region` is set, replicated to that region
through an explicit provider with a key of that region. Deletion protection and the final
snapshot follow the settings; Pulumi `protect` is on whenever deletion protection is.
With `break_glass_role_arn`, the database's keys (here and in the replica region) deny
`kms:ScheduleKeyDeletion` and `kms:DisableKey` to every other principal (components/kms.py):
a disabled or deleted key would make the storage, every snapshot and the replicas unreadable.

The parameter group refuses non-TLS connections (`rds.force_ssl`), requires TLS 1.2+, and
logs slow statements and lock waits to the `postgresql` log, which RDS exports to a log
group created here first (so its retention and KMS key are ours, not a never-expiring
default).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components import context, iam, kms, providers, secgroups
from components.loggroups import log_group
from components.outputs import register_all
from components.secgroups import Rule

ENGINE = "postgres"
PARAMETER_FAMILY = "postgres16"
PORT = 5432
MASTER_USERNAME = "postgres"
LOG_EXPORTS: tuple[str, ...] = ("postgresql", "upgrade")
# RDS event categories of a DB instance that reach the alerts topic: outages, failovers,
# storage running out, maintenance, deletion. Not `creation`, `configuration change` or
# `notification` (routine, would page on day one).
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html
EVENT_CATEGORIES: tuple[str, ...] = (
    "availability", "deletion", "failover", "failure", "low storage",
    "maintenance", "recovery", "restoration",
)  # fmt: skip
# Nor `backup` through the subscription, which cannot filter events: every automated backup
# announces its start and its end (RDS-EVENT-0001 "Backing up DB instance", RDS-EVENT-0002
# "Finished DB Instance backup"), two routine mails a day that teach on-call to ignore the
# topic. The rest of that category reaches the topic through an EventBridge rule that leaves
# those two out by the event's ID (RDS sends every event to EventBridge as an "RDS DB Instance
# Event" whose detail carries EventCategories and EventID).
# https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-rds.html (the event types);
# the detail's fields, EventID among them, as AWS's schema lists them for its CDK classes:
# https://docs.aws.amazon.com/cdk/api/v2/docs/@aws-cdk_mixins-preview.aws_rds.events.RDSDBInstanceEvent.RDSDBInstanceEventProps.html
ROUTINE_BACKUP_EVENT_IDS: tuple[str, ...] = ("RDS-EVENT-0001", "RDS-EVENT-0002")
# RSA 2048 CA valid until 2061; clients verify the server against AWS's published bundle.
CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"
MONITORING_INTERVAL_SECONDS = 60
# Seven days of Performance Insights history is the free tier.
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
_IDENTIFIER_MAX = 63


def db_identifier(project: str, stack: str) -> str:
    """The RDS instance identifier for a stack: lower-case letters, digits and single hyphens,
    starting with a letter, at most 63 characters (RDS's rules)."""
    text = re.sub(r"[^a-z0-9]+", "-", f"{project}-{stack}-db".lower()).strip("-")
    if not text[:1].isalpha():
        text = f"db-{text}"
    return text[:_IDENTIFIER_MAX].rstrip("-")


def log_group_name(identifier: str, log: str) -> str:
    """Where RDS exports log `log` of instance `identifier` (a fixed AWS naming scheme)."""
    return f"/aws/rds/instance/{identifier}/{log}"


def parameters(slow_statement_ms: int) -> dict[str, str]:
    """The parameter group's settings: TLS only, and the logs that explain slowness."""
    return {
        "rds.force_ssl": "1",
        "ssl_min_protocol_version": "TLSv1.2",
        "log_min_duration_statement": str(slow_statement_ms),
        "log_lock_waits": "1",
    }


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    """`groundwork:database` (settings.Database) as the component sees it; no defaults that
    settings owns (tests/test_args_defaults.py keeps it so)."""

    region: str
    # Explicit, so the log groups RDS writes to can be created before the instance.
    identifier: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    # The web tier's instance security group: the only app-side client of the database.
    web_security_group_id: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    engine_version: str
    instance_class: str
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    multi_az: bool
    backup_retention_days: int
    backup_window: str
    maintenance_window: str
    deletion_protection: bool
    final_snapshot: bool
    database_name: str
    slow_statement_ms: int
    backup_replica_region: str | None
    # The stack's provider settings, repeated by the replica region's explicit provider.
    stack_provider: providers.StackProvider | None = None
    # Pulumi protect for the KMS keys and log groups (the instance follows deletion_protection).
    protect: bool
    # When set, only this role may delete or disable the database's keys (kms.py says why).
    break_glass_role_arn: str | None
    # Alerts.topic_arn: RDS events of the instance (failover, storage, backups) go there.
    alerts_topic_arn: pulumi.Input[str] | None = None


class Database(pulumi.ComponentResource):
    """RDS PostgreSQL 16: private, encrypted, backed up (optionally to a second region)."""

    identifier: pulumi.Output[str]
    address: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    port: pulumi.Output[int]
    arn: pulumi.Output[str]
    # For IAM database authentication: rds-db:connect on dbuser:<resource_id>/<user>.
    resource_id: pulumi.Output[str]
    database_name: str
    security_group_id: pulumi.Output[str]
    backup_client_security_group_id: pulumi.Output[str]
    master_secret_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:data:Database", name, None, opts)
        self._name, self._args = name, args
        partition = context.partition_of(args.region)
        account = context.account_id(self)
        key = kms.encryption_key(
            f"{name}-key",
            description="RDS storage, Performance Insights and the master-user secret",
            partition=partition,
            account=account,
            parent=self,
            protect=args.protect,
            break_glass_role_arn=args.break_glass_role_arn,
        )
        sg, backup_sg = self._security_groups()
        instance = self._instance(key, sg, partition, account)
        if args.backup_replica_region:
            self._replicate_backups(name, args, instance, partition, account)
        if args.alerts_topic_arn is not None:
            aws.rds.EventSubscription(
                f"{name}-events",
                sns_topic=args.alerts_topic_arn,
                source_type="db-instance",
                source_ids=[instance.identifier],
                event_categories=list(EVENT_CATEGORIES),
                enabled=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self._backup_events(instance, args.alerts_topic_arn)

        self.identifier = instance.identifier
        self.address = instance.address
        self.endpoint = instance.endpoint
        self.port = instance.port
        self.arn = instance.arn
        self.resource_id = instance.resource_id
        self.database_name = args.database_name
        self.security_group_id = sg.id
        self.backup_client_security_group_id = backup_sg.id
        self.master_secret_arn = instance.master_user_secrets.apply(_secret_arn)
        self.kms_key_arn = key.arn
        register_all(self)

    def _backup_events(self, instance: aws.rds.Instance, topic_arn: pulumi.Input[str]) -> None:
        """Backup-category events of this instance to the alerts topic, but the routine two."""
        pattern = {
            "source": ["aws.rds"],
            "detail-type": ["RDS DB Instance Event"],
            "resources": [instance.arn],
            "detail": {
                "EventCategories": ["backup"],
                "EventID": [{"anything-but": list(ROUTINE_BACKUP_EVENT_IDS)}],
            },
        }
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-backup-events",
            description="Backup events of the database other than the daily start and finish",
            event_pattern=pulumi.Output.json_dumps(pattern),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.cloudwatch.EventTarget(
            f"{self._name}-backup-events-alert",
            rule=rule.name,
            arn=topic_arn,
            input_transformer={
                "input_paths": {
                    "db": "$.detail.SourceIdentifier",
                    "id": "$.detail.EventID",
                    "message": "$.detail.Message",
                },
                "input_template": '"RDS backup event <id> on <db>: <message>"',
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _security_groups(self) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        """The database's group, and the backup job's: every rule that opens the database."""
        name, args = self._name, self._args
        sg = secgroups.security_group(
            f"{name}-sg",
            self,
            vpc_id=args.vpc_id,
            description="PostgreSQL: from the web tier and the backup job only",
            name_tag=f"{name}-postgres",
        )
        # The backup job's own group, made here so that every rule that opens the database
        # is in this component; the job attaches it and adds its HTTPS egress.
        backup_sg = secgroups.security_group(
            f"{name}-backup-client-sg",
            self,
            vpc_id=args.vpc_id,
            description="Logical backup job: PostgreSQL to the database",
            name_tag=f"{name}-backup-client",
        )
        for role, client in (("web", args.web_security_group_id), ("backup", backup_sg.id)):
            secgroups.connect(
                self,
                client=client,
                server=sg.id,
                port=PORT,
                egress=Rule(f"{name}-{role}-out-db", "PostgreSQL to the database"),
                ingress=Rule(f"{name}-in-{role}", f"PostgreSQL from the {role} security group"),
            )
        return sg, backup_sg

    def _groups(self) -> tuple[aws.rds.SubnetGroup, aws.rds.ParameterGroup]:
        name, args = self._name, self._args
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.private_subnet_ids),
            description="Private subnets of the database",
            opts=pulumi.ResourceOptions(parent=self),
        )
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            family=PARAMETER_FAMILY,
            description="TLS only; slow statements and lock waits logged",
            parameters=[
                {"name": k, "value": v}
                for k, v in sorted(parameters(args.slow_statement_ms).items())
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        return subnet_group, parameter_group

    def _monitoring_role(
        self, partition: str, account: pulumi.Output[str]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        """The role Enhanced Monitoring publishes with."""
        name = self._name
        monitoring_role = aws.iam.Role(
            f"{name}-monitoring-role",
            assume_role_policy=iam.to_json(
                iam.assume_role_for_account("monitoring.rds.amazonaws.com", account)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        monitoring_policy = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring-policy",
            role=monitoring_role.name,
            policy_arn=context.aws_owned_arn(
                partition, "iam", "policy/service-role/AmazonRDSEnhancedMonitoringRole"
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return monitoring_role, monitoring_policy

    def _log_groups(self) -> list[aws.cloudwatch.LogGroup]:
        """The groups RDS exports to, made first so that they carry retention and key."""
        args = self._args
        return [
            log_group(
                f"{self._name}-log-{log}",
                self,
                name=log_group_name(args.identifier, log),
                retention_days=args.log_retention_days,
                kms_key_arn=args.logs_key_arn,
                log_class="runtime",
                protect=args.protect,
            )
            for log in LOG_EXPORTS
        ]

    def _instance(
        self,
        key: aws.kms.Key,
        sg: aws.ec2.SecurityGroup,
        partition: str,
        account: pulumi.Output[str],
    ) -> aws.rds.Instance:
        name, args = self._name, self._args
        subnet_group, parameter_group = self._groups()
        monitoring_role, monitoring_policy = self._monitoring_role(partition, account)
        log_groups = self._log_groups()
        return aws.rds.Instance(
            f"{name}-instance",
            identifier=args.identifier,
            engine=ENGINE,
            engine_version=args.engine_version,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=key.arn,
            db_name=args.database_name,
            username=MASTER_USERNAME,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key.arn,
            iam_database_authentication_enabled=True,
            port=PORT,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[sg.id],
            publicly_accessible=False,
            parameter_group_name=parameter_group.name,
            ca_cert_identifier=CA_CERT_IDENTIFIER,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            backup_window=args.backup_window,
            maintenance_window=args.maintenance_window,
            copy_tags_to_snapshot=True,
            delete_automated_backups=False,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=self._final_snapshot_identifier(),
            performance_insights_enabled=True,
            performance_insights_kms_key_id=key.arn,
            performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS,
            monitoring_interval=MONITORING_INTERVAL_SECONDS,
            monitoring_role_arn=monitoring_role.arn,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.deletion_protection,
                # RDS would create the log groups itself (no retention, no key) if it wrote
                # first; the monitoring role must be usable before the instance starts.
                depends_on=[*log_groups, monitoring_policy],
            ),
        )

    def _final_snapshot_identifier(self) -> pulumi.Output[str] | None:
        """Unique per database (a delete-then-recreate must not collide with the last final
        snapshot) yet stable across updates: a random suffix kept in state, renewed only
        when the identifier changes."""
        args = self._args
        snapshot_suffix = random.RandomId(
            f"{self._name}-final-snapshot-suffix",
            byte_length=4,
            keepers={"identifier": args.identifier},
            opts=pulumi.ResourceOptions(parent=self),
        )
        if not args.final_snapshot:
            return None
        return pulumi.Output.concat(args.identifier, "-final-", snapshot_suffix.hex)

    def _replicate_backups(
        self,
        name: str,
        args: DatabaseArgs,
        instance: aws.rds.Instance,
        partition: str,
        account: pulumi.Output[str],
    ) -> None:
        region = args.backup_replica_region
        assert region is not None
        # The replication is created in the destination region; an explicit provider says
        # so in the resource graph (and carries the stack's tags, which it does not inherit).
        assert args.stack_provider is not None, "backup_replica_region needs stack_provider"
        provider = providers.regional_provider(
            f"{name}-replica-region", region, args.stack_provider, parent=self
        )
        replica_key = kms.encryption_key(
            f"{name}-replica-key",
            description=f"Replicated automated backups of {args.identifier}",
            partition=partition,
            account=account,
            parent=self,
            protect=args.protect,
            provider=provider,
            break_glass_role_arn=args.break_glass_role_arn,
        )
        aws.rds.InstanceAutomatedBackupsReplication(
            f"{name}-backup-replication",
            source_db_instance_arn=instance.arn,
            kms_key_id=replica_key.arn,
            retention_period=args.backup_retention_days,
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )


def _secret_arn(secrets: Sequence[aws.rds.outputs.InstanceMasterUserSecret] | None) -> str:
    if not secrets:
        raise ValueError("the RDS instance reports no master-user secret")
    if not (arn := secrets[0].secret_arn):
        raise ValueError("the RDS instance reports a master-user secret without an ARN")
    return arn
