"""Spend alerts: a monthly AWS Budget and a Cost Anomaly Detection monitor for this stack only.

Both select the stack's spend by its cost allocation tag (a tag of `aws:defaultTags`, so every
taggable resource of the stack carries it), which keeps dev and prod in one account from
alerting on each other's spend. Both notify the alerts topic, whose topic and key policies let
`budgets.amazonaws.com` and `costalerts.amazonaws.com` of this account publish
(components/alerts.py). The tag only selects spend once it is activated as a cost allocation
tag in the billing console (docs/cost.md, "Day one: activate the cost allocation tag").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.outputs import register_all


@dataclass(frozen=True)
class SpendAlertsArgs:
    name_prefix: str
    monthly_budget_usd: float
    actual_thresholds_percent: Sequence[float]
    forecast_thresholds_percent: Sequence[float]
    anomaly_threshold_usd: float
    tag_key: str
    tag_value: str
    topic_arn: pulumi.Input[str]
    # What must exist before a notification is created: the topic's publish permissions (the
    # Alerts component; depending on a component waits for all of its children).
    after: Sequence[pulumi.Resource] = ()


def budget_tag_filter(key: str, value: str) -> str:
    """A Budgets cost filter value for one user-defined tag: `user:<key>$<value>`.

    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Budget.html
    (CostFilters; the pulumi_aws Budget docs show the same `TagKeyValue` form).
    """
    return f"user:{key}${value}"


def monitor_specification(key: str, value: str) -> str:
    """A Cost Explorer Expression selecting the spend carrying tag `key` = `value`.

    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_Expression.html
    """
    return json.dumps({"Tags": {"Key": key, "Values": [value], "MatchOptions": ["EQUALS"]}})


class SpendAlerts(pulumi.ComponentResource):
    """Budget (actual and forecast notifications), anomaly monitor and its subscription."""

    budget_name: pulumi.Output[str]
    monitor_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: SpendAlertsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("groundwork:cost:SpendAlerts", name, None, opts)
        notifications = [
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                notification_type=kind,
                threshold=float(percent),
                threshold_type="PERCENTAGE",
                subscriber_sns_topic_arns=[args.topic_arn],
            )
            for kind, percents in (
                ("ACTUAL", args.actual_thresholds_percent),
                ("FORECASTED", args.forecast_thresholds_percent),
            )
            for percent in percents
        ]
        budget = aws.budgets.Budget(
            f"{name}-budget",
            name=f"{args.name_prefix}-monthly",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{args.monthly_budget_usd:.2f}",
            limit_unit="USD",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(
                    name="TagKeyValue", values=[budget_tag_filter(args.tag_key, args.tag_value)]
                )
            ],
            notifications=notifications,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
        )
        # CUSTOM scoped to the tag: a DIMENSIONAL (per service) monitor would watch the whole
        # account, so dev and prod in one account would duplicate each other's alerts.
        monitor = aws.costexplorer.AnomalyMonitor(
            f"{name}-anomaly-monitor",
            name=f"{args.name_prefix}-spend",
            monitor_type="CUSTOM",
            monitor_specification=monitor_specification(args.tag_key, args.tag_value),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._anomaly_subscription(name, args, monitor)
        self.budget_name = budget.name
        self.monitor_arn = monitor.arn
        register_all(self)

    def _anomaly_subscription(
        self, name: str, args: SpendAlertsArgs, monitor: aws.costexplorer.AnomalyMonitor
    ) -> None:
        # SNS subscribers require IMMEDIATE: DAILY and WEEKLY summaries go to e-mail only.
        # https://docs.aws.amazon.com/cost-management/latest/userguide/manage-ad.html
        aws.costexplorer.AnomalySubscription(
            f"{name}-anomaly-subscription",
            name=f"{args.name_prefix}-spend-anomalies",
            frequency="IMMEDIATE",
            monitor_arn_lists=[monitor.arn],
            subscribers=[
                aws.costexplorer.AnomalySubscriptionSubscriberArgs(
                    type="SNS", address=args.topic_arn
                )
            ],
            threshold_expression=aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs(
                dimension=aws.costexplorer.AnomalySubscriptionThresholdExpressionDimensionArgs(
                    key="ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                    match_options=["GREATER_THAN_OR_EQUAL"],
                    values=[f"{args.anomaly_threshold_usd:g}"],
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
        )
