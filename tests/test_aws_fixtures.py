"""The shared AWS test fixtures (tests/conftest.py): nothing from the host, boto3 on moto."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from tests.conftest import AWS_TEST_REGION, fake_aws_env


def test_fake_env_hides_the_hosts_aws_settings(tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_PROFILE", "someones-real-profile")
        mp.setenv("AWS_SESSION_TOKEN", "real-token")
        mp.setenv("AWS_ENDPOINT_URL", "https://example.invalid")
        fake_aws_env(mp, tmp_path)
        leaked = {
            k for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL") if k in os.environ
        }
        assert leaked == set(), f"host variables survive: {sorted(leaked)}"
        session = boto3.Session()
        creds = session.get_credentials()
        assert (creds.access_key, creds.token) == ("testing", None)
        assert session.region_name == AWS_TEST_REGION
    assert os.environ.get("AWS_PROFILE") != "someones-real-profile", "monkeypatch did not undo"


def test_moto_env_sends_plain_boto3_clients_to_the_server(moto_env: str) -> None:
    assert moto_env.startswith("http://127.0.0.1:"), moto_env
    boto3.client("s3").create_bucket(
        Bucket="fixture-check",
        CreateBucketConfiguration={"LocationConstraint": AWS_TEST_REGION},
    )
    # Read back through an explicit endpoint: the bucket is on the server, not elsewhere.
    listed = boto3.client("s3", endpoint_url=moto_env).list_buckets()["Buckets"]
    assert "fixture-check" in [b["Name"] for b in listed], f"{moto_env}: {listed}"
