"""Which components a stack gets for its phase, and how their outputs connect.

Components never look each other up: each one's outputs are passed to the next as typed
args, so the dependency order is visible here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components import bootstrap
from components.alerts import Alerts, AlertsArgs
from components.encryption import Encryption, EncryptionArgs
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
    pipeline: DeployPipeline
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
            # The release command uploads to sourceBucket/sourceKey (s3 source only).
            "pipelineName": self.pipeline.pipeline_name,
            **(
                {
                    "sourceBucket": self.pipeline.source_bucket_name,
                    "sourceKey": self.pipeline.source_object_key,
                }
                if self.pipeline.source_bucket_name is not None
                else {}
            ),
        }
        # ---- real user monitoring (pmf+): what the web client's snippet needs ----
        if self.rum is not None:
            out |= {
                "rumAppMonitorId": self.rum.app_monitor_id,
                "rumIdentityPoolId": self.rum.identity_pool_id,
                "rumGuestRoleArn": self.rum.guest_role_arn,
                "rumRegion": self.rum.region,
            }
        # ---- performance monitoring and scaling (growth) ----
        if self.performance is not None:
            out |= {
                "performanceDashboardName": self.performance.dashboard_name,
                "serviceUnhealthyAlarmArn": self.performance.service_unhealthy_alarm_arn,
            }
        return out


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
    app_config: dict[str, Any] = {
        "region": s.region,
        "environment": s.stack,
        "appPort": s.hosting.app_port,
    }
    # ---- real user monitoring (phase pmf+) ----
    # Built before the web tier: the instances' app config carries the RUM client settings.
    rum: RealUserMonitoring | None = None
    if s.at_least("pmf"):
        assert s.rum.domain is not None  # settings require it from pmf on
        rum = RealUserMonitoring(
            "rum",
            RealUserMonitoringArgs(
                region=s.region,
                app_monitor_name=f"{s.project}-{s.stack}",
                domain=s.rum.domain,
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
    user_data = pulumi.Output.from_input(app_config).apply(
        lambda config: bootstrap.render(
            bootstrap.Bootstrap(region=s.region, app_config=config, install_codedeploy_agent=True)
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
        ),
    )

    # ---- DeployPipeline: test, then deploy in place to the web tier -----------------------
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
            # Integration: BaselineAlarms' 5xx, unhealthy-hosts and error-log-rate alarm
            # names go here once that component is in the blueprint.
            rollback_alarm_names=[],
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
        ),
    )
    # ---- end DeployPipeline -------------------------------------------------------------
    # ---- performance-driven scaling and performance monitoring (phase growth) ----
    # Scaling first: the p95 latency alarm's actions carry its step policy.
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
                site_url=pf.canary_url or web.url,
                health_check_path=h.health_check_path,
                logs_key_arn=encryption.logs_key_arn,
                canary_name=canary_name(s.project, s.stack),
                dashboard_name=dashboard_name(s.project, s.stack),
                alarm_name_prefix=f"{s.project}-{s.stack}",
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
                # The integrator connects these once Database, Logging and BaselineAlarms exist:
                # database_identifier=database.identifier, error_metric=logging.error_metric,
                # extra_alarms=[...baseline alarm names...].
                rum_app_monitor_name=rum.app_monitor_name if rum is not None else None,
                protect=s.protect,
            ),
        )
    return Platform(
        settings=s,
        encryption=encryption,
        alerts=alerts,
        network=network,
        web=web,
        pipeline=pipeline,
        rum=rum,
        scaling=scaling,
        performance=performance,
    )
