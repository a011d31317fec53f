"""Every policy through the real Analyzer protocol: a compliant case, a violating case and a
case with an unknown (preview) value, with the decision each rule documents for unknowns.

Resource policies are judged on Analyze (inputs); stack policies on AnalyzeStack (outputs). A
stack policy's undecided diagnostic carries no URN, so the engine files it under the root stack.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass

import policy_builders as b
import pytest
from conftest import DEV_CONFIG, run, undecided, violations
from policy_builders import DROP, STACK_URN, UNKNOWN

from offline.model import RecordedResource
from policies.rules.catalog import CATALOG


@dataclass(frozen=True)
class Case:
    policy: str
    id: str
    build: Callable[[], list[RecordedResource]]
    expect: str  # "pass", "violation" or "undecided"
    target: int = 0  # index of the resource the verdict is about (-1: the root stack)
    dev: bool = False  # judged with policies/config/dev.json (dev-only policies)
    stack: tuple[tuple[str, str], ...] = ()  # stack config overrides for the pack process

    def __str__(self) -> str:
        return f"{self.policy}:{self.id}"


def one(make: Callable[[], RecordedResource]) -> Callable[[], list[RecordedResource]]:
    return lambda: [make()]


def with_alb_listeners(http: dict | None = None, https: bool = True) -> list[RecordedResource]:
    lb = b.alb()
    out = [lb]
    if https:
        out.append(b.listener(lb, "web-https", "HTTPS"))
    out.append(b.listener(lb, "web-http", "HTTP", **(http or {})))
    return out


FORWARD = {"defaultActions": [{"type": "forward", "targetGroupArn": UNKNOWN}]}


def _without_protocol(listener: RecordedResource) -> RecordedResource:
    """The listener as written without `protocol` (the provider then defaults to HTTP)."""
    inputs = {k: v for k, v in listener.inputs.items() if k != "protocol"}
    return dataclasses.replace(listener, inputs=inputs)


def _http_rule(action: dict, internal: bool = False) -> list[RecordedResource]:
    """An internet-facing (or internal) ALB whose HTTP listener redirects, plus a rule on it."""
    lb = b.alb(internal=internal)
    http = b.listener(lb, "web-http", "HTTP")
    rule = b.res(
        "aws:lb/listenerRule:ListenerRule",
        "web-http-rule",
        {"listenerArn": UNKNOWN, "priority": 10, "actions": [action]},
        deps={"listenerArn": (http.urn,)},
    )
    return [lb, http, rule]


ALERTS_TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"


REAL_ENDPOINT = ("email", "oncall@northwind-saas.com")


def _alerts(
    *,
    subscribed: bool = True,
    known: bool = True,
    approval: bool = False,
    alarmed: bool = True,
    endpoints: tuple[tuple[str, object], ...] = (REAL_ENDPOINT,),
) -> list[RecordedResource]:
    """An alerts topic, what notifies it (an alarm or a manual approval), its subscription."""
    arn = b.TOPIC_ARN if known else UNKNOWN
    topic = b.res(ALERTS_TOPIC, "alerts", {"kmsMasterKeyId": UNKNOWN}, outputs={"arn": arn})
    out = [topic]
    if alarmed:
        out.append(
            b.res(
                "aws:cloudwatch/metricAlarm:MetricAlarm",
                "web-5xx",
                {"alarmActions": [arn], "okActions": [arn], "actionsEnabled": True},
                deps={"alarmActions": (topic.urn,), "okActions": (topic.urn,)},
            )
        )
    if approval:
        approve = b.stage("Approve", ("approve", "Approval"))
        approve["actions"][0]["configuration"] = {"NotificationArn": arn}
        out.append(
            b.res(
                "aws:codepipeline/pipeline:Pipeline",
                "delivery",
                {"stages": [b.stage("Source", ("source", "Source")), approve]},
                deps={"stages": (topic.urn,)},
            )
        )
    if subscribed:
        out += [
            b.res(
                SUBSCRIPTION,
                f"alerts-{protocol}-{i}",
                {"topic": arn, "protocol": protocol, "endpoint": endpoint},
                deps={"topic": (topic.urn,)},
            )
            for i, (protocol, endpoint) in enumerate(endpoints)
        ]
    return out


def _reaching(*endpoints: tuple[str, object]) -> Callable[[], list[RecordedResource]]:
    return lambda: _alerts(endpoints=endpoints)


def _filtering(
    policy: object, *endpoints: tuple[str, object]
) -> Callable[[], list[RecordedResource]]:
    """The alerts topic whose every subscription (REAL_ENDPOINT unless given) has `policy` as
    its filter policy: a subscriber that hears only what the filter lets through."""

    def build() -> list[RecordedResource]:
        return [
            dataclasses.replace(
                r,
                inputs={**r.inputs, "filterPolicy": policy},
                outputs={**r.outputs, "filterPolicy": policy},
            )
            if r.type == SUBSCRIPTION
            else r
            for r in _alerts(endpoints=endpoints or (REAL_ENDPOINT,))
        ]

    return build


def _subscribed_elsewhere() -> list[RecordedResource]:
    """The subscription names another topic: the alerts topic still reaches no one."""
    resources = _alerts(subscribed=False)
    other = b.res(ALERTS_TOPIC, "other", {}, outputs={"arn": b.TOPIC_ARN + "-other"})
    sub = b.res(
        SUBSCRIPTION,
        "other-email-0",
        {"topic": b.TOPIC_ARN + "-other", "protocol": "email", "endpoint": "x@northwind-saas.com"},
        deps={"topic": (other.urn,)},
    )
    return [*resources, other, sub]


def _alarmed(kind: str, **alarm_overrides: object) -> list[RecordedResource]:
    target = {"alb": b.alb, "asg": b.asg, "rds": b.rds}[kind]()
    return [target, b.alarm(f"{target.name}-alarm", target, **alarm_overrides)]


def _by_value_alarm() -> list[RecordedResource]:
    db = b.rds()
    # No property dependency: the alarm names the database by its identifier.
    return [
        db,
        b.alarm(
            "db-cpu",
            None,
            namespace="AWS/RDS",
            metricName="CPUUtilization",
            dimensions={"DBInstanceIdentifier": "db-1234"},
        ),
    ]


def _composite_only() -> list[RecordedResource]:
    lb = b.alb()
    child = b.alarm("web-alb-5xx", lb, alarmActions=[])
    return [lb, child, b.composite("web-alb-any", child)]


def _asg_scaled(scaled: bool = True, unknown_name: bool = False) -> list[RecordedResource]:
    group = b.asg()
    if not scaled:
        return [group]
    policy = b.scaling_policy(group)
    if unknown_name:
        policy = b.res(
            policy.type, policy.name, policy.inputs
        )  # no property dependency, name unknown
    return [group, policy]


def _growth_stack(**drop: bool) -> list[RecordedResource]:
    group = b.asg()
    out = [b.component(), group]
    if not drop.get("rum"):
        out.append(b.rum())
    if not drop.get("dashboard"):
        out.append(b.dashboard())
    out.append(
        b.scaling_policy(
            group,
            metric="ASGAverageCPUUtilization"
            if drop.get("requests")
            else "ALBRequestCountPerTarget",
        )
    )
    return out


TLS_UNKNOWN = UNKNOWN  # a policy built from the bucket ARN is unknown at preview
WILDCARD = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}'
NOT_ACTION = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "NotAction": ["iam:*"], "Resource": ["*"]}],
}


def _plain_bucket(purpose: str = "analytics", **sse_o: object) -> list[RecordedResource]:
    bk = b.bucket("data", purpose=purpose, lock=False)
    return [bk, b.sse(bk, **sse_o)]


SSE_S3 = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]


def _access_logs(sse_rules: object = SSE_S3, written: bool = True) -> list[RecordedResource]:
    bk = b.bucket("alb-logs", purpose="access-logs", lock=False)
    out = [bk, b.sse(bk, rules=sse_rules)]
    if written:
        lb = b.alb(accessLogs={"bucket": UNKNOWN, "prefix": "alb", "enabled": True})
        out.append(dataclasses.replace(lb, property_dependencies={"accessLogs": (bk.urn,)}))
    return out


BUCKET_ROLE_CASES = [
    Case("s3-bucket-customer-key", "kms", lambda: _plain_bucket(), "pass"),
    Case("s3-bucket-customer-key", "access-logs-sse-s3", lambda: _access_logs(), "pass"),
    Case("s3-bucket-customer-key", "sse-s3", lambda: _plain_bucket(rules=SSE_S3), "violation"),
    Case(
        "s3-bucket-customer-key",
        "aws-managed-alias",
        lambda: _plain_bucket(
            rules=[
                {
                    "applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms",
                        "kmsMasterKeyId": "alias/aws/s3",
                    }
                }
            ]
        ),
        "violation",
    ),
    Case(
        "s3-bucket-customer-key",
        "access-logs-tag-without-lb",
        lambda: _access_logs(written=False),
        "violation",
    ),
    Case(
        "s3-bucket-customer-key",
        "access-logs-kms",
        lambda: _access_logs(sse_rules=b.sse(b.bucket()).inputs["rules"]),
        "violation",
    ),
    Case(
        "s3-bucket-customer-key",
        "unknown",
        lambda: _plain_bucket(rules=UNKNOWN),
        "undecided",
        target=-1,
    ),
    # The audit trail's bucket is locked storage: without Object Lock it fails like a vault.
    Case(
        "s3-backup-object-lock",
        "audit-trail-unlocked",
        lambda: b.backup_set(b.bucket("trail", purpose="audit-trail", lock=False), lock=True),
        "violation",
    ),
    Case(
        "s3-backup-object-lock",
        "audit-trail-locked",
        lambda: b.backup_set(b.bucket("trail", purpose="audit-trail")),
        "pass",
    ),
]

CASES: list[Case] = [
    # hosting
    Case("ec2-imdsv2-required", "lt-required", one(b.lt), "pass"),
    Case(
        "ec2-imdsv2-required",
        "lt-optional",
        one(lambda: b.lt(metadataOptions={"httpTokens": "optional"})),
        "violation",
    ),
    Case("ec2-imdsv2-required", "lt-missing", one(lambda: b.lt(metadataOptions=DROP)), "violation"),
    Case(
        "ec2-imdsv2-required",
        "instance-optional",
        one(lambda: b.instance(metadataOptions={"httpTokens": "optional"})),
        "violation",
    ),
    Case(
        "ec2-imdsv2-required",
        "unknown",
        one(lambda: b.lt(metadataOptions={"httpTokens": UNKNOWN})),
        "undecided",
        target=-1,
    ),
    Case("ec2-ebs-encrypted", "lt-string-true", one(b.lt), "pass"),
    Case(
        "ec2-ebs-encrypted",
        "lt-string-false",
        one(
            lambda: b.lt(
                blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]
            )
        ),
        "violation",
    ),
    Case(
        "ec2-ebs-encrypted",
        "lt-no-mapping",
        one(lambda: b.lt(blockDeviceMappings=DROP)),
        "violation",
    ),
    Case(
        "ec2-ebs-encrypted",
        "instance-root-unencrypted",
        one(lambda: b.instance(rootBlockDevice={"encrypted": False})),
        "violation",
    ),
    Case(
        "ec2-ebs-encrypted",
        "unknown",
        one(
            lambda: b.lt(
                blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"encrypted": UNKNOWN}}]
            )
        ),
        "undecided",
        target=-1,
    ),
    Case("ec2-no-public-ip", "lt-private", one(b.lt), "pass"),
    Case(
        "ec2-no-public-ip",
        "lt-public",
        one(
            lambda: b.lt(networkInterfaces=[{"associatePublicIpAddress": "true", "deviceIndex": 0}])
        ),
        "violation",
    ),
    Case(
        "ec2-no-public-ip",
        "instance-public",
        one(lambda: b.instance(associatePublicIpAddress=True)),
        "violation",
    ),
    Case(
        "ec2-no-public-ip",
        "unknown",
        one(lambda: b.instance(associatePublicIpAddress=UNKNOWN)),
        "undecided",
        target=-1,
    ),
    Case("ec2-launch-template-required", "asg-template", one(b.asg), "pass"),
    Case(
        "ec2-launch-template-required",
        "asg-mixed-instances",
        one(
            lambda: b.asg(
                launchTemplate=DROP,
                mixedInstancesPolicy={
                    "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": UNKNOWN}}
                },
            )
        ),
        "pass",
    ),
    Case(
        "ec2-launch-template-required",
        "asg-launch-configuration",
        one(lambda: b.asg(launchTemplate=DROP, launchConfiguration="web-lc")),
        "violation",
    ),
    Case(
        "ec2-launch-template-required",
        "instance-without",
        one(lambda: b.instance(launchTemplate=DROP, ami="ami-0123")),
        "violation",
    ),
    Case(
        "ec2-launch-template-required",
        "unknown-template-id",
        one(lambda: b.asg(launchTemplate=UNKNOWN)),
        "pass",
    ),
    Case("asg-elb-health-check", "elb", one(b.asg), "pass"),
    Case("asg-elb-health-check", "ec2", one(lambda: b.asg(healthCheckType="EC2")), "violation"),
    Case("asg-elb-health-check", "unset", one(lambda: b.asg(healthCheckType=DROP)), "violation"),
    Case(
        "asg-elb-health-check", "unknown", one(lambda: b.asg(healthCheckType=UNKNOWN)), "undecided"
    ),
    Case("asg-multi-az", "three-unknown-subnets", one(b.asg), "pass"),
    Case(
        "asg-multi-az",
        "two-subnets-prod",
        one(lambda: b.asg(vpcZoneIdentifiers=["subnet-a", "subnet-b"])),
        "violation",
    ),
    Case(
        "asg-multi-az",
        "availability-zones",
        one(lambda: b.asg(vpcZoneIdentifiers=DROP, availabilityZones=["eu-west-1a"])),
        "violation",
    ),
    Case(
        "asg-multi-az",
        "unknown-list",
        one(lambda: b.asg(vpcZoneIdentifiers=UNKNOWN)),
        "undecided",
        target=-1,
    ),
    Case("alb-drop-invalid-headers", "on", one(b.alb), "pass"),
    Case(
        "alb-drop-invalid-headers",
        "off",
        one(lambda: b.alb(dropInvalidHeaderFields=DROP)),
        "violation",
    ),
    Case(
        "alb-drop-invalid-headers",
        "network-lb",
        one(lambda: b.alb(loadBalancerType="network", dropInvalidHeaderFields=DROP)),
        "pass",
    ),
    Case(
        "alb-drop-invalid-headers",
        "deprecated-alb-alias",
        lambda: [
            b.res(
                "aws:alb/loadBalancer:LoadBalancer", "old-alb", {"loadBalancerType": "application"}
            )
        ],
        "violation",
    ),
    Case(
        "alb-drop-invalid-headers",
        "unknown",
        one(lambda: b.alb(dropInvalidHeaderFields=UNKNOWN)),
        "undecided",
    ),
    Case("alb-deletion-protection", "on", one(b.alb), "pass"),
    Case(
        "alb-deletion-protection",
        "off",
        one(lambda: b.alb(enableDeletionProtection=False)),
        "violation",
    ),
    Case(
        "alb-deletion-protection",
        "unknown",
        one(lambda: b.alb(enableDeletionProtection=UNKNOWN)),
        "undecided",
    ),
    Case("alb-https-redirect", "redirects", lambda: with_alb_listeners(), "pass", target=2),
    Case(
        "alb-https-redirect",
        "forwards-http",
        lambda: with_alb_listeners(FORWARD),
        "violation",
        target=2,
    ),
    Case(
        "alb-https-redirect",
        "no-https-listener",
        lambda: with_alb_listeners(FORWARD, https=False),
        "pass",
        target=1,
    ),
    Case(
        "alb-https-redirect",
        "unknown-actions",
        lambda: with_alb_listeners({"defaultActions": UNKNOWN}),
        "undecided",
        target=-1,
    ),
    # alb-public-https-only: no plain HTTP on the internet, HTTPS listener or not
    Case("alb-public-https-only", "redirects", lambda: with_alb_listeners(), "pass", target=2),
    Case(
        "alb-public-https-only",
        "http-only-forwards",
        lambda: with_alb_listeners(FORWARD, https=False),
        "violation",
        target=1,
    ),
    # The letter without the intent: the provider takes any case, a missing protocol means
    # HTTP, and the older `aws:alb` alias is the same resource.
    Case(
        "alb-public-https-only",
        "lower-case-http-forwards",
        lambda: [lb := b.alb(), b.listener(lb, "web-http", "http", **FORWARD)],
        "violation",
        target=1,
    ),
    Case(
        "alb-public-https-only",
        "no-protocol-forwards",
        lambda: [lb := b.alb(), _without_protocol(b.listener(lb, "web-http", "HTTP", **FORWARD))],
        "violation",
        target=1,
    ),
    Case(
        "alb-public-https-only",
        "alias-type-forwards",
        lambda: [
            lb := b.alb(),
            dataclasses.replace(
                b.listener(lb, "web-http", "HTTP", **FORWARD), type="aws:alb/listener:Listener"
            ),
        ],
        "violation",
        target=1,
    ),
    Case(
        "alb-public-https-only",
        "lower-case-redirect",
        lambda: [
            lb := b.alb(),
            b.listener(
                lb,
                "web-http",
                "http",
                defaultActions=[{"type": "redirect", "redirect": {"protocol": "https"}}],
            ),
        ],
        "pass",
        target=1,
    ),
    Case(
        "alb-public-https-only",
        "internal-may-forward",
        lambda: [lb := b.alb(internal=True), b.listener(lb, "web-http", "HTTP", **FORWARD)],
        "pass",
        target=1,
    ),
    Case(
        "alb-public-https-only",
        "rule-forwards-on-http",
        lambda: _http_rule({"type": "forward", "targetGroupArn": UNKNOWN}),
        "violation",
        target=2,
    ),
    Case(
        "alb-public-https-only",
        "rule-redirects",
        lambda: _http_rule({"type": "redirect", "redirect": {"protocol": "HTTPS"}}),
        "pass",
        target=2,
    ),
    Case(
        "alb-public-https-only",
        "unknown-actions",
        lambda: with_alb_listeners({"defaultActions": UNKNOWN}, https=False),
        "undecided",
        target=-1,
    ),
    # alerts-topic-subscribed: someone hears the alarms and approval requests
    Case("alerts-topic-subscribed", "subscribed", lambda: _alerts(), "pass"),
    Case(
        "alerts-topic-subscribed",
        "no-subscription",
        lambda: _alerts(subscribed=False),
        "violation",
    ),
    Case(
        "alerts-topic-subscribed",
        "only-reserved-domain-address",
        _reaching(("email", "oncall@example.com")),
        "violation",
    ),
    Case(
        "alerts-topic-subscribed",
        "only-reserved-subdomains-any-case",
        _reaching(("email", "OPS@Mail.Example.ORG"), ("email-json", "ops@corp.test")),
        "violation",
    ),
    Case(
        "alerts-topic-subscribed",
        "reserved-webhook-host",
        _reaching(("https", "https://hooks.example.net/alarms")),
        "violation",
    ),
    Case(
        "alerts-topic-subscribed",
        "one-real-address-beside-a-placeholder",
        _reaching(("email", "oncall@example.com"), REAL_ENDPOINT),
        "pass",
    ),
    Case(
        "alerts-topic-subscribed",
        "lookalike-domain-is-real",
        _reaching(("email", "ops@notexample.com")),
        "pass",
    ),
    Case(
        "alerts-topic-subscribed",
        "upper-case-protocol-still-reserved",
        _reaching(("EMAIL", "oncall@example.com")),
        "violation",
    ),
    Case(
        "alerts-topic-subscribed",
        "unknown-protocol-counts",
        _reaching((UNKNOWN, "oncall@example.com")),
        "pass",
    ),
    Case(
        "alerts-topic-subscribed",
        "unknown-endpoint-counts",
        _reaching(("email", UNKNOWN)),
        "pass",
    ),
    Case(
        "alerts-topic-subscribed",
        "only-filtered-subscriber",
        _filtering(json.dumps({"severity": ["never-sent"]})),
        "violation",
    ),
    Case(
        "alerts-topic-subscribed",
        "filtered-beside-a-reserved-address",
        _filtering(json.dumps({"AlarmName": ["db"]}), REAL_ENDPOINT, ("email", "a@example.com")),
        "violation",
    ),
    Case(
        "alerts-topic-subscribed",
        "empty-filter-policy-filters-nothing",
        _filtering("{}"),
        "pass",
    ),
    Case(
        "alerts-topic-subscribed",
        "unknown-filter-policy-counts",
        _filtering(UNKNOWN),
        "pass",
    ),
    Case(
        "alerts-topic-subscribed",
        "subscribed-elsewhere",
        _subscribed_elsewhere,
        "violation",
    ),
    Case(
        "alerts-topic-subscribed",
        "approval-only-unsubscribed",
        lambda: _alerts(subscribed=False, approval=True, alarmed=False),
        "violation",
    ),
    Case(
        "alerts-topic-subscribed",
        "unused-topic-unsubscribed",
        lambda: _alerts(subscribed=False, alarmed=False),
        "pass",
    ),
    Case(
        "alerts-topic-subscribed",
        "unknown-arns-followed-by-dependency",
        lambda: _alerts(known=False),
        "pass",
    ),
    Case(
        "alerts-topic-subscribed",
        "unknown-arns-unsubscribed",
        lambda: _alerts(known=False, subscribed=False),
        "violation",
    ),
    # database
    Case("rds-backup-retention", "fourteen", one(b.rds), "pass"),
    Case(
        "rds-backup-retention",
        "above-minimum",
        one(lambda: b.rds(backupRetentionPeriod=30)),
        "pass",
    ),
    Case("rds-backup-retention", "seven", one(lambda: b.rds(backupRetentionPeriod=7)), "violation"),
    Case(
        "rds-backup-retention", "unset", one(lambda: b.rds(backupRetentionPeriod=DROP)), "violation"
    ),
    Case(
        "rds-backup-retention",
        "unknown",
        one(lambda: b.rds(backupRetentionPeriod=UNKNOWN)),
        "undecided",
    ),
    Case("rds-deletion-protection", "on", one(b.rds), "pass"),
    Case(
        "rds-deletion-protection", "off", one(lambda: b.rds(deletionProtection=False)), "violation"
    ),
    Case(
        "rds-deletion-protection",
        "unknown",
        one(lambda: b.rds(deletionProtection=UNKNOWN)),
        "undecided",
    ),
    Case("rds-final-snapshot", "kept", one(b.rds), "pass"),
    Case("rds-final-snapshot", "skipped", one(lambda: b.rds(skipFinalSnapshot=True)), "violation"),
    Case(
        "rds-final-snapshot",
        "no-identifier",
        one(lambda: b.rds(finalSnapshotIdentifier=DROP)),
        "violation",
    ),
    Case(
        "rds-final-snapshot",
        "unknown-identifier",
        one(lambda: b.rds(finalSnapshotIdentifier=UNKNOWN)),
        "pass",
    ),
    Case(
        "rds-final-snapshot",
        "unknown-skip",
        one(lambda: b.rds(skipFinalSnapshot=UNKNOWN)),
        "undecided",
    ),
    Case("rds-storage-encrypted", "on", one(b.rds), "pass"),
    Case("rds-storage-encrypted", "off", one(lambda: b.rds(storageEncrypted=False)), "violation"),
    Case(
        "rds-storage-encrypted",
        "unknown",
        one(lambda: b.rds(storageEncrypted=UNKNOWN)),
        "undecided",
    ),
    Case("rds-not-public", "private", one(b.rds), "pass"),
    Case("rds-not-public", "public", one(lambda: b.rds(publiclyAccessible=True)), "violation"),
    Case(
        "rds-not-public",
        "unknown-fails-closed",
        one(lambda: b.rds(publiclyAccessible=UNKNOWN)),
        "violation",
    ),
    Case("rds-multi-az", "on", one(b.rds), "pass"),
    Case("rds-multi-az", "off", one(lambda: b.rds(multiAz=False)), "violation"),
    Case("rds-multi-az", "unknown", one(lambda: b.rds(multiAz=UNKNOWN)), "undecided"),
    Case("rds-copy-tags-to-snapshot", "on", one(b.rds), "pass"),
    Case(
        "rds-copy-tags-to-snapshot",
        "unset",
        one(lambda: b.rds(copyTagsToSnapshot=DROP)),
        "violation",
    ),
    Case(
        "rds-copy-tags-to-snapshot",
        "unknown",
        one(lambda: b.rds(copyTagsToSnapshot=UNKNOWN)),
        "undecided",
    ),
    Case("rds-keep-automated-backups", "kept", one(b.rds), "pass"),
    Case(
        "rds-keep-automated-backups",
        "default-deletes",
        one(lambda: b.rds(deleteAutomatedBackups=DROP)),
        "violation",
    ),
    Case(
        "rds-keep-automated-backups",
        "unknown",
        one(lambda: b.rds(deleteAutomatedBackups=UNKNOWN)),
        "undecided",
    ),
    Case("rds-performance-insights", "on", one(b.rds), "pass"),
    Case(
        "rds-performance-insights",
        "advanced-insights",
        one(lambda: b.rds(performanceInsightsEnabled=DROP, databaseInsightsMode="advanced")),
        "pass",
    ),
    Case(
        "rds-performance-insights",
        "off",
        one(lambda: b.rds(performanceInsightsEnabled=False)),
        "violation",
    ),
    Case(
        "rds-performance-insights",
        "unknown",
        one(lambda: b.rds(performanceInsightsEnabled=UNKNOWN)),
        "undecided",
    ),
    # backup storage
    Case("s3-object-lock-retention", "compliance-30", lambda: [b.lock_config(b.bucket())], "pass"),
    Case(
        "s3-object-lock-retention",
        "governance-prod",
        lambda: [
            b.lock_config(b.bucket(), rule={"defaultRetention": {"mode": "GOVERNANCE", "days": 30}})
        ],
        "violation",
    ),
    Case(
        "s3-object-lock-retention",
        "too-short",
        lambda: [
            b.lock_config(b.bucket(), rule={"defaultRetention": {"mode": "COMPLIANCE", "days": 7}})
        ],
        "violation",
    ),
    Case(
        "s3-object-lock-retention",
        "years",
        lambda: [
            b.lock_config(b.bucket(), rule={"defaultRetention": {"mode": "COMPLIANCE", "years": 1}})
        ],
        "pass",
    ),
    Case(
        "s3-object-lock-retention",
        "deprecated-v2",
        lambda: [
            b.res(
                "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
                "old-lock",
                {"bucket": "x", "rule": {"defaultRetention": {"mode": "COMPLIANCE", "days": 1}}},
            )
        ],
        "violation",
    ),
    Case(
        "s3-object-lock-retention",
        "unknown-days",
        lambda: [
            b.lock_config(
                b.bucket(), rule={"defaultRetention": {"mode": "COMPLIANCE", "days": UNKNOWN}}
            )
        ],
        "undecided",
    ),
    Case("s3-backup-object-lock", "complete", lambda: b.backup_set(), "pass"),
    Case(
        "s3-backup-object-lock", "tagged-without-lock", lambda: [b.bucket(lock=False)], "violation"
    ),
    Case(
        "s3-backup-object-lock",
        "no-lock-configuration",
        lambda: b.backup_set(lock=True),
        "violation",
    ),
    Case(
        "s3-backup-object-lock",
        "inline-deprecated",
        lambda: [
            b.bucket(
                objectLockConfiguration={
                    "objectLockEnabled": "Enabled",
                    "rule": {"defaultRetention": {"mode": "COMPLIANCE", "days": 40}},
                }
            )
        ],
        "pass",
    ),
    Case(
        "s3-backup-object-lock",
        "unknown-enabled",
        lambda: [b.bucket(objectLockEnabled=UNKNOWN)],
        "undecided",
        target=-1,
    ),
    Case("s3-backup-versioning", "enabled", lambda: b.backup_set(), "pass"),
    Case("s3-backup-versioning", "missing", lambda: b.backup_set(versioning=True), "violation"),
    Case(
        "s3-backup-versioning",
        "suspended",
        lambda: (
            lambda bk: [bk, b.versioning(bk, versioningConfiguration={"status": "Suspended"})]
        )(b.bucket()),
        "violation",
    ),
    Case(
        "s3-backup-versioning",
        "matched-by-name",
        lambda: (
            lambda bk: [
                bk,
                b.res(
                    "aws:s3/bucketVersioningV2:BucketVersioningV2",
                    "v",
                    {
                        "bucket": "backups-20261126",
                        "versioningConfiguration": {"status": "Enabled"},
                    },
                ),
            ]
        )(b.bucket()),
        "pass",
    ),
    Case(
        "s3-backup-versioning",
        "unknown",
        lambda: (lambda bk: [bk, b.versioning(bk, versioningConfiguration={"status": UNKNOWN})])(
            b.bucket()
        ),
        "undecided",
        target=-1,
    ),
    Case("s3-backup-public-access-block", "all-four", lambda: b.backup_set(), "pass"),
    Case("s3-backup-public-access-block", "missing", lambda: b.backup_set(pab=True), "violation"),
    Case(
        "s3-backup-public-access-block",
        "one-off",
        lambda: (lambda bk: [bk, b.pab(bk, restrictPublicBuckets=False)])(b.bucket()),
        "violation",
    ),
    Case(
        "s3-backup-public-access-block",
        "unknown",
        lambda: (lambda bk: [bk, b.pab(bk, blockPublicPolicy=UNKNOWN)])(b.bucket()),
        "undecided",
        target=-1,
    ),
    Case("s3-bucket-public-access-block", "all-four", lambda: b.backup_set(), "pass"),
    Case(
        "s3-bucket-public-access-block",
        "analytics-missing",
        lambda: [b.bucket("events", "analytics", lock=False)],
        "violation",
    ),
    Case(
        "s3-bucket-public-access-block",
        "unknown",
        lambda: (lambda bk: [bk, b.pab(bk, blockPublicPolicy=UNKNOWN)])(b.bucket()),
        "undecided",
        target=-1,
    ),
    Case("s3-backup-kms-encryption", "kms", lambda: b.backup_set(), "pass"),
    Case(
        "s3-backup-kms-encryption",
        "sse-s3",
        lambda: (
            lambda bk: [
                bk,
                b.sse(
                    bk, rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
                ),
            ]
        )(b.bucket()),
        "violation",
    ),
    Case(
        "s3-backup-kms-encryption",
        "aws-managed-key",
        lambda: (
            lambda bk: [
                bk,
                b.sse(
                    bk, rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]
                ),
            ]
        )(b.bucket()),
        "violation",
    ),
    Case("s3-backup-kms-encryption", "missing", lambda: b.backup_set(sse=True), "violation"),
    Case(
        "s3-backup-kms-encryption",
        "unknown",
        lambda: (lambda bk: [bk, b.sse(bk, rules=UNKNOWN)])(b.bucket()),
        "undecided",
        target=-1,
    ),
    Case("s3-backup-tls-only", "deny-insecure", lambda: b.backup_set(), "pass"),
    Case(
        "s3-backup-tls-only",
        "object-document",
        lambda: (
            lambda bk: [
                bk,
                b.bucket_policy(
                    bk,
                    policy={
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Deny",
                                "Principal": {"AWS": "*"},
                                "Action": "s3:*",
                                "Resource": [UNKNOWN],
                                "Condition": {"Bool": {"aws:SecureTransport": False}},
                            }
                        ],
                    },
                ),
            ]
        )(b.bucket()),
        "pass",
    ),
    Case(
        "s3-backup-tls-only",
        "allow-only",
        lambda: (
            lambda bk: [
                bk,
                b.bucket_policy(
                    bk,
                    policy='{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}',
                ),
            ]
        )(b.bucket()),
        "violation",
    ),
    Case("s3-backup-tls-only", "missing", lambda: b.backup_set(policy=True), "violation"),
    Case(
        "s3-backup-tls-only",
        "unknown-document",
        lambda: (lambda bk: [bk, b.bucket_policy(bk, policy=TLS_UNKNOWN)])(b.bucket()),
        "undecided",
        target=-1,
    ),
    Case("s3-backup-lifecycle-covers-lock", "longer", lambda: b.backup_set(), "pass"),
    Case(
        "s3-backup-lifecycle-covers-lock",
        "shorter",
        lambda: (lambda bk: [bk, b.lock_config(bk), b.lifecycle(bk, days=10)])(b.bucket()),
        "violation",
    ),
    Case(
        "s3-backup-lifecycle-covers-lock",
        "noncurrent-shorter",
        lambda: (lambda bk: [bk, b.lock_config(bk), b.lifecycle(bk, days=400, noncurrent=5)])(
            b.bucket()
        ),
        "violation",
    ),
    Case(
        "s3-backup-lifecycle-covers-lock",
        "no-lifecycle",
        lambda: b.backup_set(lifecycle=True),
        "pass",
    ),
    Case(
        "s3-backup-lifecycle-covers-lock",
        "unknown-days",
        lambda: (lambda bk: [bk, b.lock_config(bk), b.lifecycle(bk, days=UNKNOWN)])(b.bucket()),
        "undecided",
        target=-1,
    ),
    Case(
        "s3-analytics-retention",
        "within",
        lambda: (lambda bk: [bk, b.lifecycle(bk, days=90, noncurrent=None)])(
            b.bucket("events", "analytics", lock=False)
        ),
        "pass",
    ),
    Case(
        "s3-analytics-retention",
        "too-long-for-stack",
        lambda: (lambda bk: [bk, b.lifecycle(bk, days=120, noncurrent=None)])(
            b.bucket("events", "analytics", lock=False)
        ),
        "violation",
    ),
    Case(
        "s3-analytics-retention",
        "forever",
        lambda: [b.bucket("events", "analytics", lock=False)],
        "violation",
    ),
    Case(
        "s3-analytics-retention",
        "unknown",
        lambda: (lambda bk: [bk, b.lifecycle(bk, days=UNKNOWN, noncurrent=None)])(
            b.bucket("events", "analytics", lock=False)
        ),
        "undecided",
        target=-1,
    ),
    # logging and alarms
    Case("log-group-retention", "runtime-90", one(b.log_group), "pass"),
    Case(
        "log-group-retention",
        "untagged-is-runtime",
        one(lambda: b.log_group(cls=None, retentionInDays=400)),
        "violation",
    ),
    Case(
        "log-group-retention",
        "error-30",
        one(lambda: b.log_group("errors", "error", retentionInDays=30)),
        "violation",
    ),
    Case(
        "log-group-retention",
        "audit-3653",
        one(lambda: b.log_group("audit", "audit", retentionInDays=3653)),
        "pass",
    ),
    Case(
        "log-group-retention",
        "never-expire",
        one(lambda: b.log_group(retentionInDays=DROP)),
        "violation",
    ),
    Case(
        "log-group-retention",
        "not-a-cloudwatch-value",
        one(lambda: b.log_group(retentionInDays=100)),
        "violation",
    ),
    Case(
        "log-group-retention", "unknown-class", one(lambda: b.log_group(cls="debug")), "violation"
    ),
    Case(
        "log-group-retention",
        "unknown",
        one(lambda: b.log_group(retentionInDays=UNKNOWN)),
        "undecided",
    ),
    Case("log-group-kms", "unknown-key-is-set", one(b.log_group), "pass"),
    Case("log-group-kms", "unencrypted", one(lambda: b.log_group(kmsKeyId=DROP)), "violation"),
    Case("alarm-actions-enabled", "topic", one(lambda: b.alarm("a")), "pass"),
    Case(
        "alarm-actions-enabled",
        "no-actions",
        one(lambda: b.alarm("a", alarmActions=[])),
        "violation",
    ),
    Case(
        "alarm-actions-enabled",
        "disabled",
        one(lambda: b.alarm("a", actionsEnabled=False)),
        "violation",
    ),
    Case(
        "alarm-actions-enabled",
        "composite-without",
        one(lambda: b.composite("c", alarmActions=DROP)),
        "violation",
    ),
    Case(
        "alarm-actions-enabled",
        "unknown-enabled",
        one(lambda: b.alarm("a", actionsEnabled=UNKNOWN)),
        "undecided",
        target=-1,
    ),
    Case("resources-alarmed", "alb-by-dependency", lambda: _alarmed("alb"), "pass"),
    Case("resources-alarmed", "rds-by-dimension-value", _by_value_alarm, "pass"),
    Case("resources-alarmed", "via-composite", _composite_only, "pass"),
    Case("resources-alarmed", "asg-unwatched", one(b.asg), "violation"),
    Case(
        "resources-alarmed",
        "alarm-without-action",
        lambda: _alarmed("rds", alarmActions=[]),
        "violation",
    ),
    Case(
        "resources-alarmed",
        "unknown-dimensions-match-by-dependency",
        lambda: _alarmed("asg", dimensions={"AutoScalingGroupName": UNKNOWN}),
        "pass",
    ),
    # delivery
    Case("codebuild-no-privileged-mode", "off", one(b.codebuild), "pass"),
    Case(
        "codebuild-no-privileged-mode",
        "on",
        one(
            lambda: b.codebuild(
                environment={
                    "computeType": "BUILD_GENERAL1_SMALL",
                    "image": "x",
                    "type": "LINUX_CONTAINER",
                    "privilegedMode": True,
                }
            )
        ),
        "violation",
    ),
    Case(
        "codebuild-no-privileged-mode",
        "unknown",
        one(
            lambda: b.codebuild(
                environment={
                    "computeType": "BUILD_GENERAL1_SMALL",
                    "image": "x",
                    "type": "LINUX_CONTAINER",
                    "privilegedMode": UNKNOWN,
                }
            )
        ),
        "undecided",
    ),
    Case("codebuild-no-plaintext-secrets", "references", one(b.codebuild), "pass"),
    Case(
        "codebuild-no-plaintext-secrets",
        "plaintext-password",
        one(
            lambda: b.codebuild(
                environment={
                    "computeType": "S",
                    "image": "x",
                    "type": "LINUX_CONTAINER",
                    "environmentVariables": [{"name": "DB_PASSWORD", "value": "hunter2hunter2"}],
                }
            )
        ),
        "violation",
    ),
    Case(
        "codebuild-no-plaintext-secrets",
        "secret-arn-is-a-reference",
        one(
            lambda: b.codebuild(
                environment={
                    "computeType": "S",
                    "image": "x",
                    "type": "LINUX_CONTAINER",
                    "environmentVariables": [
                        {
                            "name": "DB_SECRET_ARN",
                            "value": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db",
                            "type": "PLAINTEXT",
                        },
                        {"name": "TOKEN_ARN", "value": UNKNOWN, "type": "PLAINTEXT"},
                    ],
                }
            )
        ),
        "pass",
    ),
    Case(
        "codebuild-no-plaintext-secrets",
        "secret-name-with-a-value-not-an-arn",
        one(
            lambda: b.codebuild(
                environment={
                    "computeType": "S",
                    "image": "x",
                    "type": "LINUX_CONTAINER",
                    "environmentVariables": [
                        {"name": "DB_SECRET_ARN", "value": "hunter2hunter2", "type": "PLAINTEXT"}
                    ],
                }
            )
        ),
        "violation",
    ),
    Case(
        "codebuild-no-plaintext-secrets",
        "aws-key-value",
        one(
            lambda: b.codebuild(
                environment={
                    "computeType": "S",
                    "image": "x",
                    "type": "LINUX_CONTAINER",
                    "environmentVariables": [
                        {"name": "CFG", "value": "AKIAABCDEFGHIJKLMNOP", "type": "PLAINTEXT"}
                    ],
                }
            )
        ),
        "violation",
    ),
    Case(
        "codebuild-no-plaintext-secrets",
        "unknown-list",
        one(
            lambda: b.codebuild(
                environment={
                    "computeType": "S",
                    "image": "x",
                    "type": "LINUX_CONTAINER",
                    "environmentVariables": UNKNOWN,
                }
            )
        ),
        "undecided",
    ),
    Case("codebuild-logging", "group", one(b.codebuild), "pass"),
    Case("codebuild-logging", "default", one(lambda: b.codebuild(logsConfig=DROP)), "violation"),
    Case(
        "codebuild-logging",
        "s3",
        one(
            lambda: b.codebuild(
                logsConfig={
                    "cloudwatchLogs": {"status": "DISABLED"},
                    "s3Logs": {"status": "ENABLED", "location": UNKNOWN},
                }
            )
        ),
        "pass",
    ),
    Case("codebuild-logging", "unknown", one(lambda: b.codebuild(logsConfig=UNKNOWN)), "undecided"),
    Case("build-artifacts-encrypted", "codebuild-key", one(b.codebuild), "pass"),
    Case(
        "build-artifacts-encrypted",
        "codebuild-disabled",
        one(lambda: b.codebuild(artifacts={"type": "S3", "encryptionDisabled": True})),
        "violation",
    ),
    Case(
        "build-artifacts-encrypted",
        "codebuild-no-key",
        one(lambda: b.codebuild(encryptionKey=DROP)),
        "violation",
    ),
    Case("build-artifacts-encrypted", "pipeline-kms", one(b.pipeline), "pass"),
    Case(
        "build-artifacts-encrypted",
        "pipeline-no-key",
        one(lambda: b.pipeline(artifactStores=[{"location": UNKNOWN, "type": "S3"}])),
        "violation",
    ),
    Case(
        "build-artifacts-encrypted",
        "pipeline-unknown-stores",
        one(lambda: b.pipeline(artifactStores=UNKNOWN)),
        "undecided",
    ),
    Case("pipeline-test-before-deploy", "tested", one(b.pipeline), "pass"),
    Case(
        "pipeline-test-before-deploy",
        "build-counts",
        one(
            lambda: b.pipeline(
                stages=[
                    b.stage("Source", ("s", "Source")),
                    b.stage("Build", ("b", "Build")),
                    b.stage("Approve", ("a", "Approval")),
                    b.stage("Deploy", ("d", "Deploy")),
                ]
            )
        ),
        "pass",
    ),
    Case(
        "pipeline-test-before-deploy",
        "deploy-first",
        one(
            lambda: b.pipeline(
                stages=[
                    b.stage("Source", ("s", "Source")),
                    b.stage("Deploy", ("d", "Deploy")),
                    b.stage("Test", ("t", "Test")),
                ]
            )
        ),
        "violation",
    ),
    Case(
        "pipeline-test-before-deploy",
        "same-stage-is-not-before",
        one(
            lambda: b.pipeline(
                stages=[
                    b.stage("Source", ("s", "Source")),
                    b.stage("All", ("t", "Test"), ("d", "Deploy")),
                ]
            )
        ),
        "violation",
    ),
    Case(
        "pipeline-test-before-deploy",
        "unknown-stages",
        one(lambda: b.pipeline(stages=UNKNOWN)),
        "undecided",
    ),
    Case("pipeline-approval-stage", "approved", one(b.pipeline), "pass"),
    Case(
        "pipeline-approval-stage",
        "no-approval",
        one(
            lambda: b.pipeline(
                stages=[
                    b.stage("Source", ("s", "Source")),
                    b.stage("Test", ("t", "Test")),
                    b.stage("Deploy", ("d", "Deploy")),
                ]
            )
        ),
        "violation",
    ),
    Case(
        "pipeline-approval-stage",
        "unknown-stages",
        one(lambda: b.pipeline(stages=UNKNOWN)),
        "undecided",
    ),
    # RUM and analytics
    Case("rum-session-sample-rate", "low", one(b.rum), "pass"),
    Case(
        "rum-session-sample-rate",
        "unset-defaults-low",
        one(lambda: b.rum(appMonitorConfiguration={"allowCookies": False})),
        "pass",
    ),
    Case(
        "rum-session-sample-rate",
        "all-sessions",
        one(
            lambda: b.rum(appMonitorConfiguration={"allowCookies": False, "sessionSampleRate": 1.0})
        ),
        "violation",
    ),
    Case(
        "rum-session-sample-rate",
        "unknown",
        one(lambda: b.rum(appMonitorConfiguration={"sessionSampleRate": UNKNOWN})),
        "undecided",
    ),
    Case("rum-cookies-consented", "no-cookies", one(b.rum), "pass"),
    Case(
        "rum-cookies-consented",
        "cookies",
        one(
            lambda: b.rum(appMonitorConfiguration={"allowCookies": True, "sessionSampleRate": 0.1})
        ),
        "violation",
    ),
    Case(
        "rum-cookies-consented",
        "unknown",
        one(lambda: b.rum(appMonitorConfiguration={"allowCookies": UNKNOWN})),
        "undecided",
    ),
    Case("athena-enforce-workgroup-config", "enforced", one(b.athena), "pass"),
    Case(
        "athena-enforce-workgroup-config",
        "default-enforced",
        one(
            lambda: b.athena(
                configuration={
                    "resultConfiguration": {
                        "encryptionConfiguration": {"encryptionOption": "SSE_KMS"}
                    }
                }
            )
        ),
        "pass",
    ),
    Case(
        "athena-enforce-workgroup-config",
        "not-enforced",
        one(lambda: b.athena(configuration={"enforceWorkgroupConfiguration": False})),
        "violation",
    ),
    Case(
        "athena-enforce-workgroup-config",
        "unknown",
        one(lambda: b.athena(configuration={"enforceWorkgroupConfiguration": UNKNOWN})),
        "undecided",
    ),
    Case("athena-results-encrypted", "kms", one(b.athena), "pass"),
    Case(
        "athena-results-encrypted",
        "sse-s3",
        one(
            lambda: b.athena(
                configuration={
                    "resultConfiguration": {
                        "encryptionConfiguration": {"encryptionOption": "SSE_S3"}
                    }
                }
            )
        ),
        "violation",
    ),
    Case(
        "athena-results-encrypted",
        "none",
        one(lambda: b.athena(configuration={"enforceWorkgroupConfiguration": True})),
        "violation",
    ),
    Case(
        "athena-results-encrypted",
        "unknown",
        one(
            lambda: b.athena(
                configuration={
                    "resultConfiguration": {
                        "encryptionConfiguration": {"encryptionOption": UNKNOWN}
                    }
                }
            )
        ),
        "undecided",
    ),
    # identity, keys, tags
    Case("kms-key-rotation", "rotates", one(b.kms_key), "pass"),
    Case(
        "kms-key-rotation",
        "no-rotation",
        one(lambda: b.kms_key(enableKeyRotation=DROP)),
        "violation",
    ),
    Case(
        "kms-key-rotation",
        "asymmetric-not-applicable",
        one(
            lambda: b.kms_key(
                enableKeyRotation=DROP, customerMasterKeySpec="RSA_2048", keyUsage="SIGN_VERIFY"
            )
        ),
        "pass",
    ),
    Case(
        "kms-key-rotation",
        "unknown",
        one(lambda: b.kms_key(enableKeyRotation=UNKNOWN)),
        "undecided",
    ),
    Case("iam-no-wildcard-admin", "scoped", one(b.iam_policy), "pass"),
    Case(
        "iam-no-wildcard-admin",
        "star-star-string",
        one(lambda: b.iam_policy(document=WILDCARD)),
        "violation",
    ),
    Case(
        "iam-no-wildcard-admin",
        "not-action-object",
        one(lambda: b.iam_policy(document=NOT_ACTION)),
        "violation",
    ),
    Case(
        "iam-no-wildcard-admin",
        "role-inline",
        lambda: [
            b.res(
                "aws:iam/role:Role",
                "app-role",
                {
                    "assumeRolePolicy": "{}",
                    "inlinePolicies": [{"name": "admin", "policy": WILDCARD}],
                },
            )
        ],
        "violation",
    ),
    Case(
        "iam-no-wildcard-admin",
        "role-policy",
        lambda: [
            b.res("aws:iam/rolePolicy:RolePolicy", "rp", {"role": UNKNOWN, "policy": WILDCARD})
        ],
        "violation",
    ),
    Case(
        "iam-no-wildcard-admin",
        "deny-star-is-fine",
        one(
            lambda: b.iam_policy(
                document='{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'
            )
        ),
        "pass",
    ),
    Case(
        "iam-no-wildcard-admin",
        "unknown-document",
        one(lambda: b.iam_policy(document=UNKNOWN)),
        "undecided",
    ),
    Case("required-tags", "default-tags", one(b.rds), "pass"),
    Case("required-tags", "asg-propagated", one(b.asg), "pass"),
    Case(
        "required-tags",
        "asg-not-propagated",
        one(lambda: b.asg(tags=[{"key": "Project", "value": "g", "propagateAtLaunch": False}])),
        "violation",
    ),
    Case("required-tags", "untaggable-dashboard", one(b.dashboard), "pass"),
    Case("required-tags", "unknown-tags", one(lambda: b.rds(tags=UNKNOWN)), "undecided"),
    Case(
        "cognito-no-unauthenticated-identities", "authenticated-only", one(b.identity_pool), "pass"
    ),
    Case(
        "cognito-no-unauthenticated-identities",
        "guests",
        one(lambda: b.identity_pool(allowUnauthenticatedIdentities=True)),
        "violation",
    ),
    Case(
        "cognito-no-unauthenticated-identities",
        "unknown",
        one(lambda: b.identity_pool(allowUnauthenticatedIdentities=UNKNOWN)),
        "undecided",
    ),
    # stack-wide
    Case("asg-scaling-policy", "scaled", lambda: _asg_scaled(), "pass"),
    Case("asg-scaling-policy", "unscaled", lambda: _asg_scaled(False), "violation"),
    Case(
        "asg-scaling-policy",
        "policy-with-unknown-name-and-no-dependency",
        lambda: _asg_scaled(unknown_name=True),
        "violation",
    ),
    Case(
        "stateful-resources-protected",
        "protected",
        lambda: [b.rds(), b.kms_key(), b.log_group(), b.bucket()],
        "pass",
    ),
    Case(
        "stateful-resources-protected",
        "bucket-unprotected",
        lambda: [b.bucket("events", "analytics", lock=False, protect=False)],
        "violation",
    ),
    Case(
        "stateful-resources-protected",
        "unknown-props-still-judged",
        lambda: [b.res("aws:kms/key:Key", "k2", {"enableKeyRotation": UNKNOWN})],
        "violation",
    ),
    Case("phase-capabilities", "growth-complete", lambda: _growth_stack(), "pass", target=-1),
    Case(
        "phase-capabilities",
        "growth-without-dashboard",
        lambda: _growth_stack(dashboard=True),
        "violation",
        target=-1,
    ),
    Case(
        "phase-capabilities",
        "growth-cpu-scaling-only",
        lambda: _growth_stack(requests=True),
        "violation",
        target=-1,
    ),
    Case(
        "phase-capabilities",
        "growth-without-rum",
        lambda: _growth_stack(rum=True),
        "violation",
        target=-1,
    ),
    Case(
        "phase-capabilities",
        "unknown-dashboard-body-is-fine",
        lambda: _growth_stack(),
        "pass",
        target=-1,
    ),
    # ---- bucket roles: access logs without a customer key, the audit trail locked --------
    *BUCKET_ROLE_CASES,
]


# ---- cheap dev (dev.json mandatory, prod.json disabled) ----------------------------------
def _budget(usd: float) -> tuple[tuple[str, str], ...]:
    return (("groundwork:cost", json.dumps({"monthlyBudgetUsd": usd})),)


def _web(instance_type: object = "t4g.small", **asg: object) -> list[RecordedResource]:
    # Same parent: the estimator pairs the group with the stack's only launch template.
    return [b.lt(instanceType=instance_type), b.asg(**{"minSize": 1, "maxSize": 2, **asg})]


def _nats(n: int, **props: object) -> list[RecordedResource]:
    return [b.res("aws:ec2/natGateway:NatGateway", f"nat-{i}", dict(props)) for i in range(n)]


COST_CASES: list[Case] = [
    # 1..2 x t4g.small (15.19 USD each with 20 GB gp3) is far under 150, over 20 at max.
    Case("dev-cost-within-budget", "small-under-budget", _web, "pass", -1, True, _budget(150)),
    Case("dev-cost-within-budget", "over-budget", _web, "violation", -1, True, _budget(20)),
    Case(
        "dev-cost-within-budget",
        "no-stack-budget-dev-cap-applies",
        lambda: _web("m7g.large", maxSize=12),  # 12 x 68.34 USD, over dev.json's 300
        "violation",
        -1,
        True,
    ),
    Case(
        "dev-cost-within-budget",
        "unpriced-class-fails-closed",
        lambda: _web("x9.metal"),
        "violation",
        1,  # the group that launches it is what cannot be priced
        True,
        _budget(150),
    ),
    Case(
        "dev-cost-within-budget",
        "unknown-instance-type",
        lambda: _web(UNKNOWN),
        "undecided",
        -1,
        True,
        _budget(150),
    ),
    Case("dev-instance-classes", "small-lt", one(b.lt), "pass", dev=True),
    Case(
        "dev-instance-classes",
        "prod-sized-lt",
        one(lambda: b.lt(instanceType="m7g.large")),
        "violation",
        dev=True,
    ),
    Case(
        "dev-instance-classes",
        "small-db",
        one(lambda: b.rds(instanceClass="db.t4g.micro")),
        "pass",
        dev=True,
    ),
    Case(
        "dev-instance-classes",
        "prod-sized-db",
        one(lambda: b.rds(instanceClass="db.m7g.large")),
        "violation",
        dev=True,
    ),
    Case(
        "dev-instance-classes",
        "prod-sized-override-on-the-group",
        one(
            lambda: b.asg(
                mixedInstancesPolicy={
                    "launchTemplate": {
                        "launchTemplateSpecification": {"launchTemplateId": UNKNOWN},
                        "overrides": [
                            {"instanceType": "t4g.small"},
                            {"instanceType": "m7g.4xlarge"},
                        ],
                    }
                }
            )
        ),
        "violation",
        dev=True,
    ),
    Case(
        "dev-instance-classes",
        "prod-sized-instance",
        one(lambda: b.instance(instanceType="m7g.large")),
        "violation",
        dev=True,
    ),
    Case("dev-instance-classes", "group-without-overrides", one(b.asg), "pass", dev=True),
    Case(
        "dev-instance-classes",
        "unknown-instance-type",
        one(lambda: b.lt(instanceType=UNKNOWN)),
        "undecided",
        dev=True,
    ),
    Case("dev-single-nat-gateway", "one", lambda: _nats(1), "pass", dev=True),
    Case("dev-single-nat-gateway", "per-az", lambda: _nats(3), "violation", 2, dev=True),
    Case(
        "dev-single-nat-gateway",
        "unknown-props-still-counted",
        lambda: _nats(2, subnetId=UNKNOWN, allocationId=UNKNOWN),
        "violation",
        1,
        dev=True,
    ),
    Case(
        "dev-single-az-database",
        "single-az",
        one(lambda: b.rds(multiAz=False)),
        "pass",
        dev=True,
    ),
    Case("dev-single-az-database", "multi-az", one(b.rds), "violation", dev=True),
    Case(
        "dev-single-az-database",
        "unknown-multi-az",
        one(lambda: b.rds(multiAz=UNKNOWN)),
        "undecided",
        dev=True,
    ),
]
CASES += COST_CASES


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy_case(pack, packs, case: Case) -> None:
    resources = case.build()
    judge = packs(**dict(case.stack)) if case.stack else pack
    result = run(judge, resources, DEV_CONFIG if case.dev else None)
    urn = STACK_URN if case.target == -1 else resources[case.target].urn
    found, pending = violations(result, case.policy, urn), undecided(result, case.policy, urn)
    if case.expect == "pass":
        assert not found and not pending, (
            f"{case.policy} flagged {urn}: {[v.message for v in found + pending]}"
        )
    elif case.expect == "violation":
        assert found, (
            f"{case.policy} did not flag {urn}; got "
            f"{[(v.policy, v.urn) for v in result.violations]}"
        )
        assert all(v.level == "mandatory" for v in found), (
            f"{case.policy} on {urn}: prod config (dev config for dev-only policies) is mandatory"
        )
    else:
        assert pending and not found, (
            f"{case.policy} on {urn}: expected only the preview diagnostic, got {found}"
        )
        assert all(v.level == "advisory" for v in pending), (
            f"{case.policy} on {urn}: unknowns are advisory"
        )


def test_every_policy_has_pass_violation_and_unknown_cases() -> None:
    kinds: dict[str, set[str]] = {}
    for case in CASES:
        kinds.setdefault(case.policy, set()).add(case.expect)
        if "unknown" in case.id:
            kinds[case.policy].add("unknown")
    missing = {
        s.name: sorted({"pass", "violation", "unknown"} - kinds.get(s.name, set())) for s in CATALOG
    }
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, f"policies without pass/violation/unknown cases: {missing}"
