"""Invariants of the DeployPipeline component, as check functions over a Recording.

Stage order and approval, the alarms a deployment rolls back on, the scope of every role policy
(with the least-privilege spec written out independently of the component), the build's
hygiene, the artifact and source buckets, and failure notifications. Each check returns
problems naming the URN (empty = fine); tests/test_pipeline.py runs them on the shipped stacks
and on deliberately broken copies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from offline.model import RecordedResource, Recording
from offline.recorder import MOCK_ACCOUNT_ID
from tests import obs_helpers
from tests.conftest import stack_config
from tests.recording_queries import as_list, companions, named

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
COMPONENT = "groundwork:delivery:DeployPipeline"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET = "aws:s3/bucket:Bucket"
GATES = ("Test", "Build")


def children(rec: Recording, type_: str) -> list[RecordedResource]:
    """Resources of `type_` under the stack's one DeployPipeline."""
    return obs_helpers.children(rec, COMPONENT, type_)


def child(rec: Recording, type_: str, name: str) -> RecordedResource:
    found = [r for r in children(rec, type_) if r.name == name]
    assert len(found) == 1, f"expected one {type_} named {name} in {rec.stack}, found {found}"
    return found[0]


def value(r: RecordedResource, key: str) -> Any:
    """A property as the engine ends up with it: the input, else the provider's output."""
    return r.input(key, default=r.outputs.get(key))


def bucket(rec: Recording, purpose: str) -> RecordedResource:
    found = [b for b in children(rec, BUCKET) if b.input("tags", "groundwork:purpose") == purpose]
    assert len(found) == 1, f"expected one {purpose} bucket in {rec.stack}, found {found}"
    return found[0]


def policy_doc(r: RecordedResource) -> dict[str, Any]:
    return json.loads(r.input("policy"))


def grants(doc: Mapping[str, Any]) -> dict[str, set[str]]:
    """Action -> resources over every Allow statement of a policy document."""
    out: dict[str, set[str]] = {}
    for stmt in as_list(doc.get("Statement", [])):
        if stmt.get("Effect") != "Allow":
            continue
        for action in as_list(stmt.get("Action", [])):
            out.setdefault(action, set()).update(as_list(stmt.get("Resource", [])))
    return out


def stages_of(p: RecordedResource) -> list[tuple[str, list[str]]]:
    return [
        (s.get("name"), [a.get("category") for a in s.get("actions", [])])
        for s in p.input("stages", default=[])
    ]


def stage_order_problems(rec: Recording, *, require_approval: bool) -> list[str]:
    """No Deploy without a Test/Build before it; the approval exactly where the stack asks."""
    problems: list[str] = []
    for p in rec.of_type(PIPELINE):
        stages = stages_of(p)
        if not stages or stages[0][1] != ["Source"]:
            problems.append(f"{p.urn}: the first stage must hold the Source action ({stages})")
        tested = approved = False
        for name, categories in stages:
            if "Deploy" in categories:
                if not tested:
                    problems.append(f"{p.urn}: stage {name!r} deploys before any Test/Build stage")
                if require_approval and not approved:
                    problems.append(f"{p.urn}: stage {name!r} deploys without a prior approval")
            if "Approval" in categories and not tested:
                problems.append(f"{p.urn}: approval in {name!r} comes before the tests")
            tested = tested or any(c in GATES for c in categories)
            approved = approved or "Approval" in categories
        if not any("Deploy" in c for _, c in stages):
            problems.append(f"{p.urn}: no Deploy stage")
        if approved and not require_approval:
            problems.append(f"{p.urn}: has an approval stage although none is required")
    if not rec.of_type(PIPELINE):
        problems.append(f"stack {rec.stack}: no pipeline")
    return problems


ALARM_TYPES = (
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm",
)


def rollback_alarm_problems(rec: Recording) -> list[str]:
    """Every alarm a deployment group rolls back on is an alarm of this stack, and the group
    rolls back on alarms whenever it names any."""
    names = {value(a, "name") for t in ALARM_TYPES for a in rec.of_type(t)}
    problems = []
    for group in rec.of_type("aws:codedeploy/deploymentGroup:DeploymentGroup"):
        config = group.input("alarmConfiguration") or {}
        events = group.input("autoRollbackConfiguration", "events", default=[])
        for alarm in config.get("alarms", []):
            if alarm not in names:
                problems.append(
                    f"{group.urn}: rollback alarm {alarm!r} is not an alarm of the stack"
                )
        if config.get("alarms") and not (
            config.get("enabled") and "DEPLOYMENT_STOP_ON_ALARM" in events
        ):
            problems.append(f"{group.urn}: names alarms but does not roll back on them")
        if "DEPLOYMENT_FAILURE" not in events:
            problems.append(f"{group.urn}: does not roll back a failed deployment")
    return problems


KMS_USE = {
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
    "kms:DescribeKey",
}


def _is_specific(resource: str) -> bool:
    """An ARN naming one resource, or the objects under one bucket (prefix), or the streams of
    one log group; `*` only as that last path element."""
    if "*" not in resource:
        return True
    if resource.startswith("arn:aws:s3:::") and resource.endswith("/*"):
        return "*" not in resource[: -len("/*")]
    if ":logs:" in resource and ":log-group:" in resource and resource.endswith(":*"):
        return "*" not in resource[: -len(":*")]
    return False


def wildcard_problems(rec: Recording) -> list[str]:
    """No `*` or `<service>:*` action; `*` resources only for the actions AWS authorises
    solely on `*`; every other resource a specific ARN."""
    problems = []
    for r in children(rec, ROLE_POLICY):
        for stmt in as_list(policy_doc(r)["Statement"]):
            if stmt.get("Effect") != "Allow":
                continue
            actions, resources = as_list(stmt["Action"]), as_list(stmt["Resource"])
            for action in actions:
                if action == "*" or action.endswith(":*"):
                    problems.append(f"{r.urn}: allows every action of {action!r}")
                elif "*" in resources and action not in WILDCARD_ONLY:
                    problems.append(f"{r.urn}: allows {action} on every resource")
            for resource in resources:
                if resource != "*" and not _is_specific(resource):
                    problems.append(f"{r.urn}: resource {resource!r} is not one specific ARN")
    return problems


def recorded(rec: Recording) -> dict[str, str]:
    """The physical names and ARNs the policies must name, as this recording has them."""
    key = named(rec, "aws:kms/key:Key", "pipeline-key").outputs["arn"]
    where = ":".join(key.split(":")[3:5])  # region:account, as the provider reported them
    app = named(rec, "aws:codedeploy/application:Application", "pipeline-app").input("name")
    group = named(rec, "aws:codedeploy/deploymentGroup:DeploymentGroup", "pipeline-web")
    project = named(rec, "aws:codebuild/project:Project", "pipeline-tests").input("name")
    reports = named(rec, "aws:codebuild/reportGroup:ReportGroup", "pipeline-test-reports")
    log_group = named(rec, "aws:cloudwatch/logGroup:LogGroup", "pipeline-test-logs").input("name")
    out = {
        "artifacts": f"arn:aws:s3:::{bucket(rec, 'artifacts').outputs['bucket']}",
        "key": key,
        "alerts_key": named(rec, "aws:kms/key:Key", "alerts-key").outputs["arn"],
        "topic": named(rec, "aws:sns/topic:Topic", "alerts-topic").outputs["arn"],
        "project": f"arn:aws:codebuild:{where}:project/{project}",
        "reports": f"arn:aws:codebuild:{where}:report-group/{reports.input('name')}",
        "application": f"arn:aws:codedeploy:{where}:application:{app}",
        "group": f"arn:aws:codedeploy:{where}:deploymentgroup:{app}/"
        + group.input("deploymentGroupName"),
        "config": f"arn:aws:codedeploy:{where}:deploymentconfig:"
        + group.input("deploymentConfigName"),
        "log_group": f"arn:aws:logs:{where}:log-group:{log_group}",
        "asg": rec.one("aws:autoscaling/group:Group").outputs["arn"],
        "tg": rec.one("aws:lb/targetGroup:TargetGroup").outputs["arn"],
        "pipeline": f"arn:aws:codepipeline:{where}:{rec.one(PIPELINE).input('name')}",
        "pipeline_name": rec.one(PIPELINE).input("name"),
    }
    sources = [
        b for b in children(rec, BUCKET) if b.input("tags", "groundwork:purpose") != "artifacts"
    ]
    if sources:
        out["source"] = f"arn:aws:s3:::{sources[0].outputs['bucket']}"
    return out


# Actions AWS authorises only on Resource "*" (the service authorization reference lists no
# resource type for them), written out here so the spec does not come from the code it checks.
DESCRIBE_ONLY_ON_ALL_RESOURCES = {
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
}
AGENT_COMMAND_CHANNEL = {
    "codedeploy-commands-secure:GetDeploymentSpecification",
    "codedeploy-commands-secure:PollHostCommand",
    "codedeploy-commands-secure:PutHostCommandAcknowledgement",
    "codedeploy-commands-secure:PutHostCommandComplete",
}
WILDCARD_ONLY = DESCRIBE_ONLY_ON_ALL_RESOURCES | AGENT_COMMAND_CHANNEL


def expected_grants(rec: Recording, *, key: str, approval: bool) -> dict[str, dict[str, set[str]]]:
    """Per role policy: exactly the actions it may take and on what (the least-privilege spec)."""
    n = recorded(rec)
    out: dict[str, dict[str, set[str]]] = {}

    def allow(policy: str, actions: Iterable[str], resources: Iterable[str]) -> None:
        for action in actions:
            out.setdefault(policy, {}).setdefault(action, set()).update(resources)

    art, art_objects = n["artifacts"], n["artifacts"] + "/*"
    allow("pipeline-pipeline-policy", ["s3:GetObject", "s3:GetObjectVersion"], [art_objects])
    allow("pipeline-pipeline-policy", ["s3:PutObject", "s3:PutObjectAcl"], [art_objects])
    bucket_reads = ["s3:GetBucketVersioning", "s3:GetBucketLocation", "s3:GetBucketAcl"]
    allow("pipeline-pipeline-policy", bucket_reads, [art])
    allow("pipeline-pipeline-policy", KMS_USE, [n["key"]])
    allow(
        "pipeline-pipeline-policy",
        ["codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:StopBuild"],
        [n["project"]],
    )
    allow(
        "pipeline-pipeline-policy",
        ["codedeploy:CreateDeployment", "codedeploy:GetDeployment"],
        [n["group"]],
    )
    allow(
        "pipeline-pipeline-policy",
        [
            "codedeploy:GetApplication",
            "codedeploy:GetApplicationRevision",
            "codedeploy:RegisterApplicationRevision",
        ],
        [n["application"]],
    )
    allow("pipeline-pipeline-policy", ["codedeploy:GetDeploymentConfig"], [n["config"]])
    if "source" in n:
        release = f"{n['source']}/{key}"
        allow(
            "pipeline-pipeline-policy",
            [f"s3:Get{what}" for what in ("Object", "ObjectVersion", "ObjectTagging")]
            + ["s3:GetObjectVersionTagging"],
            [release],
        )
        allow("pipeline-pipeline-policy", bucket_reads, [n["source"]])
        allow("pipeline-start-policy", ["codepipeline:StartPipelineExecution"], [n["pipeline"]])
        # New instances read the seed copy of the reference release and where it lies.
        allow("pipeline-agent-policy", ["s3:GetObject"], [f"{n['source']}/seed/{key}"])
        parameter = child(rec, "aws:ssm/parameter:Parameter", "pipeline-seed-location")
        allow("pipeline-agent-policy", ["ssm:GetParameter"], [parameter.outputs["arn"]])
    if approval:
        allow("pipeline-pipeline-policy", ["sns:Publish"], [n["topic"]])
        allow(
            "pipeline-pipeline-policy", ["kms:GenerateDataKey*", "kms:Decrypt"], [n["alerts_key"]]
        )

    allow(
        "pipeline-build-policy",
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [n["log_group"], n["log_group"] + ":*"],
    )
    allow(
        "pipeline-build-policy",
        ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
        [art_objects],
    )
    allow("pipeline-build-policy", ["s3:GetBucketAcl", "s3:GetBucketLocation"], [art])
    allow("pipeline-build-policy", KMS_USE, [n["key"]])
    allow(
        "pipeline-build-policy",
        [
            "codebuild:CreateReport",
            "codebuild:UpdateReport",
            "codebuild:BatchPutTestCases",
            "codebuild:BatchPutCodeCoverages",
        ],
        [n["reports"]],
    )

    lifecycle = ["PutLifecycleHook", "DeleteLifecycleHook", "CompleteLifecycleAction"]
    allow(
        "pipeline-deploy-policy",
        [f"autoscaling:{a}" for a in [*lifecycle, "RecordLifecycleActionHeartbeat"]],
        [n["asg"]],
    )
    allow(
        "pipeline-deploy-policy",
        ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
        [n["tg"]],
    )
    allow("pipeline-deploy-policy", DESCRIBE_ONLY_ON_ALL_RESOURCES, ["*"])
    # CodeDeploy reads the rollback alarms it was given, and no others.
    group = child(rec, "aws:codedeploy/deploymentGroup:DeploymentGroup", "pipeline-web")
    rollback = group.input("alarmConfiguration", "alarms", default=[])
    alarm_arn = f"arn:aws:cloudwatch:{rec.outputs['region']}:{MOCK_ACCOUNT_ID}:alarm:"
    if rollback:
        allow(
            "pipeline-deploy-policy",
            ["cloudwatch:DescribeAlarms"],
            [alarm_arn + n for n in rollback],
        )

    prefix = n["pipeline_name"][:20]
    allow("pipeline-agent-policy", ["s3:GetObject"], [f"{art}/{prefix}/*"])
    allow("pipeline-agent-policy", ["s3:GetObjectVersion"], [f"{art}/{prefix}/*"])
    allow("pipeline-agent-policy", ["kms:Decrypt"], [n["key"]])
    allow(
        "pipeline-agent-policy",
        AGENT_COMMAND_CHANNEL,
        ["*"],
    )
    return out


def scope_problems(rec: Recording, expected: Mapping[str, Mapping[str, set[str]]]) -> list[str]:
    problems = []
    policies = {r.name: r for r in children(rec, ROLE_POLICY)}
    if set(policies) != set(expected):
        problems.append(f"role policies {sorted(policies)} != expected {sorted(expected)}")
    for name in sorted(set(policies) & set(expected)):
        actual = grants(policy_doc(policies[name]))
        for action in sorted(set(actual) | set(expected[name])):
            got, want = actual.get(action, set()), expected[name].get(action, set())
            if got != want:
                problems.append(
                    f"{policies[name].urn}: {action} on {sorted(got)}, expected {sorted(want)}"
                )
    return problems


def build_problems(rec: Recording) -> list[str]:
    """Not privileged, no plaintext variables, logs to a managed log group, output encrypted."""
    groups = {value(g, "name"): g for g in rec.of_type("aws:cloudwatch/logGroup:LogGroup")}
    problems = []
    for p in children(rec, "aws:codebuild/project:Project"):
        if p.input("environment", "privilegedMode") is not False:
            problems.append(f"{p.urn}: environment.privilegedMode is not false")
        if p.input("environment", "environmentVariables"):
            problems.append(f"{p.urn}: has environment variables (secrets belong in SSM/Secrets)")
        logs = p.input("logsConfig", "cloudwatchLogs", default={})
        group = groups.get(logs.get("groupName"))
        if logs.get("status") != "ENABLED" or group is None:
            problems.append(f"{p.urn}: build logs do not go to a log group of this stack")
        elif not (group.input("kmsKeyId") and group.input("retentionInDays")):
            problems.append(f"{group.urn}: build log group lacks a KMS key or a retention")
        if not p.input("encryptionKey"):
            problems.append(f"{p.urn}: no encryptionKey for the build output")
    return problems


def bucket_problems(rec: Recording, purpose: str) -> list[str]:
    """Private, owner-enforced, SSE-KMS with the pipeline key, TLS only, and expiring."""
    b = bucket(rec, purpose)
    key = child(rec, "aws:kms/key:Key", "pipeline-key").outputs["arn"]
    days = stack_config(rec.stack)["groundwork:pipeline"].get("artifactRetentionDays", 365)
    problems = []

    def one(type_: str) -> RecordedResource | None:
        found = companions(rec, b, type_)
        if len(found) != 1:
            problems.append(f"{b.urn}: expected one {type_.rsplit(':', 1)[-1]}, found {len(found)}")
        return found[0] if len(found) == 1 else None

    pab = one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    if pab and not all(pab.input(f) is True for f in flags):
        problems.append(f"{b.urn}: public access is not fully blocked")
    owner = one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    if owner and owner.input("rule", "objectOwnership") != "BucketOwnerEnforced":
        problems.append(f"{b.urn}: ACLs are not disabled (BucketOwnerEnforced)")
    sse = one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    default = (sse.input("rules", default=[{}])[0] if sse else {}).get(
        "applyServerSideEncryptionByDefault", {}
    )
    if sse and default != {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key}:
        problems.append(f"{b.urn}: not SSE-KMS with the pipeline key ({default})")
    policy = one("aws:s3/bucketPolicy:BucketPolicy")
    denies_plain_http = policy and any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy_doc(policy)["Statement"]
    )
    if policy and not denies_plain_http:
        problems.append(f"{b.urn}: policy does not deny non-TLS access")
    lifecycle = one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rule = lifecycle.input("rules", default=[{}])[0] if lifecycle else {}
    if purpose == "artifacts" and rule.get("expiration") != {"days": days}:
        problems.append(f"{b.urn}: artifacts do not expire after {days} days ({rule})")
    if purpose == "pipeline-source":
        if rule.get("noncurrentVersionExpiration") != {"noncurrentDays": days}:
            problems.append(f"{b.urn}: superseded releases do not expire after {days} days")
        versioning = one("aws:s3/bucketVersioning:BucketVersioning")
        if versioning and versioning.input("versioningConfiguration", "status") != "Enabled":
            problems.append(f"{b.urn}: versioning is not enabled (the S3 source action needs it)")
    if rec.stack == "prod" and b.protect is not True:
        problems.append(f"{b.urn}: not protected in prod")
    return problems


def notification_problems(rec: Recording) -> list[str]:
    """Failed pipeline runs and failed deployments reach the alerts topic."""
    topic = next(t for t in rec.of_type("aws:sns/topic:Topic") if t.name == "alerts-topic")
    wanted = {
        ("aws.codepipeline", "pipeline", rec.one(PIPELINE).input("name"), "FAILED"),
        (
            "aws.codedeploy",
            "application",
            child(rec, "aws:codedeploy/application:Application", "pipeline-app").input("name"),
            "FAILURE",
        ),
    }
    rules = {r.urn: r for r in rec.of_type("aws:cloudwatch/eventRule:EventRule")}
    covered = set()
    for target in rec.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        if target.input("arn") != topic.outputs["arn"]:
            continue
        for rule_urn in target.property_dependencies.get("rule", ()):
            pattern = json.loads(rules[rule_urn].input("eventPattern"))
            detail = pattern.get("detail", {})
            covered |= {
                source
                for source, field, name, state in wanted
                if pattern.get("source") == [source]
                and detail.get(field) == [name]
                and detail.get("state") == [state]
            }
    return [
        f"stack {rec.stack}: {source} failures do not reach {topic.urn}"
        for source in sorted({w[0] for w in wanted} - covered)
    ]
