"""Where the stack runs: account from the caller identity, partition from the region, and
the ARNs built from them.

Nothing here is a literal account, region or AZ; the region is `aws:region` from settings.
Every ARN the components name is spelled here (a structure test keeps it so).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def dns_suffix_of(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def account_id(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The deploying account, looked up rather than written down."""
    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id


def arn_in(
    partition: str,
    service: str,
    region: str,
    account: pulumi.Input[str],
    *resource: pulumi.Input[str],
) -> pulumi.Output[str]:
    """`arn:<partition>:<service>:<region>:<account>:<resource...>`, the one place an ARN is
    spelled. `region` is empty for global services (IAM, S3, Budgets) or `*` in a pattern;
    `account` is empty for S3 buckets.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html"""
    return pulumi.Output.concat(
        "arn:", partition, ":", service, ":", region, ":", account, ":", *resource
    )


def arn(
    region: str, account: pulumi.Input[str], service: str, *resource: pulumi.Input[str]
) -> pulumi.Output[str]:
    """An ARN in `region` and `account`, spelled from names so that a policy holding it is
    known at preview."""
    return arn_in(partition_of(region), service, region, account, *resource)


def account_root(partition: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    """The account itself as an IAM principal (`arn:<partition>:iam::<account>:root`)."""
    return arn_in(partition, "iam", "", account, "root")


def s3_arn(partition: str, bucket: pulumi.Input[str], path: str = "") -> pulumi.Output[str]:
    """A bucket (`path` empty) or the objects under it (`path` such as `/*`, `/key`)."""
    return arn_in(partition, "s3", "", "", bucket, path)


def aws_owned_arn(partition: str, service: str, resource: str) -> str:
    """A resource AWS owns and every account can name (a managed policy, a managed data
    identifier): known when the program starts, so usable in plain JSON."""
    return f"arn:{partition}:{service}::aws:{resource}"


@dataclass(frozen=True)
class Arns:
    """ARNs in one stack's region and account, for components that name many."""

    region: str
    account: pulumi.Input[str]

    def of(self, service: str, *resource: pulumi.Input[str]) -> pulumi.Output[str]:
        return arn(self.region, self.account, service, *resource)

    def s3(self, bucket: pulumi.Input[str], path: str = "") -> pulumi.Output[str]:
        return s3_arn(partition_of(self.region), bucket, path)
