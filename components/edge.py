"""The edge of the stack: the load balancer's access-log bucket and its web application firewall.

AccessLogs: a dedicated private, TLS-only bucket the ALB writes its access logs to, expired
after a set number of days. It is the one bucket encrypted with SSE-S3 rather than the
stack's KMS keys: "The only server-side encryption option that's supported is Amazon
S3-managed keys (SSE-S3)"
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html).
Its policy grants Elastic Load Balancing the write the same page documents: in regions
available before August 2022 the regional ELB account (looked up with
`aws.elb.get_service_account_output`, never written down), in later regions the
`logdelivery.elasticloadbalancing.amazonaws.com` service principal.

WebFirewall: a regional AWS WAF web ACL on the ALB with three AWS managed rule groups
(Amazon IP reputation list, core rule set, known bad inputs) and a per-IP rate rule. In
`count` mode every rule only counts (dev: see what would be blocked). It logs to a CloudWatch
log group with the stack's logs key, the audit retention and log class. WAF requires that
group's name to start with `aws-waf-logs-`
(https://docs.aws.amazon.com/waf/latest/APIReference/API_LoggingConfiguration.html): the one
documented exception to the stack's `/<project>/<stack>/...` log group names. Log delivery
needs a resource policy on the group for `delivery.logs.amazonaws.com`
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-infrastructure-CWL.html),
declared here so it is reviewed like any other policy; the KMS encryption of the delivered
events is done by CloudWatch Logs itself, which the logs key already allows for every log
group of the account
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components import buckets, context, iam
from components.loggroups import log_group
from components.outputs import register_all

# The access logs go under this prefix (ELB adds AWSLogs/<account>/... after it).
ACCESS_LOG_PREFIX = "alb"
ELB_LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
# Regions that opened in August 2022 or later have no ELB account: the bucket policy names the
# log-delivery service principal there (enable-access-logging.html, "Step 2").
SERVICE_PRINCIPAL_REGIONS = frozenset(
    {
        "ap-east-2", "ap-south-2", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6",
        "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-2", "il-central-1",
        "me-central-1", "mx-central-1",
    }
)  # fmt: skip
WAF_LOG_PREFIX = "aws-waf-logs-"
LOG_DELIVERY = "delivery.logs.amazonaws.com"
# AWS managed rule groups, in evaluation order: cheap IP reputation first.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)
RATE_RULE = "rate-limit-per-ip"
# Sent by browsers and the ALB's OIDC session: kept out of the firewall's logs.
REDACTED_HEADERS = ("authorization", "cookie")


def elb_writer(
    region: str, partition: str, parent: pulumi.Resource
) -> dict[str, pulumi.Input[str]]:
    """The principal that delivers ALB access logs in `region` (a bucket policy Principal)."""
    if region in SERVICE_PRINCIPAL_REGIONS:
        return {"Service": ELB_LOG_DELIVERY}
    account = aws.elb.get_service_account_output(
        region=region, opts=pulumi.InvokeOutputOptions(parent=parent)
    ).id
    return {"AWS": context.account_root(partition, account)}


@dataclass(frozen=True)
class AccessLogsArgs:
    region: str
    expire_after_days: int
    protect: bool


class AccessLogs(pulumi.ComponentResource):
    """The ALB's access-log bucket: SSE-S3, private, TLS-only, written only by ELB, expiring."""

    # Resolves once the bucket policy exists: the ALB checks it when access logs are enabled.
    bucket_name: pulumi.Output[str]
    prefix: str

    def __init__(
        self, name: str, args: AccessLogsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:edge:AccessLogs", name, None, opts)
        partition = context.partition_of(args.region)
        account = context.account_id(self)
        writer = elb_writer(args.region, partition, self)

        def writers(bucket_arn: pulumi.Output[str]) -> list[iam.Statement]:
            return [
                {
                    "Sid": "ElbWritesAccessLogs",
                    "Effect": "Allow",
                    "Principal": writer,
                    "Action": "s3:PutObject",
                    "Resource": pulumi.Output.concat(
                        bucket_arn, "/", ACCESS_LOG_PREFIX, "/AWSLogs/", account, "/*"
                    ),
                }
            ]

        bucket = buckets.private_bucket(
            f"{name}-bucket",
            parent=self,
            purpose="access-logs",
            kms_key_arn=None,  # SSE-S3: the only encryption ALB log delivery supports
            protect=args.protect,
            force_destroy=not args.protect,
            writers=writers,
            lifecycle_rules=[
                buckets.expiry_rule("access-logs", args.expire_after_days, abort_upload_days=1)
            ],
        )
        self.bucket_name = pulumi.Output.all(bucket.bucket.bucket, bucket.policy.id).apply(
            lambda values: values[0]
        )
        self.prefix = ACCESS_LOG_PREFIX
        register_all(self)


def managed_rule(name: str, priority: int, count_only: bool) -> aws.wafv2.WebAclRuleArgsDict:
    return {
        "name": name,
        "priority": priority,
        # `none` keeps the group's own actions (block); `count` turns them into counts.
        "override_action": {"count": {}} if count_only else {"none": {}},
        "statement": {"managed_rule_group_statement": {"vendor_name": "AWS", "name": name}},
        "visibility_config": _visibility(name),
    }


def rate_rule(limit: int, priority: int, count_only: bool) -> aws.wafv2.WebAclRuleArgsDict:
    return {
        "name": RATE_RULE,
        "priority": priority,
        "action": {"count": {}} if count_only else {"block": {}},
        "statement": {
            "rate_based_statement": {
                "limit": limit,
                "aggregate_key_type": "IP",
                "evaluation_window_sec": 300,
            }
        },
        "visibility_config": _visibility(RATE_RULE),
    }


def _visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
    return {
        "cloudwatch_metrics_enabled": True,
        "metric_name": metric,
        "sampled_requests_enabled": True,
    }


@dataclass(frozen=True)
class WebFirewallArgs:
    region: str
    alb_arn: pulumi.Input[str]
    mode: Literal["block", "count"]
    rate_limit_per_5_min: int
    # `aws-waf-logs-...`; retention and key as every other audit-class log group.
    log_group_name: str
    log_retention_days: int
    logs_key_arn: pulumi.Input[str]
    protect: bool


class WebFirewall(pulumi.ComponentResource):
    """Regional WAF web ACL on the ALB: managed rule groups, a rate rule, logged."""

    web_acl_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: WebFirewallArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:edge:WebFirewall", name, None, opts)
        if not args.log_group_name.startswith(WAF_LOG_PREFIX):
            raise ValueError(f"{name}: WAF log group must start with {WAF_LOG_PREFIX!r}")
        count_only = args.mode == "count"
        rules = [managed_rule(g, i, count_only) for i, g in enumerate(MANAGED_RULE_GROUPS)]
        rules.append(rate_rule(args.rate_limit_per_5_min, len(rules), count_only))
        acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            scope="REGIONAL",
            description=f"Edge protection of the load balancer ({args.mode} mode)",
            default_action={"allow": {}},
            rules=rules,
            visibility_config=_visibility(name),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.wafv2.WebAclAssociation(
            f"{name}-association",
            resource_arn=args.alb_arn,
            web_acl_arn=acl.arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        group = self._logging(name, args, acl)
        self.web_acl_arn = acl.arn
        self.log_group_name = group.name
        register_all(self)

    def _logging(
        self, name: str, args: WebFirewallArgs, acl: aws.wafv2.WebAcl
    ) -> aws.cloudwatch.LogGroup:
        """The ACL's log group, the resource policy that lets WAF deliver into it, the link."""
        group = log_group(
            f"{name}-logs",
            self,
            name=args.log_group_name,
            retention_days=args.log_retention_days,
            kms_key_arn=args.logs_key_arn,
            log_class="audit",
            protect=args.protect,
        )
        account = context.account_id(self)
        delivery = aws.cloudwatch.LogResourcePolicy(
            f"{name}-log-delivery",
            policy_name=f"{args.log_group_name}-delivery",
            policy_document=iam.to_json(
                iam.document(
                    {
                        "Sid": "WafLogDelivery",
                        "Effect": "Allow",
                        "Principal": {"Service": LOG_DELIVERY},
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": context.arn(
                            args.region,
                            account,
                            "logs",
                            "log-group:",
                            args.log_group_name,
                            ":log-stream:*",
                        ),
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": account},
                            "ArnLike": {
                                "aws:SourceArn": context.arn(args.region, account, "logs", "*")
                            },
                        },
                    }
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=acl.arn,
            log_destination_configs=[group.arn],
            redacted_fields=[{"single_header": {"name": h}} for h in REDACTED_HEADERS],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]),
        )
        return group
