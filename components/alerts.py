"""Alerts: the one SNS topic every alarm and event rule notifies, and who is subscribed.

The topic is encrypted with its own customer-managed key. Every AWS service that publishes to
it is listed once in `PUBLISHERS`, and that one entry produces both sides it needs: a topic
policy statement (`sns:Publish`) and a key policy statement (`kms:GenerateDataKey*`,
`kms:Decrypt`; SNS encrypts each message with a data key of the topic's key, on behalf of the
publisher). A publisher missing on either side loses its messages silently. Principals of the
account publish through their IAM policies (same-account access needs only one side), so the
default allow-the-account statements are left out.

Each side carries only the conditions the documentation shows for that path: a condition on a
key the service does not send denies every request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import context, iam, kms
from components.outputs import register_all


@dataclass(frozen=True)
class Publisher:
    """An AWS service that publishes to the alerts topic, and the conditions of each side."""

    sid: str
    service: str
    # `aws:SourceAccount` on the topic policy: the service sends it on sns:Publish.
    topic_source_account: bool
    # `aws:SourceAccount` on the key policy: only where the service documents it on the KMS
    # call SNS makes for it.
    key_source_account: bool
    doc: str
    # An `aws:SourceArn` pattern the topic policy also requires: (service, resource) of a
    # regionless ARN in this account.
    topic_source_arn: tuple[str, str] | None = None


# One entry per publisher: alarms, event rules, RDS events and the spend alerts.
PUBLISHERS: tuple[Publisher, ...] = (
    # Alarm actions to an encrypted topic: the topic policy may require the alarm's account;
    # the key statement is unconditioned, as AWS shows it.
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
    # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
    Publisher(
        "CloudwatchPublishes",
        "cloudwatch.amazonaws.com",
        topic_source_account=True,
        key_source_account=False,
        doc="https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html",
    ),
    # EventBridge rule targets (run-failed, deploy-failed). The KMS request SNS makes for an
    # EventBridge delivery carries no aws:SourceAccount: AWS's key policy for this path has
    # no condition ("Allow CWE to use the key", events.amazonaws.com with kms:Decrypt and
    # kms:GenerateDataKey on "*"), and a condition on the missing key would deny every
    # notice. https://repost.aws/knowledge-center/sns-not-getting-eventbridge-notification
    # (also https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html)
    Publisher(
        "EventsPublishes",
        "events.amazonaws.com",
        topic_source_account=True,
        key_source_account=False,
        doc="https://repost.aws/knowledge-center/sns-not-getting-eventbridge-notification",
    ),
    # RDS event subscriptions: the topic policy with aws:SourceAccount as RDS documents it.
    # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.GrantingPermissions.html
    Publisher(
        "RdsEventsPublishes",
        "events.rds.amazonaws.com",
        topic_source_account=True,
        key_source_account=False,
        doc="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.GrantingPermissions.html",
    ),
    # AWS Budgets notifications (components/cost.py): the topic policy with the account and
    # the budgets ARN pattern, as the Budgets guide shows it; the key statement for encrypted
    # topics as SNS documents it for AWS services.
    # https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
    # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    Publisher(
        "BudgetsPublishes",
        "budgets.amazonaws.com",
        topic_source_account=True,
        key_source_account=False,
        doc="https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html",
        topic_source_arn=("budgets", "*"),
    ),
    # Cost Anomaly Detection alerts (components/cost.py): the topic policy with the account.
    # https://docs.aws.amazon.com/cost-management/latest/userguide/ad-SNS.html
    Publisher(
        "CostalertsPublishes",
        "costalerts.amazonaws.com",
        topic_source_account=True,
        key_source_account=False,
        doc="https://docs.aws.amazon.com/cost-management/latest/userguide/ad-SNS.html",
    ),
)

KEY_ACTIONS: tuple[str, ...] = ("kms:GenerateDataKey*", "kms:Decrypt")


def _account_condition(account: pulumi.Input[str]) -> dict[str, dict[str, pulumi.Input[str]]]:
    return {"StringEquals": {"aws:SourceAccount": account}}


def key_statements(account: pulumi.Input[str]) -> list[iam.Statement]:
    return [
        kms.service_statement(
            p.sid,
            p.service,
            list(KEY_ACTIONS),
            _account_condition(account) if p.key_source_account else None,
        )
        for p in PUBLISHERS
    ]


def topic_statements(
    topic_arn: pulumi.Input[str], account: pulumi.Output[str], partition: str
) -> list[iam.Statement]:
    statements: list[iam.Statement] = []
    for p in PUBLISHERS:
        stmt: iam.Statement = {
            "Sid": p.sid,
            "Effect": "Allow",
            "Principal": {"Service": p.service},
            "Action": "sns:Publish",
            "Resource": topic_arn,
        }
        condition: dict[str, Any] = _account_condition(account) if p.topic_source_account else {}
        if p.topic_source_arn is not None:
            service, resource = p.topic_source_arn
            arn = context.arn_in(partition, service, "", account, resource)
            condition["ArnLike"] = {"aws:SourceArn": arn}
        if condition:
            stmt["Condition"] = condition
        statements.append(stmt)
    return statements


@dataclass(frozen=True, kw_only=True)
class AlertsArgs:
    region: str
    emails: Sequence[str]
    protect: bool


class Alerts(pulumi.ComponentResource):
    """Encrypted SNS topic, e-mail subscriptions, a publish policy for every publisher."""

    topic_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("groundwork:observability:Alerts", name, None, opts)
        partition = context.partition_of(args.region)
        account = context.account_id(self)
        key = kms.encryption_key(
            f"{name}-key",
            description="Alerts topic encryption",
            partition=partition,
            account=account,
            statements=key_statements(account),
            parent=self,
            protect=args.protect,
        )
        topic = aws.sns.Topic(
            f"{name}-topic",
            kms_master_key_id=key.id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=iam.to_json(iam.document(*topic_statements(topic.arn, account, partition))),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for i, email in enumerate(args.emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{i}",
                topic=topic.arn,
                protocol="email",
                # The docs ask for the addresses as config secrets; settings hands them over as
                # plain strings, so mark them again or they land in the state in plain text.
                endpoint=pulumi.Output.secret(email),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.topic_arn = topic.arn
        self.key_arn = key.arn
        register_all(self)
