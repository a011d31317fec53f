"""Typed, validated stack settings: the only place that reads `pulumi.Config`.

Why pydantic v2 models rather than frozen dataclasses: the stack config arrives as untyped
JSON, and pydantic gives strict type checks (a string where a number belongs is an error,
not a silent coercion), `extra="forbid"` (a typo inside a config object is an error), every
field error at once instead of the first, and the JSON Schema of the stack files generated
from the same models, so docs, editor validation and the program cannot drift apart.

`parse()` is pure (a flat `namespace:key -> string` map in, `Settings` out, `SettingsError`
listing every problem); `load()` feeds it from the Pulumi runtime and turns a problem into a
`pulumi.RunError` before any resource is registered.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from components import subnets, windows

NAMESPACE = "groundwork"

# Retention values CloudWatch Logs accepts (PutRetentionPolicy); anything else is refused at
# deploy time, so it is refused here first.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

PHASES: tuple[str, ...] = ("early", "pmf", "growth")

_REGION_RE = r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$"
_INSTANCE_TYPE_RE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
_EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_ROLE_ARN_RE = r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[A-Za-z0-9_+=,.@/-]+$"
# AWS's documentation example account: a value in it is a placeholder the operator replaces.
PLACEHOLDER_ACCOUNT = "111122223333"
_DOMAIN_RE = r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$"
# Domains reserved for documentation and testing (RFC 2606, RFC 6761): mail to them never
# arrives and certificates for them are never issued, so they count as "not set yet".
RESERVED_DOMAINS: tuple[str, ...] = (
    "example.com", "example.net", "example.org", "example", "test", "invalid", "localhost",
)  # fmt: skip


class _Group(BaseModel):
    """Base of every config object: strict types, no unknown keys, immutable."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )


class Network(_Group):
    """`groundwork:network`: the VPC and how private subnets reach the internet."""

    cidr: str = Field(
        "10.0.0.0/16",
        description="IPv4 CIDR of the VPC, a private (RFC 1918) range from /16 to /23.",
    )
    availability_zones: int = Field(
        3, ge=2, le=6, description="How many AZs the VPC spans (2..6); prod uses 3."
    )
    nat_gateways: Literal["none", "single", "perAz"] = Field(
        "perAz",
        description=(
            "NAT for private subnets: `perAz` (survives an AZ loss), `single` (cheap), `none` "
            "(no internet egress; AWS services are reached through VPC endpoints)."
        ),
    )


class Hosting(_Group):
    """`groundwork:hosting`: the web tier (ALB + autoscaling group)."""

    instance_type: str = Field(
        "t3.small", pattern=_INSTANCE_TYPE_RE, description="EC2 instance type, e.g. t3.small."
    )
    min_size: int = Field(2, ge=1, le=500, description="Minimum instances (1..500).")
    max_size: int = Field(4, ge=1, le=500, description="Maximum instances (1..500), >= minSize.")
    app_port: int = Field(8080, ge=1024, le=65535, description="Port the app listens on.")
    health_check_path: str = Field(
        "/health", pattern=r"^/[A-Za-z0-9._~/-]*$", description="ALB health-check path."
    )
    certificate_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$",
        description="ACM certificate ARN; when set the ALB serves HTTPS and redirects HTTP.",
    )
    domain_name: str | None = Field(
        None,
        pattern=_DOMAIN_RE,
        description="The app's domain (e.g. app.example.com): the stack issues an ACM "
        "certificate for it (DNS validation), points an alias record at the load balancer and "
        "serves HTTPS; needs hostedZoneId.",
    )
    hosted_zone_id: str | None = Field(
        None,
        pattern=r"^Z[A-Z0-9]{1,31}$",
        description="Route 53 public hosted zone that holds domainName (its validation and "
        "alias records go there).",
    )
    cpu_target: float = Field(
        50, ge=10, le=90, description="Target average CPU percent for target tracking."
    )
    deletion_protection: bool = Field(True, description="ALB deletion protection.")
    root_volume_gb: int = Field(20, ge=8, le=1024, description="Root volume size (gp3).")
    health_check_grace_seconds: int = Field(
        300, ge=0, le=3600, description="Seconds before a new instance's health counts."
    )
    min_healthy_percent: int = Field(
        90, ge=0, le=100, description="Instance refresh: percent of capacity kept in service."
    )


class Database(_Group):
    """`groundwork:database`: the RDS PostgreSQL instance and its automated backups."""

    engine_version: str = Field(
        "16", pattern=r"^16(\.\d+)?$", description="PostgreSQL 16 (`16` or `16.x`)."
    )
    instance_class: str = Field(
        "db.t4g.small", pattern=r"^db\.[a-z0-9-]+\.[a-z0-9]+$", description="RDS class."
    )
    allocated_storage_gb: int = Field(20, ge=20, le=65536, description="Initial gp3 storage.")
    max_allocated_storage_gb: int = Field(
        100, ge=20, le=65536, description="Storage autoscaling ceiling, >= allocatedStorageGb."
    )
    multi_az: bool = Field(True, description="Standby in a second AZ.")
    backup_retention_days: int = Field(
        14, ge=1, le=35, description="Automated backups / point-in-time recovery window (1..35)."
    )
    deletion_protection: bool = Field(
        True, description="RDS deletion protection; also Pulumi `protect` on the instance."
    )
    final_snapshot: bool = Field(True, description="Take a final snapshot when deleted.")
    backup_replica_region: str | None = Field(
        None,
        pattern=_REGION_RE,
        description="Replicate automated backups to this region (not the stack's region).",
    )
    database_name: str = Field(
        "app",
        pattern=r"^[a-z][a-z0-9_]{0,62}$",
        description="Name of the database RDS creates (and the logical backup dumps).",
    )
    backup_window: str = Field(
        "02:00-02:30",
        pattern=windows.DAILY_PATTERN,
        description="Daily automated-backup window, hh24:mi-hh24:mi UTC (>= 30 minutes).",
    )
    maintenance_window: str = Field(
        "sun:04:30-sun:05:00",
        pattern=windows.WEEKLY_PATTERN,
        description="Weekly maintenance window, ddd:hh24:mi-ddd:hh24:mi UTC; must not "
        "overlap backupWindow.",
    )
    slow_statement_ms: int = Field(
        1000,
        ge=10,
        le=600_000,
        description="Log statements that run longer than this (log_min_duration_statement).",
    )


class Backups(_Group):
    """`groundwork:backups`: the object-locked backup vault and the logical backup job."""

    lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        "COMPLIANCE",
        description="Object Lock mode: COMPLIANCE (nobody can delete, not even root) or "
        "GOVERNANCE (bypassable with a special permission).",
    )
    lock_days: int = Field(30, ge=1, le=36500, description="Default retention of each backup.")
    cold_after_days: int = Field(
        30, ge=0, le=36500, description="Move backups to Glacier Instant Retrieval after this."
    )
    expire_after_days: int = Field(
        90, ge=1, le=36500, description="Delete backups after this; >= lockDays."
    )
    schedule: str = Field(
        "cron(0 3 * * ? *)",
        pattern=r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\((\S+ ){5}\S+\))$",
        description="EventBridge Scheduler expression for the logical backup (UTC).",
    )
    job_timeout_minutes: int = Field(
        60, ge=5, le=2160, description="The logical backup job is stopped after this."
    )
    job_compute_type: Literal[
        "BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"
    ] = Field(
        "BUILD_GENERAL1_SMALL",
        description="CodeBuild compute of the backup job; the dump is staged on its disk "
        "(small 64 GB, medium 128 GB, large 128 GB).",
    )
    max_backup_age_hours: int = Field(
        26,
        ge=2,
        le=168,
        description="Alarm when no logical backup has succeeded for this many hours; longer "
        "than the schedule's interval.",
    )
    replica_region: str | None = Field(
        None,
        pattern=_REGION_RE,
        description="Replicate the backup vault to an object-locked bucket with its own key "
        "in this region (not aws:region); defaults to database.backupReplicaRegion.",
    )
    break_glass_role_arn: str | None = Field(
        None,
        pattern=_ROLE_ARN_RE,
        description="The only IAM role allowed to schedule deletion of, or disable, the "
        "vault's and the database's KMS keys; unset, nobody is denied (dev).",
    )


class Logging(_Group):
    """`groundwork:logging`: retention of the app's log groups and of audit logs."""

    runtime_retention_days: int = Field(30, description="Runtime log retention (days).")
    error_retention_days: int = Field(90, description="Error log retention (days).")
    audit_retention_days: int = Field(365, description="Flow logs and other audit logs (days).")


class Alerts(_Group):
    """`groundwork:alerts`: who gets alarm notifications."""

    emails: list[Annotated[str, StringConstraints(pattern=_EMAIL_RE)]] = Field(
        default_factory=list, description="E-mail addresses subscribed to the alerts topic."
    )


_Percent = Annotated[float, Field(gt=0, le=1000)]


class Cost(_Group):
    """`groundwork:cost`: spend alerts for this stack (AWS Budgets, Cost Anomaly Detection)."""

    monthly_budget_usd: float = Field(
        100,
        gt=0,
        le=1_000_000,
        description="Monthly budget (USD) of the resources tagged with this stack's cost "
        "allocation tag; the dev policy pack also holds the estimate's maximum under it.",
    )
    thresholds: dict[Literal["actual", "forecast"], list[_Percent]] = Field(
        {"actual": [80, 100], "forecast": [100]},
        description="Budget notifications: percentages of the budget for actual and forecasted "
        "spend (at most 10 in all, each list without repeats).",
    )
    anomaly_threshold_usd: float = Field(
        20,
        gt=0,
        le=1_000_000,
        description="Cost Anomaly Detection alerts on anomalies with a total impact of at least "
        "this many USD.",
    )
    allocation_tag_key: str = Field(
        "Environment",
        min_length=1,
        max_length=128,
        description="Key of the aws:defaultTags tag that marks this stack's spend (activate it "
        "once as a cost allocation tag, docs/cost.md).",
    )


class Analytics(_Group):
    """`groundwork:analytics`: product analytics retention (GDPR storage limitation)."""

    retention_days: int = Field(
        395, ge=1, le=3650, description="Raw events are deleted after this many days."
    )
    query_results_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Athena query results are deleted after this many days; <= retentionDays.",
    )
    query_scan_limit_gb: int = Field(
        10,
        ge=1,
        le=10240,
        description="Athena cancels a query that scans more than this many GiB (cost guard).",
    )
    buffer_interval_seconds: int = Field(
        300,
        ge=60,
        le=900,
        description="Firehose writes a file at least this often (60..900 s; dev: 60 to see "
        "events sooner).",
    )


class Alarms(_Group):
    """`groundwork:alarms`: thresholds of the baseline alarms (phase 1)."""

    alb_5xx_per_minute: int = Field(
        5,
        ge=0,
        le=1_000_000,
        alias="alb5xxPerMinute",
        description="Alarm when more 5xx responses (app + load balancer) than this per minute.",
    )
    target_5xx_per_minute: int = Field(
        5,
        ge=0,
        le=1_000_000,
        alias="target5xxPerMinute",
        description="Alarm (and roll a deployment back) when the app itself returns more 5xx "
        "responses than this per minute.",
    )
    target_response_time_seconds: float = Field(
        1.0, gt=0, le=60, description="Alarm when p95 target response time exceeds this (s)."
    )
    unhealthy_hosts: int = Field(
        0, ge=0, le=500, description="Alarm when more targets than this fail health checks."
    )
    asg_below_min_minutes: int = Field(
        15,
        ge=1,
        le=120,
        description="Alarm when in-service instances stay below minSize this many minutes "
        "(longer than a rolling instance replacement).",
    )
    evaluation_periods: int = Field(
        5, ge=1, le=60, description="One-minute periods each alarm looks at (N of 'M of N')."
    )
    datapoints_to_alarm: int = Field(
        3,
        ge=1,
        le=60,
        description="Breaching minutes among them that raise it; <= evaluationPeriods.",
    )
    db_cpu_percent: float = Field(
        80, gt=0, le=100, description="Alarm when database CPU exceeds this percent."
    )
    db_free_storage_gb: float = Field(
        5,
        gt=0,
        le=65536,
        description="Alarm when database free storage falls below this (GiB); < "
        "database.allocatedStorageGb.",
    )
    db_freeable_memory_mb: int = Field(
        256, ge=1, le=4_194_304, description="Alarm when freeable memory falls below (MiB)."
    )
    db_connections: int = Field(
        80, ge=1, le=100_000, description="Alarm when database connections exceed this."
    )
    error_log_events_per_minute: int = Field(
        5,
        ge=0,
        le=1_000_000,
        description="Alarm when more error records (error log or runtime ERROR lines) than this "
        "per minute.",
    )


class Rum(_Group):
    """`groundwork:rum`: CloudWatch RUM (phase `pmf` and later)."""

    domain: str | None = Field(
        None,
        pattern=r"^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}$",
        description="The web app's domain; defaults to hosting.domainName; required from "
        "phase `pmf`.",
    )
    session_sample_rate: float = Field(
        0.1, ge=0, le=1, description="Share of sessions recorded (0..1)."
    )
    allow_cookies: bool = Field(
        False, description="Let the RUM client set cookies (needs consent in the EU)."
    )
    log_retention_days: int = Field(
        30,
        description="Days the copy of RUM events in CloudWatch Logs is kept (a value CloudWatch "
        "Logs accepts); RUM itself keeps events 30 days.",
    )


class Pipeline(_Group):
    """`groundwork:pipeline`: where releases come from and whether a human approves them."""

    source: Literal["s3", "github"] = Field("s3", description="`s3` bundle or `github`.")
    repository: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", description="GitHub owner/name."
    )
    branch: str = Field("main", min_length=1, description="Branch that releases.")
    connection_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:"
        r"connection/[A-Za-z0-9-]+$",
        description="CodeStar/CodeConnections connection ARN; required for `github`.",
    )
    require_approval: bool = Field(True, description="Manual approval before deploy.")
    source_key: str = Field(
        "releases/app.zip",
        pattern=r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*\.zip$",
        max_length=1024,
        description="Object key of the release bundle (a .zip) in the source bucket (`s3`).",
    )
    buildspec: str = Field(
        "buildspec.yml",
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*\.ya?ml$",
        description="Path of the buildspec inside the source (the app's `buildspec.yml`).",
    )
    build_timeout_minutes: int = Field(
        20, ge=5, le=480, description="The Test stage's CodeBuild timeout (5..480 minutes)."
    )
    build_compute_type: Literal[
        "BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"
    ] = Field("BUILD_GENERAL1_SMALL", description="CodeBuild compute type of the Test stage.")
    artifact_retention_days: int = Field(
        365,
        ge=30,
        le=3650,
        description=(
            "Days pipeline artifacts (the deploy bundles) and superseded source versions are "
            "kept; release at least this often, new instances install the last bundle."
        ),
    )


class Scaling(_Group):
    """`groundwork:scaling`: performance-driven scaling (phase `growth`)."""

    requests_per_target: int = Field(
        1000, ge=1, le=1_000_000, description="ALB requests per target per minute to track."
    )
    latency_p95_ms: int = Field(500, ge=10, le=60000, description="p95 latency target (ms).")
    predictive: bool = Field(False, description="Predictive scaling (forecast and scale).")
    instance_warmup_seconds: int = Field(
        300, ge=0, le=3600, description="Default instance warmup for scaling metrics."
    )
    latency_evaluation_periods: int = Field(
        5, ge=1, le=60, description="Minutes the p95 latency alarm looks back (N of `M of N`)."
    )
    latency_datapoints_to_alarm: int = Field(
        3,
        ge=1,
        le=60,
        description="Minutes of those that must exceed latencyP95Ms to alarm and scale out (M).",
    )
    scheduling_buffer_seconds: int = Field(
        300,
        ge=0,
        le=3600,
        description="Predictive scaling launches forecast capacity this many seconds early.",
    )
    warm_pool: bool = Field(
        False,
        description="Keep pre-initialised instances in a warm pool (phase `growth`); refused "
        "while the pipeline deploys with CodeDeploy (aws-codedeploy-agent#390).",
    )
    warm_pool_min_size: int = Field(
        0, ge=0, le=500, description="Instances the warm pool keeps at least (<= maxSize)."
    )
    warm_pool_state: Literal["Stopped", "Running"] = Field(
        "Stopped", description="State of warm-pool instances: `Stopped` (cheap) or `Running`."
    )


class Performance(_Group):
    """`groundwork:performance`: performance alarms and the synthetic check (phase `growth`)."""

    error_rate_percent: float = Field(
        5, gt=0, le=100, description="Alarm when 5xx responses exceed this percent of requests."
    )
    request_anomaly_band: float = Field(
        3,
        ge=1,
        le=10,
        description="Width (standard deviations) of the request-count anomaly band.",
    )
    canary_interval_minutes: int = Field(
        5, ge=1, le=60, description="Minutes between synthetic health checks."
    )
    canary_runtime: str = Field(
        "syn-python-selenium-14.0",
        pattern=r"^syn-python-selenium-\d+\.\d+$",
        description="CloudWatch Synthetics Python runtime of the health-check canary.",
    )
    canary_url: str | None = Field(
        None,
        pattern=r"^https?://[A-Za-z0-9.-]+(:\d+)?$",
        description="Base URL the canary checks (scheme and host, no path); defaults to "
        "https://<hosting.domainName>, else the load balancer's URL; required when "
        "hosting.certificateArn is set without hosting.domainName.",
    )
    canary_artifact_days: int = Field(
        14, ge=1, le=455, description="Days canary run artifacts (S3) and run data are kept."
    )


_HTTPS_URL_RE = r"^https://[A-Za-z0-9.-]+(:\d+)?(/[^\s]*)?$"


class Oidc(_Group):
    """An OpenID Connect identity provider the load balancer authenticates users with."""

    issuer: str = Field(pattern=_HTTPS_URL_RE, description="OIDC issuer URL of the IdP.")
    authorization_endpoint: str = Field(pattern=_HTTPS_URL_RE, description="IdP endpoint.")
    token_endpoint: str = Field(pattern=_HTTPS_URL_RE, description="IdP token endpoint.")
    user_info_endpoint: str = Field(pattern=_HTTPS_URL_RE, description="IdP user-info endpoint.")
    client_id: str = Field(min_length=1, description="OAuth 2.0 client id of this app.")
    client_secret: SecretStr = Field(
        description="OAuth 2.0 client secret; must be set as a secret "
        "(`pulumi config set --secret --path groundwork:auth.oidc.clientSecret ...`)."
    )
    scope: str = Field("openid email", min_length=1, description="Scopes the ALB requests.")
    session_timeout_seconds: int = Field(
        43200, ge=1, le=604800, description="ALB session cookie lifetime (1..604800 s)."
    )


class Auth(_Group):
    """`groundwork:auth`: who may call the app. Unset: no authentication at the edge, and the
    app treats every caller as an anonymous session."""

    oidc: Oidc | None = Field(
        None,
        description="ALB OIDC authentication on the HTTPS listener: {issuer, "
        "authorizationEndpoint, tokenEndpoint, userInfoEndpoint, clientId, clientSecret "
        "(secret), scope, sessionTimeoutSeconds}; needs hosting.domainName or certificateArn.",
    )


class Audit(_Group):
    """`groundwork:audit`: the account's audit trail (CloudTrail) and the alarms on it."""

    enabled: bool = Field(
        True, description="Record the account's API activity and alarm on the dangerous parts."
    )
    existing_trail_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:trail/[A-Za-z0-9._-]{3,128}$",
        description="An organisation trail that already records this account; set it and the "
        "stack creates no second trail.",
    )
    existing_trail_log_group_name: str | None = Field(
        None,
        pattern=r"^[.\-_/#A-Za-z0-9]{1,512}$",
        description="A log group in this account that receives the existing trail; the audit "
        "alarms are put on it. Unset with existingTrailArn: no alarms (the organisation owns "
        "them).",
    )
    lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        "COMPLIANCE",
        description="Object Lock mode of the trail bucket: COMPLIANCE (nobody can delete a log "
        "file early) or GOVERNANCE (bypassable with a special permission).",
    )
    lock_days: int = Field(
        365, ge=1, le=36500, description="Days each trail log file is locked against deletion."
    )
    expire_after_days: int = Field(
        400, ge=1, le=36500, description="Delete trail log files after this; >= lockDays."
    )


class Edge(_Group):
    """`groundwork:edge`: the web application firewall and access logs of the load balancer."""

    waf_mode: Literal["block", "count"] = Field(
        "block",
        description="`block`: the firewall's rules block what they match; `count`: they only "
        "count and log it (to tune rules on a developer stack).",
    )
    rate_limit_per5_min: int = Field(
        2000,
        ge=10,
        le=2_000_000_000,
        alias="rateLimitPer5Min",
        description="Requests one client IP may send in any 5 minutes before the rate rule "
        "acts on it (AWS WAF accepts 10..2e9).",
    )
    access_log_expire_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Days the load balancer's access logs are kept in their bucket.",
    )


class AssumeRole(_Group):
    """One entry of `aws:assumeRoles` (the provider's assume-role chain)."""

    role_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    session_name: str | None = None
    external_id: str | None = None
    duration: str | None = None
    policy: str | None = None
    policy_arns: list[str] | None = None
    source_identity: str | None = None
    tags: dict[str, str] | None = None
    transitive_tag_keys: list[str] | None = None


class AwsProvider(BaseModel):
    """The stack's `aws:` provider settings that every explicit `aws.Provider` must repeat.

    The default provider reads them itself; a provider the program constructs (another
    region) reads nothing, so without them it would act with other credentials or in another
    account. `secret_keys` names the `aws:` keys that were set with `--secret`.
    """

    model_config = ConfigDict(frozen=True)

    profile: str | None = None
    shared_config_files: tuple[str, ...] = ()
    shared_credentials_files: tuple[str, ...] = ()
    assume_roles: tuple[AssumeRole, ...] = ()
    allowed_account_ids: tuple[str, ...] = ()
    forbidden_account_ids: tuple[str, ...] = ()
    skip_credentials_validation: bool | None = None
    secret_keys: frozenset[str] = frozenset()

    def is_secret(self, key: str) -> bool:
        """Whether `aws:<key>` (camelCase) was set as a secret."""
        return f"aws:{key}" in self.secret_keys


# Structured config keys: `groundwork:<key>` -> model. Scalar keys are declared in Pulumi.yaml.
GROUPS: dict[str, type[_Group]] = {
    "network": Network,
    "hosting": Hosting,
    "database": Database,
    "backups": Backups,
    "logging": Logging,
    "alerts": Alerts,
    "analytics": Analytics,
    "alarms": Alarms,
    "rum": Rum,
    "pipeline": Pipeline,
    "scaling": Scaling,
    "performance": Performance,
    "auth": Auth,
    "cost": Cost,
    "audit": Audit,
    "edge": Edge,
}
# Scalar keys: name -> (Pulumi project config type, default, description). Pulumi.yaml declares
# exactly these (a test keeps them in step).
SCALARS: dict[str, tuple[str, str, str]] = {
    "phase": (
        "string",
        "early",
        "Company phase: early (phase 1), pmf (adds real user monitoring), growth (adds "
        "performance monitoring and performance-driven scaling).",
    ),
    "protect": (
        "boolean",
        "true",
        "Pulumi protect on stateful resources (database, backup vault, analytics bucket, KMS "
        "keys, log groups).",
    ),
}


class Settings(BaseModel):
    """Everything the program needs from the stack config, validated."""

    model_config = ConfigDict(frozen=True)

    project: str
    stack: str
    region: str
    default_tags: dict[str, str]
    aws: AwsProvider = AwsProvider()
    phase: Literal["early", "pmf", "growth"]
    protect: bool
    network: Network
    hosting: Hosting
    database: Database
    backups: Backups
    logging: Logging
    alerts: Alerts
    analytics: Analytics
    alarms: Alarms
    rum: Rum
    pipeline: Pipeline
    scaling: Scaling
    performance: Performance
    auth: Auth
    cost: Cost
    audit: Audit
    edge: Edge

    def at_least(self, phase: str) -> bool:
        """True when the stack's phase is `phase` or later."""
        return PHASES.index(self.phase) >= PHASES.index(phase)

    @property
    def https(self) -> bool:
        """The load balancer serves HTTPS (own certificate, or one issued for domainName)."""
        return bool(self.hosting.certificate_arn or self.hosting.domain_name)

    @property
    def app_domain(self) -> str | None:
        """The domain people reach the app on: rum.domain, else hosting.domainName."""
        return self.rum.domain or self.hosting.domain_name

    @property
    def site_url(self) -> str | None:
        """https://<hosting.domainName> when the stack owns a domain; None otherwise."""
        return f"https://{self.hosting.domain_name}" if self.hosting.domain_name else None


class SettingsError(ValueError):
    """Every problem found in the stack config, one per line."""

    def __init__(self, stack: str, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid configuration for stack {stack!r} ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}):\n{lines}"
        )


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_TYPE_NAMES: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "a value")


_TYPE_WORDS = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean (true or false)",
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
}


def _describe(error: Any, model: type[BaseModel] | None, value: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        allowed = sorted(f.alias or n for n, f in (model.model_fields if model else {}).items())
        hint = difflib.get_close_matches(str(error["loc"][-1]), allowed, n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        return f"is not a known key (allowed: {', '.join(allowed)}){suggestion}"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]} (got {_show(got)}, {_type_name(got)})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_show(got)})"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">",
              "less_than_equal": "<=", "less_than": "<"}[kind]  # fmt: skip
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound} (got {_show(got)})"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')} (got {_show(got)})"
    if kind == "string_too_short":
        return f"must not be empty (got {_show(got)})"
    return f"{error['msg'].lower()} (got {_show(got)})"


def _field_errors(prefix: str, model: type[_Group], exc: ValidationError, raw: Any) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        # Name the key the user wrote: list items as `emails[1]`.
        key = prefix
        for part in loc:
            key += f"[{part}]" if part.isdigit() else f".{part}"
        problems.append(f"{key} {_describe(error, model, raw)}")
    return problems


def _check_log_retention(group: Logging) -> Iterable[tuple[str, str]]:
    for field in ("runtime_retention_days", "error_retention_days", "audit_retention_days"):
        value = getattr(group, field)
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
            yield to_camel(field), f"must be one CloudWatch Logs accepts ({allowed}) (got {value})"


def _check_network(group: Network) -> Iterable[tuple[str, str]]:
    try:
        net = ipaddress.ip_network(group.cidr, strict=True)
    except ValueError as exc:
        yield "cidr", f"must be an IPv4 network like 10.0.0.0/16 ({exc}) (got {group.cidr!r})"
        return
    if net.version != 4:
        yield "cidr", f"must be an IPv4 network (got {group.cidr!r})"
        return
    if not net.is_private:
        yield "cidr", f"must be a private (RFC 1918) range (got {group.cidr!r})"
    if net.prefixlen < subnets.MIN_VPC_PREFIX:
        yield (
            "cidr",
            (
                f"must be /{subnets.MIN_VPC_PREFIX} or smaller, the largest VPC AWS allows "
                f"(got {group.cidr!r})"
            ),
        )
    subnet_prefix = net.prefixlen + subnets.SLOT_BITS
    if subnet_prefix > subnets.MAX_SUBNET_PREFIX:
        yield (
            "cidr",
            (
                f"is too small for the subnets: 16 subnet slots of /{subnet_prefix} each, but an "
                f"ALB subnet must be /{subnets.MAX_SUBNET_PREFIX} or larger; use /"
                f"{subnets.MAX_SUBNET_PREFIX - subnets.SLOT_BITS} or larger (got {group.cidr!r})"
            ),
        )


def _check_windows(group: Database) -> Iterable[tuple[str, str]]:
    bad = False
    for key, parse, text in (
        ("backupWindow", windows.parse_daily, group.backup_window),
        ("maintenanceWindow", windows.parse_weekly, group.maintenance_window),
    ):
        try:
            parse(text)
        except windows.WindowError as exc:
            bad = True
            yield key, f"is not accepted by RDS: {exc}"
    if bad:
        return
    if shared := windows.overlap_minutes(group.backup_window, group.maintenance_window):
        yield (
            "maintenanceWindow",
            f"must not overlap backupWindow {group.backup_window!r} (got "
            f"{group.maintenance_window!r}, {shared} minutes shared)",
        )


_RATE_RE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")


def schedule_interval_hours(expression: str) -> float | None:
    """Hours between runs of a `rate(...)` expression; None for cron (not derived)."""
    match = _RATE_RE.match(expression)
    if not match:
        return None
    per_unit = {"minute": 1 / 60, "hour": 1, "day": 24}[match.group(2).rstrip("s")]
    return int(match.group(1)) * per_unit


def _check_backup_job(b: Backups, network: Network | None) -> Iterable[tuple[str, str]]:
    ns = NAMESPACE
    interval = schedule_interval_hours(b.schedule)
    if interval is not None and interval >= b.max_backup_age_hours:
        yield (
            f"{ns}:backups.maxBackupAgeHours",
            f"must be longer than the schedule's interval, or every run raises the missed-"
            f"backup alarm (got {b.max_backup_age_hours} h for {b.schedule!r})",
        )
    if network is not None and network.nat_gateways == "none":
        yield (
            f"{ns}:network.natGateways",
            "must be 'single' or 'perAz': the logical backup job installs the PostgreSQL 16 "
            "client and fetches the RDS CA bundle over outbound HTTPS (got 'none')",
        )


def _check_audit(a: Audit) -> Iterable[tuple[str, str]]:
    if a.expire_after_days < a.lock_days:
        yield (
            "expireAfterDays",
            f"must be >= lockDays, a log file cannot expire while locked "
            f"(got {a.expire_after_days} < {a.lock_days})",
        )
    if a.existing_trail_log_group_name and not a.existing_trail_arn:
        yield (
            "existingTrailLogGroupName",
            "needs existingTrailArn, the trail that delivers to it "
            f"(got {a.existing_trail_log_group_name!r} without a trail)",
        )


def _cross_checks(s: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """Rules that span fields or groups; yields (full key, message)."""
    ns = NAMESPACE
    if (h := s.get("hosting")) and h.min_size > h.max_size:
        yield f"{ns}:hosting.minSize", f"must be <= maxSize (got {h.min_size} > {h.max_size})"
    if (d := s.get("database")) is not None:
        if d.max_allocated_storage_gb < d.allocated_storage_gb:
            yield (
                f"{ns}:database.maxAllocatedStorageGb",
                f"must be >= allocatedStorageGb (got {d.max_allocated_storage_gb} < "
                f"{d.allocated_storage_gb})",
            )
        region = s.get("region")
        if d.backup_replica_region and d.backup_replica_region == region:
            yield (
                f"{ns}:database.backupReplicaRegion",
                f"must differ from aws:region, a replica in the same region survives nothing "
                f"more (got {d.backup_replica_region!r})",
            )
        for key, msg in _check_windows(d):
            yield f"{ns}:database.{key}", msg
    if (b := s.get("backups")) is not None:
        for key, msg in _check_backup_job(b, s.get("network")):
            yield key, msg
        if b.replica_region and b.replica_region == s.get("region"):
            yield (
                f"{ns}:backups.replicaRegion",
                f"must differ from aws:region, a replica in the same region survives nothing "
                f"more (got {b.replica_region!r})",
            )
        if b.expire_after_days < b.lock_days:
            yield (
                f"{ns}:backups.expireAfterDays",
                f"must be >= lockDays, a backup cannot expire while locked "
                f"(got {b.expire_after_days} < {b.lock_days})",
            )
        if b.cold_after_days >= b.expire_after_days:
            yield (
                f"{ns}:backups.coldAfterDays",
                f"must be < expireAfterDays (got {b.cold_after_days} >= {b.expire_after_days})",
            )
    if (lg := s.get("logging")) is not None:
        for key, msg in _check_log_retention(lg):
            yield f"{ns}:logging.{key}", msg
    if (n := s.get("network")) is not None:
        for key, msg in _check_network(n):
            yield f"{ns}:network.{key}", msg
    if (p := s.get("pipeline")) is not None and p.source == "github":
        for key, value in (("connectionArn", p.connection_arn), ("repository", p.repository)):
            if not value:
                yield f"{ns}:pipeline.{key}", "is required when source is 'github' (got nothing)"
    if (a := s.get("analytics")) is not None and (
        a.query_results_retention_days > a.retention_days
    ):
        yield (
            f"{ns}:analytics.queryResultsRetentionDays",
            f"must be <= retentionDays, results hold data derived from the events "
            f"(got {a.query_results_retention_days} > {a.retention_days})",
        )
    if (al := s.get("alarms")) is not None:
        if al.datapoints_to_alarm > al.evaluation_periods:
            yield (
                f"{ns}:alarms.datapointsToAlarm",
                f"must be <= evaluationPeriods (got {al.datapoints_to_alarm} > "
                f"{al.evaluation_periods})",
            )
        if (d := s.get("database")) is not None and (
            al.db_free_storage_gb >= d.allocated_storage_gb
        ):
            yield (
                f"{ns}:alarms.dbFreeStorageGb",
                f"must be < {ns}:database.allocatedStorageGb, or the alarm fires from the start "
                f"(got {al.db_free_storage_gb:g} >= {d.allocated_storage_gb})",
            )
    phase = s.get("phase")
    if h and bool(h.domain_name) != bool(h.hosted_zone_id):
        missing, given = (
            ("hostedZoneId", "domainName") if h.domain_name else ("domainName", "hostedZoneId")
        )
        yield (
            f"{ns}:hosting.{missing}",
            f"is required with hosting.{given} (the certificate's validation record and the "
            "alias record go into that zone) (got nothing)",
        )
    domain = h.domain_name if h else None
    if (r := s.get("rum")) is not None and phase in ("pmf", "growth") and not (r.domain or domain):
        yield (
            f"{ns}:rum.domain",
            f"is required from phase 'pmf' on, unless hosting.domainName is set (phase is "
            f"{phase!r})",
        )
    if r is not None and r.log_retention_days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        yield (
            f"{ns}:rum.logRetentionDays",
            f"must be one CloudWatch Logs accepts ({allowed}) (got {r.log_retention_days})",
        )
    if (sc := s.get("scaling")) is not None:
        if sc.latency_datapoints_to_alarm > sc.latency_evaluation_periods:
            yield (
                f"{ns}:scaling.latencyDatapointsToAlarm",
                f"must be <= latencyEvaluationPeriods (got {sc.latency_datapoints_to_alarm} > "
                f"{sc.latency_evaluation_periods})",
            )
        if sc.warm_pool and h and sc.warm_pool_min_size > h.max_size:
            yield (
                f"{ns}:scaling.warmPoolMinSize",
                f"must be <= hosting.maxSize (got {sc.warm_pool_min_size} > {h.max_size})",
            )
    https = h is not None and bool(h.certificate_arn or h.domain_name)
    if (au := s.get("auth")) is not None and au.oidc is not None and h and not https:
        # "authenticate-oidc" is an action of HTTPS listeners only:
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html
        yield (
            f"{ns}:auth.oidc",
            "needs hosting.domainName or hosting.certificateArn: the load balancer "
            "authenticates users only on its HTTPS listener (got neither)",
        )
    if sc is not None and sc.warm_pool and s.get("pipeline") is not None:
        # The pipeline always deploys with CodeDeploy (components/pipeline.py).
        yield (
            f"{ns}:scaling.warmPool",
            "must be false while the pipeline deploys with CodeDeploy: CodeDeploy's launch "
            "hook is not handled for instances entering the warm pool (Warmed:Pending:Wait), so "
            "warmed instances would miss releases (aws-codedeploy-agent issue #390, open) "
            "(got true)",
        )
    if (au := s.get("audit")) is not None:
        for key, msg in _check_audit(au):
            yield f"{ns}:audit.{key}", msg
    pf = s.get("performance")
    if (
        phase == "growth"
        and pf is not None
        and h
        and h.certificate_arn
        and not h.domain_name
        and not pf.canary_url
    ):
        # With a certificate the ALB serves HTTPS for your domain, not for its own DNS name: a
        # canary pointed at the ALB would fail TLS verification on every run.
        yield (
            f"{ns}:performance.canaryUrl",
            "is required when hosting.certificateArn is set without hosting.domainName (the "
            "canary must check the domain the certificate is for, e.g. "
            "https://app.example.com) (got nothing)",
        )


def _plain_text_credentials(parsed: dict[str, Any], secret_keys: Iterable[str] | None) -> list[str]:
    """A credential written into the stack file in plain text is refused (it would sit in
    git and in every copy of the file)."""
    auth = parsed.get("auth")
    if secret_keys is None or auth is None or auth.oidc is None:
        return []
    if f"{NAMESPACE}:auth" in set(secret_keys):
        return []
    return [
        f"{NAMESPACE}:auth.oidc.clientSecret must be a secret: set it with `pulumi config set "
        f"--secret --path {NAMESPACE}:auth.oidc.clientSecret <value>` (got plain text)"
    ]


# "A budget can have up to ten notifications."
# https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Notification.html
MAX_BUDGET_NOTIFICATIONS = 10


def _check_cost(c: Cost, tags: Mapping[str, str]) -> Iterable[tuple[str, str]]:
    key = f"{NAMESPACE}:cost"
    if c.allocation_tag_key not in tags:
        have = ", ".join(sorted(tags)) or "none"
        yield (
            f"{key}.allocationTagKey",
            f"must name a tag of aws:defaultTags, the budget and the anomaly monitor select "
            f"this stack's spend by it (got {c.allocation_tag_key!r}; tags: {have})",
        )
    total = sum(len(v) for v in c.thresholds.values())
    if not 1 <= total <= MAX_BUDGET_NOTIFICATIONS:
        yield (
            f"{key}.thresholds",
            f"must hold 1..{MAX_BUDGET_NOTIFICATIONS} percentages in all, AWS Budgets allows "
            f"{MAX_BUDGET_NOTIFICATIONS} notifications per budget (got {total})",
        )
    for kind, values in sorted(c.thresholds.items()):
        if len(set(values)) != len(values):
            yield f"{key}.thresholds.{kind}", f"must not repeat a percentage (got {values})"


# ---- values a dry run accepts and a real update refuses -----------------------------------
#
# A shipped template (Pulumi.prod.yaml) holds marked placeholders; `pulumi preview` of it must
# work (with warnings) and `pulumi up` must refuse until an operator sets real values. Each
# entry below is one such rule: the full key, when it applies, and how to fix it. Adding a
# rule is adding one entry.

# The placeholder hosted zone the shipped prod file carries (a real zone id never says this).
PLACEHOLDER_ZONE_ID = "ZREPLACEWITHYOURZONEID"


def is_reserved_domain(domain: str) -> bool:
    """True for documentation/test domains and their subdomains (RFC 2606, RFC 6761)."""
    name = domain.lower().rstrip(".")
    return any(name == r or name.endswith(f".{r}") for r in RESERVED_DOMAINS)


def real_recipients(s: Settings) -> list[str]:
    """Alert addresses that can receive mail (not on a reserved domain)."""
    return [e for e in s.alerts.emails if not is_reserved_domain(e.rsplit("@", 1)[-1])]


def _placeholder_break_glass(s: Settings) -> bool:
    arn = s.backups.break_glass_role_arn
    return bool(arn) and arn.split(":")[4] == PLACEHOLDER_ACCOUNT


def _no_real_domain(s: Settings) -> bool:
    return not s.hosting.domain_name or is_reserved_domain(s.hosting.domain_name)


@dataclass(frozen=True)
class UpdateRule:
    """A value a real update must not deploy: `key` (full), when it `applies`, and `why`."""

    key: str
    applies: Callable[[Settings], bool]
    why: str


_EMAIL_HINT = (
    "pulumi config set --secret --path 'groundwork:alerts.emails[0]' oncall@yourcompany.com"
)
UPDATE_RULES: tuple[UpdateRule, ...] = (
    UpdateRule(
        f"{NAMESPACE}:alerts.emails",
        lambda s: s.protect and not real_recipients(s),
        "has no recipient outside reserved domains (example.com, .test, ...): alarms, "
        f"approvals and failure notices would reach no one; set one with `{_EMAIL_HINT}`",
    ),
    UpdateRule(
        f"{NAMESPACE}:hosting.domainName",
        lambda s: s.protect and not s.hosting.certificate_arn and _no_real_domain(s),
        "is not a domain you own (nothing, or a reserved placeholder): a protected stack "
        "serves HTTPS only; set your domain and its hosted zone with `pulumi config set "
        "--path groundwork:hosting.domainName app.yourcompany.com` (or set "
        "groundwork:hosting.certificateArn)",
    ),
    UpdateRule(
        f"{NAMESPACE}:hosting.hostedZoneId",
        lambda s: s.hosting.hosted_zone_id == PLACEHOLDER_ZONE_ID,
        "is the shipped placeholder; set the Route 53 hosted zone of your domain with "
        "`pulumi config set --path groundwork:hosting.hostedZoneId Z0123456789ABCDEFGHIJ`",
    ),
    UpdateRule(
        f"{NAMESPACE}:backups.breakGlassRoleArn",
        _placeholder_break_glass,
        f"is a placeholder (account {PLACEHOLDER_ACCOUNT} is AWS's documentation example): "
        "set the ARN of your break-glass IAM role, the only role that may delete or disable "
        "the backup keys, with `pulumi config set --path groundwork:backups.breakGlassRoleArn "
        "arn:aws:iam::<account>:role/<name>`",
    ),
)


def unsafe_for_update(s: Settings) -> list[tuple[str, str]]:
    """(full key, why) of every value a real update must not deploy."""
    return [(rule.key, rule.why) for rule in UPDATE_RULES if rule.applies(s)]


def update_refusal(stack: str, findings: list[tuple[str, str]]) -> str:
    """One message naming every key to set before `pulumi up` (dry runs only warn)."""
    lines = "\n".join(f"  - {key} {why}" for key, why in findings)
    keys = ", ".join(key for key, _ in findings)
    return (
        f"stack {stack!r} is not ready for a real update; set {keys} first "
        f"(`pulumi preview` shows the same as warnings):\n{lines}"
    )


def _parse_bool(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value.strip().lower())


_ACCOUNT_RE = re.compile(r"^\d{12}$")


def _json_value(values: Mapping[str, str], key: str) -> Any:
    raw = values.get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _parse_aws_provider(
    values: Mapping[str, str], secret_keys: Iterable[str]
) -> tuple[AwsProvider | None, list[str]]:
    """The `aws:` keys an explicit provider must inherit; (settings, problems)."""
    problems: list[str] = []
    fields: dict[str, Any] = {
        "secret_keys": frozenset(k for k in secret_keys if k.startswith("aws:"))
    }
    if (profile := values.get("aws:profile")) is not None:
        fields["profile"] = profile
    for key, field in (
        ("allowedAccountIds", "allowed_account_ids"),
        ("forbiddenAccountIds", "forbidden_account_ids"),
        ("sharedConfigFiles", "shared_config_files"),
        ("sharedCredentialsFiles", "shared_credentials_files"),
    ):
        value = _json_value(values, f"aws:{key}")
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"aws:{key} must be a list of strings (got {_show(value)})")
        elif "AccountIds" in key and not all(_ACCOUNT_RE.match(v) for v in value):
            problems.append(f"aws:{key} must list 12-digit account ids (got {_show(value)})")
        else:
            fields[field] = tuple(value)
    # pulumi-aws 7 reads `aws:assumeRoles` (a list); `aws:assumeRole` (one object) is the
    # older spelling, taken as a chain of one.
    roles = _json_value(values, "aws:assumeRoles")
    key = "aws:assumeRoles"
    if roles is None and (single := _json_value(values, "aws:assumeRole")) is not None:
        roles, key = [single], "aws:assumeRole"
    if roles is not None:
        if not isinstance(roles, list) or not all(isinstance(r, dict) for r in roles):
            problems.append(f"{key} must be a list of objects (got {_show(roles)})")
        else:
            parsed: list[AssumeRole] = []
            for i, role in enumerate(roles):
                try:
                    parsed.append(AssumeRole.model_validate(role))
                except ValidationError as exc:
                    problems.extend(_field_errors(f"{key}[{i}]", AssumeRole, exc, role))
            fields["assume_roles"] = tuple(parsed)
    if (skip := values.get("aws:skipCredentialsValidation")) is not None:
        flag = _parse_bool(skip)
        if flag is None:
            problems.append(f"aws:skipCredentialsValidation must be a boolean (got {skip!r})")
        else:
            fields["skip_credentials_validation"] = flag
    return (None if problems else AwsProvider(**fields)), problems


def parse(
    values: Mapping[str, str],
    *,
    project: str,
    stack: str,
    secret_keys: Iterable[str] | None = None,
) -> Settings:
    """Validate the flat config map the CLI passes (`ns:key -> str`, objects JSON-encoded).

    `secret_keys` (the keys the CLI marks secret) lets it refuse a credential in plain text.
    """
    ns = NAMESPACE
    problems: list[str] = []
    parsed: dict[str, Any] = {}

    known = {f"{ns}:{k}" for k in (*GROUPS, *SCALARS)}
    for key in sorted(k for k in values if k.startswith(f"{ns}:") and k not in known):
        hint = difflib.get_close_matches(key, sorted(known), n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        problems.append(
            f"{key} is not a known key (allowed: {', '.join(sorted(known))}){suggestion}"
        )

    region = values.get("aws:region")
    if not region:
        problems.append("aws:region is required (pulumi config set aws:region eu-west-1)")
    elif not re.match(_REGION_RE, region):
        problems.append(f"aws:region must be an AWS region like eu-west-1 (got {region!r})")
    else:
        parsed["region"] = region

    tags: dict[str, str] = {}
    raw_tags = values.get("aws:defaultTags")
    if raw_tags:
        try:
            doc = json.loads(raw_tags)
            tags = doc.get("tags", {}) if isinstance(doc, dict) else None
            if not isinstance(tags, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
            ):
                raise ValueError
        except ValueError:
            problems.append(
                f"aws:defaultTags must be an object {{tags: {{Key: value}}}} (got {raw_tags!r})"
            )
            tags = {}
    parsed["default_tags"] = tags
    provider, provider_problems = _parse_aws_provider(values, secret_keys or ())
    problems.extend(provider_problems)
    if provider is not None:
        parsed["aws"] = provider

    phase = values.get(f"{ns}:phase", "early")
    if phase not in PHASES:
        problems.append(f"{ns}:phase must be one of {', '.join(PHASES)} (got {phase!r})")
    else:
        parsed["phase"] = phase

    protect_raw = values.get(f"{ns}:protect", "true")
    protect = _parse_bool(protect_raw)
    if protect is None:
        problems.append(f"{ns}:protect must be a boolean (true or false) (got {protect_raw!r})")
    else:
        parsed["protect"] = protect

    for key, model in GROUPS.items():
        full = f"{ns}:{key}"
        raw_text = values.get(full)
        raw: Any = {}
        if raw_text is not None:
            try:
                raw = json.loads(raw_text)
            except ValueError:
                raw = raw_text
            if not isinstance(raw, dict):
                fields = ", ".join(sorted(f.alias or n for n, f in model.model_fields.items()))
                problems.append(f"{full} must be an object with keys {fields} (got {_show(raw)})")
                continue
        try:
            parsed[key] = model.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_field_errors(full, model, exc, raw))

    problems.extend(f"{key} {msg}" for key, msg in _cross_checks(parsed))
    problems.extend(_plain_text_credentials(parsed, secret_keys))
    # A stack with neither default tags nor a cost group (a bare test config) has no tag to
    # select its spend by: it parses, and the blueprint builds no spend alerts (with a warning).
    if "cost" in parsed and (tags or f"{ns}:cost" in values):
        problems.extend(f"{key} {msg}" for key, msg in _check_cost(parsed["cost"], tags))
    if problems:
        raise SettingsError(stack, problems)
    return Settings(project=project, stack=stack, **_with_derived_defaults(parsed))


def _with_derived_defaults(parsed: dict[str, Any]) -> dict[str, Any]:
    """Defaults taken from another key: the vault replicates where the automated backups do."""
    b, d = parsed.get("backups"), parsed.get("database")
    if b is not None and d is not None and b.replica_region is None:
        parsed["backups"] = b.model_copy(update={"replica_region": d.backup_replica_region})
    return parsed


def load() -> Settings:
    """Read the running stack's config; a bad config stops the program with a plain message."""
    import pulumi  # imported here so the pure parts load without the SDK's runtime state
    from pulumi.runtime import config as runtime_config

    values = _runtime_config()
    secret_keys = [
        *runtime_config.get_config_secret_keys_env(),
        *(k for k in values if runtime_config.is_config_secret(k)),
    ]
    try:
        s = parse(
            values, project=pulumi.get_project(), stack=pulumi.get_stack(), secret_keys=secret_keys
        )
    except SettingsError as exc:
        # RunError prints just the message: no traceback for a config mistake.
        raise pulumi.RunError(str(exc)) from None
    findings = unsafe_for_update(s)
    if findings and pulumi.runtime.is_dry_run():
        for key, why in findings:
            pulumi.log.warn(f"{key} {why} (`pulumi up` refuses this)")
    elif findings:
        raise pulumi.RunError(update_refusal(s.stack, findings))
    return s


def _runtime_config() -> dict[str, str]:
    """Every config value of the stack, as the language host handed it to the program."""
    from pulumi.runtime import config as runtime_config

    # The language host passes config in PULUMI_CONFIG; tests and mocks set it in-process.
    values: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def load_stack_file(stack: str, project_dir: Path) -> Settings:
    """Parse `Pulumi.<stack>.yaml` without the Pulumi runtime (tools and simulations)."""
    from offline import stackfile

    config = stackfile.load(stack, project_dir)
    return parse(config.values, project=config.project, stack=stack, secret_keys=config.secret_keys)


# ---- documentation generated from the models -------------------------------------------


def _secure_value_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"secure": {"type": "string"}},
        "required": ["secure"],
        "additionalProperties": False,
    }


def stack_file_schema() -> dict[str, Any]:
    """JSON Schema of `Pulumi.<stack>.yaml`, generated from the settings models."""
    ns = NAMESPACE
    props: dict[str, Any] = {
        f"{ns}:phase": {"type": "string", "enum": list(PHASES)},
        f"{ns}:protect": {"type": "boolean"},
        "aws:region": {"type": "string", "pattern": _REGION_RE, "description": "AWS region."},
        "aws:defaultTags": {
            "type": "object",
            "properties": {"tags": {"type": "object", "additionalProperties": {"type": "string"}}},
            "additionalProperties": False,
            "description": "Tags the AWS provider adds to every taggable resource.",
        },
    }
    for key, (_, _, description) in SCALARS.items():
        props[f"{ns}:{key}"]["description"] = description
    for key, model in GROUPS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        schema.pop("title", None)
        props[f"{ns}:{key}"] = schema
    known = sorted(props)
    # Any value may be a secret (`pulumi config set --secret`): the file then holds ciphertext.
    props = {key: {"anyOf": [schema, _secure_value_schema()]} for key, schema in props.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://groundwork.invalid/schema/pulumi-stack.schema.json",
        "title": "groundwork Pulumi stack file (Pulumi.<stack>.yaml)",
        "description": "Generated from settings.py by `make schema`; do not edit by hand.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": props,
                # Unknown groundwork:* keys are typos; other namespaces belong to providers.
                "propertyNames": {"anyOf": [{"enum": known}, {"not": {"pattern": f"^{ns}:"}}]},
                "additionalProperties": {
                    "anyOf": [_secure_value_schema(), {"not": {"type": "null"}}]
                },
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "additionalProperties": False,
    }


def _default_text(field: Any) -> str:
    default = field.default
    if default is None:
        return "—"
    if isinstance(default, bool):
        return "`true`" if default else "`false`"
    if field.default_factory is list:
        return "`[]`"
    if isinstance(default, float) and math.isclose(default, round(default)):
        return f"`{int(default)}`"
    return f"`{default}`"


def config_reference() -> str:
    """Markdown table of every structured key, generated from the models (README section)."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, (_, default, description) in SCALARS.items():
        rows.append(f"| `{NAMESPACE}:{key}` | `{default}` | {description} |")
    for key, model in GROUPS.items():
        for name, field in model.model_fields.items():
            alias = field.alias or name
            rows.append(
                f"| `{NAMESPACE}:{key}.{alias}` | {_default_text(field)} | {field.description} |"
            )
    return "\n".join(rows) + "\n"


README_START = "<!-- config-reference:start"
README_END = "<!-- config-reference:end -->"


def readme_with_reference(text: str) -> str:
    """`text` (the README) with the generated config reference between its markers."""
    start = text.index(README_START)
    start = text.index("\n", start) + 1
    end = text.index(README_END)
    return text[:start] + "\n" + config_reference() + "\n" + text[end:]


def _main(argv: list[str]) -> int:
    commands: dict[str, Callable[[], str]] = {
        "schema": lambda: json.dumps(stack_file_schema(), indent=2) + "\n",
        "reference": config_reference,
    }
    if argv == ["readme"]:
        readme = Path(__file__).with_name("README.md")
        readme.write_text(readme_with_reference(readme.read_text()))
        return 0
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m settings {{{'|'.join([*commands, 'readme'])}}}", file=sys.stderr)
        return 2
    sys.stdout.write(commands[argv[0]]())
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
