"""ops/release.py against a moto server: deterministic zip, refusals, upload, pipeline hint."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import boto3
import pytest

from ops.release import ReleaseError, build_bundle, find_execution, main, watch_hint
from tests.conftest import AWS_TEST_REGION as REGION

REPO = Path(__file__).resolve().parents[2]


_bucket_count = 0


def make_bucket(versioned: bool = True) -> str:
    global _bucket_count
    _bucket_count += 1
    name = f"release-source-{_bucket_count}"
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def object_count(bucket: str) -> int:
    return boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket)["KeyCount"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small bundle tree, with caches and build output that must stay out of the zip."""
    root = tmp_path / "bundle"
    files = {
        "appspec.yml": "version: 0.0\nos: linux\n",
        "buildspec.yml": "version: 0.2\n",
        "scripts/start.sh": "#!/usr/bin/env bash\nset -euo pipefail\n",
        "webapp/__init__.py": "",
        "webapp/reports/__init__.py": "# a package named like a build dir, kept\n",
        "webapp/__pycache__/x.cpython-311.pyc": "cache",
        "vendor/boto3/__init__.py": "built by CodeBuild",
        "reports/junit.xml": "<testsuites/>",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "scripts/start.sh").chmod(0o755)
    return root


RELEASED = [
    "appspec.yml",
    "buildspec.yml",
    "scripts/start.sh",
    "webapp/__init__.py",
    "webapp/reports/__init__.py",
]


def test_zip_is_deterministic_sorted_and_keeps_the_exec_bit(tree: Path):
    first = build_bundle(tree)
    os.utime(tree / "appspec.yml", (0, 0))  # timestamps must not matter
    assert build_bundle(tree).data == first.data, "same tree, different zip bytes"
    with zipfile.ZipFile(io.BytesIO(first.data)) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == RELEASED, "entries must be sorted, caches left out"
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in infos}
    assert modes["scripts/start.sh"] == 0o755 and modes["appspec.yml"] == 0o644

    (tree / "webapp/__init__.py").write_text("changed = True\n")
    assert build_bundle(tree).data != first.data, "a changed file must change the zip"


@pytest.mark.parametrize("missing", ["appspec.yml", "buildspec.yml"])
def test_refuses_a_bundle_without_a_required_file(tree, missing, moto_env, capsys):
    (tree / missing).unlink()
    with pytest.raises(ReleaseError, match=f"{missing} missing at its root"):
        build_bundle(tree)
    bucket = make_bucket()
    assert main(["--bucket", bucket, "--app-dir", str(tree)]) == 1
    assert f"{missing} missing at its root" in capsys.readouterr().err
    assert object_count(bucket) == 0, f"s3://{bucket}: nothing may be uploaded"


def test_uploads_the_zip_of_the_tree_and_prints_its_version(tree, moto_env, capsys):
    bucket = make_bucket()
    assert main(["--bucket", bucket, "--app-dir", str(tree)]) == 0
    out = capsys.readouterr().out
    s3 = boto3.client("s3", region_name=REGION)
    obj = s3.get_object(Bucket=bucket, Key="releases/app.zip")
    assert obj["VersionId"] and f"version id: {obj['VersionId']}\n" in out, out
    with zipfile.ZipFile(io.BytesIO(obj["Body"].read())) as archive:
        assert archive.namelist() == RELEASED, f"s3://{bucket}/releases/app.zip entries"
        for name in RELEASED:
            assert archive.read(name) == (tree / name).read_bytes(), f"{name} differs"

    # Releasing a changed tree to the same key makes a new version, and says which.
    (tree / "webapp/__init__.py").write_text("v2 = True\n")
    assert main(["--bucket", bucket, "--app-dir", str(tree)]) == 0
    latest = s3.head_object(Bucket=bucket, Key="releases/app.zip")["VersionId"]
    assert latest != obj["VersionId"], f"s3://{bucket}/releases/app.zip: no new version"
    assert f"version id: {latest}\n" in capsys.readouterr().out


def test_the_real_app_directory_is_releasable(moto_env, capsys):
    bucket = make_bucket()
    assert main(["--bucket", bucket, "--app-dir", str(REPO / "app")]) == 0
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key="releases/app.zip")
    with zipfile.ZipFile(io.BytesIO(body["Body"].read())) as archive:
        names = archive.namelist()
    for needed in ("appspec.yml", "buildspec.yml", "scripts/validate.sh", "webapp/server.py"):
        assert needed in names, f"app/{needed} missing from the release"
    assert not [n for n in names if "__pycache__" in n], "caches must not be released"


def test_refuses_an_unversioned_bucket(tree, moto_env, capsys):
    bucket = make_bucket(versioned=False)
    assert main(["--bucket", bucket, "--app-dir", str(tree)]) == 1
    assert f"bucket {bucket} has versioning never enabled" in capsys.readouterr().err
    assert object_count(bucket) == 0, f"s3://{bucket}: nothing may be uploaded"


def test_missing_bucket_is_a_clear_error(tree, moto_env, capsys):
    assert main(["--bucket", "no-such-bucket", "--app-dir", str(tree)]) == 1
    assert "NoSuchBucket" in capsys.readouterr().err


def make_pipeline(name: str) -> None:
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codepipeline.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))
    s3_source = {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"}
    build = {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}
    boto3.client("codepipeline", region_name=REGION).create_pipeline(
        pipeline={
            "name": name,
            "roleArn": role["Role"]["Arn"],
            "artifactStore": {"type": "S3", "location": "artifacts"},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": "Source",
                            "actionTypeId": s3_source,
                            "configuration": {"S3Bucket": "b", "S3ObjectKey": "releases/app.zip"},
                            "outputArtifacts": [{"name": "src"}],
                        }
                    ],
                },
                {
                    "name": "Test",
                    "actions": [
                        {
                            "name": "Test",
                            "actionTypeId": build,
                            "configuration": {"ProjectName": "app-tests"},
                            "inputArtifacts": [{"name": "src"}],
                        }
                    ],
                },
            ],
        }
    )


def test_pipeline_hint_when_the_execution_is_not_visible_yet(tree, moto_env, capsys):
    bucket = make_bucket()
    make_pipeline("app-pipeline")
    args = ["--bucket", bucket, "--app-dir", str(tree), "--pipeline", "app-pipeline"]
    assert main([*args, "--wait", "0"]) == 0
    out = capsys.readouterr().out
    assert "pipeline execution: not started yet" in out
    assert (
        f"https://{REGION}.console.aws.amazon.com/codesuite/codepipeline/pipelines/app-pipeline"
        in out
    )
    status_cli = "aws codepipeline get-pipeline-execution --region eu-west-1 --pipeline-name"
    assert f"{status_cli} app-pipeline --pipeline-execution-id <id>" in out, out


def test_unknown_pipeline_fails_before_uploading(tree, moto_env, capsys):
    bucket = make_bucket()
    args = ["--bucket", bucket, "--app-dir", str(tree), "--pipeline", "no-such-pipeline"]
    assert main(args) == 1
    assert "no-such-pipeline" in capsys.readouterr().err
    assert object_count(bucket) == 0, f"s3://{bucket}: nothing may be uploaded"


def test_find_execution_matches_the_source_revision():
    summaries = [  # the shape of list_pipeline_executions, newest first
        {
            "pipelineExecutionId": "newest",
            "sourceRevisions": [{"actionName": "Source", "revisionId": "v3"}],
        },
        {
            "pipelineExecutionId": "older",
            "sourceRevisions": [{"actionName": "Source", "revisionId": "v2"}],
        },
        {"pipelineExecutionId": "manual", "sourceRevisions": []},
    ]
    assert find_execution(summaries, "v2") == "older"
    assert find_execution(summaries, "v3") == "newest"
    assert find_execution(summaries, "v9") is None


def test_no_region_is_a_clear_error(tree, moto_env, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    assert main(["--bucket", "b", "--app-dir", str(tree)]) == 1
    assert "no AWS region: pass --region or set AWS_REGION" in capsys.readouterr().err


def test_cli_usage_errors_exit_1(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--app-dir", "app"])
    assert exit_info.value.code == 1, "a missing --bucket must exit 1"
    with pytest.raises(SystemExit) as exit_info:
        main(["--bucket", "b", "--wait", "-1"])
    assert exit_info.value.code == 1
    assert "must be 0-600 seconds (got -1)" in capsys.readouterr().err


def test_watch_hint_names_the_found_execution():
    hint = "\n".join(watch_hint("app-pipeline", REGION, "exec-1"))
    assert "pipeline execution: exec-1" in hint
    assert "/pipelines/app-pipeline/executions/exec-1/timeline?region=eu-west-1" in hint
    assert "--pipeline-name app-pipeline --pipeline-execution-id exec-1" in hint
    assert "not started yet" not in hint


def test_default_key_is_where_the_pipeline_looks() -> None:
    """`ops.release` without --key uploads to the key the pipeline's source stage watches."""
    import settings
    from ops import release

    args = release.parse_args(["--bucket", "b"])
    assert args.key == settings.Pipeline().source_key, "groundwork:pipeline.sourceKey"
