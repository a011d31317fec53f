"""S3 rules for backup storage (object-locked buckets) and analytics storage.

pulumi-aws 7 splits a bucket's settings into separate resources (lock configuration,
versioning, public access block, encryption, policy, lifecycle). Stack rules tie them to their
bucket through the property dependencies of their `bucket` input, falling back to the bucket's
name or id. The deprecated V2 type tokens and the deprecated inline bucket arguments are
accepted as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import StackSettings
from .props import (
    MISSING,
    Finding,
    Resource,
    as_bool,
    as_list,
    as_number,
    get,
    is_unknown,
    statements,
    str_values,
    tags_of,
    undecided,
    violation,
)

BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
LOCK = frozenset(
    {
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
    }
)
VERSIONING = frozenset(
    {
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
    }
)
PUBLIC_ACCESS_BLOCK = frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"})
ENCRYPTION = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
POLICY = frozenset({"aws:s3/bucketPolicy:BucketPolicy"})
LIFECYCLE = frozenset(
    {
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    }
)

PURPOSE_TAG = "groundwork:purpose"
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def purpose(bucket: Resource) -> Any:
    tags = tags_of(bucket.props)
    return tags.get(PURPOSE_TAG, MISSING) if isinstance(tags, Mapping) else MISSING


# Bucket roles (tag groundwork:purpose) the pack treats specially. Locked roles must be
# object-locked storage (the s3-backup-* rules); the audit trail is locked but no backup vault.
BACKUPS = "backups"
AUDIT_TRAIL = "audit-trail"
LOCKED_ROLES = (BACKUPS, AUDIT_TRAIL)
# The one role that may go without a customer key: ALB log delivery supports SSE-S3 only
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html).
ACCESS_LOGS = "access-logs"
LOAD_BALANCERS = frozenset(
    {"aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"}
)


def is_backup_bucket(bucket: Resource) -> bool:
    """Locked storage: object lock on, or tagged with a locked role (backups, audit trail)."""
    return as_bool(get(bucket.props, "objectLockEnabled")) is True or purpose(bucket) in (
        LOCKED_ROLES
    )


def is_backup_vault(bucket: Resource) -> bool:
    """Locked storage that holds backups: every locked bucket but the audit trail's."""
    return is_backup_bucket(bucket) and purpose(bucket) != AUDIT_TRAIL


def is_analytics_bucket(bucket: Resource) -> bool:
    return purpose(bucket) == "analytics"


def companions(
    bucket: Resource, resources: Sequence[Resource], types: frozenset[str]
) -> list[Resource]:
    """Resources of `types` whose `bucket` input refers to `bucket`."""
    names = {
        v
        for v in (get(bucket.props, "bucket"), get(bucket.props, "id"))
        if isinstance(v, str) and not is_unknown(v)
    }
    out = []
    for r in resources:
        if r.type not in types:
            continue
        if bucket.urn in r.depends_via("bucket"):
            out.append(r)
            continue
        value = get(r.props, "bucket")
        if isinstance(value, str) and not is_unknown(value) and value in names:
            out.append(r)
    return out


def _retention(rule_holder: Any) -> tuple[Any, Any]:
    """(mode, days) of a lock configuration's default retention; years count as 365 days."""
    retention = get(rule_holder, "rule", "defaultRetention")
    if is_unknown(retention):
        return retention, retention
    mode = get(retention, "mode")
    days = get(retention, "days")
    years = get(retention, "years")
    if is_unknown(days) or is_unknown(years):
        return mode, days if is_unknown(days) else years
    total: Any = MISSING
    if as_number(days) is not None:
        total = as_number(days)
    elif as_number(years) is not None:
        total = (as_number(years) or 0) * 365
    return mode, total


def _check_retention(
    mode: Any, days: Any, cfg: Mapping[str, Any], prefix: str, urn: str = ""
) -> list[Finding]:
    allowed = [str(m) for m in cfg.get("allowedModes", ["COMPLIANCE"])]
    minimum = float(cfg.get("minDays", 30))
    maximum = float(cfg.get("maxDays", 3653))
    findings: list[Finding] = []
    if is_unknown(mode):
        findings.append(undecided(f"{prefix}.mode", urn))
    elif mode not in allowed:
        findings.append(violation(f"{prefix}.mode is {mode!r}; allowed: {', '.join(allowed)}", urn))
    if is_unknown(days):
        findings.append(undecided(f"{prefix}.days", urn))
    elif days is MISSING:
        findings.append(violation(f"{prefix} sets no retention days", urn))
    elif days < minimum:
        findings.append(
            violation(f"{prefix} keeps objects {days:g} days; at least {minimum:g} required", urn)
        )
    elif days > maximum:
        findings.append(
            violation(
                f"{prefix} keeps objects {days:g} days; more than {maximum:g} cannot be undone "
                "under COMPLIANCE",
                urn,
            )
        )
    return findings


def object_lock_retention(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    mode, days = _retention(r.props)
    if mode is MISSING and days is MISSING and get(r.props, "rule") is MISSING:
        return [violation("sets no default retention rule (rule.defaultRetention)")]
    return _check_retention(mode, days, cfg, "rule.defaultRetention")


def _lock_days(bucket: Resource, resources: Sequence[Resource]) -> Any:
    for lock in companions(bucket, resources, LOCK):
        return _retention(lock.props)[1]
    inline = get(bucket.props, "objectLockConfiguration")
    if inline is not MISSING:
        return _retention(inline)[1]
    return MISSING


def backup_object_lock(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    findings: list[Finding] = []
    for b in (r for r in resources if r.type in BUCKETS and is_backup_bucket(r)):
        enabled = get(b.props, "objectLockEnabled")
        if is_unknown(enabled):
            findings.append(undecided("objectLockEnabled", b.urn))
        elif as_bool(enabled) is not True:
            findings.append(
                violation(
                    "backup bucket is not created with object lock (objectLockEnabled: true); "
                    "it cannot be turned on for the existing bucket's objects later",
                    b.urn,
                )
            )
            continue
        inline = get(b.props, "objectLockConfiguration")
        if companions(b, resources, LOCK):
            continue  # values are checked by s3-object-lock-retention on the resource itself
        if inline is not MISSING and get(inline, "rule") is not MISSING:
            mode, days = _retention(inline)
            findings.extend(
                _check_retention(
                    mode, days, cfg, "objectLockConfiguration.rule.defaultRetention", b.urn
                )
            )
            continue
        findings.append(
            violation(
                "object-locked bucket has no default retention (no BucketObjectLockConfiguration "
                "for it)",
                b.urn,
            )
        )
    return findings


def backup_versioning(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    findings: list[Finding] = []
    for b in (r for r in resources if r.type in BUCKETS and is_backup_bucket(r)):
        found = companions(b, resources, VERSIONING)
        statuses = [get(v.props, "versioningConfiguration", "status") for v in found]
        inline = as_bool(get(b.props, "versioning", "enabled"))
        if any(s == "Enabled" for s in statuses) or inline is True:
            continue
        if any(is_unknown(s) for s in statuses):
            findings.append(undecided("versioningConfiguration.status", b.urn))
        elif found:
            findings.append(
                violation(f"versioning status is {statuses[0]!r}; it must be 'Enabled'", b.urn)
            )
        else:
            findings.append(
                violation("backup bucket has no BucketVersioning with status 'Enabled'", b.urn)
            )
    return findings


def backup_public_access_block(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    findings: list[Finding] = []
    for b in (r for r in resources if r.type in BUCKETS and is_backup_bucket(r)):
        blocks = companions(b, resources, PUBLIC_ACCESS_BLOCK)
        if not blocks:
            findings.append(violation("backup bucket has no BucketPublicAccessBlock", b.urn))
            continue
        pab = blocks[0]
        for flag in PAB_FLAGS:
            value = get(pab.props, flag)
            if is_unknown(value):
                findings.append(undecided(flag, b.urn))
            elif as_bool(value) is not True:
                findings.append(
                    violation(f"public access block {pab.name}: {flag} is not true", b.urn)
                )
    return findings


def _sse_rules(b: Resource, resources: Sequence[Resource]) -> tuple[list[Any], bool]:
    found = companions(b, resources, ENCRYPTION)
    rules: list[Any] = []
    for enc in found:
        value = get(enc.props, "rules")
        rules.extend([value] if is_unknown(value) else as_list(value))
    inline = get(b.props, "serverSideEncryptionConfiguration", "rule")
    if inline is not MISSING:
        rules.append(inline)
    return rules, bool(found) or inline is not MISSING


def backup_kms_encryption(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    need_key = bool(cfg.get("requireCustomerKey", True))
    findings: list[Finding] = []
    for b in (r for r in resources if r.type in BUCKETS and is_backup_bucket(r)):
        rules, present = _sse_rules(b, resources)
        if not present:
            findings.append(
                violation("backup bucket has no BucketServerSideEncryptionConfiguration", b.urn)
            )
            continue
        if any(is_unknown(x) for x in rules):
            findings.append(undecided("rules", b.urn))
            continue
        algos = [get(x, "applyServerSideEncryptionByDefault", "sseAlgorithm") for x in rules]
        if any(is_unknown(a) for a in algos):
            findings.append(
                undecided("rules[].applyServerSideEncryptionByDefault.sseAlgorithm", b.urn)
            )
            continue
        kms = [x for x, a in zip(rules, algos, strict=True) if a in KMS_ALGORITHMS]
        if not kms:
            findings.append(
                violation(f"default encryption is {algos!r}; use SSE-KMS (aws:kms)", b.urn)
            )
        elif need_key and all(
            get(x, "applyServerSideEncryptionByDefault", "kmsMasterKeyId") is MISSING for x in kms
        ):
            findings.append(
                violation(
                    "SSE-KMS uses the AWS managed key; set kmsMasterKeyId to the stack's key", b.urn
                )
            )
    return findings


def _denies_insecure_transport(stmt: Mapping[str, Any]) -> bool | None:
    """True/False for a known statement; None when the parts that matter are unknown."""
    effect = get(stmt, "Effect")
    cond = get(stmt, "Condition")
    if is_unknown(effect) or is_unknown(cond):
        return None
    if effect != "Deny" or not isinstance(cond, Mapping):
        return False
    secure: Any = MISSING
    for op in ("Bool", "BoolIfExists"):
        block = cond.get(op)
        if isinstance(block, Mapping) and "aws:SecureTransport" in block:
            secure = block["aws:SecureTransport"]
    values = [str(v).lower() for v in str_values(secure) if not is_unknown(v)]
    if "false" not in values:
        return False
    actions = [a for a in str_values(get(stmt, "Action")) if not is_unknown(a)]
    if actions and not any(a in ("*", "s3:*") for a in actions):
        return False
    principal = get(stmt, "Principal")
    if isinstance(principal, Mapping):
        principal = principal.get("AWS", MISSING)
    principals = [p for p in str_values(principal) if not is_unknown(p)]
    return not principals or "*" in principals


def backup_tls_only(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    findings: list[Finding] = []
    for b in (r for r in resources if r.type in BUCKETS and is_backup_bucket(r)):
        docs = [get(p.props, "policy") for p in companions(b, resources, POLICY)]
        inline = get(b.props, "policy")
        if inline is not MISSING:
            docs.append(inline)
        if not docs:
            findings.append(
                violation("backup bucket has no BucketPolicy denying non-TLS access", b.urn)
            )
            continue
        verdicts: list[bool | None] = []
        for doc in docs:
            stmts = statements(doc)
            if is_unknown(stmts):
                verdicts.append(None)
                continue
            verdicts.extend(
                _denies_insecure_transport(s) if isinstance(s, Mapping) else None for s in stmts
            )
        if True in verdicts:
            continue
        if None in verdicts:
            findings.append(undecided("policy", b.urn))
        else:
            findings.append(
                violation(
                    "bucket policy has no Deny for aws:SecureTransport = false (TLS-only access)",
                    b.urn,
                )
            )
    return findings


def _lifecycle_rules(b: Resource, resources: Sequence[Resource]) -> list[Any]:
    rules: list[Any] = []
    for lc in companions(b, resources, LIFECYCLE):
        value = get(lc.props, "rules")
        rules.extend([value] if is_unknown(value) else as_list(value))
    for rule in as_list(get(b.props, "lifecycleRules")):
        # The deprecated inline shape: enabled flag, noncurrentVersionExpiration.days.
        rules.append(
            {
                "status": "Enabled" if as_bool(get(rule, "enabled")) else "Disabled",
                "expiration": get(rule, "expiration") or None,
                "noncurrentVersionExpiration": {
                    "noncurrentDays": get(rule, "noncurrentVersionExpiration", "days")
                }
                if get(rule, "noncurrentVersionExpiration") is not MISSING
                else None,
            }
        )
    return rules


def _expiry_days(rule: Any) -> list[tuple[str, Any]]:
    out = []
    for label, path in (
        ("expiration.days", ("expiration", "days")),
        (
            "noncurrentVersionExpiration.noncurrentDays",
            ("noncurrentVersionExpiration", "noncurrentDays"),
        ),
    ):
        value = get(rule, *path)
        if value is not MISSING:
            out.append((label, value))
    return out


def backup_lifecycle_covers_lock(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    findings: list[Finding] = []
    for b in (r for r in resources if r.type in BUCKETS and is_backup_bucket(r)):
        lock_days = _lock_days(b, resources)
        if lock_days is MISSING:
            continue  # no lock to compare with: s3-backup-object-lock reports that
        for rule in _lifecycle_rules(b, resources):
            if is_unknown(rule):
                findings.append(undecided("rules", b.urn))
                continue
            if get(rule, "status") == "Disabled":
                continue
            for label, value in _expiry_days(rule):
                if is_unknown(value) or is_unknown(lock_days):
                    findings.append(undecided(label, b.urn))
                elif (as_number(value) or 0) < lock_days:
                    findings.append(
                        violation(
                            f"lifecycle rule {get(rule, 'id') or '?'}: {label} {value} is shorter "
                            "than the "
                            f"{lock_days:g}-day object lock",
                            b.urn,
                        )
                    )
    return findings


def analytics_retention(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    limit = float(cfg.get("maxRetentionDays", 400))
    if st.analytics_retention_days is not None:
        limit = min(limit, float(st.analytics_retention_days))
    findings: list[Finding] = []
    for b in (r for r in resources if r.type in BUCKETS and is_analytics_bucket(r)):
        rules = [
            x
            for x in _lifecycle_rules(b, resources)
            if is_unknown(x) or get(x, "status") != "Disabled"
        ]
        if any(is_unknown(x) for x in rules):
            findings.append(undecided("rules", b.urn))
            continue
        expiries = [
            get(x, "expiration", "days")
            for x in rules
            if get(x, "expiration", "days") is not MISSING
        ]
        if not expiries:
            findings.append(
                violation(
                    f"analytics bucket keeps events forever; expire them within {limit:g} days "
                    "(BucketLifecycleConfiguration rule with expiration.days)",
                    b.urn,
                )
            )
            continue
        for days in expiries:
            if is_unknown(days):
                findings.append(undecided("rules[].expiration.days", b.urn))
            elif (as_number(days) or 0) > limit:
                findings.append(
                    violation(
                        f"analytics events expire after {days} days; the limit is {limit:g} days",
                        b.urn,
                    )
                )
    return findings


def _lb_log_targets(bucket: Resource, resources: Sequence[Resource]) -> list[Resource]:
    """Load balancers of the stack whose access logs go to `bucket`."""
    names = {
        v
        for v in (get(bucket.props, "bucket"), get(bucket.props, "id"))
        if isinstance(v, str) and not is_unknown(v)
    }
    return [
        lb
        for lb in resources
        if lb.type in LOAD_BALANCERS
        and as_bool(get(lb.props, "accessLogs", "enabled")) is not False
        and (
            bucket.urn in lb.depends_via("accessLogs")
            or get(lb.props, "accessLogs", "bucket") in names
        )
    ]


def _aws_managed(key: Any) -> bool:
    return isinstance(key, str) and ("alias/aws/" in key)


def bucket_customer_key(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    """Every bucket encrypts with a customer key, except a load balancer's access-log bucket,
    which must use SSE-S3. Locked buckets are judged by s3-backup-kms-encryption."""
    findings: list[Finding] = []
    for b in (r for r in resources if r.type in BUCKETS and not is_backup_bucket(r)):
        rules, present = _sse_rules(b, resources)
        access_logs = purpose(b) == ACCESS_LOGS
        if access_logs and not _lb_log_targets(b, resources):
            findings.append(
                violation(
                    "tagged access-logs, but no load balancer of this stack delivers access logs "
                    "to it; only a load balancer's access-log bucket may go without a customer key",
                    b.urn,
                )
            )
            access_logs = False
        if any(is_unknown(x) for x in rules):
            findings.append(undecided("rules", b.urn))
            continue
        defaults = [get(x, "applyServerSideEncryptionByDefault") for x in rules]
        algos = [get(d, "sseAlgorithm") for d in defaults]
        keys = [get(d, "kmsMasterKeyId") for d in defaults]
        if any(is_unknown(a) for a in algos):
            findings.append(undecided("applyServerSideEncryptionByDefault.sseAlgorithm", b.urn))
        elif access_logs:
            if any(a in KMS_ALGORITHMS for a in algos):
                findings.append(
                    violation(
                        "an ALB access-log bucket must use SSE-S3 (AES256); log delivery fails "
                        "with SSE-KMS",
                        b.urn,
                    )
                )
        elif not present or not any(
            a in KMS_ALGORITHMS and k is not MISSING and k != "" and not _aws_managed(k)
            for a, k in zip(algos, keys, strict=True)
        ):
            findings.append(
                violation(
                    f"default encryption is {algos or 'not configured'}; use SSE-KMS with a "
                    "customer managed key (kmsMasterKeyId, not alias/aws/s3)",
                    b.urn,
                )
            )
    return findings
