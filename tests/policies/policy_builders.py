"""Hand-built resources with realistic pulumi-aws 7 property maps, compliant unless overridden.

`res()` makes one engine-shaped registration. The per-type builders return a compliant resource;
pass keyword overrides to change it: `rds(multiAz=False)`, `rds(finalSnapshotIdentifier=DROP)` to
remove a key, `lt(metadataOptions={"httpTokens": UNKNOWN})` to make a value unknown.
"""

from __future__ import annotations

import copy
from typing import Any

from offline.model import UNKNOWN, RecordedResource, Recording

PROJECT = "groundwork"
STACK = "prod"
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"
DROP = object()  # override value that removes the key
KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC_ARN = "arn:aws:sns:eu-west-1:111111111111:groundwork-alerts"

__all__ = ["DROP", "KEY_ARN", "STACK_URN", "UNKNOWN", "recording", "res", "urn"]


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{type_}::{name}"


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in overrides.items():
        if v is DROP:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def res(
    type_: str,
    name: str,
    inputs: dict[str, Any],
    *,
    outputs: dict[str, Any] | None = None,
    protect: bool | None = None,
    deps: dict[str, tuple[str, ...]] | None = None,
    custom: bool = True,
    parent: str = "",
    provider: str = "",
) -> RecordedResource:
    deps = deps or {}
    return RecordedResource(
        type=type_,
        name=name,
        urn=urn(type_, name),
        custom=custom,
        parent=parent,
        dependencies=tuple(sorted({u for us in deps.values() for u in us})),
        property_dependencies=deps,
        protect=protect,
        retain_on_delete=None,
        ignore_changes=(),
        provider=provider,
        inputs=inputs,
        outputs=outputs if outputs is not None else dict(inputs),
    )


def recording(*resources: RecordedResource) -> Recording:
    return Recording(PROJECT, STACK, True, list(resources), {}, STACK_URN)


TAGS = {"groundwork:component": "test"}


def lt(name: str = "web-lt", **o: Any) -> RecordedResource:
    return res(
        "aws:ec2/launchTemplate:LaunchTemplate",
        name,
        _merge(
            {
                "namePrefix": "web-",
                "imageId": "ami-0123456789abcdef0",
                "instanceType": "t4g.small",
                "metadataOptions": {
                    "httpTokens": "required",
                    "httpEndpoint": "enabled",
                    "httpPutResponseHopLimit": 1,
                },
                "blockDeviceMappings": [
                    {
                        "deviceName": "/dev/xvda",
                        "ebs": {
                            "encrypted": "true",
                            "volumeSize": 20,
                            "volumeType": "gp3",
                            "kmsKeyId": UNKNOWN,
                            "deleteOnTermination": "true",
                        },
                    }
                ],
                "networkInterfaces": [
                    {
                        "associatePublicIpAddress": "false",
                        "deviceIndex": 0,
                        "securityGroups": [UNKNOWN],
                    }
                ],
                "tagSpecifications": [{"resourceType": "instance", "tags": {"Name": "web"}}],
                "tags": TAGS,
            },
            o,
        ),
    )


def instance(name: str = "bastion", **o: Any) -> RecordedResource:
    return res(
        "aws:ec2/instance:Instance",
        name,
        _merge(
            {
                "launchTemplate": {"id": UNKNOWN, "version": "$Latest"},
                "subnetId": UNKNOWN,
                "metadataOptions": {"httpTokens": "required"},
                "rootBlockDevice": {"encrypted": True, "volumeSize": 20, "volumeType": "gp3"},
                "associatePublicIpAddress": False,
                "tags": TAGS,
            },
            o,
        ),
    )


def asg(name: str = "web-asg", **o: Any) -> RecordedResource:
    return res(
        "aws:autoscaling/group:Group",
        name,
        _merge(
            {
                "minSize": 3,
                "maxSize": 6,
                "healthCheckType": "ELB",
                "healthCheckGracePeriod": 120,
                "vpcZoneIdentifiers": [UNKNOWN, UNKNOWN, UNKNOWN],
                "targetGroupArns": [UNKNOWN],
                "launchTemplate": {"id": UNKNOWN, "version": "$Latest"},
                "tags": [
                    {"key": k, "value": v, "propagateAtLaunch": True}
                    for k, v in (
                        ("Project", "groundwork"),
                        ("Environment", "prod"),
                        ("Owner", "platform"),
                    )
                ],
            },
            o,
        ),
    )


def alb(name: str = "web-alb", **o: Any) -> RecordedResource:
    inputs = _merge(
        {
            "loadBalancerType": "application",
            "internal": False,
            "subnets": [UNKNOWN, UNKNOWN, UNKNOWN],
            "securityGroups": [UNKNOWN],
            "dropInvalidHeaderFields": True,
            "enableDeletionProtection": True,
            "tags": TAGS,
        },
        o,
    )
    return res(
        "aws:lb/loadBalancer:LoadBalancer",
        name,
        inputs,
        outputs={
            **inputs,
            "arn": f"arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/{name}/x",
            "arnSuffix": f"app/{name}/x",
            "name": name,
        },
    )


def listener(lb: RecordedResource, name: str, protocol: str, **o: Any) -> RecordedResource:
    base: dict[str, Any] = {
        "loadBalancerArn": UNKNOWN,
        "port": 443 if protocol == "HTTPS" else 80,
        "protocol": protocol,
        "tags": TAGS,
    }
    if protocol == "HTTPS":
        base.update(
            certificateArn="arn:aws:acm:eu-west-1:111111111111:certificate/x",
            sslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
            defaultActions=[{"type": "forward", "targetGroupArn": UNKNOWN}],
        )
    else:
        base["defaultActions"] = [
            {
                "type": "redirect",
                "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"},
            }
        ]
    return res(
        "aws:lb/listener:Listener", name, _merge(base, o), deps={"loadBalancerArn": (lb.urn,)}
    )


def rds(name: str = "db", **o: Any) -> RecordedResource:
    inputs = _merge(
        {
            "engine": "postgres",
            "engineVersion": "16.4",
            "instanceClass": "db.t4g.medium",
            "allocatedStorage": 20,
            "maxAllocatedStorage": 100,
            "dbSubnetGroupName": UNKNOWN,
            "vpcSecurityGroupIds": [UNKNOWN],
            "username": "app",
            "manageMasterUserPassword": True,
            "backupRetentionPeriod": 14,
            "deletionProtection": True,
            "skipFinalSnapshot": False,
            "finalSnapshotIdentifier": "db-final",
            "storageEncrypted": True,
            "kmsKeyId": UNKNOWN,
            "publiclyAccessible": False,
            "multiAz": True,
            "copyTagsToSnapshot": True,
            "deleteAutomatedBackups": False,
            "performanceInsightsEnabled": True,
            "performanceInsightsKmsKeyId": UNKNOWN,
            "tags": TAGS,
        },
        o,
    )
    return res(
        "aws:rds/instance:Instance",
        name,
        inputs,
        protect=True,
        outputs={**inputs, "identifier": f"{name}-1234", "id": f"{name}-1234"},
    )


def bucket(
    name: str = "backups",
    purpose: str = "backups",
    lock: bool = True,
    protect: bool = True,
    **o: Any,
) -> RecordedResource:
    inputs = _merge(
        {
            "bucketPrefix": f"{name}-",
            "objectLockEnabled": lock,
            "forceDestroy": False,
            "tags": {**TAGS, "groundwork:purpose": purpose},
        },
        o,
    )
    if not lock:
        inputs.pop("objectLockEnabled", None)
    return res(
        "aws:s3/bucket:Bucket",
        name,
        inputs,
        protect=protect,
        outputs={
            **inputs,
            "bucket": f"{name}-20261126",
            "id": f"{name}-20261126",
            "arn": f"arn:aws:s3:::{name}-20261126",
        },
    )


def _child(
    type_: str, b: RecordedResource, role: str, inputs: dict[str, Any], o: dict[str, Any]
) -> RecordedResource:
    return res(
        type_,
        f"{b.name}-{role}",
        _merge({"bucket": UNKNOWN, **inputs}, o),
        deps={"bucket": (b.urn,)},
    )


def lock_config(b: RecordedResource, **o: Any) -> RecordedResource:
    return _child(
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        b,
        "lock",
        {
            "objectLockEnabled": "Enabled",
            "rule": {"defaultRetention": {"mode": "COMPLIANCE", "days": 30}},
        },
        o,
    )


def versioning(b: RecordedResource, **o: Any) -> RecordedResource:
    return _child(
        "aws:s3/bucketVersioning:BucketVersioning",
        b,
        "versioning",
        {"versioningConfiguration": {"status": "Enabled"}},
        o,
    )


def pab(b: RecordedResource, **o: Any) -> RecordedResource:
    return _child(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        b,
        "public-access",
        {
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        },
        o,
    )


def sse(b: RecordedResource, **o: Any) -> RecordedResource:
    return _child(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        b,
        "encryption",
        {
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms",
                        "kmsMasterKeyId": UNKNOWN,
                    },
                    "bucketKeyEnabled": True,
                }
            ]
        },
        o,
    )


TLS_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny",'
    '"Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::backups-20261126",'
    '"arn:aws:s3:::backups-20261126/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}'
)


def bucket_policy(b: RecordedResource, **o: Any) -> RecordedResource:
    return _child("aws:s3/bucketPolicy:BucketPolicy", b, "policy", {"policy": TLS_POLICY}, o)


def lifecycle(
    b: RecordedResource, days: Any = 365, noncurrent: Any = 365, **o: Any
) -> RecordedResource:
    rule: dict[str, Any] = {
        "id": "expire",
        "status": "Enabled",
        "filter": {},
        "expiration": {"days": days},
    }
    if noncurrent is not None:
        rule["noncurrentVersionExpiration"] = {"noncurrentDays": noncurrent}
    return _child(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        b,
        "lifecycle",
        {"rules": [rule]},
        o,
    )


def backup_set(b: RecordedResource | None = None, **skip: bool) -> list[RecordedResource]:
    """A backup bucket with all its companions; `skip=dict(versioning=True)` leaves one out."""
    b = b or bucket()
    parts = {
        "lock": lock_config,
        "versioning": versioning,
        "pab": pab,
        "sse": sse,
        "policy": bucket_policy,
        "lifecycle": lifecycle,
    }
    return [b] + [make(b) for key, make in parts.items() if not skip.get(key)]


def log_group(
    name: str = "runtime-logs", cls: str | None = "runtime", **o: Any
) -> RecordedResource:
    tags = dict(TAGS)
    if cls is not None:
        tags["groundwork:logClass"] = cls
    return res(
        "aws:cloudwatch/logGroup:LogGroup",
        name,
        _merge(
            {
                "name": f"/groundwork/prod/{name}",
                "retentionInDays": 90,
                "kmsKeyId": UNKNOWN,
                "tags": tags,
            },
            o,
        ),
        protect=True,
    )


def alarm(
    name: str = "alarm", target: RecordedResource | None = None, **o: Any
) -> RecordedResource:
    inputs = _merge(
        {
            "name": name,
            "comparisonOperator": "GreaterThanThreshold",
            "evaluationPeriods": 3,
            "metricName": "HTTPCode_ELB_5XX_Count",
            "namespace": "AWS/ApplicationELB",
            "period": 60,
            "statistic": "Sum",
            "threshold": 10,
            "actionsEnabled": True,
            "alarmActions": [UNKNOWN],
            "dimensions": {"LoadBalancer": UNKNOWN},
            "tags": TAGS,
        },
        o,
    )
    return res(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        name,
        inputs,
        deps={"dimensions": (target.urn,)} if target is not None else {},
    )


def composite(name: str, *children: RecordedResource, **o: Any) -> RecordedResource:
    rule = " OR ".join(f'ALARM("{c.name}")' for c in children)
    return res(
        "aws:cloudwatch/compositeAlarm:CompositeAlarm",
        name,
        _merge(
            {
                "alarmName": name,
                "alarmRule": rule,
                "actionsEnabled": True,
                "alarmActions": [TOPIC_ARN],
                "tags": TAGS,
            },
            o,
        ),
    )


def codebuild(name: str = "tests", **o: Any) -> RecordedResource:
    return res(
        "aws:codebuild/project:Project",
        name,
        _merge(
            {
                "serviceRole": UNKNOWN,
                "encryptionKey": UNKNOWN,
                "artifacts": {"type": "CODEPIPELINE"},
                "source": {"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
                "environment": {
                    "computeType": "BUILD_GENERAL1_SMALL",
                    "image": "aws/codebuild/standard:7.0",
                    "type": "LINUX_CONTAINER",
                    "privilegedMode": False,
                    "environmentVariables": [
                        {"name": "STACK", "value": "prod", "type": "PLAINTEXT"},
                        {
                            "name": "DB_PASSWORD",
                            "value": "groundwork/db",
                            "type": "SECRETS_MANAGER",
                        },
                    ],
                },
                "logsConfig": {"cloudwatchLogs": {"status": "ENABLED", "groupName": UNKNOWN}},
                "tags": TAGS,
            },
            o,
        ),
    )


def stage(name: str, *actions: tuple[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "actions": [
            {
                "name": a,
                "category": cat,
                "owner": "AWS",
                "provider": {
                    "Source": "S3",
                    "Build": "CodeBuild",
                    "Test": "CodeBuild",
                    "Approval": "Manual",
                    "Deploy": "CodeDeploy",
                }[cat],
                "version": "1",
                "configuration": {},
            }
            for a, cat in actions
        ],
    }


def pipeline(
    name: str = "delivery", stages: list[dict[str, Any]] | None = None, **o: Any
) -> RecordedResource:
    stages = (
        stages
        if stages is not None
        else [
            stage("Source", ("source", "Source")),
            stage("Test", ("tests", "Test")),
            stage("Approve", ("approve", "Approval")),
            stage("Deploy", ("deploy", "Deploy")),
        ]
    )
    return res(
        "aws:codepipeline/pipeline:Pipeline",
        name,
        _merge(
            {
                "roleArn": UNKNOWN,
                "pipelineType": "V2",
                "artifactStores": [
                    {
                        "location": UNKNOWN,
                        "type": "S3",
                        "encryptionKey": {"id": UNKNOWN, "type": "KMS"},
                    }
                ],
                "stages": stages,
                "tags": TAGS,
            },
            o,
        ),
    )


def rum(name: str = "web-monitor", **o: Any) -> RecordedResource:
    return res(
        "aws:rum/appMonitor:AppMonitor",
        name,
        _merge(
            {
                "domain": "app.example.com",
                "cwLogEnabled": False,
                "appMonitorConfiguration": {
                    "allowCookies": False,
                    "sessionSampleRate": 0.1,
                    "enableXray": False,
                    "identityPoolId": UNKNOWN,
                    "guestRoleArn": UNKNOWN,
                    "telemetries": ["errors", "performance", "http"],
                },
                "tags": TAGS,
            },
            o,
        ),
    )


def athena(name: str = "analytics", **o: Any) -> RecordedResource:
    return res(
        "aws:athena/workgroup:Workgroup",
        name,
        _merge(
            {
                "configuration": {
                    "enforceWorkgroupConfiguration": True,
                    "publishCloudwatchMetricsEnabled": True,
                    "resultConfiguration": {
                        "outputLocation": UNKNOWN,
                        "encryptionConfiguration": {
                            "encryptionOption": "SSE_KMS",
                            "kmsKeyArn": UNKNOWN,
                        },
                    },
                },
                "forceDestroy": False,
                "tags": TAGS,
            },
            o,
        ),
    )


def identity_pool(name: str = "users", **o: Any) -> RecordedResource:
    return res(
        "aws:cognito/identityPool:IdentityPool",
        name,
        _merge(
            {
                "identityPoolName": name,
                "allowUnauthenticatedIdentities": False,
                "allowClassicFlow": False,
                "tags": TAGS,
            },
            o,
        ),
    )


def kms_key(name: str = "key", **o: Any) -> RecordedResource:
    return res(
        "aws:kms/key:Key",
        name,
        _merge(
            {
                "description": "groundwork data key",
                "enableKeyRotation": True,
                "deletionWindowInDays": 30,
                "tags": TAGS,
            },
            o,
        ),
        protect=True,
    )


def iam_policy(name: str = "app-policy", document: Any = None, **o: Any) -> RecordedResource:
    doc = (
        document
        if document is not None
        else (
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],'
            '"Resource":"arn:aws:s3:::backups-20261126/*"}]}'
        )
    )
    return res("aws:iam/policy:Policy", name, _merge({"policy": doc, "tags": TAGS}, o))


def scaling_policy(
    target: RecordedResource,
    name: str = "requests",
    metric: str = "ALBRequestCountPerTarget",
    **o: Any,
) -> RecordedResource:
    return res(
        "aws:autoscaling/policy:Policy",
        name,
        _merge(
            {
                "autoscalingGroupName": UNKNOWN,
                "policyType": "TargetTrackingScaling",
                "targetTrackingConfiguration": {
                    "targetValue": 500,
                    "predefinedMetricSpecification": {
                        "predefinedMetricType": metric,
                        "resourceLabel": UNKNOWN,
                    },
                },
            },
            o,
        ),
        deps={"autoscalingGroupName": (target.urn,)},
    )


def dashboard(name: str = "performance") -> RecordedResource:
    return res(
        "aws:cloudwatch/dashboard:Dashboard",
        name,
        {"dashboardName": name, "dashboardBody": UNKNOWN},
    )


def component(name: str = "hosting") -> RecordedResource:
    return res("groundwork:hosting:Hosting", name, {}, custom=False)
