"""Database rules: RDS instances and Aurora (or Multi-AZ) DB clusters and their instances.

The same meaning for every shape: an `aws:rds/cluster:Cluster` owns backups, snapshots,
deletion protection and storage encryption for its members, so those rules read the cluster;
exposure and Performance Insights are per instance, so they read each `ClusterInstance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import StackSettings
from .props import (
    MISSING,
    Finding,
    Resource,
    as_bool,
    as_number,
    get,
    is_unknown,
    undecided,
    violation,
)

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
# Which types each database rule reads (see the module docstring).
DATA_OWNERS = frozenset({RDS_INSTANCE, RDS_CLUSTER})
NETWORK_MEMBERS = frozenset({RDS_INSTANCE, RDS_CLUSTER_INSTANCE, RDS_CLUSTER})
COMPUTE_MEMBERS = frozenset({RDS_INSTANCE, RDS_CLUSTER_INSTANCE})


def _require_true(r: Resource, key: str, why: str) -> list[Finding]:
    value = get(r.props, key)
    if is_unknown(value):
        return [undecided(key)]
    if as_bool(value) is not True:
        shown = "not set" if value is MISSING else repr(value)
        return [violation(f"{key} is {shown}; {why}")]
    return []


def backup_retention(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    minimum = int(cfg.get("minRetentionDays", 7))
    value = get(r.props, "backupRetentionPeriod")
    if is_unknown(value):
        return [undecided("backupRetentionPeriod")]
    days = as_number(value)
    if days is None or days < minimum:
        shown = "not set" if value is MISSING else repr(value)
        return [violation(f"backupRetentionPeriod is {shown}; at least {minimum} days required")]
    return []


def deletion_protection(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    if not cfg.get("required", True):
        return []
    return _require_true(r, "deletionProtection", "the database must not be deletable by accident")


def final_snapshot(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    findings: list[Finding] = []
    skip = get(r.props, "skipFinalSnapshot")
    if is_unknown(skip):
        findings.append(undecided("skipFinalSnapshot"))
    elif as_bool(skip) is True:
        findings.append(violation("skipFinalSnapshot is true; keep a final snapshot on deletion"))
    ident = get(r.props, "finalSnapshotIdentifier")
    if ident is MISSING or ident == "":
        findings.append(violation("finalSnapshotIdentifier is not set; name the final snapshot"))
    return findings


def storage_encrypted(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    if (
        r.type == RDS_CLUSTER
        and get(r.props, "engineMode") == "serverless"
        and get(r.props, "storageEncrypted") is MISSING
    ):
        return []  # Aurora Serverless v1 clusters are always encrypted (the provider default)
    return _require_true(r, "storageEncrypted", "encrypt the database storage")


def not_public(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    value = get(r.props, "publiclyAccessible")
    if is_unknown(value):
        # Fail closed: exposure to the internet is not something to find out after the apply.
        return [violation("publiclyAccessible is unknown at preview; set it to false literally")]
    if as_bool(value) is True:
        return [violation("publiclyAccessible is true; databases stay in private subnets")]
    return []


def multi_az(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    if not cfg.get("required", True):
        return []
    return _require_true(r, "multiAz", "run a standby in a second availability zone")


def copy_tags_to_snapshot(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    return _require_true(r, "copyTagsToSnapshot", "snapshots must carry the instance's tags")


def keep_automated_backups(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    value = get(r.props, "deleteAutomatedBackups")
    if is_unknown(value):
        return [undecided("deleteAutomatedBackups")]
    if as_bool(value) is not False:
        shown = "not set (defaults to true)" if value is MISSING else repr(value)
        return [
            violation(
                f"deleteAutomatedBackups is {shown}; set it to false to keep backups after deletion"
            )
        ]
    return []


def performance_insights(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    if str(get(r.props, "databaseInsightsMode")).lower() == "advanced":
        return []  # advanced Database Insights runs on Performance Insights
    return _require_true(r, "performanceInsightsEnabled", "turn on Performance Insights")
