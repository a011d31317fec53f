"""Which components a stack gets for its phase, and how their outputs connect.

Components never look each other up: each one's outputs are passed to the next as typed
args, so the dependency order is visible here and nowhere else (docs/architecture.md draws
it). Phase 1 (`early`) builds everything up to the deploy pipeline; `pmf` adds real user
monitoring; `growth` adds performance-driven scaling and performance monitoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from components import alarms as alarms_
from components import bootstrap, providers
from components.alarms import BaselineAlarms, BaselineAlarmsArgs
from components.alerts import Alerts, AlertsArgs
from components.analytics import Analytics, AnalyticsArgs, glue_name
from components.audit import AuditTrail, AuditTrailArgs
from components.backup_job import BackupJob, BackupJobArgs, ops_sources
from components.backup_vault import BackupVault, BackupVaultArgs
from components.cost import SpendAlerts, SpendAlertsArgs
from components.database import Database, DatabaseArgs, db_identifier
from components.edge import AccessLogs, AccessLogsArgs, WebFirewall, WebFirewallArgs
from components.encryption import Encryption, EncryptionArgs
from components.logging import Logging, LoggingArgs
from components.network import Network, NetworkArgs
from components.performance import (
    PerformanceMonitoring,
    PerformanceMonitoringArgs,
    canary_name,
    dashboard_name,
)
from components.pipeline import DeployPipeline, DeployPipelineArgs, physical_prefix
from components.rum import RealUserMonitoring, RealUserMonitoringArgs
from components.scaling import PerformanceScaling, PerformanceScalingArgs
from components.webtier import OidcAuth, WebTier, WebTierArgs
from ops.bundle import build_bundle
from settings import Settings, real_recipients

OPS_DIR = Path(__file__).resolve().parent / "ops"
APP_DIR = Path(__file__).resolve().parent / "app"


@dataclass
class Platform:
    """What a stack built; `outputs()` is what it exports."""

    settings: Settings
    encryption: Encryption
    alerts: Alerts
    network: Network
    logging: Logging
    analytics: Analytics
    web: WebTier
    access_logs: AccessLogs
    firewall: WebFirewall
    database: Database
    backup_vault: BackupVault
    backup_job: BackupJob
    alarms: BaselineAlarms
    pipeline: DeployPipeline
    spend: SpendAlerts | None
    audit: AuditTrail | None = None
    rum: RealUserMonitoring | None = None
    scaling: PerformanceScaling | None = None
    performance: PerformanceMonitoring | None = None

    def outputs(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "region": self.settings.region,
            "phase": self.settings.phase,
            "url": self.web.url,
            "albDnsName": self.web.alb_dns_name,
            "vpcId": self.network.vpc_id,
            "asgName": self.web.asg_name,
            "alertsTopicArn": self.alerts.topic_arn,
            "accessLogsBucket": self.access_logs.bucket_name,
            "webAclArn": self.firewall.web_acl_arn,
            # logging, analytics, baseline alarms
            "runtimeLogGroupName": self.logging.runtime_log_group_name,
            "errorLogGroupName": self.logging.error_log_group_name,
            "agentConfigParameterName": self.logging.agent_config_parameter_name,
            "analyticsStreamName": self.analytics.stream_name,
            "analyticsBucketName": self.analytics.bucket_name,
            "analyticsDatabaseName": self.analytics.database_name,
            "athenaWorkgroupName": self.analytics.workgroup_name,
            "analyticsAnalystPolicyArn": self.analytics.analyst_policy_arn,
            "alarmNames": self.alarms.alarm_names,
            # data protection: what verify_backups and restore_drill take
            "databaseEndpoint": self.database.endpoint,
            "databaseIdentifier": self.database.identifier,
            "databaseName": self.database.database_name,
            "databaseSecretArn": self.database.master_secret_arn,
            "backupVaultBucket": self.backup_vault.bucket_name,
            "backupJobName": self.backup_job.project_name,
            # The read-only role the job logs in as, and the run that creates it.
            "backupDbUser": self.backup_job.db_user,
            "backupSetupJobName": self.backup_job.setup_project_name,
            # delivery: the release command uploads to sourceBucket/sourceKey (s3 source only)
            "pipelineName": self.pipeline.pipeline_name,
        }
        return out | self._optional_outputs()

    def _optional_outputs(self) -> dict[str, Any]:
        """What only some stacks export: by phase, source and opt-in."""
        out: dict[str, Any] = {}
        if self.spend is not None:
            out["budgetName"] = self.spend.budget_name
        # the vault's copy in another region (verify_backups checks replication status)
        if self.backup_vault.replica_bucket_name is not None:
            out |= {
                "backupReplicaBucket": self.backup_vault.replica_bucket_name,
                "backupReplicaRegion": self.backup_vault.replica_region,
            }
        if self.pipeline.source_bucket_name is not None:
            out |= {
                "sourceBucket": self.pipeline.source_bucket_name,
                "sourceKey": self.pipeline.source_object_key,
            }
        if self.audit is not None and self.audit.trail_arn is not None:
            out |= {
                "auditTrailArn": self.audit.trail_arn,
                "auditBucket": self.audit.bucket_name,
            }
        # real user monitoring (pmf+): what the web client's snippet needs
        if self.rum is not None:
            out |= {
                "rumAppMonitorId": self.rum.app_monitor_id,
                "rumIdentityPoolId": self.rum.identity_pool_id,
                "rumGuestRoleArn": self.rum.guest_role_arn,
                "rumRegion": self.rum.region,
            }
        # performance monitoring and scaling (growth)
        if self.performance is not None:
            out |= {
                "performanceDashboardName": self.performance.dashboard_name,
                "serviceUnhealthyAlarmArn": self.performance.service_unhealthy_alarm_arn,
            }
        return out


NO_RECIPIENT_WARNING = (
    "groundwork:alerts.emails has no recipient outside reserved domains: the spend alerts "
    "(budget {budget} USD/month, cost anomalies from {anomaly} USD) and every alarm of this "
    "stack reach nobody; subscribe an address or an endpoint to the alerts topic"
)


def _spend_alerts(settings: Settings, prefix: str, alerts: Alerts) -> SpendAlerts | None:
    """Budget and anomaly alerts on this stack's tagged spend, to the alerts topic."""
    cost = settings.cost
    if cost.allocation_tag_key not in settings.default_tags:
        # Settings allow this only for a stack with no default tags and no cost group at all.
        pulumi.log.warn(
            f"aws:defaultTags has no {cost.allocation_tag_key!r} tag: no spend alerts for this "
            "stack; set the tag (and groundwork:cost) to get a budget and anomaly alerts"
        )
        return None
    if not real_recipients(settings):
        # Only a preview warning: a developer stack may choose to be unwatched, but knowingly.
        pulumi.log.warn(
            NO_RECIPIENT_WARNING.format(
                budget=f"{cost.monthly_budget_usd:g}", anomaly=f"{cost.anomaly_threshold_usd:g}"
            )
        )
    return SpendAlerts(
        "spend",
        SpendAlertsArgs(
            name_prefix=prefix,
            monthly_budget_usd=cost.monthly_budget_usd,
            actual_thresholds_percent=cost.thresholds.get("actual", []),
            forecast_thresholds_percent=cost.thresholds.get("forecast", []),
            anomaly_threshold_usd=cost.anomaly_threshold_usd,
            tag_key=cost.allocation_tag_key,
            tag_value=settings.default_tags[cost.allocation_tag_key],
            topic_arn=alerts.topic_arn,
            after=[alerts],
        ),
    )


def stack_provider(settings: Settings) -> providers.StackProvider:
    """The stack's `aws:` provider settings, for every explicit provider (another region)."""
    aws = settings.aws
    # `aws:assumeRole` (older spelling) arrives as the one-role chain `assumeRoles`.
    names = (key.removeprefix("aws:") for key in aws.secret_keys)
    secret = {"assumeRoles" if name == "assumeRole" else name for name in names}
    return providers.StackProvider(
        default_tags=settings.default_tags,
        profile=aws.profile,
        shared_config_files=aws.shared_config_files,
        shared_credentials_files=aws.shared_credentials_files,
        assume_roles=tuple(r.model_dump(exclude_none=True) for r in aws.assume_roles),
        allowed_account_ids=aws.allowed_account_ids,
        forbidden_account_ids=aws.forbidden_account_ids,
        skip_credentials_validation=aws.skip_credentials_validation,
        secret_keys=frozenset(secret),
    )


def build(settings: Settings) -> Platform:
    """Every component the stack's phase calls for, each given the outputs it depends on."""
    prefix = f"{settings.project}-{settings.stack}"
    encryption = Encryption(
        "encryption", EncryptionArgs(region=settings.region, protect=settings.protect)
    )
    alerts = _alerts(settings)
    spend = _spend_alerts(settings, prefix, alerts)
    network = _network(settings, encryption)
    # What the instances ship logs to and put events into.
    logging = _logging(settings, encryption)
    analytics = _analytics(settings, prefix, encryption)
    app_config = _app_config(settings, analytics)
    # Real user monitoring (pmf+), before the web tier: its app config carries it.
    rum = _real_user_monitoring(settings, prefix, encryption, app_config)
    # Known before either exists: the pipeline writes it, the instance bootstrap reads it.
    seed_parameter = f"/{settings.project}/{settings.stack}/release/seed"
    reference_release = build_bundle(APP_DIR).data
    user_data = _user_data(settings, logging, app_config, seed_parameter)
    access_logs = _access_logs(settings)
    web = _web_tier(settings, network, logging, analytics, access_logs, user_data)
    firewall = _firewall(settings, prefix, encryption, web)
    database = _database(settings, network, web, encryption, alerts)
    backup_vault = _backup_vault(settings)
    backup_job = _backup_job(settings, prefix, network, database, backup_vault, alerts, encryption)
    audit = _audit_trail(settings, prefix, encryption, alerts, backup_vault)
    alarms = _baseline_alarms(settings, prefix, alerts, web, logging, database)
    pipeline = _deploy_pipeline(
        settings, web, alerts, encryption, alarms, seed_parameter, reference_release
    )
    # Growth: performance-driven scaling, then monitoring (its latency alarm scales).
    scaling: PerformanceScaling | None = None
    performance: PerformanceMonitoring | None = None
    if settings.at_least("growth"):
        scaling = _performance_scaling(settings, web)
        performance = _performance_monitoring(
            settings, prefix, web, alerts, encryption, scaling, database, logging, alarms, rum
        )
    return Platform(
        settings=settings,
        encryption=encryption,
        alerts=alerts,
        network=network,
        logging=logging,
        analytics=analytics,
        web=web,
        access_logs=access_logs,
        firewall=firewall,
        database=database,
        backup_vault=backup_vault,
        backup_job=backup_job,
        alarms=alarms,
        pipeline=pipeline,
        spend=spend,
        audit=audit,
        rum=rum,
        scaling=scaling,
        performance=performance,
    )


def _alerts(settings: Settings) -> Alerts:
    return Alerts(
        "alerts",
        AlertsArgs(region=settings.region, emails=settings.alerts.emails, protect=settings.protect),
    )


def _access_logs(settings: Settings) -> AccessLogs:
    return AccessLogs(
        "access-logs",
        AccessLogsArgs(
            region=settings.region,
            expire_after_days=settings.edge.access_log_expire_days,
            protect=settings.protect,
        ),
    )


def _network(settings: Settings, encryption: Encryption) -> Network:
    return Network(
        "network",
        NetworkArgs(
            cidr=settings.network.cidr,
            az_count=settings.network.availability_zones,
            nat_gateways=settings.network.nat_gateways,
            region=settings.region,
            flow_log_retention_days=settings.logging.audit_retention_days,
            log_kms_key_arn=encryption.logs_key_arn,
            protect=settings.protect,
        ),
    )


def _logging(settings: Settings, encryption: Encryption) -> Logging:
    return Logging(
        "logging",
        LoggingArgs(
            region=settings.region,
            kms_key_arn=encryption.logs_key_arn,
            runtime_retention_days=settings.logging.runtime_retention_days,
            error_retention_days=settings.logging.error_retention_days,
            name_prefix=f"/{settings.project}/{settings.stack}",
            metric_namespace=f"{settings.project}/{settings.stack}",
            protect=settings.protect,
        ),
    )


def _analytics(settings: Settings, prefix: str, encryption: Encryption) -> Analytics:
    analytics = settings.analytics
    return Analytics(
        "analytics",
        AnalyticsArgs(
            region=settings.region,
            retention_days=analytics.retention_days,
            query_results_retention_days=analytics.query_results_retention_days,
            query_scan_limit_gb=analytics.query_scan_limit_gb,
            buffer_interval_seconds=analytics.buffer_interval_seconds,
            database_name=glue_name(f"{settings.project}_{settings.stack}_analytics"),
            stream_name=f"{prefix}-events",
            log_kms_key_arn=encryption.logs_key_arn,
            log_retention_days=settings.logging.error_retention_days,
            log_group_name=f"/{settings.project}/{settings.stack}/analytics/firehose-delivery",
            ops_dir=OPS_DIR,
            protect=settings.protect,
        ),
    )


def _app_config(settings: Settings, analytics: Analytics) -> dict[str, Any]:
    """The reference app's config, as the instance bootstrap writes it."""
    return bootstrap.app_config(
        region=settings.region,
        environment=settings.stack,
        app_port=settings.hosting.app_port,
        stream_name=analytics.stream_name,
        pseudonym_key_secret_arn=analytics.pseudonym_key_secret_arn,
    )


def _real_user_monitoring(
    settings: Settings, prefix: str, encryption: Encryption, app_config: dict[str, Any]
) -> RealUserMonitoring | None:
    """From pmf on: the RUM app monitor, and its snippet's values added to `app_config`."""
    if not settings.at_least("pmf"):
        return None
    assert settings.app_domain is not None  # settings require it from pmf on
    rum = RealUserMonitoring(
        "rum",
        RealUserMonitoringArgs(
            region=settings.region,
            app_monitor_name=prefix,
            domain=settings.app_domain,
            session_sample_rate=settings.rum.session_sample_rate,
            allow_cookies=settings.rum.allow_cookies,
            logs_key_arn=encryption.logs_key_arn,
            log_retention_days=settings.rum.log_retention_days,
            function_log_retention_days=settings.logging.runtime_retention_days,
            ops_dir=OPS_DIR,
            protect=settings.protect,
        ),
    )
    app_config["rum"] = bootstrap.rum_config(
        app_monitor_id=rum.app_monitor_id,
        identity_pool_id=rum.identity_pool_id,
        guest_role_arn=rum.guest_role_arn,
        region=rum.region,
        session_sample_rate=settings.rum.session_sample_rate,
        allow_cookies=settings.rum.allow_cookies,
    )
    return rum


def _user_data(
    settings: Settings, logging: Logging, app_config: dict[str, Any], seed_parameter: str
) -> Any:
    """The instances' user data, or (with OIDC) a function of the load balancer's ARN."""

    def user_data_with(config: dict[str, Any]) -> pulumi.Output[str]:
        return bootstrap.user_data(
            region=settings.region,
            config=config,
            agent_parameter=logging.agent_config_parameter_name,
            agent_digest=logging.agent_config_digest,
            seed_parameter=seed_parameter,
        )

    oidc = settings.auth.oidc
    if oidc is None:
        return user_data_with(app_config)

    # The app accepts identities only when this load balancer signed them.
    def user_data(alb_arn: pulumi.Output[str]) -> pulumi.Output[str]:
        auth = bootstrap.auth_config(
            alb_arn=alb_arn, region=settings.region, issuer=oidc.issuer, client_id=oidc.client_id
        )
        return user_data_with({**app_config, "auth": auth})

    return user_data


def _oidc_auth(settings: Settings) -> OidcAuth | None:
    oidc = settings.auth.oidc
    if oidc is None:
        return None
    return OidcAuth(
        issuer=oidc.issuer,
        authorization_endpoint=oidc.authorization_endpoint,
        token_endpoint=oidc.token_endpoint,
        user_info_endpoint=oidc.user_info_endpoint,
        client_id=oidc.client_id,
        client_secret=pulumi.Output.secret(oidc.client_secret.get_secret_value()),
        scope=oidc.scope,
        session_timeout_seconds=oidc.session_timeout_seconds,
    )


def _warm_pool(settings: Settings) -> dict[str, Any] | None:
    if not (settings.at_least("growth") and settings.scaling.warm_pool):
        return None
    return {
        "pool_state": settings.scaling.warm_pool_state,
        "min_size": settings.scaling.warm_pool_min_size,
        # Scale-in terminates: a returning instance would carry a stale release.
        "instance_reuse_policy": {"reuse_on_scale_in": False},
    }


def _web_tier(
    settings: Settings,
    network: Network,
    logging: Logging,
    analytics: Analytics,
    access_logs: AccessLogs,
    user_data: Any,
) -> WebTier:
    hosting = settings.hosting
    return WebTier(
        "web",
        WebTierArgs(
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            instance_type=hosting.instance_type,
            min_size=hosting.min_size,
            max_size=hosting.max_size,
            app_port=hosting.app_port,
            health_check_path=hosting.health_check_path,
            cpu_target=hosting.cpu_target,
            instance_tags=settings.default_tags,
            user_data=user_data,
            certificate_arn=hosting.certificate_arn,
            oidc=_oidc_auth(settings),
            domain_name=hosting.domain_name,
            hosted_zone_id=hosting.hosted_zone_id,
            deletion_protection=hosting.deletion_protection,
            root_volume_gb=hosting.root_volume_gb,
            health_check_grace_seconds=hosting.health_check_grace_seconds,
            min_healthy_percent=hosting.min_healthy_percent,
            default_instance_warmup_seconds=settings.scaling.instance_warmup_seconds,
            instance_policies={
                "logs-agent": logging.agent_policy_json,
                "analytics-put": analytics.put_record_policy_json,
                "analytics-pseudonym-key": analytics.pseudonym_key_read_policy_json,
            },
            warm_pool=_warm_pool(settings),
            access_logs=(access_logs.bucket_name, access_logs.prefix),
        ),
    )


def _firewall(settings: Settings, prefix: str, encryption: Encryption, web: WebTier) -> WebFirewall:
    return WebFirewall(
        "firewall",
        WebFirewallArgs(
            region=settings.region,
            alb_arn=web.alb_arn,
            mode=settings.edge.waf_mode,
            rate_limit_per_5_min=settings.edge.rate_limit_per5_min,
            log_group_name=f"aws-waf-logs-{prefix}",
            log_retention_days=settings.logging.audit_retention_days,
            logs_key_arn=encryption.logs_key_arn,
            protect=settings.protect,
        ),
    )


def _database(
    settings: Settings, network: Network, web: WebTier, encryption: Encryption, alerts: Alerts
) -> Database:
    database = settings.database
    return Database(
        "database",
        DatabaseArgs(
            region=settings.region,
            identifier=db_identifier(settings.project, settings.stack),
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            web_security_group_id=web.instance_security_group_id,
            logs_key_arn=encryption.logs_key_arn,
            log_retention_days=settings.logging.runtime_retention_days,
            engine_version=database.engine_version,
            instance_class=database.instance_class,
            allocated_storage_gb=database.allocated_storage_gb,
            max_allocated_storage_gb=database.max_allocated_storage_gb,
            multi_az=database.multi_az,
            backup_retention_days=database.backup_retention_days,
            backup_window=database.backup_window,
            maintenance_window=database.maintenance_window,
            deletion_protection=database.deletion_protection,
            final_snapshot=database.final_snapshot,
            database_name=database.database_name,
            slow_statement_ms=database.slow_statement_ms,
            backup_replica_region=database.backup_replica_region,
            stack_provider=stack_provider(settings),
            protect=settings.protect,
            break_glass_role_arn=settings.backups.break_glass_role_arn,
            alerts_topic_arn=alerts.topic_arn,
        ),
    )


def _backup_vault(settings: Settings) -> BackupVault:
    backups = settings.backups
    return BackupVault(
        "vault",
        BackupVaultArgs(
            region=settings.region,
            lock_mode=backups.lock_mode,
            lock_days=backups.lock_days,
            cold_after_days=backups.cold_after_days,
            expire_after_days=backups.expire_after_days,
            protect=settings.protect,
            break_glass_role_arn=backups.break_glass_role_arn,
            replica_region=backups.replica_region,
            stack_provider=stack_provider(settings),
        ),
    )


def _backup_job(
    settings: Settings,
    prefix: str,
    network: Network,
    database: Database,
    backup_vault: BackupVault,
    alerts: Alerts,
    encryption: Encryption,
) -> BackupJob:
    backups = settings.backups
    return BackupJob(
        "backup-job",
        BackupJobArgs(
            region=settings.region,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            security_group_id=database.backup_client_security_group_id,
            db_host=database.address,
            db_port=database.port,
            database_name=database.database_name,
            db_resource_id=database.resource_id,
            network_ready=[network],
            master_secret_arn=database.master_secret_arn,
            master_secret_key_arn=database.kms_key_arn,
            vault_bucket_name=backup_vault.bucket_name,
            vault_bucket_arn=backup_vault.bucket_arn,
            vault_key_arn=backup_vault.key_arn,
            alerts_topic_arn=alerts.topic_arn,
            logs_key_arn=encryption.logs_key_arn,
            log_retention_days=settings.logging.audit_retention_days,
            sources=ops_sources(OPS_DIR),
            alarm_name_prefix=prefix,
            schedule=backups.schedule,
            timeout_minutes=backups.job_timeout_minutes,
            compute_type=backups.job_compute_type,
            max_backup_age_hours=backups.max_backup_age_hours,
            protect=settings.protect,
        ),
    )


def _audit_trail(
    settings: Settings,
    prefix: str,
    encryption: Encryption,
    alerts: Alerts,
    backup_vault: BackupVault,
) -> AuditTrail | None:
    """Who did what, and alarms on what must never pass unnoticed."""
    audit = settings.audit
    if not audit.enabled:
        pulumi.log.warn(
            "groundwork:audit.enabled is false: this stack records no audit trail and raises "
            "no audit alarms"
        )
        return None
    return AuditTrail(
        "audit",
        AuditTrailArgs(
            region=settings.region,
            trail_name=f"{prefix}-audit",
            log_group_name=f"/{settings.project}/{settings.stack}/audit/cloudtrail",
            log_retention_days=settings.logging.audit_retention_days,
            logs_key_arn=encryption.logs_key_arn,
            lock_mode=audit.lock_mode,
            lock_days=audit.lock_days,
            expire_after_days=audit.expire_after_days,
            alerts_topic_arn=alerts.topic_arn,
            watched_bucket_names=[backup_vault.bucket_name],
            metric_namespace=f"{settings.project}/{settings.stack}/Audit",
            alarm_name_prefix=prefix,
            existing_trail_arn=audit.existing_trail_arn,
            existing_log_group_name=audit.existing_trail_log_group_name,
            protect=settings.protect,
        ),
    )


def _baseline_alarms(
    settings: Settings,
    prefix: str,
    alerts: Alerts,
    web: WebTier,
    logging: Logging,
    database: Database,
) -> BaselineAlarms:
    """Web tier, error logs, database."""
    return BaselineAlarms(
        "alarms",
        BaselineAlarmsArgs(
            topic_arn=alerts.topic_arn,
            alb_arn_suffix=web.alb_arn_suffix,
            target_group_arn_suffix=web.target_group_arn_suffix,
            asg_name=web.asg_name,
            asg_min_size=settings.hosting.min_size,
            log_metric_namespace=logging.metric_namespace,
            error_log_metric_name=logging.error_log_metric_name,
            runtime_error_metric_name=logging.runtime_error_metric_name,
            # Field for field the settings model (a test keeps the two in step).
            thresholds=alarms_.Thresholds(**settings.alarms.model_dump()),
            name_prefix=prefix,
            # The backup job raises its own failed-run and missed-run alarms.
            database_identifier=database.identifier,
        ),
    )


def _deploy_pipeline(
    settings: Settings,
    web: WebTier,
    alerts: Alerts,
    encryption: Encryption,
    alarms: BaselineAlarms,
    seed_parameter: str,
    reference_release: bytes,
) -> DeployPipeline:
    """Test, then deploy in place, rolled back by the baseline alarms."""
    pipeline = settings.pipeline
    return DeployPipeline(
        "pipeline",
        DeployPipelineArgs(
            region=settings.region,
            resource_prefix=physical_prefix(settings.project, settings.stack),
            asg_name=web.asg_name,
            asg_arn=web.asg_arn,
            target_group_name=web.target_group_name,
            target_group_arn=web.target_group_arn,
            instance_role_name=web.instance_role_name,
            alerts_topic_arn=alerts.topic_arn,
            alerts_key_arn=alerts.key_arn,
            logs_key_arn=encryption.logs_key_arn,
            log_retention_days=settings.logging.runtime_retention_days,
            rollback_alarm_names=alarms.rollback_alarm_names,
            source=pipeline.source,
            source_key=pipeline.source_key,
            repository=pipeline.repository,
            branch=pipeline.branch,
            connection_arn=pipeline.connection_arn,
            require_approval=pipeline.require_approval,
            buildspec=pipeline.buildspec,
            build_timeout_minutes=pipeline.build_timeout_minutes,
            build_compute_type=pipeline.build_compute_type,
            artifact_retention_days=pipeline.artifact_retention_days,
            protect=settings.protect,
            # The first run deploys the reference app (the bundle `ops.release` builds);
            # with the github source it deploys the head of `branch` instead.
            initial_release=reference_release if pipeline.source == "s3" else None,
            # New instances serve the reference release until the first deployment.
            seed_release=reference_release,
            seed_parameter_name=seed_parameter,
        ),
    )


def _performance_scaling(settings: Settings, web: WebTier) -> PerformanceScaling:
    scaling = settings.scaling
    return PerformanceScaling(
        "scaling",
        PerformanceScalingArgs(
            asg_name=web.asg_name,
            alb_arn_suffix=web.alb_arn_suffix,
            target_group_arn_suffix=web.target_group_arn_suffix,
            requests_per_target=scaling.requests_per_target,
            latency_p95_ms=scaling.latency_p95_ms,
            predictive=scaling.predictive,
            scheduling_buffer_seconds=scaling.scheduling_buffer_seconds,
        ),
    )


def _performance_monitoring(
    settings: Settings,
    prefix: str,
    web: WebTier,
    alerts: Alerts,
    encryption: Encryption,
    scaling: PerformanceScaling,
    database: Database,
    logging: Logging,
    alarms: BaselineAlarms,
    rum: RealUserMonitoring | None,
) -> PerformanceMonitoring:
    performance = settings.performance
    return PerformanceMonitoring(
        "performance",
        PerformanceMonitoringArgs(
            region=settings.region,
            alb_arn_suffix=web.alb_arn_suffix,
            target_group_arn_suffix=web.target_group_arn_suffix,
            asg_name=web.asg_name,
            alerts_topic_arn=alerts.topic_arn,
            site_url=performance.canary_url or settings.site_url or web.url,
            health_check_path=settings.hosting.health_check_path,
            logs_key_arn=encryption.logs_key_arn,
            canary_name=canary_name(settings.project, settings.stack),
            dashboard_name=dashboard_name(settings.project, settings.stack),
            alarm_name_prefix=prefix,
            ops_dir=OPS_DIR,
            latency_p95_ms=settings.scaling.latency_p95_ms,
            latency_evaluation_periods=settings.scaling.latency_evaluation_periods,
            latency_datapoints_to_alarm=settings.scaling.latency_datapoints_to_alarm,
            error_rate_percent=performance.error_rate_percent,
            request_anomaly_band=performance.request_anomaly_band,
            canary_runtime=performance.canary_runtime,
            canary_interval_minutes=performance.canary_interval_minutes,
            canary_artifact_days=performance.canary_artifact_days,
            canary_log_retention_days=settings.logging.runtime_retention_days,
            latency_alarm_actions=[scaling.latency_step_policy_arn],
            database_identifier=database.identifier,
            error_metric=(logging.metric_namespace, logging.error_log_metric_name),
            # "Service unhealthy" also when the targets fail or the app logs errors.
            extra_alarms=[
                alarms.alarm_names["unhealthyHosts"],
                alarms.alarm_names["errorLogRate"],
            ],
            rum_app_monitor_name=rum.app_monitor_name if rum is not None else None,
            protect=settings.protect,
        ),
    )
