"""S3 rules for backup storage (object-locked buckets) and analytics storage.

pulumi-aws 7 splits a bucket's settings into separate resources (lock configuration,
versioning, public access block, encryption, policy, lifecycle). Stack rules tie them to their
bucket through the property dependencies of their `bucket` input, falling back to the bucket's
name or id. The deprecated V2 type tokens and the deprecated inline bucket arguments are
accepted as well.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    is_aws_managed_key,
    is_unknown,
    statements,
    str_values,
    tags_of,
    undecided,
    violation,
)

BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKETS = frozenset({"aws:s3/bucket:Bucket", BUCKET_V2})
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
ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
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


def _first(value: Any) -> Any:
    items = as_list(value) if not is_unknown(value) else [value]
    return items[0] if items else MISSING


def _v2_inline(props: Mapping[str, Any]) -> dict[str, Any]:
    """The deprecated BucketV2's list-shaped inline settings in the Bucket's shapes, so one
    reading serves both (`versionings[]`, `serverSideEncryptionConfigurations[].rules[]
    .applyServerSideEncryptionByDefaults[]`, lifecycle `expirations[]`, lock `rules[]
    .defaultRetentions[]`)."""
    out: dict[str, Any] = {}
    versioning = _first(get(props, "versionings"))
    if versioning is not MISSING:
        out["versioning"] = versioning
    sse = _first(get(props, "serverSideEncryptionConfigurations"))
    rule = _first(get(sse, "rules")) if sse is not MISSING else MISSING
    if rule is not MISSING:
        by_default = _first(get(rule, "applyServerSideEncryptionByDefaults"))
        out["serverSideEncryptionConfiguration"] = {
            "rule": {**rule, "applyServerSideEncryptionByDefault": by_default}
        }
    lock = get(props, "objectLockConfiguration")
    lock_rule = _first(get(lock, "rules")) if lock is not MISSING else MISSING
    if lock_rule is not MISSING:
        out["objectLockConfiguration"] = {
            **lock,
            "rule": {"defaultRetention": _first(get(lock_rule, "defaultRetentions"))},
        }
    rules = get(props, "lifecycleRules")
    if any(get(x, "expirations") is not MISSING for x in as_list(rules)):
        out["lifecycleRules"] = [
            {
                **x,
                "expiration": _first(get(x, "expirations")) or None,
                "noncurrentVersionExpiration": _first(get(x, "noncurrentVersionExpirations"))
                or None,
            }
            for x in as_list(rules)
        ]
    return out


def _buckets(
    resources: Sequence[Resource], which: Callable[[Resource], bool]
) -> Iterator[Resource]:
    """The buckets `which` selects, BucketV2 inline settings read in the Bucket shapes."""
    for r in resources:
        if r.type not in BUCKETS or not which(r):
            continue
        extra = _v2_inline(r.props) if r.type == BUCKET_V2 else {}
        yield dataclasses.replace(r, props={**r.props, **extra}) if extra else r


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
    for b in _buckets(resources, is_backup_bucket):
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
    for b in _buckets(resources, is_backup_bucket):
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
    for b in _buckets(resources, is_backup_bucket):
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


def _flags_off(block: Resource, urn: str) -> list[Finding]:
    findings: list[Finding] = []
    for flag in PAB_FLAGS:
        value = get(block.props, flag)
        if is_unknown(value):
            findings.append(undecided(f"{block.name}.{flag}", urn))
        elif as_bool(value) is not True:
            findings.append(violation(f"public access block {block.name}: {flag} is not true", urn))
    return findings


def bucket_public_access_block(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    """Every bucket blocks public access (its own block, or the account's with all four flags
    on), and no public access block in the stack turns a flag off (Security Hub S3.1, S3.8)."""
    findings: list[Finding] = []
    accounts = [r for r in resources if r.type == ACCOUNT_PUBLIC_ACCESS_BLOCK]
    for block in accounts:
        findings.extend(_flags_off(block, block.urn))
    for block in (r for r in resources if r.type in PUBLIC_ACCESS_BLOCK):
        findings.extend(_flags_off(block, block.urn))
    account_blocks = any(not _flags_off(block, block.urn) for block in accounts)
    for b in (r for r in resources if r.type in BUCKETS):
        if not account_blocks and not companions(b, resources, PUBLIC_ACCESS_BLOCK):
            findings.append(
                violation(
                    "bucket has no BucketPublicAccessBlock (and no account-level block with all "
                    "four flags on)",
                    b.urn,
                )
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


def _customer_key(rule: Any) -> bool:
    key = get(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
    return key is not MISSING and key != "" and not is_aws_managed_key(key)


def backup_kms_encryption(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    need_key = bool(cfg.get("requireCustomerKey", True))
    findings: list[Finding] = []
    for b in _buckets(resources, is_backup_bucket):
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
        elif need_key and not any(_customer_key(x) for x in kms):
            findings.append(
                violation(
                    "SSE-KMS uses the AWS managed key; set kmsMasterKeyId to the stack's key", b.urn
                )
            )
    return findings


def _condition_values(cond: Mapping[str, Any], key: str) -> list[Any]:
    """Values of condition `key` under Bool/BoolIfExists (condition keys are case-insensitive:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html)."""
    out: list[Any] = []
    for op in ("Bool", "BoolIfExists"):
        block = cond.get(op)
        if not isinstance(block, Mapping):
            continue
        for k, v in block.items():
            if isinstance(k, str) and k.lower() == key.lower():
                out.extend(str_values(v))
    return out


def _everyone(stmt: Mapping[str, Any]) -> bool:
    """The statement applies to every principal: `"*"` or `{"AWS": "*"}`, and no NotPrincipal."""
    if get(stmt, "NotPrincipal") is not MISSING:
        return False
    principal = get(stmt, "Principal")
    if isinstance(principal, Mapping):
        if set(principal) != {"AWS"}:
            return False  # a service or federated principal is not everyone
        principal = principal["AWS"]
    return "*" in [p for p in str_values(principal) if not is_unknown(p)]


def _covers(patterns: list[Any], arn: str) -> bool:
    return any(
        isinstance(p, str) and (is_unknown(p) or fnmatch.fnmatchcase(arn, p)) for p in patterns
    )


def _covers_bucket(resources: list[Any], bucket_arn: Any) -> bool | None:
    """The Resource patterns cover the bucket and every object in it (None: cannot tell)."""
    if not resources:
        return False
    if any(is_unknown(r) for r in resources):
        return True  # built from the bucket's ARN (the usual shape): a reference to it
    if not isinstance(bucket_arn, str) or is_unknown(bucket_arn):
        # Name unknown at preview: at least a bucket-level and an all-objects pattern on S3.
        on_s3 = [r for r in resources if isinstance(r, str) and (r == "*" or ":s3:::" in r)]
        return (
            any(r == "*" or "/" not in r for r in on_s3)
            and any(r == "*" or r.endswith("/*") for r in on_s3)
        ) or None
    return _covers(resources, bucket_arn) and _covers(resources, bucket_arn + "/*")


def _tls_deny(stmt: Mapping[str, Any]) -> bool | None:
    """The statement denies every S3 action to everyone over plain HTTP (resources aside);
    None when the parts that matter are unknown."""
    effect = get(stmt, "Effect")
    cond = get(stmt, "Condition")
    if is_unknown(effect) or is_unknown(cond):
        return None
    if effect != "Deny" or not isinstance(cond, Mapping):
        return False
    values = [str(v).lower() for v in _condition_values(cond, "aws:SecureTransport")]
    if "false" not in values:
        return False
    if get(stmt, "NotAction") is not MISSING or get(stmt, "NotResource") is not MISSING:
        return False
    actions = [str(a).lower() for a in str_values(get(stmt, "Action")) if not is_unknown(a)]
    return any(a in ("*", "s3:*") for a in actions) and _everyone(stmt)


def _denies_insecure_transport(stmt: Mapping[str, Any], bucket_arn: Any) -> bool | None:
    """One statement that makes the bucket TLS-only on its own."""
    shape = _tls_deny(stmt)
    if not shape:
        return shape
    return _covers_bucket(str_values(get(stmt, "Resource")), bucket_arn)


def _tls_verdict(docs: list[Any], bucket_arn: Any) -> bool | None:
    """The policies' TLS denies together cover the bucket and its objects (they may be split
    over several statements); None when an unknown part could decide it."""
    unknown = False
    covered: list[Any] = []
    for doc in docs:
        stmts = statements(doc)
        if is_unknown(stmts):
            unknown = True
            continue
        for stmt in stmts:
            shape = _tls_deny(stmt) if isinstance(stmt, Mapping) else None
            if shape is None:
                unknown = True
            elif shape:
                covered.extend(str_values(get(stmt, "Resource")))
    verdict = _covers_bucket(covered, bucket_arn)
    if verdict:
        return True
    return None if unknown or verdict is None else False


def _bucket_arn(b: Resource) -> Any:
    arn = get(b.props, "arn")
    if isinstance(arn, str) and not is_unknown(arn):
        return arn
    name = get(b.props, "bucket")
    if isinstance(name, str) and not is_unknown(name):
        return f"arn:aws:s3:::{name}"
    return MISSING


def backup_tls_only(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    findings: list[Finding] = []
    for b in _buckets(resources, is_backup_bucket):
        docs = [get(p.props, "policy") for p in companions(b, resources, POLICY)]
        inline = get(b.props, "policy")
        if inline is not MISSING:
            docs.append(inline)
        if not docs:
            findings.append(
                violation("backup bucket has no BucketPolicy denying non-TLS access", b.urn)
            )
            continue
        verdict = _tls_verdict(docs, _bucket_arn(b))
        if verdict:
            continue
        if verdict is None:
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
                "filter": {
                    "prefix": get(rule, "prefix") or None,
                    "tags": get(rule, "tags") or None,
                },
                "expiration": get(rule, "expiration") or None,
                "noncurrentVersionExpiration": {
                    "noncurrentDays": get(rule, "noncurrentVersionExpiration", "days")
                }
                if get(rule, "noncurrentVersionExpiration") is not MISSING
                else None,
            }
        )
    return rules


def _whole_bucket(rule: Any) -> bool:
    """The rule applies to every object: no prefix, tag or size filter narrows it."""
    if get(rule, "prefix") not in (MISSING, ""):
        return False
    narrowing = ("prefix", "tag", "tags", "objectSizeGreaterThan", "objectSizeLessThan")
    for holder in (get(rule, "filter"), get(rule, "filter", "and")):
        if not isinstance(holder, Mapping):
            continue
        for key in narrowing:
            value = get(holder, key)
            if value in (MISSING, "", 0, "0") or (isinstance(value, Mapping) and not value):
                continue
            if not is_unknown(value):
                return False
    return True


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
    for b in _buckets(resources, is_backup_bucket):
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
    for b in _buckets(resources, is_analytics_bucket):
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
            if get(x, "expiration", "days") is not MISSING and _whole_bucket(x)
        ]
        if not expiries:
            findings.append(
                violation(
                    f"analytics bucket keeps events forever; expire them within {limit:g} days "
                    "(a BucketLifecycleConfiguration rule with expiration.days and no prefix, "
                    "tag or size filter)",
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
