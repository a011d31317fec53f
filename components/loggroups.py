"""Log groups this stack owns, and the log-class tag the policy pack reads.

Every declared log group is the same shape: encrypted with the logs key, kept for a retention
the settings give, tagged with its log class (runtime, error or audit), protected where the
settings say so. `log_group` is the only place that shape is built, and `LOG_CLASS_TAG` the only
place the tag's key is spelled; a structure test keeps it that way.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

LOG_CLASS_TAG = "groundwork:logClass"


def class_tags(log_class: str) -> dict[str, str]:
    """The tags naming a log group's class (also applied to service-created groups)."""
    return {LOG_CLASS_TAG: log_class}


def log_group(
    resource_name: str,
    parent: pulumi.Resource,
    *,
    retention_days: int,
    kms_key_arn: pulumi.Input[str],
    log_class: str,
    protect: bool,
    name: pulumi.Input[str] | None = None,
) -> aws.cloudwatch.LogGroup:
    """A log group this stack owns: encrypted with the logs key, kept `retention_days`, tagged
    with its log class (the tag the policy pack reads), protected where the settings say so."""
    return aws.cloudwatch.LogGroup(
        resource_name,
        name=name,
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        tags=class_tags(log_class),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
