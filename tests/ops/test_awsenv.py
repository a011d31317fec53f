"""ops/awsenv.py: the tools' clients share one botocore session while the AWS environment is
unchanged, and any change to it (credentials, a config or credentials file) is seen by the
next client. No network: a client is built, never called."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ops import awsenv
from tests.conftest import fake_aws_env


def access_key(client: Any) -> str:
    """The access key the client signs with."""
    return client._request_signer._credentials.get_frozen_credentials().access_key


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    fake_aws_env(monkeypatch, tmp_path)
    return monkeypatch


def test_one_session_for_one_environment_and_a_fresh_client_each_time(env) -> None:
    first = awsenv.client("s3", endpoint_url="http://127.0.0.1:9")
    second = awsenv.client("s3", endpoint_url="http://127.0.0.1:9")
    assert first is not second, "awsenv.client handed out the same client twice"
    assert awsenv._session() is awsenv._session(), "same environment, yet a new session"


def test_new_credentials_in_the_environment_are_used(env) -> None:
    before = awsenv._session()
    assert access_key(awsenv.client("s3", endpoint_url="http://127.0.0.1:9")) == "testing"
    env.setenv("AWS_ACCESS_KEY_ID", "rotated")
    assert awsenv._session() is not before, "AWS_ACCESS_KEY_ID changed, session reused"
    assert access_key(awsenv.client("s3", endpoint_url="http://127.0.0.1:9")) == "rotated"


def write_profile(path: Path, key: str) -> None:
    path.write_text(f"[default]\naws_access_key_id = {key}\naws_secret_access_key = s\n")


def test_an_edited_credentials_file_is_read_again(env, tmp_path: Path) -> None:
    """Same variables, new file contents: what `aws configure` does between two runs."""
    env.delenv("AWS_ACCESS_KEY_ID")
    env.delenv("AWS_SECRET_ACCESS_KEY")
    credentials = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    write_profile(credentials, "first")
    assert access_key(awsenv.client("s3", endpoint_url="http://127.0.0.1:9")) == "first"
    write_profile(credentials, "second-key")
    assert access_key(awsenv.client("s3", endpoint_url="http://127.0.0.1:9")) == "second-key", (
        "AWS_SHARED_CREDENTIALS_FILE was edited, but the client used the old key"
    )


def test_the_edit_check_catches_a_session_that_ignores_the_files(env, monkeypatch) -> None:
    """The must-fail case of the test above: a key without the files serves stale keys."""
    monkeypatch.setattr(awsenv, "_environment_key", lambda: ("constant",))
    env.delenv("AWS_ACCESS_KEY_ID")
    env.delenv("AWS_SECRET_ACCESS_KEY")
    credentials = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    write_profile(credentials, "first")
    assert access_key(awsenv.client("s3", endpoint_url="http://127.0.0.1:9")) == "first"
    write_profile(credentials, "second-key")
    assert access_key(awsenv.client("s3", endpoint_url="http://127.0.0.1:9")) == "first"


def boto3_session(core: Any) -> Any:
    import boto3.session

    return boto3.session.Session(botocore_session=core, region_name="eu-west-1")


def test_boto3_sessions_share_the_model_loader_and_its_path_stays_put(env) -> None:
    """ops.release wraps a fresh session in boto3 each run: same loader, no path growth."""
    first = boto3_session(awsenv.new_session())
    paths = list(awsenv._loader(None).search_paths)
    second = boto3_session(awsenv.new_session())
    assert first._loader is second._loader is awsenv._loader(None), "the model loader is not shared"
    assert awsenv._loader(None).search_paths == paths, "boto3's data path was added twice"


def test_the_path_check_catches_a_plain_loader(env) -> None:
    """The must-fail case of the test above: boto3 appends its path to a plain loader again."""
    import botocore.loaders
    import botocore.session

    plain = botocore.loaders.Loader()
    for _ in range(2):
        core = botocore.session.get_session()
        core.register_component("data_loader", plain)
        boto3_session(core)
    assert len(plain.search_paths) != len(set(plain.search_paths))


def test_aws_data_path_is_honoured_as_botocore_does(env, tmp_path: Path) -> None:
    models = tmp_path / "models"
    env.setenv("AWS_DATA_PATH", str(models))
    assert str(models) in awsenv.new_session().get_component("data_loader").search_paths
    env.delenv("AWS_DATA_PATH")
    assert str(models) not in awsenv.new_session().get_component("data_loader").search_paths
