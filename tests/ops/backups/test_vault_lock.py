"""What the vault's object lock guarantees, as S3 (moto over HTTP) enforces it.

Not relied on: shortening a COMPLIANCE retention (moto allows it, real S3 refuses).
"""

from __future__ import annotations

import pytest
from backup_testkit import Moto
from botocore.exceptions import ClientError

KEY = "postgres/app/20261126T104515Z.dump"


def _put(moto: Moto, bucket: str) -> str:
    return moto.client("s3").put_object(
        Bucket=bucket, Key=KEY, Body=b"PGDMP locked", ChecksumAlgorithm="SHA256"
    )["VersionId"]


def _versions(moto: Moto, bucket: str) -> list[str]:
    listing = moto.client("s3").list_object_versions(Bucket=bucket)
    return [v["VersionId"] for v in listing.get("Versions", [])]


def test_compliance_locked_version_cannot_be_deleted(moto: Moto, make_vault):
    vault = make_vault(mode="COMPLIANCE", days=30)
    s3 = moto.client("s3")
    version = _put(moto, vault.bucket)
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=vault.bucket, Key=KEY, VersionId=version)
    assert err.value.response["Error"]["Code"] == "AccessDenied", err.value.response
    # Not even with the governance bypass (that is what COMPLIANCE adds over GOVERNANCE).
    with pytest.raises(ClientError):
        s3.delete_object(
            Bucket=vault.bucket, Key=KEY, VersionId=version, BypassGovernanceRetention=True
        )
    assert version in _versions(moto, vault.bucket), f"{KEY} {version} gone from {vault.bucket}"


def test_plain_delete_only_hides_a_locked_backup(moto: Moto, make_vault):
    """Without a VersionId, DELETE adds a delete marker; the locked version survives."""
    vault = make_vault(mode="COMPLIANCE", days=30)
    s3 = moto.client("s3")
    version = _put(moto, vault.bucket)
    s3.delete_object(Bucket=vault.bucket, Key=KEY)
    assert version in _versions(moto, vault.bucket), f"{KEY} {version} gone after a plain delete"
    body = s3.get_object(Bucket=vault.bucket, Key=KEY, VersionId=version)["Body"].read()
    assert body == b"PGDMP locked", f"{KEY} {version} content changed"


def test_governance_lock_yields_to_the_bypass(moto: Moto, make_vault):
    """Why prod requires COMPLIANCE: whoever holds s3:BypassGovernanceRetention can delete."""
    vault = make_vault(mode="GOVERNANCE", days=30)
    s3 = moto.client("s3")
    version = _put(moto, vault.bucket)
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=vault.bucket, Key=KEY, VersionId=version)
    s3.delete_object(
        Bucket=vault.bucket, Key=KEY, VersionId=version, BypassGovernanceRetention=True
    )
    assert version not in _versions(moto, vault.bucket), f"{KEY} {version} still present"


def test_unlocked_bucket_lets_a_version_be_deleted(moto: Moto, make_vault):
    """The control case: without a lock the same call destroys the backup."""
    vault = make_vault(lock=False)
    s3 = moto.client("s3")
    version = s3.put_object(Bucket=vault.bucket, Key=KEY, Body=b"PGDMP open")["VersionId"]
    s3.delete_object(Bucket=vault.bucket, Key=KEY, VersionId=version)
    assert version not in _versions(moto, vault.bucket), f"{KEY} {version} still present"
