"""DeployPipeline: basic automation. A CodePipeline (V2) that tests every release, then
deploys it in place to the web tier's autoscaling group, and rolls back on its own.

Stages: Source -> Test -> Approval (when `requireApproval`) -> Deploy.

- Source: by default one object (`sourceKey`, a zip of the app with `buildspec.yml` and
  `appspec.yml` at its root) in a versioned, encrypted, private source bucket; uploading a
  new version starts the pipeline through S3's EventBridge notifications (no polling, no
  CloudTrail, no third-party authorisation). With `source: github`, a CodeStar/CodeConnections
  connection to one repository and branch instead.
- Test: a CodeBuild project, not privileged, runs the app's buildspec: its tests' JUnit
  results go to a pre-created report group, its logs to an encrypted log group with a
  retention, and its output (the CodeDeploy bundle) to the encrypted artifact bucket.
- Approval: a manual approval announced on the alerts topic (prod).
- Deploy: CodeDeploy, in place, one instance at a time, with the load balancer taking each
  instance out of service while it updates. A failed deployment, or any rollback alarm going
  off while it runs, redeploys the last good revision. Instances the group launches later
  (scaling, refresh) get the last successful revision before they take traffic.

Every role is scoped to this pipeline's own buckets, key, project, report group, application,
deployment group, group and target group; the few actions AWS only authorises on `*`
(describe calls and the agent's command channel) are listed in `WILDCARD_RESOURCE_ACTIONS`.

The instance side of deploys (the agent's permissions) is attached here, to the web tier's
instance role, as an inline policy rather than through `WebTierArgs.instance_policies`: the
policy names this pipeline's artifact bucket, key and prefix, and the pipeline itself needs
the web tier's group and target group, so passing it into the web tier would make the two
depend on each other. Attaching it from here keeps every deploy permission in one component
and leaves the web tier unaware of deployments.

Pipeline failures and failed deployments (including the automatic deployments to new
instances, which no pipeline run watches) reach the alerts topic through EventBridge rules;
the topic's policy lets EventBridge publish.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import pulumi
import pulumi_aws as aws

from components import buckets, context, iam, kms
from components.loggroups import log_group
from components.outputs import register_all

# The buildspec's `reports:` key (app/buildspec.yml). CodeBuild uses an existing report group
# named `<project>-<key>`, so the pre-created group gets exactly that name.
REPORT_GROUP_KEY = "app-tests"
# Amazon Linux 2023, like the instances; it offers the Python 3.11 runtime the buildspec asks for.
BUILD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
# Safest in-place config: the rest of the fleet keeps serving while one instance updates.
DEPLOYMENT_CONFIG = "CodeDeployDefault.OneAtATime"
DEPLOYMENT_GROUP = "web"
SOURCE_ARTIFACT = "Source"
BUNDLE_ARTIFACT = "Bundle"
# CodePipeline stores an execution's artifacts under the first 20 characters of the
# pipeline's name (AWS::CodePipeline::Pipeline ArtifactStore, Location).
ARTIFACT_PREFIX_LENGTH = 20
TEST_REPORT_PREFIX = "test-reports"
CODEDEPLOY_EVENT_STATES = ("FAILURE",)
# The seed copy of the reference release (components/bootstrap.py installs it at boot).
SEED_PREFIX = "seed"
# Inputs of the initial release object that carry its content: ignored after the first put,
# so a release the user uploads is never overwritten by `pulumi up`.
INITIAL_RELEASE_IGNORED: tuple[str, ...] = (
    "contentBase64", "content", "source", "sourceHash", "etag", "metadata", "contentType",
)  # fmt: skip

# Actions that support no resource-level permissions (or, for the CodeDeploy agent's command
# channel, no resource type at all): AWS authorises them only with Resource "*". All are
# read-only describes, except the four agent commands, which act only on the caller's host.
WILDCARD_RESOURCE_ACTIONS: frozenset[str] = frozenset(
    {
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeLifecycleHooks",
        "autoscaling:DescribeScalingActivities",
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceStatus",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:DescribeTargetHealth",
        "tag:GetResources",
        "codedeploy-commands-secure:GetDeploymentSpecification",
        "codedeploy-commands-secure:PollHostCommand",
        "codedeploy-commands-secure:PutHostCommandAcknowledgement",
        "codedeploy-commands-secure:PutHostCommandComplete",
    }
)

_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,59}$")
_KMS_USE = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
    "kms:DescribeKey",
)
_AGENT_PREFIX = "codedeploy-commands-secure:"


def physical_prefix(project: str, stack: str) -> str:
    """`<project>-<stack>` reduced to what every name here accepts (letters, digits, '-')."""
    text = re.sub(r"[^A-Za-z0-9-]+", "-", f"{project}-{stack}").strip("-")
    return text[:60].rstrip("-")


def resource_names(prefix: str) -> dict[str, str]:
    """The physical names the pipeline's policies refer to before the resources exist."""
    names = {
        "pipeline": f"{prefix}-release",
        "project": f"{prefix}-tests",
        "application": f"{prefix}-app",
        "log_group": f"/{prefix}/codebuild/tests",
    }
    names["report_group"] = f"{names['project']}-{REPORT_GROUP_KEY}"
    return names


def seed_key(source_key: str) -> str:
    """Where the seed copy of the reference release lies in the source bucket."""
    return f"{SEED_PREFIX}/{source_key}"


def artifact_prefix(pipeline_name: str) -> str:
    """The folder of the artifact bucket that holds this pipeline's artifacts."""
    return pipeline_name[:ARTIFACT_PREFIX_LENGTH]


@dataclass(frozen=True, kw_only=True)
class DeployPipelineArgs:
    region: str
    # Physical names start with this (`<project>-<stack>`), so they are known at preview.
    resource_prefix: str
    asg_name: pulumi.Input[str]
    asg_arn: pulumi.Input[str]
    target_group_name: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    instance_role_name: pulumi.Input[str]
    alerts_topic_arn: pulumi.Input[str]
    alerts_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    # Alarms that stop a running deployment and roll it back (5xx, unhealthy hosts, error-log
    # rate); by name, exactly as CodeDeploy takes them. Empty: roll back on failure only.
    rollback_alarm_names: Sequence[pulumi.Input[str]] = ()
    source: Literal["s3", "github"]
    source_key: str
    repository: str | None
    branch: str
    connection_arn: str | None
    require_approval: bool
    buildspec: str
    build_timeout_minutes: int
    build_compute_type: str
    artifact_retention_days: int
    protect: bool
    # S3 source: the reference release (the bundle `ops.release` builds), published as the
    # source object once, so the pipeline's first run deploys it with no hand step. Never
    # re-uploaded: a later `pulumi up` leaves whatever release the user uploaded since.
    initial_release: bytes | None = None
    # The release new instances serve until CodeDeploy installs a deployed one (any source;
    # the reference release), and the SSM parameter (a fixed name the instance bootstrap also
    # knows) that says where its copy lies (docs/day-one.md). Both or neither.
    seed_release: bytes | None = None
    seed_parameter_name: str | None = None

    def __post_init__(self) -> None:
        if not _PREFIX_RE.match(self.resource_prefix):
            raise ValueError(
                f"DeployPipelineArgs.resource_prefix must be 1..60 letters, digits or '-' "
                f"(got {self.resource_prefix!r})"
            )
        if self.source == "github" and not (self.connection_arn and self.repository):
            raise ValueError(
                "DeployPipelineArgs: source 'github' needs connection_arn and repository "
                f"(got connection_arn={self.connection_arn!r}, repository={self.repository!r})"
            )


class DeployPipeline(pulumi.ComponentResource):
    """Artifact and source buckets, KMS key, CodeBuild, CodeDeploy, CodePipeline, roles, rules."""

    pipeline_name: pulumi.Output[str]
    pipeline_arn: pulumi.Output[str]
    artifact_bucket_name: pulumi.Output[str]
    artifact_key_arn: pulumi.Output[str]
    source_bucket_name: pulumi.Output[str] | None
    source_object_key: str | None
    build_project_name: pulumi.Output[str]
    report_group_name: pulumi.Output[str]
    application_name: pulumi.Output[str]
    deployment_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: DeployPipelineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:delivery:DeployPipeline", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._partition = context.partition_of(args.region)
        self._account = context.account_id(self)
        # ARNs built from names, so that the policies are known at preview.
        self._arns = context.Arns(args.region, self._account)
        self._names = resource_names(args.resource_prefix)
        key, artifacts, source = self._storage()

        project, report_group, build_policy = self._tests(key, artifacts)
        application, deployment_group = self._deployment()
        first_release, seed = self._publish(source, artifacts)
        # Creating a pipeline runs it once: the roles must already be able to do their part,
        # the report group must exist (or the first build creates a group of that name), and
        # the run finds the first release.
        ready = [project, report_group, deployment_group, build_policy, *first_release]
        pipeline = self._pipeline(key, artifacts, source, ready)

        iam.inline_policy(
            f"{name}-agent-policy",
            self,
            args.instance_role_name,
            self._agent_policy(artifacts, key, seed),
        )
        if source is not None:
            self._start_on_upload(source, pipeline)
        self._notify_failures(application)

        self.pipeline_name = pipeline.name
        self.pipeline_arn = pipeline.arn
        self.artifact_bucket_name = artifacts.bucket
        self.artifact_key_arn = key.arn
        self.source_bucket_name = source.bucket if source is not None else None
        self.source_object_key = args.source_key if source is not None else None
        self.build_project_name = project.name
        self.report_group_name = report_group.name
        self.application_name = application.name
        self.deployment_group_name = deployment_group.deployment_group_name
        register_all(self)

    # ---- tests, deployment, pipeline -------------------------------------------------------

    def _tests(
        self, key: aws.kms.Key, artifacts: aws.s3.Bucket
    ) -> tuple[aws.codebuild.Project, aws.codebuild.ReportGroup, aws.iam.RolePolicy]:
        """The CodeBuild project that tests each release, its reports and its role's policy."""
        name, args, names = self._name, self._args, self._names
        logs = log_group(
            f"{name}-test-logs",
            self,
            name=names["log_group"],
            retention_days=args.log_retention_days,
            kms_key_arn=args.logs_key_arn,
            log_class="runtime",
            protect=args.protect,
        )
        build_role, build_policy = self._role(
            "build", "codebuild.amazonaws.com", self._build_policy(artifacts, key)
        )
        project = aws.codebuild.Project(
            f"{name}-tests",
            name=names["project"],
            description="Runs the app's tests on every release; its output is the deploy bundle",
            service_role=build_role.arn,
            source={"type": "CODEPIPELINE", "buildspec": args.buildspec},
            artifacts={"type": "CODEPIPELINE"},
            environment={
                "type": "LINUX_CONTAINER",
                "compute_type": args.build_compute_type,
                "image": BUILD_IMAGE,
                "image_pull_credentials_type": "CODEBUILD",
                # No Docker daemon: the tests need none, and privileged builds can escape.
                "privileged_mode": False,
            },
            encryption_key=key.arn,
            build_timeout=args.build_timeout_minutes,
            queued_timeout=60,
            logs_config={
                "cloudwatch_logs": {"status": "ENABLED", "group_name": logs.name},
                "s3_logs": {"status": "DISABLED"},
            },
            opts=self._child,
        )
        report_group = self._report_group(key, artifacts)
        return project, report_group, build_policy

    def _report_group(
        self, key: aws.kms.Key, artifacts: aws.s3.Bucket
    ) -> aws.codebuild.ReportGroup:
        return aws.codebuild.ReportGroup(
            f"{self._name}-test-reports",
            name=self._names["report_group"],
            type="TEST",
            export_config={
                "type": "S3",
                "s3_destination": {
                    "bucket": artifacts.bucket,
                    "path": TEST_REPORT_PREFIX,
                    "packaging": "NONE",
                    "encryption_key": key.arn,
                },
            },
            delete_reports=not self._args.protect,
            opts=self._child,
        )

    def _deployment(
        self,
    ) -> tuple[aws.codedeploy.Application, aws.codedeploy.DeploymentGroup]:
        """In-place deployments to the web group, rolled back on failure or alarm."""
        name, args = self._name, self._args
        application = aws.codedeploy.Application(
            f"{name}-app",
            name=self._names["application"],
            compute_platform="Server",
            opts=self._child,
        )
        deploy_role, deploy_policy = self._role(
            "deploy", "codedeploy.amazonaws.com", self._deploy_policy()
        )
        alarms = list(args.rollback_alarm_names)
        rollback_events = ["DEPLOYMENT_FAILURE", *(["DEPLOYMENT_STOP_ON_ALARM"] if alarms else [])]
        deployment_group = aws.codedeploy.DeploymentGroup(
            f"{name}-web",
            app_name=application.name,
            deployment_group_name=DEPLOYMENT_GROUP,
            service_role_arn=deploy_role.arn,
            autoscaling_groups=[args.asg_name],
            deployment_config_name=DEPLOYMENT_CONFIG,
            deployment_style={
                "deployment_type": "IN_PLACE",
                # The load balancer stops sending an instance traffic while it updates.
                "deployment_option": "WITH_TRAFFIC_CONTROL",
            },
            load_balancer_info={"target_group_infos": [{"name": args.target_group_name}]},
            auto_rollback_configuration={"enabled": True, "events": rollback_events},
            alarm_configuration=(
                {"enabled": True, "alarms": alarms, "ignore_poll_alarm_failure": False}
                if alarms
                else None
            ),
            # Instances launched while (or after) a deployment runs get the last good revision.
            outdated_instances_strategy="UPDATE",
            # CodeDeploy installs its launch hook on the group with this role's permissions.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deploy_policy]),
        )
        return application, deployment_group

    def _pipeline(
        self,
        key: aws.kms.Key,
        artifacts: aws.s3.Bucket,
        source: aws.s3.Bucket | None,
        ready: list[pulumi.Resource],
    ) -> aws.codepipeline.Pipeline:
        """The pipeline, created once everything in `ready` is."""
        name = self._name
        pipeline_role, pipeline_policy = self._role(
            "pipeline",
            "codepipeline.amazonaws.com",
            self._pipeline_policy(artifacts, source, key),
        )
        return aws.codepipeline.Pipeline(
            f"{name}-release",
            name=self._names["pipeline"],
            pipeline_type="V2",
            execution_mode="SUPERSEDED",
            role_arn=pipeline_role.arn,
            artifact_stores=[
                {
                    "type": "S3",
                    "location": artifacts.bucket,
                    "encryption_key": {"type": "KMS", "id": key.arn},
                }
            ],
            # The helpers build the SDK's keys as plain dicts; the shape is the SDK's ArgsDict.
            stages=cast("list[aws.codepipeline.PipelineStageArgsDict]", self._stages(source)),
            # The actions name the project and deployment group by their fixed names.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*ready, pipeline_policy]),
        )

    # ---- storage ----------------------------------------------------------------------------

    def _storage(self) -> tuple[aws.kms.Key, aws.s3.Bucket, aws.s3.Bucket | None]:
        """The release key, the artifact bucket and (s3 source) the source bucket."""
        key = kms.encryption_key(
            f"{self._name}-key",
            description="Release bundles: pipeline source and artifacts",
            partition=self._partition,
            account=self._account,
            parent=self,
            protect=self._args.protect,
        )
        artifacts = self._bucket(
            "artifacts", key, purpose="artifacts", versioned=False, expire=True
        )
        source = (
            self._bucket("source", key, purpose="pipeline-source", versioned=True, expire=False)
            if self._args.source == "s3"
            else None
        )
        return key, artifacts, source

    def _bucket(
        self, role: str, key: aws.kms.Key, *, purpose: str, versioned: bool, expire: bool
    ) -> aws.s3.Bucket:
        """A private bucket whose releases expire after the artifact retention."""
        days = self._args.artifact_retention_days
        lifecycle = buckets.expiry_rule(
            "expire-old-releases",
            days if expire else None,
            # Versioned: the current release stays; superseded ones go after the retention.
            noncurrent_days=days if versioned else None,
            abort_upload_days=7,
        )
        return buckets.private_bucket(
            f"{self._name}-{role}",
            parent=self,
            purpose=purpose,
            kms_key_arn=key.arn,
            protect=self._args.protect,
            force_destroy=not self._args.protect,
            versioned=versioned,
            lifecycle_rules=[lifecycle],
        ).bucket

    def _publish(
        self, source: aws.s3.Bucket | None, artifacts: aws.s3.Bucket
    ) -> tuple[list[aws.s3.BucketObjectv2], tuple[aws.s3.Bucket, aws.ssm.Parameter] | None]:
        """The first release (when asked for, in the source bucket) and the seed release."""
        args = self._args
        first_release = (
            [self._publish_initial_release(source)]
            if source is not None and args.initial_release is not None
            else []
        )
        seed = (
            self._publish_seed(source if source is not None else artifacts)
            if args.seed_release is not None and args.seed_parameter_name is not None
            else None
        )
        return first_release, seed

    def _publish_initial_release(self, source: aws.s3.Bucket) -> aws.s3.BucketObjectv2:
        """The reference release as the source object, uploaded once (see `initial_release`).

        Every input that carries content is in `ignore_changes`: a newer app in this
        repository, or a release the user uploaded since, never makes `pulumi up` put the
        object again. Only a deleted object (gone from state after `pulumi refresh`) is put
        back, so the pipeline always has a release to start from.
        """
        data = self._args.initial_release
        assert data is not None
        digest = hashlib.sha256(data).hexdigest()
        return aws.s3.BucketObjectv2(
            f"{self._name}-initial-release",
            bucket=source.id,
            key=self._args.source_key,
            content_base64=base64.b64encode(data).decode(),
            content_type="application/zip",
            # CodePipeline shows this as the execution's revision summary (as ops.release does).
            metadata={"codepipeline-artifact-revision-summary": f"app bundle {digest[:12]}"},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=list(INITIAL_RELEASE_IGNORED)),
        )

    def _publish_seed(self, bucket: aws.s3.Bucket) -> tuple[aws.s3.Bucket, aws.ssm.Parameter]:
        """A copy of the seed release in `bucket` (the source bucket, at a key no upload and no
        pipeline trigger uses; else the artifact bucket, under this pipeline's folder, which
        the agent may already read), and the parameter that tells the instance bootstrap where
        it is. Kept in step with the repository's app: it only ever seeds new instances."""
        args = self._args
        assert args.seed_release is not None and args.seed_parameter_name is not None
        seed_object = aws.s3.BucketObjectv2(
            f"{self._name}-seed-release",
            bucket=bucket.id,
            key=self._seed_key(),
            content_base64=base64.b64encode(args.seed_release).decode(),
            content_type="application/zip",
            opts=self._child,
        )
        parameter = aws.ssm.Parameter(
            f"{self._name}-seed-location",
            name=args.seed_parameter_name,
            type="String",
            description="Where new web instances find the release they serve before CodeDeploy "
            "installs a deployed one",
            value=pulumi.Output.json_dumps({"bucket": bucket.bucket, "key": seed_object.key}),
            opts=self._child,
        )
        return bucket, parameter

    def _seed_key(self) -> str:
        if self._args.source == "s3":
            return seed_key(self._args.source_key)
        return f"{artifact_prefix(self._names['pipeline'])}/{SEED_PREFIX}/app.zip"

    # ---- roles ------------------------------------------------------------------------------

    def _role(
        self, kind: str, service: str, document: dict[str, Any]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """`<name>-<kind>-role`, which only this account's `service` can assume (confused-deputy
        guard), with `document` as its inline policy `<name>-<kind>-policy`."""
        return iam.role_with_policy(
            f"{self._name}-{kind}-role",
            f"{self._name}-{kind}-policy",
            self,
            iam.assume_role_for_account(service, self._account),
            document,
        )

    def _build_policy(self, artifacts: aws.s3.Bucket, key: aws.kms.Key) -> dict[str, Any]:
        names = self._names
        log_group = self._arns.of("logs", f"log-group:{names['log_group']}")
        return iam.document(
            iam.statement(
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [log_group, pulumi.Output.concat(log_group, ":*")],
                sid="WriteBuildLogs",
            ),
            iam.statement(
                ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                [self._arns.s3(artifacts.bucket, "/*")],
                sid="ReadSourceWriteBundleAndReports",
            ),
            iam.statement(
                ["s3:GetBucketAcl", "s3:GetBucketLocation"],
                [self._arns.s3(artifacts.bucket)],
                sid="ArtifactBucket",
            ),
            iam.statement(list(_KMS_USE), [key.arn], sid="ArtifactKey"),
            iam.statement(
                [
                    "codebuild:CreateReport",
                    "codebuild:UpdateReport",
                    "codebuild:BatchPutTestCases",
                    "codebuild:BatchPutCodeCoverages",
                ],
                [self._arns.of("codebuild", f"report-group/{names['report_group']}")],
                sid="TestReports",
            ),
        )

    def _deploy_policy(self) -> dict[str, Any]:
        """What CodeDeploy needs for in-place deployments to one group behind one target group.

        A least-privilege subset of AWS's managed `AWSCodeDeployRole`: no group creation or
        deletion, no scaling policies, no instance termination (those serve blue/green).
        """
        args = self._args
        statements = [
            iam.statement(
                [
                    "autoscaling:PutLifecycleHook",
                    "autoscaling:DeleteLifecycleHook",
                    "autoscaling:CompleteLifecycleAction",
                    "autoscaling:RecordLifecycleActionHeartbeat",
                ],
                [args.asg_arn],
                sid="LaunchHookOnTheWebGroup",
            ),
            iam.statement(
                ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
                [args.target_group_arn],
                sid="TrafficControlOnTheWebTargetGroup",
            ),
            iam.statement(
                sorted(a for a in WILDCARD_RESOURCE_ACTIONS if not a.startswith(_AGENT_PREFIX)),
                "*",
                sid="DescribeOnlyAuthorisedOnAllResources",
            ),
        ]
        if args.rollback_alarm_names:
            statements.append(
                iam.statement(
                    ["cloudwatch:DescribeAlarms"],
                    [
                        self._arns.of("cloudwatch", pulumi.Output.concat("alarm:", alarm))
                        for alarm in args.rollback_alarm_names
                    ],
                    sid="ReadRollbackAlarms",
                )
            )
        return iam.document(*statements)

    def _pipeline_policy(
        self, artifacts: aws.s3.Bucket, source: aws.s3.Bucket | None, key: aws.kms.Key
    ) -> dict[str, Any]:
        args, names = self._args, self._names
        application = self._arns.of("codedeploy", f"application:{names['application']}")
        statements = [
            iam.statement(
                ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectAcl"],
                [self._arns.s3(artifacts.bucket, "/*")],
                sid="Artifacts",
            ),
            iam.statement(
                ["s3:GetBucketVersioning", "s3:GetBucketLocation", "s3:GetBucketAcl"],
                [self._arns.s3(artifacts.bucket)],
                sid="ArtifactBucket",
            ),
            iam.statement(list(_KMS_USE), [key.arn], sid="ArtifactKey"),
            iam.statement(
                ["codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:StopBuild"],
                [self._arns.of("codebuild", f"project/{names['project']}")],
                sid="RunTests",
            ),
            iam.statement(
                ["codedeploy:CreateDeployment", "codedeploy:GetDeployment"],
                [
                    self._arns.of(
                        "codedeploy",
                        f"deploymentgroup:{names['application']}/{DEPLOYMENT_GROUP}",
                    )
                ],
                sid="Deploy",
            ),
            iam.statement(
                [
                    "codedeploy:GetApplication",
                    "codedeploy:GetApplicationRevision",
                    "codedeploy:RegisterApplicationRevision",
                ],
                [application],
                sid="RegisterRevisions",
            ),
            iam.statement(
                ["codedeploy:GetDeploymentConfig"],
                [self._arns.of("codedeploy", f"deploymentconfig:{DEPLOYMENT_CONFIG}")],
                sid="ReadDeploymentConfig",
            ),
        ]
        statements += self._source_statements(source)
        if args.require_approval:
            statements += [
                iam.statement(["sns:Publish"], [args.alerts_topic_arn], sid="AnnounceApproval"),
                iam.statement(
                    ["kms:GenerateDataKey*", "kms:Decrypt"],
                    [args.alerts_key_arn],
                    sid="AlertsTopicKey",
                ),
            ]
        return iam.document(*statements)

    def _source_statements(self, source: aws.s3.Bucket | None) -> list[iam.Statement]:
        """Read the release: the bundle in the source bucket, or the repository's connection."""
        args = self._args
        if source is None:
            assert args.connection_arn is not None  # __post_init__ guarantees it
            service = args.connection_arn.split(":")[2]
            return [
                iam.statement(
                    [f"{service}:UseConnection"], [args.connection_arn], sid="ReadRepository"
                )
            ]
        return [
            iam.statement(
                [
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:GetObjectTagging",
                    "s3:GetObjectVersionTagging",
                ],
                [self._arns.s3(source.bucket, f"/{args.source_key}")],
                sid="ReadReleaseBundle",
            ),
            iam.statement(
                ["s3:GetBucketVersioning", "s3:GetBucketLocation", "s3:GetBucketAcl"],
                [self._arns.s3(source.bucket)],
                sid="SourceBucket",
            ),
        ]

    def _agent_policy(
        self,
        artifacts: aws.s3.Bucket,
        key: aws.kms.Key,
        seed: tuple[aws.s3.Bucket, aws.ssm.Parameter] | None = None,
    ) -> dict[str, Any]:
        """The CodeDeploy agent on each instance: fetch this pipeline's bundles (and the seed
        release and where it lies), nothing else."""
        prefix = f"/{artifact_prefix(self._names['pipeline'])}/*"
        s3_service = f"s3.{self._args.region}.{context.dns_suffix_of(self._args.region)}"
        seed_statements = []
        if seed is not None:
            bucket, parameter = seed
            seed_statements = [
                iam.statement(
                    ["s3:GetObject"],
                    [self._arns.s3(bucket.bucket, f"/{self._seed_key()}")],
                    sid="ReadSeedRelease",
                ),
                iam.statement(["ssm:GetParameter"], [parameter.arn], sid="FindSeedRelease"),
            ]
        return iam.document(
            *seed_statements,
            iam.statement(
                ["s3:GetObject", "s3:GetObjectVersion"],
                [self._arns.s3(artifacts.bucket, prefix)],
                sid="ReadDeployBundles",
            ),
            iam.statement(
                ["kms:Decrypt"],
                [key.arn],
                sid="DecryptDeployBundles",
                conditions={"StringEquals": {"kms:ViaService": s3_service}},
            ),
            iam.statement(
                sorted(a for a in WILDCARD_RESOURCE_ACTIONS if a.startswith(_AGENT_PREFIX)),
                "*",
                sid="AgentCommandChannel",
            ),
        )

    # ---- stages -----------------------------------------------------------------------------

    def _stages(self, source: aws.s3.Bucket | None) -> list[dict[str, Any]]:
        """Source, Test, (Approval,) Deploy."""
        names = self._names
        test = {
            "name": "Test",
            "category": "Test",
            "owner": "AWS",
            "provider": "CodeBuild",
            "version": "1",
            "input_artifacts": [SOURCE_ARTIFACT],
            "output_artifacts": [BUNDLE_ARTIFACT],
            "configuration": {"ProjectName": names["project"]},
        }
        deploy = {
            "name": "Deploy",
            "category": "Deploy",
            "owner": "AWS",
            "provider": "CodeDeploy",
            "version": "1",
            "input_artifacts": [BUNDLE_ARTIFACT],
            "configuration": {
                "ApplicationName": names["application"],
                "DeploymentGroupName": DEPLOYMENT_GROUP,
            },
        }
        return [
            {"name": "Source", "actions": [self._source_action(source)]},
            {"name": "Test", "actions": [test]},
            *([self._approval_stage()] if self._args.require_approval else []),
            {"name": "Deploy", "actions": [deploy]},
        ]

    def _source_action(self, source: aws.s3.Bucket | None) -> dict[str, Any]:
        args = self._args
        if source is not None:
            return {
                "name": "Source",
                "category": "Source",
                "owner": "AWS",
                "provider": "S3",
                "version": "1",
                "output_artifacts": [SOURCE_ARTIFACT],
                "configuration": {
                    "S3Bucket": source.bucket,
                    "S3ObjectKey": args.source_key,
                    # An EventBridge rule starts the pipeline on upload; no polling.
                    "PollForSourceChanges": "false",
                },
            }
        return {
            "name": "Source",
            "category": "Source",
            "owner": "AWS",
            "provider": "CodeStarSourceConnection",
            "version": "1",
            "output_artifacts": [SOURCE_ARTIFACT],
            "configuration": {
                "ConnectionArn": args.connection_arn,
                "FullRepositoryId": args.repository,
                "BranchName": args.branch,
                "OutputArtifactFormat": "CODE_ZIP",
                "DetectChanges": "true",
            },
        }

    def _approval_stage(self) -> dict[str, Any]:
        return {
            "name": "Approval",
            "actions": [
                {
                    "name": "Approve",
                    "category": "Approval",
                    "owner": "AWS",
                    "provider": "Manual",
                    "version": "1",
                    "configuration": {
                        "NotificationArn": self._args.alerts_topic_arn,
                        "CustomData": (
                            "The release passed its tests (see the Test stage's "
                            "report). Approve to deploy it to the web tier."
                        ),
                    },
                }
            ],
        }

    # ---- events -----------------------------------------------------------------------------

    def _start_on_upload(self, source: aws.s3.Bucket, pipeline: aws.codepipeline.Pipeline) -> None:
        """Start the pipeline when a new version of the release object lands in the bucket."""
        name, args = self._name, self._args
        notification = aws.s3.BucketNotification(
            f"{name}-source-events", bucket=source.id, eventbridge=True, opts=self._child
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-on-upload",
            description="Start the release pipeline when a new release bundle is uploaded",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {
                        "bucket": {"name": [source.bucket]},
                        "object": {"key": [args.source_key]},
                    },
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[notification]),
        )
        role, policy = self._role(
            "start",
            "events.amazonaws.com",
            iam.document(
                iam.statement(
                    ["codepipeline:StartPipelineExecution"],
                    # Built from the name, so the policy is known at preview.
                    [self._arns.of("codepipeline", self._names["pipeline"])],
                    sid="StartRelease",
                )
            ),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-on-upload-target",
            rule=rule.name,
            arn=pipeline.arn,
            role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _notify_failures(self, application: aws.codedeploy.Application) -> None:
        """Failed pipeline runs and failed deployments go to the alerts topic."""
        name, args, names = self._name, self._args, self._names
        rules = {
            "run-failed": (
                "A release pipeline run failed",
                {
                    "source": ["aws.codepipeline"],
                    "detail-type": ["CodePipeline Pipeline Execution State Change"],
                    "detail": {"pipeline": [names["pipeline"]], "state": ["FAILED"]},
                },
                {"pipeline": "$.detail.pipeline", "execution": "$.detail.execution-id"},
                '"Release pipeline <pipeline> failed (execution <execution>). Open the '
                'pipeline in the CodePipeline console to see which stage failed."',
            ),
            "deploy-failed": (
                "A deployment to the web tier failed (pipeline or new-instance deployment)",
                {
                    "source": ["aws.codedeploy"],
                    "detail-type": ["CodeDeploy Deployment State-change Notification"],
                    "detail": {
                        "application": [application.name],
                        "state": list(CODEDEPLOY_EVENT_STATES),
                    },
                },
                {
                    "application": "$.detail.application",
                    "deployment": "$.detail.deploymentId",
                    "group": "$.detail.deploymentGroup",
                },
                '"Deployment <deployment> of <application> to <group> failed; CodeDeploy rolls '
                'back to the last good revision when it can."',
            ),
        }
        for role, (description, pattern, paths, template) in rules.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{role}",
                description=description,
                event_pattern=pulumi.Output.json_dumps(pattern),
                opts=self._child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{role}-alert",
                rule=rule.name,
                arn=args.alerts_topic_arn,
                input_transformer={"input_paths": paths, "input_template": template},
                opts=self._child,
            )
