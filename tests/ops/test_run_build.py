"""ops/run_build.py: the function `pulumi up` invokes to run the backup role setup once.

Against moto server for the calls it makes. moto reports every build SUCCEEDED at its first
status read, so the outcomes it cannot produce (a failed build, a build still running when
the function's time runs out) use a scripted CodeBuild stand-in with the same two calls.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ops import run_build
from tests.conftest import AWS_TEST_REGION


@pytest.fixture
def project() -> str:
    """A fresh project name per test: the moto server is shared by the whole session."""
    return f"setup-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def codebuild(moto_env: str, project: str) -> Any:
    client = boto3.client("codebuild", region_name=AWS_TEST_REGION)
    client.create_project(
        name=project,
        source={"type": "S3", "location": "bucket/backup-job/source.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole="arn:aws:iam::123456789012:role/setup",
    )
    return client


def test_a_successful_build_is_reported(codebuild: Any, project: str) -> None:
    sleeps: list[float] = []
    result = run_build.run(
        codebuild,
        {"projectName": project, "sourceVersion": "v1", "dbUser": "groundwork_backup"},
        seconds_left=lambda: 900.0,
        sleep=sleeps.append,
    )
    assert result["buildStatus"] == "SUCCEEDED" and result["buildId"].startswith(f"{project}:")
    assert codebuild.list_builds_for_project(projectName=project)["ids"] == [result["buildId"]]


def test_the_handler_uses_the_lambda_environment(codebuild: Any, project: str) -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 900_000

    assert run_build.handler({"projectName": project}, Context())["buildStatus"] == "SUCCEEDED"


@pytest.mark.parametrize("event", [{}, {"projectName": ""}, {"projectName": 3}])
def test_a_bad_event_fails(event: dict[str, Any], codebuild: Any) -> None:
    with pytest.raises(run_build.BuildFailed, match="projectName"):
        run_build.run(codebuild, event, seconds_left=lambda: 900.0, sleep=lambda _: None)


def test_an_unknown_project_fails_without_retrying(codebuild: Any) -> None:
    sleeps: list[float] = []
    with pytest.raises(run_build.BuildFailed, match="cannot start a build of nope"):
        run_build.run(
            codebuild, {"projectName": "nope"}, seconds_left=lambda: 900.0, sleep=sleeps.append
        )
    assert sleeps == []


class Scripted:
    """CodeBuild's two calls with the statuses a test decides."""

    def __init__(self, statuses: list[str], denied_starts: int = 0) -> None:
        self.statuses: Iterator[str] = iter(statuses)
        self.denied = denied_starts

    def start_build(self, **request: Any) -> dict[str, Any]:
        if self.denied:
            self.denied -= 1
            error = type("ClientError", (Exception,), {})("denied")
            error.response = {"Error": {"Code": "AccessDeniedException"}}  # type: ignore[attr-defined]
            raise error
        return {"build": {"id": f"{request['projectName']}:1"}}

    def batch_get_builds(self, ids: list[str]) -> dict[str, Any]:
        return {
            "builds": [{"id": ids[0], "buildStatus": next(self.statuses), "currentPhase": "BUILD"}]
        }


def test_a_failed_build_fails_the_invocation() -> None:
    sleeps: list[float] = []
    client = Scripted(["IN_PROGRESS", "IN_PROGRESS", "FAILED"])
    with pytest.raises(run_build.BuildFailed, match="ended FAILED in phase BUILD"):
        run_build.run(
            client, {"projectName": "setup"}, seconds_left=lambda: 900.0, sleep=sleeps.append
        )
    assert sleeps == [run_build.POLL_SECONDS] * 2


def test_running_out_of_time_is_reported_before_lambda_kills_it() -> None:
    left = iter([900.0, 25.0])
    client = Scripted(["IN_PROGRESS", "IN_PROGRESS"])
    with pytest.raises(run_build.BuildFailed, match=r"still IN_PROGRESS.*rerun `pulumi up`"):
        run_build.run(
            client, {"projectName": "setup"}, seconds_left=lambda: next(left), sleep=lambda _: None
        )


def test_a_role_not_yet_usable_is_retried() -> None:
    sleeps: list[float] = []
    client = Scripted(["SUCCEEDED"], denied_starts=2)
    result = run_build.run(
        client, {"projectName": "setup"}, seconds_left=lambda: 900.0, sleep=sleeps.append
    )
    assert result["buildStatus"] == "SUCCEEDED" and len(sleeps) == 2


def test_the_function_needs_nothing_but_the_lambda_runtime() -> None:
    """The starter is deployed as one file: it may import only the standard library and boto3."""
    source = Path(run_build.__file__).read_text()
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imports <= {"__future__", "time", "collections", "typing", "boto3"}, imports
    assert "ops" not in imports
