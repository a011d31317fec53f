"""Which components a stack gets for its phase, and how their outputs connect.

Components never look each other up: each one's outputs are passed to the next as typed
args, so the dependency order is visible here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components import alarms as alarms_
from components import bootstrap
from components.alarms import BaselineAlarms, BaselineAlarmsArgs
from components.alerts import Alerts, AlertsArgs
from components.analytics import Analytics, AnalyticsArgs, glue_name
from components.encryption import Encryption, EncryptionArgs
from components.logging import Logging, LoggingArgs
from components.network import Network, NetworkArgs
from components.webtier import WebTier, WebTierArgs
from settings import Settings


@dataclass
class Platform:
    """What a stack built; `outputs()` is what it exports."""

    settings: Settings
    encryption: Encryption
    alerts: Alerts
    network: Network
    web: WebTier
    logging: Logging
    analytics: Analytics
    alarms: BaselineAlarms

    def outputs(self) -> dict[str, Any]:
        return {
            "region": self.settings.region,
            "phase": self.settings.phase,
            "url": self.web.url,
            "albDnsName": self.web.alb_dns_name,
            "vpcId": self.network.vpc_id,
            "asgName": self.web.asg_name,
            "alertsTopicArn": self.alerts.topic_arn,
            # observability: logging, analytics, baseline alarms
            "runtimeLogGroupName": self.logging.runtime_log_group_name,
            "errorLogGroupName": self.logging.error_log_group_name,
            "agentConfigParameterName": self.logging.agent_config_parameter_name,
            "analyticsStreamName": self.analytics.stream_name,
            "analyticsBucketName": self.analytics.bucket_name,
            "analyticsDatabaseName": self.analytics.database_name,
            "athenaWorkgroupName": self.analytics.workgroup_name,
            "analyticsAnalystPolicyArn": self.analytics.analyst_policy_arn,
            "alarmNames": self.alarms.alarm_names,
        }


def build(s: Settings) -> Platform:
    encryption = Encryption("encryption", EncryptionArgs(region=s.region, protect=s.protect))
    alerts = Alerts(
        "alerts", AlertsArgs(region=s.region, emails=s.alerts.emails, protect=s.protect)
    )
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
    # ---- observability: logging and analytics (the instances ship to / put into them) ----
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
            stream_name=f"{s.project}-{s.stack}-events",
            log_kms_key_arn=encryption.logs_key_arn,
            log_retention_days=s.logging.error_retention_days,
            log_group_name=f"/{s.project}/{s.stack}/analytics/firehose-delivery",
            protect=s.protect,
        ),
    )
    instance_policies: dict[str, pulumi.Input[str]] = {
        "logs-agent": logging.agent_policy_json,
        "analytics-put": analytics.put_record_policy_json,
        "analytics-pseudonym-key": analytics.pseudonym_key_read_policy_json,
    }
    # ---- end observability ----
    app_config: dict[str, Any] = {
        "region": s.region,
        "environment": s.stack,
        "appPort": s.hosting.app_port,
        "analytics": {
            "streamName": analytics.stream_name,
            "pseudonymKeySecretArn": analytics.pseudonym_key_secret_arn,
        },
    }
    user_data = pulumi.Output.all(
        pulumi.Output.from_input(app_config),
        logging.agent_config_parameter_name,
        logging.agent_config_digest,
    ).apply(
        lambda values: bootstrap.render(
            bootstrap.Bootstrap(
                region=s.region,
                app_config=values[0],
                cloudwatch_agent_parameter=values[1],
                cloudwatch_agent_config_digest=values[2],
            )
        )
    )
    h = s.hosting
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
            deletion_protection=h.deletion_protection,
            root_volume_gb=h.root_volume_gb,
            health_check_grace_seconds=h.health_check_grace_seconds,
            min_healthy_percent=h.min_healthy_percent,
            default_instance_warmup_seconds=s.scaling.instance_warmup_seconds,
            instance_policies=instance_policies,
        ),
    )
    # ---- observability: baseline alarms ----
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
            name_prefix=f"{s.project}-{s.stack}",
            # The integrator passes Database.identifier and BackupJob's project name here.
            database_identifier=None,
            backup_job_project_name=None,
        ),
    )
    # ---- end observability ----
    return Platform(
        settings=s,
        encryption=encryption,
        alerts=alerts,
        network=network,
        web=web,
        logging=logging,
        analytics=analytics,
        alarms=alarms,
    )
