"""ServiceLogSettings: retention, KMS key and log-class tag for log groups AWS services create.

Some services create their own log group under a name with a generated id in it (CloudWatch
RUM's copy of events, a Synthetics canary's Lambda function), so the program cannot declare
it. This component runs `ops/log_group_settings.py` as a small Lambda function, invoked once
per log group (`aws.lambda_.Invocation`, again whenever the settings change), which creates
or adopts the group and applies the same settings every declared log group has.

The function may touch only log groups matching the name patterns given here (known before
the services exist), and writes its own logs to a log group declared here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import context, iam, sources
from components.loggroups import class_tags, log_group
from components.outputs import register_all

# The handler's file in the ops directory the caller passes in.
HANDLER_FILE = "log_group_settings.py"
HANDLER = "log_group_settings.handler"
RUNTIME = "python3.13"


@dataclass(frozen=True)
class ServiceLogGroup:
    """One service-created log group: its (eventual) name and the IAM pattern that covers it."""

    name: pulumi.Input[str]
    # A log-group name pattern known at preview (e.g. `/aws/lambda/cwsyn-mycanary-*`) that
    # `name` matches; the function's permissions are limited to it.
    name_pattern: str
    retention_days: int
    log_class: str = "runtime"


@dataclass(frozen=True, kw_only=True)
class ServiceLogSettingsArgs:
    region: str
    logs_key_arn: pulumi.Input[str]
    log_groups: Mapping[str, ServiceLogGroup]
    # Retention of the function's own log group.
    own_retention_days: int
    # The directory holding the handler's source (the project's `ops` package).
    ops_dir: Path
    protect: bool


class ServiceLogSettings(pulumi.ComponentResource):
    """A settings function, its role and log group, and one invocation per service log group."""

    function_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServiceLogSettingsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:observability:ServiceLogSettings", name, None, opts)
        if not args.log_groups:
            raise ValueError(f"{name}: ServiceLogSettingsArgs.log_groups must not be empty")
        self._name, self._args = name, args
        self._account = context.account_id(self)
        own_logs = log_group(
            f"{name}-logs",
            self,
            retention_days=args.own_retention_days,
            kms_key_arn=args.logs_key_arn,
            log_class="runtime",
            protect=args.protect,
        )
        role, policy = self._role(own_logs)
        function = aws.lambda_.Function(
            f"{name}-fn",
            description="Applies retention, KMS key and tags to service-created log groups",
            runtime=RUNTIME,
            architectures=["arm64"],
            handler=HANDLER,
            code=sources.handler_archive(args.ops_dir / HANDLER_FILE),
            role=role.arn,
            timeout=120,
            memory_size=128,
            logging_config={"log_format": "JSON", "log_group": own_logs.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        for key, group in sorted(args.log_groups.items()):
            aws.lambda_.Invocation(
                f"{name}-{key}",
                function_name=function.name,
                # CRUD: the function runs again when any setting changes (and is told about a
                # delete, which it ignores).
                lifecycle_scope="CRUD",
                input=pulumi.Output.json_dumps(
                    {
                        "logGroupName": group.name,
                        "logGroupArn": self._log_group_arn(group.name),
                        "retentionInDays": group.retention_days,
                        "kmsKeyArn": args.logs_key_arn,
                        "tags": class_tags(group.log_class),
                    }
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )

        self.function_name = function.name
        self.role_arn = role.arn
        register_all(self)

    def _log_group_arn(self, log_group_name: pulumi.Input[str]) -> pulumi.Output[str]:
        return context.arn(self._args.region, self._account, "logs", "log-group:", log_group_name)

    def _role(self, own_logs: aws.cloudwatch.LogGroup) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The function's role: its own logs, and settings of the service log groups only."""
        patterns = sorted({g.name_pattern for g in self._args.log_groups.values()})
        document = iam.document(
            iam.statement(
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [pulumi.Output.concat(own_logs.arn, ":*")],
                sid="OwnLogs",
            ),
            iam.statement(
                [
                    "logs:CreateLogGroup",
                    "logs:AssociateKmsKey",
                    "logs:PutRetentionPolicy",
                    "logs:TagResource",
                    "logs:TagLogGroup",
                ],
                [self._log_group_arn(p) for p in patterns],
                sid="ServiceLogGroups",
            ),
        )
        return iam.role_with_policy(
            f"{self._name}-role", f"{self._name}-policy", self, iam.lambda_trust(), document
        )
