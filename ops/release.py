"""Release the app: zip its directory, upload it to the pipeline's source bucket, and say
which pipeline execution to watch.

    python -m ops.release --bucket <source bucket> [--key releases/app.zip] [--app-dir app]
                          [--region eu-west-1] [--pipeline <name>] [--wait 20]

The zip is deterministic (sorted entries, fixed timestamps, normalised modes), so the same
tree always gives the same bytes. The bucket must be versioned (CodePipeline's S3 source
requires it): the new object's version id is what the pipeline execution carries as its
source revision. Exit status: 0 on success, 1 on any error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import boto3.session
from botocore.exceptions import BotoCoreError, ClientError

from ops.awsenv import new_session
from ops.bundle import Bundle, ReleaseError, build_bundle

__all__ = ["Bundle", "ReleaseError", "build_bundle", "main"]


def upload(s3: Any, bucket: str, key: str, bundle: Bundle) -> str:
    """Upload to a versioned bucket and return the new object's version id."""
    status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
    if status != "Enabled":
        raise ReleaseError(
            f"bucket {bucket} has versioning {status}; CodePipeline's S3 source needs a "
            "versioned bucket (use the pipeline's source bucket)"
        )
    response = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=bundle.data,
        ContentType="application/zip",
        # CodePipeline shows this metadata as the revision summary of the execution.
        Metadata={"codepipeline-artifact-revision-summary": f"app bundle {bundle.sha256[:12]}"},
    )
    version_id = response.get("VersionId")
    if not version_id or version_id == "null":
        raise ReleaseError(f"s3://{bucket}/{key} was stored without a version id")
    return version_id


def find_execution(summaries: Iterable[dict[str, Any]], version_id: str) -> str | None:
    """The newest execution whose source revision is the uploaded object version."""
    for summary in summaries:  # list_pipeline_executions returns the newest first
        for revision in summary.get("sourceRevisions", []):
            if revision.get("revisionId") == version_id:
                return summary["pipelineExecutionId"]
    return None


def watch_hint(pipeline: str, region: str, execution_id: str | None) -> list[str]:
    console = f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{pipeline}"
    cli = f"aws codepipeline get-pipeline-execution --region {region} --pipeline-name {pipeline}"
    if execution_id:
        return [
            f"pipeline execution: {execution_id}",
            f"  console: {console}/executions/{execution_id}/timeline?region={region}",
            f"  status:  {cli} --pipeline-execution-id {execution_id}",
        ]
    return [
        "pipeline execution: not started yet (the pipeline picks up the new version shortly)",
        f"  console: {console}/view?region={region}",
        "  find it: aws codepipeline list-pipeline-executions "
        f"--region {region} --pipeline-name {pipeline} --max-items 5",
        f"  then:    {cli} --pipeline-execution-id <id>",
    ]


def wait_for_execution(
    codepipeline: Any, pipeline: str, version_id: str, wait_s: float, interval_s: float = 5.0
) -> str | None:
    """Poll briefly for the execution this upload started; None if not seen within wait_s."""
    deadline = time.monotonic() + wait_s
    while True:
        summaries = codepipeline.list_pipeline_executions(pipelineName=pipeline, maxResults=10)
        found = find_execution(summaries.get("pipelineExecutionSummaries", []), version_id)
        if found or time.monotonic() + interval_s > deadline:
            return found
        time.sleep(interval_s)


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError(f"must be 0-600 seconds (got {text})")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")  # exit 1 like every other failure


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog="python -m ops.release",
        description="Zip the app directory and upload it to the pipeline's source bucket.",
    )
    parser.add_argument("--bucket", required=True, help="the pipeline's (versioned) source bucket")
    parser.add_argument(
        "--key", default="releases/app.zip", help="object key (default: %(default)s)"
    )
    parser.add_argument(
        "--app-dir", type=Path, default=Path("app"), help="directory to release (default: app)"
    )
    parser.add_argument("--region", help="AWS region (default: from the AWS config/environment)")
    parser.add_argument("--pipeline", help="pipeline name: print the execution to watch")
    parser.add_argument(
        "--wait",
        type=_seconds,
        default=20.0,
        help="seconds to look for the pipeline execution before printing how to find it "
        "(default: %(default)s)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        bundle = build_bundle(args.app_dir)
        # A session of its own, on the service models already parsed in this process.
        session = boto3.session.Session(botocore_session=new_session(), region_name=args.region)
        region = session.region_name
        if not region:
            raise ReleaseError("no AWS region: pass --region or set AWS_REGION")
        codepipeline = session.client("codepipeline") if args.pipeline else None
        if codepipeline:
            # Fail before uploading when the pipeline name is wrong.
            codepipeline.get_pipeline(name=args.pipeline)
        print(
            f"bundle: {args.app_dir} ({len(bundle.files)} files, {len(bundle.data)} bytes, "
            f"sha256 {bundle.sha256})"
        )
        version_id = upload(session.client("s3"), args.bucket, args.key, bundle)
        print(f"uploaded: s3://{args.bucket}/{args.key}")
        print(f"version id: {version_id}")
        if codepipeline:
            found = wait_for_execution(codepipeline, args.pipeline, version_id, args.wait)
            print("\n".join(watch_hint(args.pipeline, region, found)))
    except (ReleaseError, ClientError, BotoCoreError, OSError) as exc:
        print(f"release: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
