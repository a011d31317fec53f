"""AWS client construction shared by the backup tools (region, endpoint, retries).

Region and endpoint come from the arguments when given, otherwise from the standard AWS
environment (`AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`,
`AWS_ENDPOINT_URL_<SERVICE>`), which is how CodeBuild and an operator's shell provide them and
how the tests point the tools at a moto server.
"""

from __future__ import annotations

import functools
import os
import weakref
from typing import Any

import botocore.loaders
import botocore.session
from botocore.config import Config


class OpsError(Exception):
    """A failure the tools report as one clear line (no traceback)."""


def resolve_region(region: str | None) -> str:
    """The region to use: the argument, else AWS_REGION, else AWS_DEFAULT_REGION."""
    chosen = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not chosen:
        raise OpsError("no AWS region: pass --region or set AWS_REGION")
    return chosen


# Clean-up after a failure or a signal (aborting a multipart upload) must not wait as long as
# real work may: the normal client's 8 adaptive attempts at botocore's 60 s read timeout keep an
# interrupted operator waiting for minutes when S3 is unreachable, and later signals are held
# back meanwhile. Two attempts with short timeouts bound it to well under a minute; what is
# left behind is removed by the vault's lifecycle rule for incomplete uploads.
CLEANUP_TIMEOUTS = Config(
    connect_timeout=5, read_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"}
)
# How each client was asked for, so a clean-up client reaches exactly the same place.
_ORIGINS: weakref.WeakKeyDictionary[Any, tuple[str, str | None, str | None]] = (
    weakref.WeakKeyDictionary()
)


def client(service: str, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 client with adaptive retries; endpoint_url=None lets botocore read the env."""
    made = _create(service, region, endpoint_url, None)
    _ORIGINS[made] = (service, region, endpoint_url)
    return made


def cleanup_client(like: Any, timeouts: Config = CLEANUP_TIMEOUTS) -> Any:
    """A client for what `like` reaches, with `timeouts` instead of the patient retries."""
    origin = _ORIGINS.get(like)
    if origin is None:  # made elsewhere: reach the same resolved endpoint
        meta = like.meta
        origin = (meta.service_model.service_name, meta.region_name, meta.endpoint_url)
    return _create(*origin, timeouts)


def _create(
    service: str, region: str | None, endpoint_url: str | None, extra: Config | None
) -> Any:
    config = Config(
        region_name=resolve_region(region),
        retries={"max_attempts": 8, "mode": "adaptive"},
        # S3 must verify what we send and we verify what we get back.
        request_checksum_calculation="when_supported",
        response_checksum_validation="when_supported",
    )
    if extra is not None:
        config = config.merge(extra)
    # A fresh session per client (credentials and env are read now), sharing one loader so
    # the service models are parsed once per process rather than once per client.
    session = botocore.session.get_session()
    session.register_component("data_loader", _loader())
    return session.create_client(service, endpoint_url=endpoint_url, config=config)


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()
