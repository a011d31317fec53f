"""Encryption: the customer-managed KMS key every CloudWatch log group in the stack uses.

One key for logs (rather than one per log group) keeps the key policy's service grant in one
place: CloudWatch Logs in this region may use it only for log groups of this account.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import context, kms
from components.outputs import register_all


@dataclass(frozen=True, kw_only=True)
class EncryptionArgs:
    region: str
    protect: bool


class Encryption(pulumi.ComponentResource):
    """KMS keys shared across components."""

    logs_key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: EncryptionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:security:Encryption", name, None, opts)
        partition = context.partition_of(args.region)
        account = context.account_id(self)
        logs_service = f"logs.{args.region}.{context.dns_suffix_of(args.region)}"
        log_groups = context.arn(args.region, account, "logs", "log-group:*")
        logs_key = kms.encryption_key(
            f"{name}-logs",
            description="CloudWatch Logs encryption for this stack's log groups",
            partition=partition,
            account=account,
            statements=[
                kms.service_statement(
                    "CloudWatchLogsUse",
                    logs_service,
                    [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
                )
            ],
            parent=self,
            protect=args.protect,
        )
        self.logs_key_arn = logs_key.arn
        register_all(self)
