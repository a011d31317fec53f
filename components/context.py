"""Where the stack runs: account from the caller identity, partition from the region.

Nothing here is a literal account, region or AZ; the region is `aws:region` from settings.
"""

from __future__ import annotations

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


def arn(
    region: str, account: pulumi.Input[str], service: str, *resource: pulumi.Input[str]
) -> pulumi.Output[str]:
    """`arn:<partition>:<service>:<region>:<account>:<resource...>`, spelled from names so
    that a policy holding it is known at preview."""
    return pulumi.Output.concat(
        "arn:", partition_of(region), ":", service, ":", region, ":", account, ":", *resource
    )
