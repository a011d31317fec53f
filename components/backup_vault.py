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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi

from components import buckets, context, kms

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


@dataclass(frozen=True)
class BackupVaultArgs:
    """Defaults are the safe values; settings.Backups documents each one."""

    region: str
    lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "COMPLIANCE"
    lock_days: int = 30
    cold_after_days: int = 30
    expire_after_days: int = 90
    protect: bool = True


class BackupVault(pulumi.ComponentResource):
    """Object-locked, versioned, KMS-encrypted, private, TLS-only bucket with a lifecycle."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    lock_mode: str
    lock_days: int

    def __init__(
        self, name: str, args: BackupVaultArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:data:BackupVault", name, None, opts)
        problems = lifecycle_problems(args.lock_days, args.cold_after_days, args.expire_after_days)
        if problems:
            raise ValueError(f"BackupVault {name}: {'; '.join(problems)}")
        partition = context.partition_of(args.region)
        account = context.account_id(self)

        key = kms.encryption_key(
            f"{name}-key",
            description="Backup vault object encryption",
            partition=partition,
            account=account,
            parent=self,
            protect=args.protect,
        )
        bucket = buckets.private_bucket(
            f"{name}-bucket",
            parent=self,
            purpose="backups",
            kms_key_arn=key.arn,
            protect=args.protect,
            versioned=True,
            object_lock=buckets.ObjectLock(mode=args.lock_mode, days=args.lock_days),
            lifecycle_rules=[
                {
                    "id": "backups",
                    "status": "Enabled",
                    "filter": {"prefix": BACKUP_PREFIX},
                    "transitions": [
                        {"days": args.cold_after_days, "storage_class": COLD_STORAGE_CLASS}
                    ],
                    "expiration": {"days": args.expire_after_days},
                    # A backup hidden early by a delete marker stays restorable at least as
                    # long as its lock would have kept it.
                    "noncurrent_version_expiration": {"noncurrent_days": args.lock_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                },
                {
                    "id": "delete-markers",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "expiration": {"expired_object_delete_marker": True},
                },
            ],
        ).bucket

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.lock_mode = args.lock_mode
        self.lock_days = args.lock_days
        self.register_outputs(
            {"bucketName": self.bucket_name, "bucketArn": self.bucket_arn, "keyArn": self.key_arn}
        )
