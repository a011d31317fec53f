"""The ARN each resource type gets from the offline engine's fake cloud, in AWS's own shape.

The IAM linter in the tests matches every policy's resources against the ARN formats of
AWS's Service Authorization Reference (partition, service, region, account, resource type),
so fake ARNs must look like real ones: a log group is `log-group:<name>`, a topic is the bare
name, IAM has no region, a secret carries its six-character suffix. Formats:
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
Types not listed keep the generic `<service>:<region>:<account>:<kind>/<name>`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def fake_uuid(*parts: str) -> str:
    d = digest(*parts)
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


@dataclass(frozen=True)
class Shape:
    """`arn:aws:<service>:<region or ''>:<account or ''>:<resource(inputs, name, id)>`."""

    service: str
    resource: Callable[[dict[str, Any], str, str], str]
    regional: bool = True
    in_account: bool = True


def _named(template: str) -> Callable[[dict[str, Any], str, str], str]:
    """`{name}`, the resource id `{id}`, a UUID `{uuid}` or AWS's 6-character `{suffix}`."""
    return lambda inputs, name, rid: template.format(
        name=name, id=rid, uuid=fake_uuid(name), suffix=digest(name)[:6]
    )


def _asg_policy(inputs: dict[str, Any], name: str, rid: str) -> str:
    group = inputs.get("autoscalingGroupName", "")
    return f"scalingPolicy:{fake_uuid(name)}:autoScalingGroupName/{group}:policyName/{name}"


def _log_stream(inputs: dict[str, Any], name: str, rid: str) -> str:
    return f"log-group:{inputs.get('logGroupName', '')}:log-stream:{name}"


def _deployment_group(inputs: dict[str, Any], name: str, rid: str) -> str:
    app = inputs.get("appName", "")
    return f"deploymentgroup:{app}/{inputs.get('deploymentGroupName') or name}"


def _table(inputs: dict[str, Any], name: str, rid: str) -> str:
    return f"table/{inputs.get('databaseName', '')}/{name}"


def _schedule(inputs: dict[str, Any], name: str, rid: str) -> str:
    return f"schedule/{inputs.get('groupName') or 'default'}/{name}"


SHAPES: dict[str, Shape] = {
    "aws:iam/role:Role": Shape("iam", _named("role/{name}"), regional=False),
    "aws:iam/policy:Policy": Shape("iam", _named("policy/{name}"), regional=False),
    "aws:iam/instanceProfile:InstanceProfile": Shape(
        "iam", _named("instance-profile/{name}"), regional=False
    ),
    "aws:kms/key:Key": Shape("kms", _named("key/{id}")),
    "aws:kms/alias:Alias": Shape(
        "kms", lambda i, n, r: n if n.startswith("alias/") else f"alias/{n}"
    ),
    "aws:cloudwatch/logGroup:LogGroup": Shape("logs", _named("log-group:{name}")),
    "aws:cloudwatch/logStream:LogStream": Shape("logs", _log_stream),
    "aws:cloudwatch/metricAlarm:MetricAlarm": Shape("cloudwatch", _named("alarm:{name}")),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": Shape("cloudwatch", _named("alarm:{name}")),
    "aws:cloudwatch/dashboard:Dashboard": Shape(
        "cloudwatch", _named("dashboard/{name}"), regional=False
    ),
    "aws:cloudwatch/eventRule:EventRule": Shape("events", _named("rule/{name}")),
    "aws:sns/topic:Topic": Shape("sns", _named("{name}")),
    "aws:sqs/queue:Queue": Shape("sqs", _named("{name}")),
    "aws:secretsmanager/secret:Secret": Shape("secretsmanager", _named("secret:{name}-{suffix}")),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": Shape(
        "firehose", _named("deliverystream/{name}")
    ),
    "aws:glue/catalogDatabase:CatalogDatabase": Shape("glue", _named("database/{name}")),
    "aws:glue/catalogTable:CatalogTable": Shape("glue", _table),
    "aws:athena/workgroup:Workgroup": Shape("athena", _named("workgroup/{name}")),
    "aws:autoscaling/group:Group": Shape(
        "autoscaling", lambda i, n, r: f"autoScalingGroup:{fake_uuid(n)}:autoScalingGroupName/{n}"
    ),
    "aws:autoscaling/policy:Policy": Shape("autoscaling", _asg_policy),
    "aws:codebuild/project:Project": Shape("codebuild", _named("project/{name}")),
    "aws:codebuild/reportGroup:ReportGroup": Shape("codebuild", _named("report-group/{name}")),
    "aws:codedeploy/application:Application": Shape("codedeploy", _named("application:{name}")),
    "aws:codedeploy/deploymentGroup:DeploymentGroup": Shape("codedeploy", _deployment_group),
    "aws:codepipeline/pipeline:Pipeline": Shape("codepipeline", _named("{name}")),
    "aws:lambda/function:Function": Shape("lambda", _named("function:{name}")),
    "aws:rds/instance:Instance": Shape("rds", _named("db:{name}")),
    "aws:rds/parameterGroup:ParameterGroup": Shape("rds", _named("pg:{name}")),
    "aws:rds/subnetGroup:SubnetGroup": Shape("rds", _named("subgrp:{name}")),
    "aws:scheduler/schedule:Schedule": Shape("scheduler", _schedule),
    "aws:ssm/parameter:Parameter": Shape("ssm", lambda i, n, r: f"parameter/{n.lstrip('/')}"),
    "aws:synthetics/canary:Canary": Shape("synthetics", _named("canary:{name}")),
    "aws:cloudtrail/trail:Trail": Shape("cloudtrail", _named("trail/{name}")),
    "aws:wafv2/webAcl:WebAcl": Shape("wafv2", _named("regional/webacl/{name}/{uuid}")),
    "aws:backup/vault:Vault": Shape("backup", _named("backup-vault:{name}")),
    "aws:backup/plan:Plan": Shape("backup", _named("backup-plan:{uuid}")),
    "aws:acm/certificate:Certificate": Shape("acm", _named("certificate/{uuid}")),
    "aws:ec2/vpc:Vpc": Shape("ec2", _named("vpc/{id}")),
    "aws:ec2/subnet:Subnet": Shape("ec2", _named("subnet/{id}")),
    "aws:ec2/securityGroup:SecurityGroup": Shape("ec2", _named("security-group/{id}")),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": Shape(
        "ec2", _named("security-group/{id}")
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": Shape("ec2", _named("launch-template/{id}")),
    "aws:ec2/internetGateway:InternetGateway": Shape("ec2", _named("internet-gateway/{id}")),
    "aws:ec2/natGateway:NatGateway": Shape("ec2", _named("natgateway/{id}")),
    "aws:ec2/routeTable:RouteTable": Shape("ec2", _named("route-table/{id}")),
    "aws:ec2/eip:Eip": Shape("ec2", _named("elastic-ip/{id}")),
    "aws:ec2/flowLog:FlowLog": Shape("ec2", _named("vpc-flow-log/{id}")),
    "aws:ec2/vpcEndpoint:VpcEndpoint": Shape("ec2", _named("vpc-endpoint/{id}")),
}

# Resource names the shape takes from an input other than `name`.
NAME_INPUTS: dict[str, str] = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": "alarmName",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": "alarmName",
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
    "aws:rds/instance:Instance": "identifier",
    "aws:codedeploy/application:Application": "name",
}


def arn_for(
    typ: str, inputs: dict[str, Any], name: str, rid: str, region: str, account: str
) -> str | None:
    """The ARN AWS would give this resource, or None for a type without a listed shape."""
    shape = SHAPES.get(typ)
    if shape is None:
        return None
    name = inputs.get(NAME_INPUTS.get(typ, "name")) or name
    where = f"{region if shape.regional else ''}:{account if shape.in_account else ''}"
    return f"arn:aws:{shape.service}:{where}:{shape.resource(inputs, name, rid)}"
