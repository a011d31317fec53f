"""Which components a stack gets for its phase, and how their outputs connect.

Components never look each other up: each one's outputs are passed to the next as typed
args, so the dependency order is visible here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from components import bootstrap
from components.alerts import Alerts, AlertsArgs
from components.backup_job import BackupJob, BackupJobArgs, ops_sources
from components.backup_vault import BackupVault, BackupVaultArgs
from components.database import Database, DatabaseArgs, db_identifier
from components.encryption import Encryption, EncryptionArgs
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
    database: Database
    backup_vault: BackupVault
    backup_job: BackupJob

    def outputs(self) -> dict[str, Any]:
        return {
            "region": self.settings.region,
            "phase": self.settings.phase,
            "url": self.web.url,
            "albDnsName": self.web.alb_dns_name,
            "vpcId": self.network.vpc_id,
            "asgName": self.web.asg_name,
            "alertsTopicArn": self.alerts.topic_arn,
            "databaseEndpoint": self.database.endpoint,
            "databaseIdentifier": self.database.identifier,
            "databaseName": self.database.database_name,
            "databaseSecretArn": self.database.master_secret_arn,
            "backupVaultBucket": self.backup_vault.bucket_name,
            "backupJobName": self.backup_job.project_name,
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
    app_config: dict[str, Any] = {
        "region": s.region,
        "environment": s.stack,
        "appPort": s.hosting.app_port,
    }
    user_data = pulumi.Output.from_input(app_config).apply(
        lambda config: bootstrap.render(bootstrap.Bootstrap(region=s.region, app_config=config))
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
        ),
    )
    # ---- data protection: database, backup vault, scheduled logical backup -------------
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
            default_tags=s.default_tags,
            protect=s.protect,
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
            db_secret_arn=database.master_secret_arn,
            db_secret_key_arn=database.kms_key_arn,
            vault_bucket_name=backup_vault.bucket_name,
            vault_bucket_arn=backup_vault.bucket_arn,
            vault_key_arn=backup_vault.key_arn,
            alerts_topic_arn=alerts.topic_arn,
            logs_key_arn=encryption.logs_key_arn,
            log_retention_days=s.logging.audit_retention_days,
            sources=ops_sources(Path(__file__).resolve().parent / "ops"),
            schedule=b.schedule,
            timeout_minutes=b.job_timeout_minutes,
            compute_type=b.job_compute_type,
            max_backup_age_hours=b.max_backup_age_hours,
            protect=s.protect,
        ),
    )
    # ---- end data protection ---------------------------------------------------------------
    return Platform(
        settings=s,
        encryption=encryption,
        alerts=alerts,
        network=network,
        web=web,
        database=database,
        backup_vault=backup_vault,
        backup_job=backup_job,
    )
