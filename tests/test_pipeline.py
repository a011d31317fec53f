"""DeployPipeline, checked on the recorded dev and prod stacks (and a few variants).

Each invariant is a small check over a Recording that returns its problems, naming URNs; it
must return nothing for the shipped stacks and must report a deliberately broken copy:
stage order and approval, rollback alarms, the scope of every role, the build's hygiene, the
buckets, and the notifications.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from components import pipeline as pl
from offline.model import Recording, is_unknown
from offline.recorder import record
from tests.conftest import GITHUB_SOURCE, PROD_ALTERED, ROOT, stack_config
from tests.pipeline_checks import (
    ALARM_TYPES,
    BUCKET,
    PIPELINE,
    ROLE_POLICY,
    bucket,
    bucket_problems,
    build_problems,
    child,
    children,
    expected_grants,
    grants,
    notification_problems,
    policy_doc,
    rollback_alarm_problems,
    scope_problems,
    stage_order_problems,
    stages_of,
    value,
    wildcard_problems,
)
from tests.recording_queries import companions, named
from tests.shipped_settings import pipeline_options, shipped_settings

CONNECTION = "arn:aws:codestar-connections:eu-west-1:123456789012:connection/0a1b2c3d-4e5f"


# ---- helpers ------------------------------------------------------------------------------


def replaced(rec: Recording, urn: str, **changes: Any) -> Recording:
    """A copy of `rec` in which the resource `urn` has `changes` (e.g. inputs=...)."""
    found = [r for r in rec.resources if r.urn == urn]
    assert found, f"{urn} is not in the recording of {rec.stack}"
    return dataclasses.replace(
        rec,
        resources=[dataclasses.replace(r, **changes) if r.urn == urn else r for r in rec],
    )


def without(rec: Recording, urn: str) -> Recording:
    return dataclasses.replace(rec, resources=[r for r in rec.resources if r.urn != urn])


# ---- stage order and approval -------------------------------------------------------------


def test_prod_pipeline_is_source_test_approval_deploy(prod: Recording):
    p = prod.one(PIPELINE)
    assert [name for name, _ in stages_of(p)] == ["Source", "Test", "Approval", "Deploy"], p.urn
    assert p.input("pipelineType") == "V2", p.urn
    assert stage_order_problems(prod, require_approval=True) == []


def test_stage_order_check_catches_deploy_before_test(prod: Recording):
    p = prod.one(PIPELINE)
    stages = p.input("stages")
    swapped = [stages[0], stages[3], stages[2], stages[1]]  # Source, Deploy, Approval, Test
    broken = replaced(prod, p.urn, inputs={**p.inputs, "stages": swapped})
    problems = stage_order_problems(broken, require_approval=True)
    assert any("deploys before any Test/Build" in m for m in problems), problems


def test_stage_order_check_catches_missing_approval(prod: Recording):
    p = prod.one(PIPELINE)
    no_approval = [s for s in p.input("stages") if s["name"] != "Approval"]
    broken = replaced(prod, p.urn, inputs={**p.inputs, "stages": no_approval})
    problems = stage_order_problems(broken, require_approval=True)
    assert any("without a prior approval" in m for m in problems), problems


def test_dev_has_no_approval_stage(dev: Recording):
    assert stack_config("dev")["groundwork:pipeline"]["requireApproval"] is False
    assert [n for n, _ in stages_of(dev.one(PIPELINE))] == ["Source", "Test", "Deploy"]
    assert stage_order_problems(dev, require_approval=False) == []
    # The same check demands an approval where one is required.
    assert stage_order_problems(dev, require_approval=True)


def test_stage_categories_are_known_at_preview(prod_preview: Recording):
    """The policy pack judges stage order at `pulumi preview`: nothing it reads is unknown."""
    p = prod_preview.one(PIPELINE)
    assert not is_unknown(p.inputs.get("stages")), p.urn
    assert stage_order_problems(prod_preview, require_approval=True) == []


def test_approval_is_announced_on_the_alerts_topic(prod: Recording):
    topic = prod.one("aws:sns/topic:Topic").outputs["arn"]
    [approval] = [
        a for s in prod.one(PIPELINE).input("stages") for a in s["actions"]
        if a["category"] == "Approval"
    ]  # fmt: skip
    assert (approval["provider"], approval["configuration"]["NotificationArn"]) == (
        "Manual",
        topic,
    )


def test_test_stage_feeds_the_deploy_stage(prod: Recording):
    actions = {a["category"]: a for s in prod.one(PIPELINE).input("stages") for a in s["actions"]}
    project = child(prod, "aws:codebuild/project:Project", "pipeline-tests")
    app = child(prod, "aws:codedeploy/application:Application", "pipeline-app")
    group = child(prod, "aws:codedeploy/deploymentGroup:DeploymentGroup", "pipeline-web")
    assert actions["Test"]["provider"] == "CodeBuild"
    assert actions["Test"]["configuration"]["ProjectName"] == project.input("name")
    assert actions["Deploy"]["provider"] == "CodeDeploy"
    assert actions["Deploy"]["inputArtifacts"] == actions["Test"]["outputArtifacts"]
    assert actions["Deploy"]["configuration"] == {
        "ApplicationName": app.input("name"),
        "DeploymentGroupName": group.input("deploymentGroupName"),
    }


def test_pipeline_is_created_after_what_its_first_run_uses(prod: Recording):
    """CodePipeline runs a new pipeline at once; its actions name resources by fixed names."""
    p = prod.one(PIPELINE)
    needed = {
        child(prod, "aws:codebuild/project:Project", "pipeline-tests").urn,
        child(prod, "aws:codebuild/reportGroup:ReportGroup", "pipeline-test-reports").urn,
        child(prod, "aws:codedeploy/deploymentGroup:DeploymentGroup", "pipeline-web").urn,
        child(prod, ROLE_POLICY, "pipeline-pipeline-policy").urn,
        child(prod, ROLE_POLICY, "pipeline-build-policy").urn,
    }
    assert needed - set(p.dependencies) == set(), p.urn


# ---- source ------------------------------------------------------------------------------


def test_s3_source_starts_the_pipeline_on_upload(prod: Recording):
    source = bucket(prod, "pipeline-source")
    key = stack_config("prod")["groundwork:pipeline"].get("sourceKey", "releases/app.zip")
    [action] = prod.one(PIPELINE).input("stages")[0]["actions"]
    assert action["provider"] == "S3"
    assert action["configuration"] == {
        "S3Bucket": source.outputs["bucket"],
        "S3ObjectKey": key,
        "PollForSourceChanges": "false",
    }
    [notification] = companions(prod, source, "aws:s3/bucketNotification:BucketNotification")
    assert notification.input("eventbridge") is True, notification.urn
    rule = child(prod, "aws:cloudwatch/eventRule:EventRule", "pipeline-on-upload")
    assert json.loads(rule.input("eventPattern"))["detail"] == {
        "bucket": {"name": [source.outputs["bucket"]]},
        "object": {"key": [key]},
    }
    target = child(prod, "aws:cloudwatch/eventTarget:EventTarget", "pipeline-on-upload-target")
    assert target.input("arn") == prod.one(PIPELINE).outputs["arn"], target.urn
    assert prod.outputs["sourceBucket"] == source.outputs["bucket"]
    assert prod.outputs["sourceKey"] == key
    assert prod.outputs["pipelineName"] == prod.one(PIPELINE).input("name")


def test_github_source_uses_the_connection(record_variant: Callable[..., Recording]):
    # prod with other groups changed too (PROD_ALTERED, which tests/test_day_one.py records
    # too): one recording for several files.
    assert PROD_ALTERED["groundwork:pipeline"] == GITHUB_SOURCE["groundwork:pipeline"]
    assert GITHUB_SOURCE["groundwork:pipeline"]["connectionArn"] == CONNECTION
    github = record_variant("prod", PROD_ALTERED)
    [action] = github.one(PIPELINE).input("stages")[0]["actions"]
    assert action["provider"] == "CodeStarSourceConnection"
    assert action["configuration"]["ConnectionArn"] == CONNECTION
    assert action["configuration"]["FullRepositoryId"] == "acme/shop"
    assert action["configuration"]["BranchName"] == "release"
    assert stage_order_problems(github, require_approval=True) == []
    policy = policy_doc(child(github, ROLE_POLICY, "pipeline-pipeline-policy"))
    assert grants(policy)["codestar-connections:UseConnection"] == {CONNECTION}
    # No S3 source: no source bucket, no upload trigger, nothing to upload to.
    assert [b.input("tags") for b in children(github, BUCKET)] == [
        {"groundwork:purpose": "artifacts"}
    ]
    assert "sourceBucket" not in github.outputs and "sourceKey" not in github.outputs


def test_github_source_needs_the_connection_and_repository():
    with pytest.raises(ValueError, match="connection_arn and repository"):
        pl.DeployPipelineArgs(**{**_ARGS, "source": "github", "repository": "acme/shop"})
    with pytest.raises(ValueError, match="resource_prefix"):
        pl.DeployPipelineArgs(**{**_ARGS, "resource_prefix": "bad name!"})


_ARGS: dict[str, Any] = {
    "region": "eu-west-1",
    "resource_prefix": "groundwork-prod",
    "asg_name": "web-asg",
    "asg_arn": "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:1:"
    "autoScalingGroupName/web-asg",
    "target_group_name": "web-tg",
    "target_group_arn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-tg/1",
    "instance_role_name": "web-instance-role",
    "alerts_topic_arn": "arn:aws:sns:eu-west-1:123456789012:alerts",
    "alerts_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/alerts",
    "logs_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/logs",
    "log_retention_days": 30,
    # What settings owns comes from the shipped prod stack (Args carry no such defaults).
    **pipeline_options(shipped_settings("prod")),
}


# ---- rollback -----------------------------------------------------------------------------


def test_deployment_group_is_in_place_behind_the_load_balancer(prod: Recording):
    group = child(prod, "aws:codedeploy/deploymentGroup:DeploymentGroup", "pipeline-web")
    web_asg = prod.one("aws:autoscaling/group:Group")
    web_tg = prod.one("aws:lb/targetGroup:TargetGroup")
    assert group.input("deploymentStyle") == {
        "deploymentType": "IN_PLACE",
        "deploymentOption": "WITH_TRAFFIC_CONTROL",
    }, group.urn
    assert group.input("autoscalingGroups") == [value(web_asg, "name")], group.urn
    assert group.input("loadBalancerInfo") == {
        "targetGroupInfos": [{"name": value(web_tg, "name")}]
    }, group.urn
    assert group.input("outdatedInstancesStrategy") == "UPDATE", group.urn
    # One instance at a time: the rest keep serving while one is updated.
    assert group.input("deploymentConfigName") == "CodeDeployDefault.OneAtATime", group.urn
    assert rollback_alarm_problems(prod) == []


def test_rollback_on_failure_is_checked(prod: Recording):
    group = child(prod, "aws:codedeploy/deploymentGroup:DeploymentGroup", "pipeline-web")
    broken = replaced(
        prod,
        group.urn,
        inputs={**group.inputs, "autoRollbackConfiguration": {"enabled": False, "events": []}},
    )
    assert any("failed deployment" in m for m in rollback_alarm_problems(broken))


def test_prod_rolls_back_on_the_baseline_alarms(prod: Recording):
    group = child(prod, "aws:codedeploy/deploymentGroup:DeploymentGroup", "pipeline-web")
    assert len(group.input("alarmConfiguration", "alarms", default=[])) >= 3, group.urn
    assert rollback_alarm_problems(prod) == []


HARNESS = """\
# Records DeployPipeline on its own, with three real alarms to roll back on.
import sys

sys.path.insert(0, {root!r})

import pulumi_aws as aws

from components.pipeline import DeployPipeline, DeployPipelineArgs

args = {args!r}
alarms = [
    aws.cloudwatch.MetricAlarm(
        f"alarm-{{role}}",
        name=f"web-{{role}}",
        namespace="AWS/ApplicationELB",
        metric_name=metric,
        statistic="Sum",
        period=60,
        evaluation_periods=3,
        threshold=5,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[args["alerts_topic_arn"]],
        ok_actions=[args["alerts_topic_arn"]],
    )
    for role, metric in (
        ("5xx", "HTTPCode_Target_5XX_Count"),
        ("unhealthy-hosts", "UnHealthyHostCount"),
        ("error-rate", "ErrorCount"),
    )
]
DeployPipeline(
    "pipeline",
    DeployPipelineArgs(**args, rollback_alarm_names=[a.name for a in alarms]),
)
"""


@pytest.fixture(scope="module")
def with_alarms(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    project = tmp_path_factory.mktemp("pipeline-alone")
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    (project / "Pulumi.prod.yaml").write_text(
        yaml.safe_dump({"config": {"aws:region": _ARGS["region"]}})
    )
    (project / "__main__.py").write_text(HARNESS.format(root=str(ROOT), args=_ARGS))
    return record("prod", project_dir=project)


def test_rollback_alarms_are_exactly_the_ones_passed(with_alarms: Recording):
    group = with_alarms.one("aws:codedeploy/deploymentGroup:DeploymentGroup")
    assert group.input("alarmConfiguration") == {
        "enabled": True,
        "alarms": ["web-5xx", "web-unhealthy-hosts", "web-error-rate"],
        "ignorePollAlarmFailure": False,
    }, group.urn
    assert group.input("autoRollbackConfiguration") == {
        "enabled": True,
        "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
    }, group.urn
    assert rollback_alarm_problems(with_alarms) == []
    # CodeDeploy reads exactly those alarms, and nothing else.
    deploy = grants(_policy(with_alarms, "pipeline-deploy-policy"))
    assert deploy["cloudwatch:DescribeAlarms"] == {
        f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{n}"
        for n in ("web-5xx", "web-unhealthy-hosts", "web-error-rate")
    }


def test_rollback_alarm_check_catches_an_alarm_that_does_not_exist(with_alarms: Recording):
    alarm = next(a for a in with_alarms.of_type(ALARM_TYPES[0]) if a.name == "alarm-5xx")
    problems = rollback_alarm_problems(without(with_alarms, alarm.urn))
    assert problems == [
        f"{with_alarms.one('aws:codedeploy/deploymentGroup:DeploymentGroup').urn}: rollback "
        "alarm 'web-5xx' is not an alarm of the stack"
    ]


def _policy(rec: Recording, name: str) -> dict[str, Any]:
    return policy_doc(child(rec, ROLE_POLICY, name))


# ---- role scopes --------------------------------------------------------------------------


def test_no_role_grants_wildcards(prod: Recording, dev: Recording):
    assert wildcard_problems(prod) == []
    assert wildcard_problems(dev) == []


@pytest.mark.parametrize(
    "broaden",
    [
        lambda s: {**s, "Resource": "*"},
        lambda s: {**s, "Action": "s3:*"},
        lambda s: {**s, "Resource": ["arn:aws:s3:::*"]},
    ],
    ids=["resource-star", "service-star", "any-bucket"],
)
def test_wildcard_check_catches_a_broadened_policy(prod: Recording, broaden: Callable):
    r = child(prod, ROLE_POLICY, "pipeline-agent-policy")
    doc = policy_doc(r)
    doc["Statement"][0] = broaden(doc["Statement"][0])
    broken = replaced(prod, r.urn, inputs={**r.inputs, "policy": json.dumps(doc)})
    assert [m for m in wildcard_problems(broken) if m.startswith(r.urn)], doc


def test_each_role_policy_grants_exactly_what_its_service_needs(prod: Recording):
    key = stack_config("prod")["groundwork:pipeline"].get("sourceKey", "releases/app.zip")
    assert scope_problems(prod, expected_grants(prod, key=key, approval=True)) == []


def test_dev_pipeline_role_cannot_publish_without_an_approval_stage(dev: Recording):
    key = stack_config("dev")["groundwork:pipeline"].get("sourceKey", "releases/app.zip")
    assert scope_problems(dev, expected_grants(dev, key=key, approval=False)) == []
    assert "sns:Publish" not in grants(_policy(dev, "pipeline-pipeline-policy"))


def test_scope_check_catches_a_broadened_grant(prod: Recording):
    r = child(prod, ROLE_POLICY, "pipeline-build-policy")
    doc = policy_doc(r)
    reports = next(s for s in doc["Statement"] if s["Sid"] == "TestReports")
    reports["Resource"] = ["arn:aws:codebuild:eu-west-1:123456789012:report-group/*"]
    broken = replaced(prod, r.urn, inputs={**r.inputs, "policy": json.dumps(doc)})
    expected = expected_grants(prod, key="releases/app.zip", approval=True)
    problems = scope_problems(broken, expected)
    assert len(problems) == 4 and all("report-group/*" in m for m in problems), problems


def test_agent_policy_is_on_the_web_instance_role(prod: Recording):
    role = next(r for r in prod.of_type("aws:iam/role:Role") if r.name == "web-instance-role")
    agent = child(prod, ROLE_POLICY, "pipeline-agent-policy")
    assert agent.input("role") == role.outputs["name"], agent.urn
    [decrypt] = [s for s in policy_doc(agent)["Statement"] if s["Sid"] == "DecryptDeployBundles"]
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    }


def test_service_roles_trust_only_their_service_in_this_account(prod: Recording):
    services = {
        "pipeline-pipeline-role": "codepipeline.amazonaws.com",
        "pipeline-build-role": "codebuild.amazonaws.com",
        "pipeline-deploy-role": "codedeploy.amazonaws.com",
        "pipeline-start-role": "events.amazonaws.com",
    }
    account = named(prod, "aws:kms/key:Key", "pipeline-key").outputs["arn"].split(":")[4]
    for r in children(prod, "aws:iam/role:Role"):
        [stmt] = json.loads(r.input("assumeRolePolicy"))["Statement"]
        assert stmt["Principal"] == {"Service": services[r.name]}, r.urn
        assert stmt["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}, r.urn


# ---- build --------------------------------------------------------------------------------


def test_build_is_unprivileged_logged_and_encrypted(prod: Recording, dev: Recording):
    assert build_problems(prod) == []
    assert build_problems(dev) == []
    project = child(prod, "aws:codebuild/project:Project", "pipeline-tests")
    assert (
        project.input("encryptionKey")
        == child(prod, "aws:kms/key:Key", "pipeline-key").outputs["arn"]
    )
    assert project.input("source") == {"type": "CODEPIPELINE", "buildspec": "buildspec.yml"}
    # Amazon Linux 2023 standard image 5.0 (docs/delivery.md: Python 3.11 for the tests).
    assert (
        project.input("environment", "image") == "aws/codebuild/amazonlinux-x86_64-standard:5.0"
    ), project.urn


@pytest.mark.parametrize(
    "change",
    [
        lambda i: {**i, "environment": {**i["environment"], "privilegedMode": True}},
        lambda i: {k: v for k, v in i.items() if k != "logsConfig"},
        lambda i: {k: v for k, v in i.items() if k != "encryptionKey"},
        lambda i: {
            **i,
            "environment": {
                **i["environment"],
                "environmentVariables": [{"name": "DB_PASSWORD", "value": "hunter2"}],
            },
        },
    ],
    ids=["privileged", "no-logs", "no-key", "plaintext-variable"],
)
def test_build_check_catches_a_bad_project(prod: Recording, change: Callable):
    p = child(prod, "aws:codebuild/project:Project", "pipeline-tests")
    assert [m for m in build_problems(replaced(prod, p.urn, inputs=change(p.inputs)))]


def test_build_log_group_is_runtime_class_encrypted_and_retained(prod: Recording):
    group = child(prod, "aws:cloudwatch/logGroup:LogGroup", "pipeline-test-logs")
    logs_key = next(k for k in prod.of_type("aws:kms/key:Key") if k.name == "encryption-logs")
    assert group.input("kmsKeyId") == logs_key.outputs["arn"], group.urn
    assert (
        group.input("retentionInDays")
        == stack_config("prod")["groundwork:logging"]["runtimeRetentionDays"]
    ), group.urn
    assert group.input("tags") == {"groundwork:logClass": "runtime"}, group.urn
    assert group.protect is True, group.urn


def test_report_group_is_the_one_the_buildspec_reports_to(prod: Recording):
    project = child(prod, "aws:codebuild/project:Project", "pipeline-tests")
    reports = child(prod, "aws:codebuild/reportGroup:ReportGroup", "pipeline-test-reports")
    assert reports.input("name") == f"{project.input('name')}-{pl.REPORT_GROUP_KEY}", reports.urn
    assert reports.input("type") == "TEST"
    assert reports.input("exportConfig", "s3Destination", "encryptionKey") == project.input(
        "encryptionKey"
    )
    buildspec = ROOT / "app" / "buildspec.yml"
    if not buildspec.exists():
        pytest.skip("no app/buildspec.yml in this checkout (the reference app lands separately)")
    assert pl.REPORT_GROUP_KEY in yaml.safe_load(buildspec.read_text())["reports"], buildspec


# ---- buckets ------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["artifacts", "pipeline-source"])
def test_buckets_are_encrypted_private_and_expiring(prod: Recording, dev: Recording, purpose: str):
    assert bucket_problems(prod, purpose) == []
    assert bucket_problems(dev, purpose) == []


@pytest.mark.parametrize(
    ("purpose", "type_", "change"),
    [
        (
            "artifacts",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            lambda i: {**i, "restrictPublicBuckets": False},
        ),
        (
            "artifacts",
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            lambda i: {**i, "rules": [{**i["rules"][0], "expiration": None}]},
        ),
        (
            "pipeline-source",
            "aws:s3/bucketVersioning:BucketVersioning",
            lambda i: {**i, "versioningConfiguration": {"status": "Suspended"}},
        ),
        (
            "pipeline-source",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            lambda i: {
                **i,
                "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
            },
        ),
    ],
    ids=["public", "never-expires", "unversioned-source", "sse-s3"],
)
def test_bucket_check_catches_a_weakened_bucket(
    prod: Recording, purpose: str, type_: str, change: Callable
):
    [target] = companions(prod, bucket(prod, purpose), type_)
    assert bucket_problems(replaced(prod, target.urn, inputs=change(target.inputs)), purpose)


# ---- notifications ------------------------------------------------------------------------


def test_failures_notify_the_alerts_topic(prod: Recording, dev: Recording):
    assert notification_problems(prod) == []
    assert notification_problems(dev) == []


def test_notification_check_catches_a_missing_alert(prod: Recording):
    target = child(prod, "aws:cloudwatch/eventTarget:EventTarget", "pipeline-run-failed-alert")
    assert notification_problems(without(prod, target.urn)) == [
        f"stack prod: aws.codepipeline failures do not reach "
        f"{next(t for t in prod.of_type('aws:sns/topic:Topic')).urn}"
    ]


# ---- instances ----------------------------------------------------------------------------


def user_data(rec: Recording) -> str:
    lt = rec.one("aws:ec2/launchTemplate:LaunchTemplate")
    return base64.b64decode(lt.input("userData")).decode()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_instances_install_the_codedeploy_agent(stack: str, dev: Recording, prod: Recording):
    text = user_data({"dev": dev, "prod": prod}[stack])
    region = stack_config(stack)["aws:region"]
    assert f"https://aws-codedeploy-{region}.s3.{region}.amazonaws.com/latest/install" in text
    assert ":enable_auth_policy: true" in text
    # ... alongside the CloudWatch agent, also from the region's bucket, configured from SSM.
    assert f"https://amazoncloudwatch-agent-{region}.s3.{region}.amazonaws.com/" in text
    assert "fetch-config -m ec2 -s -c ssm:/groundwork/" in text, f"{stack}: agent config"
    result = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, f"{stack} user data: {result.stderr}"


def test_settings_reject_bad_pipeline_values():
    import settings

    with pytest.raises(settings.SettingsError) as err:
        settings.parse(
            {
                "aws:region": "eu-west-1",
                "groundwork:pipeline": json.dumps(
                    {
                        "buildTimeoutMinutes": 1,
                        "sourceKey": "app.tar",
                        "buildComputeType": "HUGE",
                        "artifactRetentionDays": 7,
                        "source": "github",
                    }
                ),
            },
            project="groundwork",
            stack="dev",
        )
    text = str(err.value)
    for expected in (
        "groundwork:pipeline.buildTimeoutMinutes must be >= 5 (got 1)",
        "groundwork:pipeline.sourceKey must match",
        "(got 'app.tar')",
        "groundwork:pipeline.buildComputeType must be one of",
        "groundwork:pipeline.artifactRetentionDays must be >= 30 (got 7)",
    ):
        assert expected in text, text
    good = settings.parse({"aws:region": "eu-west-1"}, project="groundwork", stack="dev")
    assert (good.pipeline.source_key, good.pipeline.artifact_retention_days) == (
        "releases/app.zip",
        365,
    )


def test_schema_is_regenerated():
    import settings

    committed = json.loads((ROOT / "schema" / "pulumi-stack.schema.json").read_text())
    assert committed == settings.stack_file_schema(), "run `make schema`"
