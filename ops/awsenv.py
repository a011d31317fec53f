"""AWS client construction shared by the backup tools (region, endpoint, retries).

Region and endpoint come from the arguments when given, otherwise from the standard AWS
environment (`AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`,
`AWS_ENDPOINT_URL_<SERVICE>`), which is how CodeBuild and an operator's shell provide them and
how the tests point the tools at a moto server.
"""

from __future__ import annotations

import functools
import os
import threading
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
    session = _session()
    with _SESSION_LOCK:  # a botocore session is not thread-safe; its clients are
        return session.create_client(service, endpoint_url=endpoint_url, config=config)


_SESSION_LOCK = threading.Lock()


def _session() -> botocore.session.Session:
    """The botocore session for the AWS environment as it is now.

    Building a session registers over a hundred event handlers (several ms of CPU), and a
    tool makes a few clients per run. A session caches what it read from the environment and
    the config files (credentials, profile, scoped config), so one is shared only while all
    of that is unchanged: the key is every AWS_/BOTO variable plus the identity and
    modification time of both files. Any change (new credentials, another profile, an edited
    file) gets a fresh session that reads everything anew; clients are never shared.
    """
    key = _environment_key()
    with _SESSION_LOCK:
        session = _SESSION.get(key)
        if session is None:
            session = new_session()
            _SESSION.clear()  # the environment changed: the old session is never used again
            _SESSION[key] = session
        return session


# At most one entry: the session for the environment last seen.
_SESSION: dict[tuple[object, ...], botocore.session.Session] = {}


def _environment_key() -> tuple[object, ...]:
    variables = tuple(
        sorted((k, v) for k, v in os.environ.items() if k.startswith(("AWS_", "BOTO")))
    )
    files = []
    for variable, default in (
        ("AWS_CONFIG_FILE", "~/.aws/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
    ):
        path = os.path.expanduser(os.environ.get(variable, default))
        try:
            info = os.stat(path)
        except OSError:
            files.append((path, None))
            continue
        files.append((path, (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)))
    return variables, tuple(files)


def new_session() -> botocore.session.Session:
    """A fresh botocore session (environment and config files read anew) on the process's
    one model loader: each service model is parsed once per process, not once per session."""
    session = botocore.session.get_session()
    # Where botocore's own session finds models: AWS_DATA_PATH or the config's data_path.
    session.register_component("data_loader", _loader(session.get_config_variable("data_path")))
    return session


class _SearchPaths(list):
    """A loader's search path that keeps each directory once: boto3 appends its own data
    directory to the loader of every session it wraps, and this loader is shared."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def _loader(data_path: str | None) -> botocore.loaders.Loader:
    """One loader per data path, set up as botocore.loaders.create_loader does."""
    extra = data_path.split(os.pathsep) if data_path else []
    paths = _SearchPaths(os.path.expanduser(os.path.expandvars(path)) for path in extra)
    return botocore.loaders.Loader(extra_search_paths=paths)
