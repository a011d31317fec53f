"""AWS client construction shared by the backup tools (region, endpoint, retries).

Region and endpoint come from the arguments when given, otherwise from the standard AWS
environment (`AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`,
`AWS_ENDPOINT_URL_<SERVICE>`), which is how CodeBuild and an operator's shell provide them and
how the tests point the tools at a moto server.
"""

from __future__ import annotations

import functools
import os
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


def client(service: str, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 client with adaptive retries; endpoint_url=None lets botocore read the env."""
    config = Config(
        region_name=resolve_region(region),
        retries={"max_attempts": 8, "mode": "adaptive"},
        # S3 must verify what we send and we verify what we get back.
        request_checksum_calculation="when_supported",
        response_checksum_validation="when_supported",
    )
    # A fresh session per client (credentials and env are read now), sharing one loader so
    # the service models are parsed once per process rather than once per client.
    session = botocore.session.get_session()
    session.register_component("data_loader", _loader())
    return session.create_client(service, endpoint_url=endpoint_url, config=config)


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()
