"""The settings models: one pydantic model per `groundwork:<group>` config object, the scalar
keys, and `Settings`, everything the program reads from a stack, validated.

Why pydantic v2 models rather than frozen dataclasses: the stack config arrives as untyped
JSON, and pydantic gives strict type checks (a string where a number belongs is an error,
not a silent coercion), `extra="forbid"` (a typo inside a config object is an error), every
field error at once instead of the first, and the JSON Schema of the stack files generated
from the same models (settings.docs).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from components import windows

NAMESPACE = "groundwork"

# Retention values CloudWatch Logs accepts (PutRetentionPolicy); anything else is refused at
# deploy time, so it is refused here first.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def _accepted_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        raise PydanticCustomError(
            "log_retention",
            "must be one CloudWatch Logs accepts ({allowed}) (got {days})",
            {"allowed": allowed, "days": days},
        )
    return days


# A log group's retention: the validator and the schema's enum come from the one tuple above,
# so an editor validating a stack file refuses exactly what `parse` refuses.
LogRetentionDays = Annotated[
    int,
    AfterValidator(_accepted_retention),
    Field(json_schema_extra={"enum": list(LOG_RETENTION_DAYS)}),
]

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

    runtime_retention_days: LogRetentionDays = Field(
        30, description="Runtime log retention (days)."
    )
    error_retention_days: LogRetentionDays = Field(90, description="Error log retention (days).")
    audit_retention_days: LogRetentionDays = Field(
        365, description="Flow logs and other audit logs (days)."
    )


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
    log_retention_days: LogRetentionDays = Field(
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
