"""Rules that span fields or groups, one check function per config group.

Each check takes the groups parsed so far (`parsed`, group name -> model, plus `region` and
`phase`) and yields (full key, message); a group that failed its own field validation is
absent, and the checks that need it are skipped.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from components import subnets, windows
from settings.models import NAMESPACE, Audit, Backups, Cost, Database, Network


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


Checks = Iterable[tuple[str, str]]
_NS = NAMESPACE


def check_hosting(s: dict[str, Any]) -> Checks:
    if (h := s.get("hosting")) is None:
        return
    if h.min_size > h.max_size:
        yield f"{_NS}:hosting.minSize", f"must be <= maxSize (got {h.min_size} > {h.max_size})"
    if bool(h.domain_name) != bool(h.hosted_zone_id):
        missing, given = (
            ("hostedZoneId", "domainName") if h.domain_name else ("domainName", "hostedZoneId")
        )
        yield (
            f"{_NS}:hosting.{missing}",
            f"is required with hosting.{given} (the certificate's validation record and the "
            "alias record go into that zone) (got nothing)",
        )


def check_database(s: dict[str, Any]) -> Checks:
    if (d := s.get("database")) is None:
        return
    if d.max_allocated_storage_gb < d.allocated_storage_gb:
        yield (
            f"{_NS}:database.maxAllocatedStorageGb",
            f"must be >= allocatedStorageGb (got {d.max_allocated_storage_gb} < "
            f"{d.allocated_storage_gb})",
        )
    if d.backup_replica_region and d.backup_replica_region == s.get("region"):
        yield (
            f"{_NS}:database.backupReplicaRegion",
            f"must differ from aws:region, a replica in the same region survives nothing "
            f"more (got {d.backup_replica_region!r})",
        )
    for key, msg in _check_windows(d):
        yield f"{_NS}:database.{key}", msg


def check_backups(s: dict[str, Any]) -> Checks:
    if (b := s.get("backups")) is None:
        return
    yield from _check_backup_job(b, s.get("network"))
    if b.replica_region and b.replica_region == s.get("region"):
        yield (
            f"{_NS}:backups.replicaRegion",
            f"must differ from aws:region, a replica in the same region survives nothing "
            f"more (got {b.replica_region!r})",
        )
    if b.expire_after_days < b.lock_days:
        yield (
            f"{_NS}:backups.expireAfterDays",
            f"must be >= lockDays, a backup cannot expire while locked "
            f"(got {b.expire_after_days} < {b.lock_days})",
        )
    if b.cold_after_days >= b.expire_after_days:
        yield (
            f"{_NS}:backups.coldAfterDays",
            f"must be < expireAfterDays (got {b.cold_after_days} >= {b.expire_after_days})",
        )


def check_network(s: dict[str, Any]) -> Checks:
    if (n := s.get("network")) is not None:
        for key, msg in _check_network(n):
            yield f"{_NS}:network.{key}", msg


def check_pipeline(s: dict[str, Any]) -> Checks:
    if (p := s.get("pipeline")) is not None and p.source == "github":
        for key, value in (("connectionArn", p.connection_arn), ("repository", p.repository)):
            if not value:
                yield f"{_NS}:pipeline.{key}", "is required when source is 'github' (got nothing)"


def check_analytics(s: dict[str, Any]) -> Checks:
    a = s.get("analytics")
    if a is not None and a.query_results_retention_days > a.retention_days:
        yield (
            f"{_NS}:analytics.queryResultsRetentionDays",
            f"must be <= retentionDays, results hold data derived from the events "
            f"(got {a.query_results_retention_days} > {a.retention_days})",
        )


def check_alarms(s: dict[str, Any]) -> Checks:
    if (al := s.get("alarms")) is None:
        return
    if al.datapoints_to_alarm > al.evaluation_periods:
        yield (
            f"{_NS}:alarms.datapointsToAlarm",
            f"must be <= evaluationPeriods (got {al.datapoints_to_alarm} > "
            f"{al.evaluation_periods})",
        )
    if (d := s.get("database")) is not None and al.db_free_storage_gb >= d.allocated_storage_gb:
        yield (
            f"{_NS}:alarms.dbFreeStorageGb",
            f"must be < {_NS}:database.allocatedStorageGb, or the alarm fires from the start "
            f"(got {al.db_free_storage_gb:g} >= {d.allocated_storage_gb})",
        )


def check_rum(s: dict[str, Any]) -> Checks:
    r, h, phase = s.get("rum"), s.get("hosting"), s.get("phase")
    domain = h.domain_name if h else None
    if r is not None and phase in ("pmf", "growth") and not (r.domain or domain):
        yield (
            f"{_NS}:rum.domain",
            f"is required from phase 'pmf' on, unless hosting.domainName is set (phase is "
            f"{phase!r})",
        )


def check_scaling(s: dict[str, Any]) -> Checks:
    if (sc := s.get("scaling")) is None:
        return
    h = s.get("hosting")
    if sc.latency_datapoints_to_alarm > sc.latency_evaluation_periods:
        yield (
            f"{_NS}:scaling.latencyDatapointsToAlarm",
            f"must be <= latencyEvaluationPeriods (got {sc.latency_datapoints_to_alarm} > "
            f"{sc.latency_evaluation_periods})",
        )
    if sc.warm_pool and h and sc.warm_pool_min_size > h.max_size:
        yield (
            f"{_NS}:scaling.warmPoolMinSize",
            f"must be <= hosting.maxSize (got {sc.warm_pool_min_size} > {h.max_size})",
        )
    if sc.warm_pool and s.get("pipeline") is not None:
        # The pipeline always deploys with CodeDeploy (components/pipeline.py).
        yield (
            f"{_NS}:scaling.warmPool",
            "must be false while the pipeline deploys with CodeDeploy: CodeDeploy's launch "
            "hook is not handled for instances entering the warm pool (Warmed:Pending:Wait), so "
            "warmed instances would miss releases (aws-codedeploy-agent issue #390, open) "
            "(got true)",
        )


def check_auth(s: dict[str, Any]) -> Checks:
    h = s.get("hosting")
    https = h is not None and bool(h.certificate_arn or h.domain_name)
    if (au := s.get("auth")) is not None and au.oidc is not None and h and not https:
        # "authenticate-oidc" is an action of HTTPS listeners only:
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html
        yield (
            f"{_NS}:auth.oidc",
            "needs hosting.domainName or hosting.certificateArn: the load balancer "
            "authenticates users only on its HTTPS listener (got neither)",
        )


def check_audit(s: dict[str, Any]) -> Checks:
    if (au := s.get("audit")) is not None:
        for key, msg in _check_audit(au):
            yield f"{_NS}:audit.{key}", msg


def check_performance(s: dict[str, Any]) -> Checks:
    pf, h = s.get("performance"), s.get("hosting")
    if s.get("phase") != "growth" or pf is None or not h or pf.canary_url:
        return
    if h.certificate_arn and not h.domain_name:
        # With a certificate the ALB serves HTTPS for your domain, not for its own DNS name: a
        # canary pointed at the ALB would fail TLS verification on every run.
        yield (
            f"{_NS}:performance.canaryUrl",
            "is required when hosting.certificateArn is set without hosting.domainName (the "
            "canary must check the domain the certificate is for, e.g. "
            "https://app.example.com) (got nothing)",
        )


# One check per config group; a new cross-field rule goes into its group's function.
CHECKS: tuple[Callable[[dict[str, Any]], Checks], ...] = (
    check_hosting,
    check_database,
    check_backups,
    check_network,
    check_pipeline,
    check_analytics,
    check_alarms,
    check_rum,
    check_scaling,
    check_auth,
    check_audit,
    check_performance,
)


def cross_checks(parsed: dict[str, Any]) -> Checks:
    """Rules that span fields or groups; yields (full key, message)."""
    for check in CHECKS:
        yield from check(parsed)


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
