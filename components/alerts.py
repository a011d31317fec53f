"""Alerts: the one SNS topic every alarm and event rule notifies, and who is subscribed.

The topic is encrypted with its own customer-managed key. Its resource policy lets exactly
these publishers in: CloudWatch alarms and EventBridge rules of this account, and the spend
alerts of this account (AWS Budgets, Cost Anomaly Detection). Principals of the
account publish through their IAM policies (same-account access needs only one side), so
the default allow-the-account statements are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import context, iam, kms

# The services whose events may reach people: alarms and EventBridge rules.
PUBLISHERS: tuple[str, ...] = ("cloudwatch.amazonaws.com", "events.amazonaws.com")

# Spend alerts (components/cost.py) publish here too, each under the conditions its guide
# documents, in the topic policy and in the key policy (the topic is encrypted):
# - AWS Budgets: source account and `arn:<partition>:budgets::<account>:*`
#   https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
# - Cost Anomaly Detection: source account
#   https://docs.aws.amazon.com/cost-management/latest/userguide/ad-SNS.html
# Services publishing to an encrypted topic need kms:GenerateDataKey* and kms:Decrypt:
# https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
COST_PUBLISHERS: dict[str, str | None] = {
    "budgets.amazonaws.com": "arn:{partition}:budgets::{account}:*",  # aws:SourceArn pattern
    "costalerts.amazonaws.com": None,
}


def _publish_conditions(partition: str, account: pulumi.Output[str]) -> list[tuple[str, dict]]:
    """(service, IAM condition block) for every publisher: same account, and for Budgets its ARN."""
    out: list[tuple[str, dict]] = [
        (service, {"StringEquals": {"aws:SourceAccount": account}}) for service in PUBLISHERS
    ]
    for service, arn in COST_PUBLISHERS.items():
        condition: dict = {"StringEquals": {"aws:SourceAccount": account}}
        if arn is not None:
            source = account.apply(lambda a, arn=arn: arn.format(partition=partition, account=a))
            condition["ArnLike"] = {"aws:SourceArn": source}
        out.append((service, condition))
    return out


@dataclass(frozen=True)
class AlertsArgs:
    region: str
    emails: Sequence[str]
    protect: bool = True


class Alerts(pulumi.ComponentResource):
    """Encrypted SNS topic, e-mail subscriptions, a publish policy for alarms and events."""

    topic_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("groundwork:observability:Alerts", name, None, opts)
        partition = context.partition_of(args.region)
        account = context.account_id(self)
        publishers = _publish_conditions(partition, account)
        # Publishers to an encrypted topic need the key; the key policy grants exactly them.
        key = kms.encryption_key(
            f"{name}-key",
            description="Alerts topic encryption",
            partition=partition,
            account=account,
            statements=[
                kms.service_statement(
                    f"{service.split('.')[0].capitalize()}Publishes",
                    service,
                    ["kms:GenerateDataKey*", "kms:Decrypt"],
                    condition,
                )
                for service, condition in publishers
            ],
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
            policy=iam.to_json(
                iam.document(
                    *[
                        {
                            "Sid": f"{service.split('.')[0].capitalize()}Publishes",
                            "Effect": "Allow",
                            "Principal": {"Service": service},
                            "Action": "sns:Publish",
                            "Resource": topic.arn,
                            "Condition": condition,
                        }
                        for service, condition in publishers
                    ]
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for i, email in enumerate(args.emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{i}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.topic_arn = topic.arn
        self.key_arn = key.arn
        self.register_outputs({"topicArn": self.topic_arn})
