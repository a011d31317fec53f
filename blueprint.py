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
from components.context import dns_suffix_of
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


def app_auth_config(s: Settings, alb_arn: pulumi.Input[str]) -> dict[str, Any]:
    """The app config's `auth`: which load balancer's signature it accepts, where the region's
    ELB public keys are, and the issuer and client the tokens must name.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html
    """
    oidc = s.auth.oidc
    assert oidc is not None
    return {
        "albArn": alb_arn,
        "publicKeyEndpoint": f"https://public-keys.auth.elb.{s.region}.{dns_suffix_of(s.region)}",
        "issuer": oidc.issuer,
        "clientId": oidc.client_id,
    }


NO_RECIPIENT_WARNING = (
    "groundwork:alerts.emails has no recipient outside reserved domains: the spend alerts "
    "(budget {budget} USD/month, cost anomalies from {anomaly} USD) and every alarm of this "
    "stack reach nobody; subscribe an address or an endpoint to the alerts topic"
)


def _spend_alerts(s: Settings, prefix: str, alerts: Alerts) -> SpendAlerts | None:
    """Budget and anomaly alerts on this stack's tagged spend, to the alerts topic."""
    c = s.cost
    if c.allocation_tag_key not in s.default_tags:
        # Settings allow this only for a stack with no default tags and no cost group at all.
        pulumi.log.warn(
            f"aws:defaultTags has no {c.allocation_tag_key!r} tag: no spend alerts for this "
            "stack; set the tag (and groundwork:cost) to get a budget and anomaly alerts"
        )
        return None
    if not real_recipients(s):
        # Only a preview warning: a developer stack may choose to be unwatched, but knowingly.
        pulumi.log.warn(
            NO_RECIPIENT_WARNING.format(
                budget=f"{c.monthly_budget_usd:g}", anomaly=f"{c.anomaly_threshold_usd:g}"
            )
        )
    return SpendAlerts(
        "spend",
        SpendAlertsArgs(
            name_prefix=prefix,
            monthly_budget_usd=c.monthly_budget_usd,
            actual_thresholds_percent=c.thresholds.get("actual", []),
            forecast_thresholds_percent=c.thresholds.get("forecast", []),
            anomaly_threshold_usd=c.anomaly_threshold_usd,
            tag_key=c.allocation_tag_key,
            tag_value=s.default_tags[c.allocation_tag_key],
            topic_arn=alerts.topic_arn,
            after=[alerts],
        ),
    )


def stack_provider(s: Settings) -> providers.StackProvider:
    """The stack's `aws:` provider settings, for every explicit provider (another region)."""
    a = s.aws
    # `aws:assumeRole` (older spelling) arrives as the one-role chain `assumeRoles`.
    names = (k.removeprefix("aws:") for k in a.secret_keys)
    secret = {"assumeRoles" if n == "assumeRole" else n for n in names}
    return providers.StackProvider(
        default_tags=s.default_tags,
        profile=a.profile,
        shared_config_files=a.shared_config_files,
        shared_credentials_files=a.shared_credentials_files,
        assume_roles=tuple(r.model_dump(exclude_none=True) for r in a.assume_roles),
        allowed_account_ids=a.allowed_account_ids,
        forbidden_account_ids=a.forbidden_account_ids,
        skip_credentials_validation=a.skip_credentials_validation,
        secret_keys=frozenset(secret),
    )


def build(s: Settings) -> Platform:
    prefix = f"{s.project}-{s.stack}"
    encryption = Encryption("encryption", EncryptionArgs(region=s.region, protect=s.protect))
    alerts = Alerts(
        "alerts", AlertsArgs(region=s.region, emails=s.alerts.emails, protect=s.protect)
    )
    spend = _spend_alerts(s, prefix, alerts)
    network = Network(
        "network",
        NetworkArgs(
            cidr=s.network.cidr,
            az_count=s.network.availability_zones,
            nat_gateways=s.network.nat_gateways,
            region=s.region,
            flow_log_retention_days=s.logging.audit_retention_days,
            log_kms_key_arn=encryption.logs_key_arn,
            protect=s.protect,
        ),
    )

    # ---- what the instances ship logs to and put events into ------------------------------
    logging = Logging(
        "logging",
        LoggingArgs(
            region=s.region,
            kms_key_arn=encryption.logs_key_arn,
            runtime_retention_days=s.logging.runtime_retention_days,
            error_retention_days=s.logging.error_retention_days,
            name_prefix=f"/{s.project}/{s.stack}",
            metric_namespace=f"{s.project}/{s.stack}",
            protect=s.protect,
        ),
    )
    an = s.analytics
    analytics = Analytics(
        "analytics",
        AnalyticsArgs(
            region=s.region,
            retention_days=an.retention_days,
            query_results_retention_days=an.query_results_retention_days,
            query_scan_limit_gb=an.query_scan_limit_gb,
            buffer_interval_seconds=an.buffer_interval_seconds,
            database_name=glue_name(f"{s.project}_{s.stack}_analytics"),
            stream_name=f"{prefix}-events",
            log_kms_key_arn=encryption.logs_key_arn,
            log_retention_days=s.logging.error_retention_days,
            log_group_name=f"/{s.project}/{s.stack}/analytics/firehose-delivery",
            protect=s.protect,
        ),
    )
    app_config: dict[str, Any] = {
        "region": s.region,
        "environment": s.stack,
        "appPort": s.hosting.app_port,
        "analytics": {
            "streamName": analytics.stream_name,
            "pseudonymKeySecretArn": analytics.pseudonym_key_secret_arn,
        },
    }

    # ---- real user monitoring (pmf+), before the web tier: its app config carries it ------
    rum: RealUserMonitoring | None = None
    if s.at_least("pmf"):
        assert s.app_domain is not None  # settings require it from pmf on
        rum = RealUserMonitoring(
            "rum",
            RealUserMonitoringArgs(
                region=s.region,
                app_monitor_name=prefix,
                domain=s.app_domain,
                session_sample_rate=s.rum.session_sample_rate,
                allow_cookies=s.rum.allow_cookies,
                logs_key_arn=encryption.logs_key_arn,
                log_retention_days=s.rum.log_retention_days,
                function_log_retention_days=s.logging.runtime_retention_days,
                protect=s.protect,
            ),
        )
        app_config["rum"] = {
            "appMonitorId": rum.app_monitor_id,
            "identityPoolId": rum.identity_pool_id,
            "guestRoleArn": rum.guest_role_arn,
            "region": rum.region,
            "sessionSampleRate": s.rum.session_sample_rate,
            "allowCookies": s.rum.allow_cookies,
        }

    # ---- scalable hosting ------------------------------------------------------------------
    # Known before either exists: the pipeline writes it, the instance bootstrap reads it.
    seed_parameter = f"/{s.project}/{s.stack}/release/seed"
    reference_release = build_bundle(APP_DIR).data

    def user_data_with(config: dict[str, Any]) -> pulumi.Output[str]:
        return pulumi.Output.all(
            pulumi.Output.from_input(config),
            logging.agent_config_parameter_name,
            logging.agent_config_digest,
        ).apply(
            lambda values: bootstrap.render(
                bootstrap.Bootstrap(
                    region=s.region,
                    app_config=values[0],
                    cloudwatch_agent_parameter=values[1],
                    cloudwatch_agent_config_digest=values[2],
                    install_codedeploy_agent=True,
                    # Serve the reference release until CodeDeploy installs a deployed one.
                    seed_parameter=seed_parameter,
                )
            )
        )

    oidc = s.auth.oidc
    user_data: Any = user_data_with(app_config)
    if oidc is not None:
        # The app accepts identities only when this load balancer signed them.
        def user_data_for(alb_arn: pulumi.Output[str]) -> pulumi.Output[str]:
            return user_data_with({**app_config, "auth": app_auth_config(s, alb_arn)})

        user_data = user_data_for

    h = s.hosting
    access_logs = AccessLogs(
        "access-logs",
        AccessLogsArgs(
            region=s.region, expire_after_days=s.edge.access_log_expire_days, protect=s.protect
        ),
    )
    web = WebTier(
        "web",
        WebTierArgs(
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            instance_type=h.instance_type,
            min_size=h.min_size,
            max_size=h.max_size,
            app_port=h.app_port,
            health_check_path=h.health_check_path,
            cpu_target=h.cpu_target,
            instance_tags=s.default_tags,
            user_data=user_data,
            certificate_arn=h.certificate_arn,
            oidc=(
                OidcAuth(
                    issuer=oidc.issuer,
                    authorization_endpoint=oidc.authorization_endpoint,
                    token_endpoint=oidc.token_endpoint,
                    user_info_endpoint=oidc.user_info_endpoint,
                    client_id=oidc.client_id,
                    client_secret=pulumi.Output.secret(oidc.client_secret.get_secret_value()),
                    scope=oidc.scope,
                    session_timeout_seconds=oidc.session_timeout_seconds,
                )
                if oidc is not None
                else None
            ),
            domain_name=h.domain_name,
            hosted_zone_id=h.hosted_zone_id,
            deletion_protection=h.deletion_protection,
            root_volume_gb=h.root_volume_gb,
            health_check_grace_seconds=h.health_check_grace_seconds,
            min_healthy_percent=h.min_healthy_percent,
            default_instance_warmup_seconds=s.scaling.instance_warmup_seconds,
            instance_policies={
                "logs-agent": logging.agent_policy_json,
                "analytics-put": analytics.put_record_policy_json,
                "analytics-pseudonym-key": analytics.pseudonym_key_read_policy_json,
            },
            warm_pool=(
                {
                    "pool_state": s.scaling.warm_pool_state,
                    "min_size": s.scaling.warm_pool_min_size,
                    # Scale-in terminates: a returning instance would carry a stale release.
                    "instance_reuse_policy": {"reuse_on_scale_in": False},
                }
                if s.at_least("growth") and s.scaling.warm_pool
                else None
            ),
            access_logs=(access_logs.bucket_name, access_logs.prefix),
        ),
    )
    firewall = WebFirewall(
        "firewall",
        WebFirewallArgs(
            region=s.region,
            alb_arn=web.alb_arn,
            mode=s.edge.waf_mode,
            rate_limit_per_5_min=s.edge.rate_limit_per5_min,
            log_group_name=f"aws-waf-logs-{prefix}",
            log_retention_days=s.logging.audit_retention_days,
            logs_key_arn=encryption.logs_key_arn,
            protect=s.protect,
        ),
    )

    # ---- data protection: database, backup vault, scheduled logical backup -----------------
    d, b = s.database, s.backups
    database = Database(
        "database",
        DatabaseArgs(
            region=s.region,
            identifier=db_identifier(s.project, s.stack),
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            web_security_group_id=web.instance_security_group_id,
            logs_key_arn=encryption.logs_key_arn,
            log_retention_days=s.logging.runtime_retention_days,
            engine_version=d.engine_version,
            instance_class=d.instance_class,
            allocated_storage_gb=d.allocated_storage_gb,
            max_allocated_storage_gb=d.max_allocated_storage_gb,
            multi_az=d.multi_az,
            backup_retention_days=d.backup_retention_days,
            backup_window=d.backup_window,
            maintenance_window=d.maintenance_window,
            deletion_protection=d.deletion_protection,
            final_snapshot=d.final_snapshot,
            database_name=d.database_name,
            slow_statement_ms=d.slow_statement_ms,
            backup_replica_region=d.backup_replica_region,
            stack_provider=stack_provider(s),
            protect=s.protect,
            break_glass_role_arn=b.break_glass_role_arn,
            alerts_topic_arn=alerts.topic_arn,
        ),
    )
    backup_vault = BackupVault(
        "vault",
        BackupVaultArgs(
            region=s.region,
            lock_mode=b.lock_mode,
            lock_days=b.lock_days,
            cold_after_days=b.cold_after_days,
            expire_after_days=b.expire_after_days,
            protect=s.protect,
            break_glass_role_arn=b.break_glass_role_arn,
            replica_region=b.replica_region,
            stack_provider=stack_provider(s),
        ),
    )
    backup_job = BackupJob(
        "backup-job",
        BackupJobArgs(
            region=s.region,
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
            log_retention_days=s.logging.audit_retention_days,
            sources=ops_sources(OPS_DIR),
            schedule=b.schedule,
            timeout_minutes=b.job_timeout_minutes,
            compute_type=b.job_compute_type,
            max_backup_age_hours=b.max_backup_age_hours,
            protect=s.protect,
        ),
    )

    # ---- audit trail: who did what, and alarms on what must never pass unnoticed ----------
    audit: AuditTrail | None = None
    au = s.audit
    if au.enabled:
        audit = AuditTrail(
            "audit",
            AuditTrailArgs(
                region=s.region,
                trail_name=f"{prefix}-audit",
                log_group_name=f"/{s.project}/{s.stack}/audit/cloudtrail",
                log_retention_days=s.logging.audit_retention_days,
                logs_key_arn=encryption.logs_key_arn,
                lock_mode=au.lock_mode,
                lock_days=au.lock_days,
                expire_after_days=au.expire_after_days,
                alerts_topic_arn=alerts.topic_arn,
                watched_bucket_names=[backup_vault.bucket_name],
                metric_namespace=f"{s.project}/{s.stack}/Audit",
                alarm_name_prefix=prefix,
                existing_trail_arn=au.existing_trail_arn,
                existing_log_group_name=au.existing_trail_log_group_name,
                protect=s.protect,
            ),
        )
    else:
        pulumi.log.warn(
            "groundwork:audit.enabled is false: this stack records no audit trail and raises "
            "no audit alarms"
        )

    # ---- baseline alarms: web tier, error logs, database -----------------------------------
    alarms = BaselineAlarms(
        "alarms",
        BaselineAlarmsArgs(
            topic_arn=alerts.topic_arn,
            alb_arn_suffix=web.alb_arn_suffix,
            target_group_arn_suffix=web.target_group_arn_suffix,
            asg_name=web.asg_name,
            asg_min_size=h.min_size,
            log_metric_namespace=logging.metric_namespace,
            error_log_metric_name=logging.error_log_metric_name,
            runtime_error_metric_name=logging.runtime_error_metric_name,
            # Field for field the settings model (a test keeps the two in step).
            thresholds=alarms_.Thresholds(**s.alarms.model_dump()),
            name_prefix=prefix,
            # The backup job raises its own failed-run and missed-run alarms.
            database_identifier=database.identifier,
        ),
    )

    # ---- delivery: test, then deploy in place, rolled back by the baseline alarms ----------
    p = s.pipeline
    pipeline = DeployPipeline(
        "pipeline",
        DeployPipelineArgs(
            region=s.region,
            resource_prefix=physical_prefix(s.project, s.stack),
            asg_name=web.asg_name,
            asg_arn=web.asg_arn,
            target_group_name=web.target_group_name,
            target_group_arn=web.target_group_arn,
            instance_role_name=web.instance_role_name,
            alerts_topic_arn=alerts.topic_arn,
            alerts_key_arn=alerts.key_arn,
            logs_key_arn=encryption.logs_key_arn,
            log_retention_days=s.logging.runtime_retention_days,
            rollback_alarm_names=alarms.rollback_alarm_names,
            source=p.source,
            source_key=p.source_key,
            repository=p.repository,
            branch=p.branch,
            connection_arn=p.connection_arn,
            require_approval=p.require_approval,
            buildspec=p.buildspec,
            build_timeout_minutes=p.build_timeout_minutes,
            build_compute_type=p.build_compute_type,
            artifact_retention_days=p.artifact_retention_days,
            protect=s.protect,
            # The first run deploys the reference app (the bundle `ops.release` builds);
            # with the github source it deploys the head of `branch` instead.
            initial_release=reference_release if p.source == "s3" else None,
            # New instances serve the reference release until the first deployment.
            seed_release=reference_release,
            seed_parameter_name=seed_parameter,
        ),
    )

    # ---- growth: performance-driven scaling, then monitoring (its latency alarm scales) ----
    scaling: PerformanceScaling | None = None
    performance: PerformanceMonitoring | None = None
    if s.at_least("growth"):
        scaling = PerformanceScaling(
            "scaling",
            PerformanceScalingArgs(
                asg_name=web.asg_name,
                alb_arn_suffix=web.alb_arn_suffix,
                target_group_arn_suffix=web.target_group_arn_suffix,
                requests_per_target=s.scaling.requests_per_target,
                latency_p95_ms=s.scaling.latency_p95_ms,
                predictive=s.scaling.predictive,
                scheduling_buffer_seconds=s.scaling.scheduling_buffer_seconds,
            ),
        )
        pf = s.performance
        performance = PerformanceMonitoring(
            "performance",
            PerformanceMonitoringArgs(
                region=s.region,
                alb_arn_suffix=web.alb_arn_suffix,
                target_group_arn_suffix=web.target_group_arn_suffix,
                asg_name=web.asg_name,
                alerts_topic_arn=alerts.topic_arn,
                site_url=pf.canary_url or s.site_url or web.url,
                health_check_path=h.health_check_path,
                logs_key_arn=encryption.logs_key_arn,
                canary_name=canary_name(s.project, s.stack),
                dashboard_name=dashboard_name(s.project, s.stack),
                alarm_name_prefix=prefix,
                latency_p95_ms=s.scaling.latency_p95_ms,
                latency_evaluation_periods=s.scaling.latency_evaluation_periods,
                latency_datapoints_to_alarm=s.scaling.latency_datapoints_to_alarm,
                error_rate_percent=pf.error_rate_percent,
                request_anomaly_band=pf.request_anomaly_band,
                canary_runtime=pf.canary_runtime,
                canary_interval_minutes=pf.canary_interval_minutes,
                canary_artifact_days=pf.canary_artifact_days,
                canary_log_retention_days=s.logging.runtime_retention_days,
                latency_alarm_actions=[scaling.latency_step_policy_arn],
                database_identifier=database.identifier,
                error_metric=(logging.metric_namespace, logging.error_log_metric_name),
                # "Service unhealthy" also when the targets fail or the app logs errors.
                extra_alarms=[
                    alarms.alarm_names["unhealthyHosts"],
                    alarms.alarm_names["errorLogRate"],
                ],
                rum_app_monitor_name=rum.app_monitor_name if rum is not None else None,
                protect=s.protect,
            ),
        )

    return Platform(
        settings=s,
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
