"""The backup vault (object-locked S3 bucket) as the backup tools see it: key layout,
finding the newest logical backup, checksummed upload and download, lock inspection.

Layout: `postgres/<db>/<UTC timestamp>.dump` (e.g. `postgres/app/20261126T104515Z.dump`),
timestamp = when pg_dump started, so keys sort by age and the newest is the last key.
Each object carries user metadata `sha256` (hex of the whole object) and an S3 checksum
(SHA-256, or a composite SHA-256 for multipart uploads) that S3 verified on upload.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import ProtocolError

from ops import awsenv
from ops.awsenv import OpsError

PREFIX = "postgres"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
SOURCE_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
_KEY = re.compile(rf"^{PREFIX}/(?P<db>[^/]+)/(?P<ts>\d{{8}}T\d{{6}}Z)\.dump$")
# S3 allows 5 GiB in one PUT; well below that a multipart upload retries in smaller pieces.
MULTIPART_THRESHOLD = 256 * 1024 * 1024
PART_SIZE = 64 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000
READ_CHUNK = 1024 * 1024


def aws_error(err: Exception) -> str:
    """`Code: Message` of a botocore error, for one-line reports."""
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(err)


def check_source_db(name: str) -> str:
    if not SOURCE_DB_NAME.match(name or ""):
        raise OpsError(
            f"database name must match {SOURCE_DB_NAME.pattern} (got {name!r}); it becomes part "
            "of the backup's object key"
        )
    return name


def backup_prefix(db: str) -> str:
    return f"{PREFIX}/{check_source_db(db)}/"


def backup_key(db: str, when: datetime) -> str:
    """`postgres/<db>/<YYYYmmddTHHMMSSZ>.dump` for an aware datetime (converted to UTC)."""
    if when.tzinfo is None:
        raise OpsError("backup time must be timezone-aware")
    return f"{backup_prefix(db)}{when.astimezone(UTC).strftime(TIMESTAMP_FORMAT)}.dump"


def parse_backup_key(key: str) -> tuple[str, datetime] | None:
    """(db, dump time) of a backup key, or None for anything else in the bucket."""
    match = _KEY.match(key)
    if not match:
        return None
    when = datetime.strptime(match.group("ts"), TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    return match.group("db"), when


# The key's timestamp comes from the job's clock, LastModified from S3's: only the latter
# decides which backup is newest. A key may trail its LastModified by the time the dump and
# upload took, at most the job's timeout (`groundwork:backups.jobTimeoutMinutes`, 60 by
# default), plus a margin; it may lead it only by ordinary clock skew.
DEFAULT_UPLOAD_TOLERANCE = timedelta(minutes=90)
CLOCK_SKEW_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class BackupRef:
    bucket: str
    key: str
    dumped_at: datetime
    size: int | None = None
    version_id: str | None = None
    last_modified: datetime | None = None

    @property
    def label(self) -> str:
        version = f" (version {self.version_id})" if self.version_id else ""
        return f"s3://{self.bucket}/{self.key}{version}"


def format_age(age: timedelta) -> str:
    """`12m05s`, `3.5h`; a negative age (a time in the future) says so instead of `-1m30s`."""
    seconds = int(age.total_seconds())
    if seconds < 0:
        return f"{format_age(timedelta(seconds=-seconds))} in the future"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds / 3600:.1f}h"


def key_time_defect(ref: BackupRef, tolerance: timedelta) -> str | None:
    """Why the key's timestamp cannot be trusted against the object's LastModified, or None.

    A key dated after its upload finished, or long before it, was written by a clock that was
    wrong; trusting it would let a stale backup pass as the newest one forever.
    """
    if ref.last_modified is None:
        return None
    lead = ref.dumped_at - ref.last_modified
    if lead > CLOCK_SKEW_TOLERANCE:
        return (
            f"{ref.key}: key time {ref.dumped_at:%Y-%m-%dT%H:%M:%SZ} is {format_age(lead)} after "
            f"S3 stored it ({ref.last_modified:%Y-%m-%dT%H:%M:%SZ}): the job's clock was ahead"
        )
    if -lead > tolerance:
        return (
            f"{ref.key}: key time {ref.dumped_at:%Y-%m-%dT%H:%M:%SZ} is {format_age(-lead)} "
            f"before S3 stored it ({ref.last_modified:%Y-%m-%dT%H:%M:%SZ}), more than the "
            f"upload tolerance {format_age(tolerance)}: the job's clock was behind"
        )
    return None


@dataclass(frozen=True)
class Listing:
    """The backups of one database, oldest first by S3's LastModified, and the rejected."""

    valid: list[BackupRef]
    defects: list[tuple[BackupRef, str]]

    @property
    def newest(self) -> BackupRef | None:
        return self.valid[-1] if self.valid else None


def list_backups(
    s3: Any, bucket: str, db: str, tolerance: timedelta = DEFAULT_UPLOAD_TOLERANCE
) -> Listing:
    """Current versions under postgres/<db>/ (a deleted backup does not count), split into
    trustworthy backups ordered by LastModified and those with a defective key time."""
    refs: list[BackupRef] = []
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=backup_prefix(db)
        )
        for page in pages:
            for item in page.get("Contents", []):
                parsed = parse_backup_key(item["Key"])
                if parsed is None or parsed[0] != db:
                    continue
                refs.append(
                    BackupRef(
                        bucket, item["Key"], parsed[1], item.get("Size"),
                        last_modified=item.get("LastModified"),
                    )
                )  # fmt: skip
    except (ClientError, BotoCoreError) as err:
        raise OpsError(f"cannot list s3://{bucket}/{backup_prefix(db)}: {aws_error(err)}") from None
    refs.sort(key=lambda ref: (ref.last_modified or ref.dumped_at, ref.key))
    valid, defects = [], []
    for ref in refs:
        reason = key_time_defect(ref, tolerance)
        if reason is None:
            valid.append(ref)
        else:
            defects.append((ref, reason))
    return Listing(valid, defects)


def newest_backup(
    s3: Any, bucket: str, db: str, tolerance: timedelta = DEFAULT_UPLOAD_TOLERANCE
) -> BackupRef | None:
    """The backup S3 stored last, among those whose key time is trustworthy."""
    return list_backups(s3, bucket, db, tolerance).newest


def resolve_backup(
    s3: Any,
    bucket: str,
    db: str,
    key: str | None = None,
    version_id: str | None = None,
    tolerance: timedelta = DEFAULT_UPLOAD_TOLERANCE,
) -> tuple[BackupRef, dict[str, Any]]:
    """The given key (and version), else the newest valid backup of db, with its HeadObject
    response; fails if there is none."""
    if key is None:
        ref = newest_backup(s3, bucket, db, tolerance)
        if ref is None:
            raise OpsError(f"no usable backups under s3://{bucket}/{backup_prefix(db)}")
        key = ref.key
    parsed = parse_backup_key(key)
    if parsed is None:
        raise OpsError(
            f"{key} is not a backup key (expected {PREFIX}/<db>/<YYYYmmddTHHMMSSZ>.dump)"
        )
    if parsed[0] != db:
        raise OpsError(f"{key} is a backup of database {parsed[0]}, not {db}")
    head = head_object(s3, bucket, key, version_id)
    ref = BackupRef(
        bucket, key, parsed[1], head.get("ContentLength"), head.get("VersionId"),
        head.get("LastModified"),
    )  # fmt: skip
    return ref, head


def head_object(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {"Bucket": bucket, "Key": key, "ChecksumMode": "ENABLED"}
    if version_id:
        args["VersionId"] = version_id
    try:
        return s3.head_object(**args)
    except (ClientError, BotoCoreError) as err:
        version = f" version {version_id}" if version_id else ""
        raise OpsError(f"cannot read s3://{bucket}/{key}{version}: {aws_error(err)}") from None


def sha256_b64(raw_digest: bytes) -> str:
    return base64.b64encode(raw_digest).decode("ascii")


def composite_sha256(part_digests: list[bytes]) -> str:
    """S3's checksum of a multipart object: SHA-256 over the parts' digests, `-<parts>`."""
    return f"{sha256_b64(hashlib.sha256(b''.join(part_digests)).digest())}-{len(part_digests)}"


@dataclass(frozen=True)
class Download:
    sha256_hex: str
    size: int
    metadata_sha256: str | None
    s3_checksum: str | None
    version_id: str | None
    resumed: int = 0  # how many times a cut transfer was resumed by byte range


# A cut connection mid-body: resume from the byte we have instead of starting over.
_RESUMABLE = (
    ReadTimeoutError,
    ResponseStreamingError,
    IncompleteReadError,
    ConnectionClosedError,
    EndpointConnectionError,
    ProtocolError,
    ConnectionError,
)
DOWNLOAD_RETRIES = 5


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _get_object_args(
    bucket: str, key: str, version_id: str | None, first: dict[str, Any] | None, size: int
) -> dict[str, Any]:
    """The first request asks S3 for its checksum; a resumed one continues at byte `size` of
    the very version and ETag the first response returned."""
    args: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        args["VersionId"] = version_id
    elif first:
        args["VersionId"] = first.get("VersionId")
    if first is None:
        args["ChecksumMode"] = "ENABLED"
    else:
        args["Range"] = f"bytes={size}-"
        args["IfMatch"] = first["ETag"]
    return args


def stream_object(
    s3: Any,
    bucket: str,
    key: str,
    version_id: str | None,
    sink: Path | None = None,
    *,
    retries: int = DOWNLOAD_RETRIES,
    log: Callable[[str], None] = lambda _: None,
) -> Download:
    """Read the whole object, hashing it (and writing it to the file sink when given).

    A transfer cut mid-way resumes with `Range: bytes=<have>-`, pinned to the same version
    and ETag (If-Match), up to `retries` times; the SHA-256 covers the joined bytes.
    """
    where = f"s3://{bucket}/{key}" + (f" version {version_id}" if version_id else "")
    digest, size, resumed = hashlib.sha256(), 0, 0
    first: dict[str, Any] | None = None
    fd = os.open(sink, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600) if sink else None
    try:
        while True:
            try:
                response = s3.get_object(**_get_object_args(bucket, key, version_id, first, size))
                first = first or response
                body = response["Body"]
                while chunk := body.read(READ_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    if fd is not None:
                        _write_all(fd, chunk)
                break
            except _RESUMABLE as err:
                if first is None or resumed >= retries:
                    raise OpsError(f"cannot read {where}: {err}") from None
                resumed += 1
                log(f"transfer of {where} cut at byte {size} ({err}); resuming from there")
    except OSError as err:
        raise OpsError(f"cannot write {sink}: {err.strerror or err}") from None
    except (ClientError, BotoCoreError) as err:
        # botocore raises FlexibleChecksumError here if S3's own checksum does not match.
        raise OpsError(f"cannot read {where}: {aws_error(err)}") from None
    finally:
        if fd is not None:
            os.close(fd)
    assert first is not None
    return Download(
        digest.hexdigest(),
        size,
        first.get("Metadata", {}).get("sha256"),
        first.get("ChecksumSHA256"),
        first.get("VersionId"),
        resumed,
    )


@dataclass(frozen=True)
class Upload:
    version_id: str | None
    s3_checksum: str  # the value S3 must report back for this object
    parts: int


def _part_size(size: int, part_size: int) -> int:
    needed = -(-size // MAX_PARTS)
    return max(part_size, needed, MIN_PART_SIZE)


def upload_file(
    s3: Any,
    path: Path,
    bucket: str,
    key: str,
    *,
    sha256: bytes,
    kms_key_id: str,
    metadata: dict[str, str],
    multipart_threshold: int = MULTIPART_THRESHOLD,
    part_size: int = PART_SIZE,
) -> Upload:
    """Upload with SSE-KMS, an S3-verified SHA-256 and If-None-Match (never replace a key).

    No explicit retention: the version takes the vault's default object lock, which the
    caller verifies afterwards.
    """
    size = path.stat().st_size
    common: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": kms_key_id,
        "Metadata": metadata,
        "ContentType": "application/octet-stream",
    }
    try:
        if size <= multipart_threshold:
            with open(path, "rb") as body:
                response = s3.put_object(
                    **common,
                    Body=body,
                    ContentLength=size,
                    # S3 requires the algorithm header on a bucket with a default lock; the
                    # given value is used as is, so S3 checks the body against our hash.
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=sha256_b64(sha256),
                    IfNoneMatch="*",
                )
            return Upload(response.get("VersionId"), sha256_b64(sha256), 1)
        return _multipart(s3, path, size, common, _part_size(size, part_size))
    except (ClientError, BotoCoreError) as err:
        if isinstance(err, ClientError) and err.response.get("Error", {}).get("Code") in (
            "PreconditionFailed",
            "412",
        ):
            raise OpsError(f"s3://{bucket}/{key} exists already; not replacing it") from None
        raise OpsError(f"upload to s3://{bucket}/{key} failed: {aws_error(err)}") from None


def _multipart(s3: Any, path: Path, size: int, common: dict[str, Any], part_size: int) -> Upload:
    create = s3.create_multipart_upload(**common, ChecksumAlgorithm="SHA256")
    upload_id = create["UploadId"]
    parts: list[dict[str, Any]] = []
    digests: list[bytes] = []
    try:
        with open(path, "rb") as source:
            number = 1
            while data := source.read(part_size):
                digest = hashlib.sha256(data).digest()
                response = s3.upload_part(
                    Bucket=common["Bucket"],
                    Key=common["Key"],
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                    ChecksumSHA256=sha256_b64(digest),
                )
                parts.append(
                    {
                        "PartNumber": number,
                        "ETag": response["ETag"],
                        "ChecksumSHA256": sha256_b64(digest),
                    }
                )
                digests.append(digest)
                number += 1
        done = s3.complete_multipart_upload(
            Bucket=common["Bucket"],
            Key=common["Key"],
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            IfNoneMatch="*",
        )
    except BaseException:
        abort_upload(s3, common["Bucket"], common["Key"], upload_id)
        raise
    return Upload(done.get("VersionId"), composite_sha256(digests), len(parts))


def abort_upload(
    s3: Any, bucket: str, key: str, upload_id: str, timeouts: Any = awsenv.CLEANUP_TIMEOUTS
) -> None:
    """Abort an unfinished multipart upload, briefly: it is clean-up after a failure or signal.

    An unfinished upload keeps costing storage, but a failed abort is not worth masking the
    cause, nor worth minutes of an interrupted operator's time (see awsenv.CLEANUP_TIMEOUTS).
    """
    with contextlib.suppress(ClientError, BotoCoreError):
        awsenv.cleanup_client(s3, timeouts).abort_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id
        )


@dataclass(frozen=True)
class LockRule:
    mode: str
    days: int  # Years are converted at 365 days


def default_lock(s3: Any, bucket: str) -> tuple[bool, LockRule | None]:
    """(object lock enabled, default retention rule) of the bucket."""
    try:
        config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ObjectLockConfigurationNotFoundError":
            return False, None
        raise OpsError(f"cannot read object lock of {bucket}: {aws_error(err)}") from None
    except BotoCoreError as err:
        raise OpsError(f"cannot read object lock of {bucket}: {aws_error(err)}") from None
    enabled = config.get("ObjectLockEnabled") == "Enabled"
    retention = config.get("Rule", {}).get("DefaultRetention")
    if not retention:
        return enabled, None
    days = retention.get("Days") or 365 * retention.get("Years", 0)
    return enabled, LockRule(retention.get("Mode", ""), int(days))


def retention_from_head(head: dict[str, Any]) -> tuple[str, datetime] | None:
    """(mode, retain-until) of the version a HeadObject response describes, or None.

    S3 includes the lock headers only when the caller may read retention
    (s3:GetObjectRetention), so a missing date can also mean a missing permission.
    """
    until = head.get("ObjectLockRetainUntilDate")
    if until is None:
        return None
    return head.get("ObjectLockMode", ""), until


def kms_key_matches(given: str, actual: str | None) -> bool | None:
    """Whether the object's key ARN is the key that was asked for; None when an alias was
    given (resolving it would need kms:DescribeKey, which the job does not have)."""
    if actual is None:
        return False
    if given.startswith("alias/") or ":alias/" in given:
        return None
    if given.startswith("arn:"):
        return given == actual
    return actual.endswith(f":key/{given}") or actual == given
