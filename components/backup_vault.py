"""BackupVault: the object-locked S3 bucket the logical backups are written to.

A backup that its writer, an intruder or an operator can delete is not a backup. The bucket
is created with S3 Object Lock (it cannot be turned on for existing objects later), so every
object version takes a default retention (`lock_mode`, `lock_days`) on upload:

- COMPLIANCE: nobody, not even the account root, can delete or shorten it (the default);
- GOVERNANCE: principals with `s3:BypassGovernanceRetention` can (dev, to tear down).

Around the lock: versioning (required by it), SSE-KMS with a customer-managed key and an S3
Bucket Key, all four public-access blocks, bucket-owner-enforced ownership (no ACLs), a policy
that refuses requests without TLS 1.2+, and a lifecycle that moves backups to Glacier
Instant Retrieval after `cold_after_days`, expires them after `expire_after_days` (never
while locked: expire >= lock), removes noncurrent versions no sooner than the lock would,
and cleans up abandoned multipart uploads and orphaned delete markers.

Key safety: with `break_glass_role_arn`, the vault's keys deny deletion and disabling to every
other principal (components/kms.py).

Region safety: with `replica_region`, S3 replication copies every backup to a bucket in that
region, built the same way (Object Lock with the same mode and days, versioning, SSE-KMS with
a key of that region, TLS only, the same lifecycle). What AWS requires for this, and where it
says so:

- versioning on both buckets and a role S3 assumes, allowed to read the source versions and
  to replicate into the destination
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html);
- SSE-KMS objects are skipped unless the rule opts in with `SseKmsEncryptedObjects` and names
  the destination key (`ReplicaKmsKeyID`); the role then needs `kms:Decrypt` on the source key
  and `kms:Encrypt` on the replica key, each through S3 in its region
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html);
- an object-locked source needs an object-locked destination (else replication fails with
  `DstBucketObjectLockConfigMissing`), and the role needs `s3:GetObjectRetention` and
  `s3:GetObjectLegalHold` so the retention travels with each replica
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-replication,
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-failure-codes.html).

Delete markers are not replicated: a delete in the primary region must not hide the copy.
Replication Time Control (a 15-minute SLA, extra cost) is left off; replication is
asynchronous, usually minutes, and `verify_backups` checks each newest object's status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

import pulumi
import pulumi_aws as aws

from components import buckets, context, iam, kms, providers
from components.outputs import register_all

# Every logical backup is written under this prefix: postgres/<db>/<UTC timestamp>.dump.
BACKUP_PREFIX = "postgres/"
COLD_STORAGE_CLASS = "GLACIER_IR"


def lifecycle_problems(lock_days: int, cold_after_days: int, expire_after_days: int) -> list[str]:
    """Why this retention would be wrong: colder storage must come before expiry, and no
    backup may be scheduled for expiry while its lock still holds."""
    problems = []
    if cold_after_days >= expire_after_days:
        problems.append(
            f"cold_after_days ({cold_after_days}) must be < expire_after_days ({expire_after_days})"
        )
    if expire_after_days < lock_days:
        problems.append(
            f"expire_after_days ({expire_after_days}) must be >= lock_days ({lock_days})"
        )
    return problems


@dataclass(frozen=True, kw_only=True)
class BackupVaultArgs:
    """`groundwork:backups` (settings.Backups) as the component sees it; no defaults that
    settings owns (tests/test_args_defaults.py keeps it so)."""

    region: str
    lock_mode: Literal["GOVERNANCE", "COMPLIANCE"]
    lock_days: int
    cold_after_days: int
    expire_after_days: int
    protect: bool
    # Only this role may delete or disable the vault's keys (None: nobody is denied).
    break_glass_role_arn: str | None
    # Replicate every backup to an object-locked bucket in this region (None: no replica).
    replica_region: str | None
    # The stack's aws: settings for the replica region's provider (components/providers.py).
    stack_provider: providers.StackProvider | None = None


class BackupVault(pulumi.ComponentResource):
    """Object-locked, versioned, KMS-encrypted, private, TLS-only bucket with a lifecycle."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    lock_mode: str
    lock_days: int
    # The replica bucket's name and region (None without a replica region).
    replica_bucket_name: pulumi.Output[str] | None
    replica_region: str | None

    def __init__(
        self, name: str, args: BackupVaultArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:data:BackupVault", name, None, opts)
        problems = lifecycle_problems(args.lock_days, args.cold_after_days, args.expire_after_days)
        if problems:
            raise ValueError(f"BackupVault {name}: {'; '.join(problems)}")
        partition = context.partition_of(args.region)
        account = context.account_id(self)

        key, vault = self._locked_bucket(name, args, partition, account, provider=None)
        bucket = vault.bucket
        self.replica_bucket_name = None
        self.replica_region = args.replica_region
        if args.replica_region:
            self.replica_bucket_name = self._replicate(name, args, partition, account, key, vault)

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.lock_mode = args.lock_mode
        self.lock_days = args.lock_days
        register_all(self)

    def _locked_bucket(
        self,
        name: str,
        args: BackupVaultArgs,
        partition: str,
        account: pulumi.Output[str],
        provider: pulumi.ProviderResource | None,
        region_label: str = "",
    ) -> tuple[aws.kms.Key, buckets.PrivateBucket]:
        """A key and an object-locked bucket with the vault's lifecycle, in the provider's
        region (the primary and the replica are built the same way)."""
        key = kms.encryption_key(
            f"{name}-key",
            description=f"Backup vault object encryption{region_label}",
            partition=partition,
            account=account,
            parent=self,
            protect=args.protect,
            provider=provider,
            break_glass_role_arn=args.break_glass_role_arn,
        )
        vault = buckets.private_bucket(
            f"{name}-bucket",
            parent=self,
            purpose="backups",
            kms_key_arn=key.arn,
            protect=args.protect,
            versioned=True,
            object_lock=buckets.ObjectLock(mode=args.lock_mode, days=args.lock_days),
            lifecycle_rules=lifecycle_rules(args),
            provider=provider,
        )
        return key, vault

    def _replicate(
        self,
        name: str,
        args: BackupVaultArgs,
        partition: str,
        account: pulumi.Output[str],
        source_key: aws.kms.Key,
        source: buckets.PrivateBucket,
    ) -> pulumi.Output[str]:
        region = args.replica_region
        assert region is not None
        # Every explicit provider repeats the stack's aws: settings (credentials, allowed
        # accounts, default tags), with only the region changed.
        assert args.stack_provider is not None, "replica_region needs stack_provider"
        provider = providers.regional_provider(
            f"{name}-replica-region", region, args.stack_provider, parent=self
        )
        replica_key, replica = self._locked_bucket(
            f"{name}-replica", args, partition, account, provider, f" (replica in {region})"
        )
        document = replication_policy(
            source_region=args.region,
            replica_region=region,
            source_bucket_arn=source.bucket.arn,
            replica_bucket_arn=replica.bucket.arn,
            source_key_arn=source_key.arn,
            replica_key_arn=replica_key.arn,
        )
        role, policy = iam.role_with_policy(
            f"{name}-replication-role",
            f"{name}-replication-policy",
            self,
            # S3 documents no confused-deputy condition for live replication roles; only a
            # principal allowed iam:PassRole in this account can name the role in a bucket's
            # replication configuration.
            iam.assume_role("s3.amazonaws.com"),
            document,
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=source.bucket.id,
            role=role.arn,
            # The helpers build the SDK's keys as plain dicts; the shape is the SDK's ArgsDict.
            rules=cast(
                "list[aws.s3.BucketReplicationConfigRuleArgsDict]",
                [replication_rule(replica.bucket.arn, replica_key.arn)],
            ),
            # Both buckets must be versioned (and the destination locked) before S3 accepts
            # the configuration; the role must be able to act when the first object arrives.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    d for d in (source.versioning, replica.versioning, replica.lock, policy) if d
                ],
            ),
        )
        return replica.bucket.bucket


def replication_rule(
    replica_bucket_arn: pulumi.Input[str], replica_key_arn: pulumi.Input[str]
) -> dict[str, Any]:
    """Backups (not delete markers) to the replica, re-encrypted with the replica's key."""
    return {
        "id": "backups-to-replica-region",
        "status": "Enabled",
        "priority": 1,
        "filter": {"prefix": BACKUP_PREFIX},
        "delete_marker_replication": {"status": "Disabled"},
        "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
        "destination": {
            "bucket": replica_bucket_arn,
            "encryption_configuration": {"replica_kms_key_id": replica_key_arn},
        },
    }


def lifecycle_rules(args: BackupVaultArgs) -> list[dict[str, Any]]:
    """The vault's lifecycle (the primary's and the replica's)."""
    backups = buckets.expiry_rule(
        "backups",
        args.expire_after_days,
        prefix=BACKUP_PREFIX,
        # A backup hidden early by a delete marker stays restorable at least as long as its
        # lock would have kept it.
        noncurrent_days=args.lock_days,
        abort_upload_days=1,
    )
    backups["transitions"] = [{"days": args.cold_after_days, "storage_class": COLD_STORAGE_CLASS}]
    return [
        backups,
        {
            "id": "delete-markers",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"expired_object_delete_marker": True},
        },
    ]


def _via_s3(region: str, bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    """KMS use only through S3 in `region`, for objects of `bucket_arn`."""
    # The encryption context names the bucket (with an S3 Bucket Key) or the object; it
    # is a string-typed key, hence StringLike.
    return {
        "StringEquals": {"kms:ViaService": f"s3.{region}.{context.dns_suffix_of(region)}"},
        "StringLike": {
            "kms:EncryptionContext:aws:s3:arn": [
                bucket_arn,
                pulumi.Output.concat(bucket_arn, "/*"),
            ]
        },
    }


def replication_policy(
    *,
    source_region: str,
    replica_region: str,
    source_bucket_arn: pulumi.Input[str],
    replica_bucket_arn: pulumi.Input[str],
    source_key_arn: pulumi.Input[str],
    replica_key_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """What S3 needs to replicate locked SSE-KMS backups, and nothing more (see the module
    docstring for the pages this follows)."""
    source_objects = pulumi.Output.concat(source_bucket_arn, "/", BACKUP_PREFIX, "*")
    replica_objects = pulumi.Output.concat(replica_bucket_arn, "/", BACKUP_PREFIX, "*")

    return iam.document(
        iam.statement(
            ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            [source_bucket_arn],
            sid="ReadReplicationConfiguration",
        ),
        iam.statement(
            [
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
                "s3:GetObjectRetention",
                "s3:GetObjectLegalHold",
            ],
            [source_objects],
            sid="ReadSourceVersions",
        ),
        iam.statement(
            ["s3:ReplicateObject", "s3:ReplicateTags"],
            [replica_objects],
            sid="WriteReplicas",
        ),
        iam.statement(
            ["kms:Decrypt"],
            [source_key_arn],
            sid="DecryptSource",
            conditions=_via_s3(source_region, source_bucket_arn),
        ),
        iam.statement(
            ["kms:Encrypt", "kms:GenerateDataKey"],
            [replica_key_arn],
            sid="EncryptReplicas",
            conditions=_via_s3(replica_region, replica_bucket_arn),
        ),
    )
