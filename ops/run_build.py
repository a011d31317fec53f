"""Lambda handler: run one CodeBuild build to completion and report how it ended.

`pulumi up` must create the backup job's database role without a hand step, and only code
inside the VPC that holds the master secret may do that (ops/backup_role.py, run by the
backup job's setup project). Pulumi cannot start a build itself, so the `BackupJob`
component invokes this function once (an `aws.lambda_.Invocation`, again whenever the setup's
code or settings change): it starts the build, waits for it, and fails the invocation, and so
the deploy, unless the build succeeded. The nightly schedule is created only after that, so
the first backup never meets a missing role.

The event: `{"projectName": str, "sourceVersion": str?}` (other keys only make a changed
setting re-run the invocation). Runs on the Lambda Python runtime, which ships boto3; tests
run it against moto server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

TERMINAL = ("SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED")
POLL_SECONDS = 10.0
# IAM changes take a few seconds to reach every endpoint; the invocation usually runs right
# after the function's role policy was attached.
START_RETRIES = 6
# Stop waiting this long before Lambda would kill the function, to report instead.
MARGIN_SECONDS = 20.0


class BuildFailed(RuntimeError):
    """The build did not succeed (or did not finish in time); the message says which."""


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _start(codebuild: Any, event: Mapping[str, Any], sleep: Callable[[float], None]) -> str:
    project = event.get("projectName")
    if not isinstance(project, str) or not project:
        raise BuildFailed(f"projectName must be a non-empty string (got {project!r})")
    request: dict[str, Any] = {"projectName": project}
    if event.get("sourceVersion"):
        request["sourceVersion"] = str(event["sourceVersion"])
    for attempt in range(1, START_RETRIES + 1):
        try:
            return str(codebuild.start_build(**request)["build"]["id"])
        except Exception as exc:
            denied = _error_code(exc) in ("AccessDeniedException", "AccessDenied")
            if not denied or attempt == START_RETRIES:
                raise BuildFailed(f"cannot start a build of {project}: {exc}") from None
            sleep(5.0 * attempt)
    raise AssertionError("unreachable")


def run(
    codebuild: Any,
    event: Mapping[str, Any],
    *,
    seconds_left: Callable[[], float],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Start the build and poll until it ends or time runs out."""
    build_id = _start(codebuild, event, sleep)
    while True:
        builds = codebuild.batch_get_builds(ids=[build_id]).get("builds", [])
        status = builds[0].get("buildStatus") if builds else None
        if status == "SUCCEEDED":
            return {"buildId": build_id, "buildStatus": status}
        if status in TERMINAL:
            phase = builds[0].get("currentPhase", "?")
            raise BuildFailed(
                f"build {build_id} ended {status} in phase {phase}; see its log in the "
                "project's log group"
            )
        if seconds_left() < POLL_SECONDS + MARGIN_SECONDS:
            raise BuildFailed(
                f"build {build_id} still {status or 'unknown'} when the function ran out of "
                "time; rerun `pulumi up` once it has finished (the setup is idempotent)"
            )
        sleep(POLL_SECONDS)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    return run(
        boto3.client("codebuild"),
        event,
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000.0,
    )
