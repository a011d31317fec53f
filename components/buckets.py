"""Private S3 buckets: the one place a bucket and its separate settings resources are written.

pulumi-aws 7 keeps a bucket's settings on resources of their own. Every bucket of this project
is private in the same way: bucket-owner-enforced ownership (no ACLs), all four public-access
blocks, SSE-KMS with the caller's key and an S3 Bucket Key, and a policy that refuses requests
without TLS or with TLS older than 1.2. What differs per bucket (purpose tag, lifecycle rules,
protection, versioning, Object Lock) is an argument. Each settings resource takes `bucket.id`,
so the policy pack ties it to its bucket through the property dependency of `bucket`.

This is a construction helper, not a component: the resources are children of the calling
component, named `f"{name}-<part>"` after the bucket's own resource name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import pulumi
import pulumi_aws as aws

from components import iam

# Requests over TLS older than this are refused by every bucket's policy.
MIN_TLS_VERSION = "1.2"
# The settings resources, each named f"{bucket name}-{part}".
PARTS = ("ownership", "public-access", "versioning", "lock", "encryption", "policy", "lifecycle")


@dataclass(frozen=True)
class ObjectLock:
    """The default retention every new object version takes (S3 Object Lock)."""

    mode: Literal["GOVERNANCE", "COMPLIANCE"]
    days: int


@dataclass(frozen=True)
class PrivateBucket:
    """A bucket and the settings resources callers may need to depend on."""

    bucket: aws.s3.Bucket
    ownership: aws.s3.BucketOwnershipControls
    public_access: aws.s3.BucketPublicAccessBlock
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    policy: aws.s3.BucketPolicy
    lifecycle: aws.s3.BucketLifecycleConfiguration
    versioning: aws.s3.BucketVersioning | None = None
    lock: aws.s3.BucketObjectLockConfiguration | None = None


def tls_only_policy(
    bucket_arn: pulumi.Input[str], extra: Sequence[iam.Statement] = ()
) -> dict[str, Any]:
    """Deny every request to the bucket and its objects without TLS, or below TLS 1.2; then
    `extra` (the grants a writing AWS service needs)."""
    resources = [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")]
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": resources}
    return iam.document(
        {
            "Sid": "DenyInsecureTransport",
            **deny,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOutdatedTls",
            **deny,
            "Condition": {"NumericLessThan": {"s3:TlsVersion": MIN_TLS_VERSION}},
        },
        *extra,
    )


_Options = Callable[..., pulumi.ResourceOptions]


def _no_public_access(
    name: str, bucket: aws.s3.Bucket, opts: _Options
) -> tuple[aws.s3.BucketOwnershipControls, aws.s3.BucketPublicAccessBlock]:
    """No ACLs (the owner owns every object) and every public access blocked."""
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=opts("ownership"),
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts("public-access"),
    )
    return ownership, public_access


def _versioning_and_lock(
    name: str,
    bucket: aws.s3.Bucket,
    versioned: bool,
    object_lock: ObjectLock | None,
    opts: _Options,
) -> tuple[aws.s3.BucketVersioning | None, aws.s3.BucketObjectLockConfiguration | None]:
    versioning = (
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=opts("versioning"),
        )
        if versioned
        else None
    )
    # The lock applies to versions: versioning must be on first.
    after_versioning = [versioning] if versioning is not None else []
    lock = (
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-lock",
            bucket=bucket.id,
            object_lock_enabled="Enabled",
            rule={"default_retention": {"mode": object_lock.mode, "days": object_lock.days}},
            opts=opts("lock", after_versioning),
        )
        if object_lock is not None
        else None
    )
    return versioning, lock


def _encryption(
    name: str,
    bucket: aws.s3.Bucket,
    kms_key_arn: pulumi.Input[str] | None,
    opts: pulumi.ResourceOptions,
) -> aws.s3.BucketServerSideEncryptionConfiguration:
    return aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": kms_key_arn,
                },
                # One data key per bucket instead of a KMS call per object.
                "bucket_key_enabled": True,
            }
            if kms_key_arn is not None
            else {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
        ],
        opts=opts,
    )


def expiry_rule(
    rule_id: str,
    days: int | None,
    *,
    prefix: str = "",
    noncurrent_days: int | None = None,
    abort_upload_days: int | None = None,
) -> dict[str, Any]:
    """A lifecycle rule (the SDK's keys): objects under `prefix` expire `days` after creation
    (`None`: current objects stay, the rule only tidies what follows); with `noncurrent_days`,
    superseded versions go that long after being superseded; with `abort_upload_days`,
    unfinished multipart uploads are aborted after that many days."""
    rule: dict[str, Any] = {"id": rule_id, "status": "Enabled", "filter": {"prefix": prefix}}
    if days is not None:
        rule["expiration"] = {"days": days}
    if noncurrent_days is not None:
        rule["noncurrent_version_expiration"] = {"noncurrent_days": noncurrent_days}
    if abort_upload_days is not None:
        rule["abort_incomplete_multipart_upload"] = {"days_after_initiation": abort_upload_days}
    return rule


def _lifecycle(
    name: str,
    bucket: aws.s3.Bucket,
    rules: Sequence[dict[str, Any]],
    versioning: aws.s3.BucketVersioning | None,
    opts: _Options,
) -> aws.s3.BucketLifecycleConfiguration:
    # Lifecycle rules on a versioned bucket act on versions: versioning goes first.
    return aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        bucket=bucket.id,
        # The helpers build the SDK's keys as plain dicts; the shape is the SDK's ArgsDict.
        rules=cast("list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]", list(rules)),
        opts=opts("lifecycle", [versioning] if versioning is not None else []),
    )


def private_bucket(
    name: str,
    *,
    parent: pulumi.Resource,
    purpose: str,
    kms_key_arn: pulumi.Input[str] | None,
    lifecycle_rules: Sequence[dict[str, Any]],
    protect: bool | None,
    force_destroy: bool = False,
    versioned: bool = False,
    object_lock: ObjectLock | None = None,
    provider: pulumi.ProviderResource | None = None,
    writers: Callable[[pulumi.Output[str]], Sequence[iam.Statement]] | None = None,
) -> PrivateBucket:
    """A private, SSE-KMS, TLS-only bucket named `name` with its settings, under `parent`.

    `protect` guards the bucket itself; None leaves it to the parent, like any other child
    (for buckets whose contents are rebuilt or expire anyway). `object_lock` needs
    `versioned=True`: S3 keeps lock retention per object version. `provider` places the bucket
    and its settings in another region (a replica). `kms_key_arn=None` means
    SSE-S3, only for a bucket an AWS service writes that cannot use a customer key (load
    balancer access logs); the policy pack refuses it for any other bucket. `writers` maps
    the bucket ARN to the policy statements that let an AWS service deliver into it.
    """
    if object_lock is not None and not versioned:
        raise ValueError(f"bucket {name}: object_lock requires versioned=True")

    def opts(part: str, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on), provider=provider)

    bucket = aws.s3.Bucket(
        name,
        # Object Lock can only be enabled when the bucket is created.
        object_lock_enabled=True if object_lock is not None else None,
        force_destroy=force_destroy,
        tags={"groundwork:purpose": purpose},
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, provider=provider),
    )
    ownership, public_access = _no_public_access(name, bucket, opts)
    versioning, lock = _versioning_and_lock(name, bucket, versioned, object_lock, opts)
    encryption = _encryption(name, bucket, kms_key_arn, opts("encryption"))
    policy = aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=iam.to_json(tls_only_policy(bucket.arn, writers(bucket.arn) if writers else ())),
        # S3 rejects a policy put while the public access block is being changed.
        opts=opts("policy", [public_access]),
    )
    lifecycle = _lifecycle(name, bucket, lifecycle_rules, versioning, opts)
    return PrivateBucket(
        bucket=bucket,
        ownership=ownership,
        public_access=public_access,
        encryption=encryption,
        policy=policy,
        lifecycle=lifecycle,
        versioning=versioning,
        lock=lock,
    )
