"""RealUserMonitoring: a CloudWatch RUM app monitor and the guest identity its web client uses.

Browsers send RUM events with temporary credentials from a Cognito identity pool that allows
unauthenticated (guest) identities; the guest role may do exactly one thing,
`rum:PutRumEvents` on this app monitor. The pool allows only the enhanced authflow, so the web
client is configured with `identityPoolId` alone (see docs/rum.md): Cognito then hands out the
pool's guest-role credentials itself.

RUM keeps events 30 days; the app monitor also copies them to CloudWatch Logs, into a log group
RUM creates and names, which `ServiceLogSettings` gives the stack's retention, KMS key and
log-class tag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import context, iam
from components.outputs import register_all
from components.servicelogs import ServiceLogGroup, ServiceLogSettings, ServiceLogSettingsArgs

TELEMETRIES: tuple[str, ...] = ("errors", "performance", "http")
COGNITO = "cognito-identity.amazonaws.com"
# Where RUM puts its copy of events: `/aws/vendedlogs/RUMService_<monitor name><8 id chars>`.
RUM_LOG_GROUP_PREFIX = "/aws/vendedlogs/RUMService_"
_MONITOR_NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,255}$")


def app_monitor_arn(partition: str, region: str, account: pulumi.Input[str], name: str):
    """The app monitor's ARN, built from values known before it exists (and at preview)."""
    return context.arn_in(partition, "rum", region, account, "appmonitor/", name)


def guest_trust_policy(identity_pool_id: pulumi.Input[str]) -> dict:
    """Only guest identities of this one pool may assume the role, through Cognito."""
    return iam.document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": COGNITO},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {f"{COGNITO}:aud": identity_pool_id},
                "ForAnyValue:StringLike": {f"{COGNITO}:amr": "unauthenticated"},
            },
        }
    )


@dataclass(frozen=True, kw_only=True)
class RealUserMonitoringArgs:
    region: str
    # The app monitor's name (also the `application_name` dimension of its metrics).
    app_monitor_name: str
    domain: str
    session_sample_rate: float
    allow_cookies: bool
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    # Retention of the settings function's own (runtime) logs.
    function_log_retention_days: int
    # The directory holding the log-settings function's source (the project's `ops` package).
    ops_dir: Path
    telemetries: Sequence[str] = TELEMETRIES
    protect: bool


class RealUserMonitoring(pulumi.ComponentResource):
    """App monitor + identity pool + guest role limited to PutRumEvents on this monitor."""

    app_monitor_id: pulumi.Output[str]
    app_monitor_arn: pulumi.Output[str]
    app_monitor_name: str
    identity_pool_id: pulumi.Output[str]
    guest_role_arn: pulumi.Output[str]
    region: str
    log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: RealUserMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("groundwork:observability:RealUserMonitoring", name, None, opts)
        _validate(name, args)
        self._name, self._args = name, args
        pool, guest_role = self._guest_access()
        monitor = aws.rum.AppMonitor(
            f"{name}-app-monitor",
            name=args.app_monitor_name,
            domain=args.domain,
            app_monitor_configuration={
                "allow_cookies": args.allow_cookies,
                "enable_xray": False,
                "session_sample_rate": args.session_sample_rate,
                "telemetries": list(args.telemetries),
                "identity_pool_id": pool.id,
                "guest_role_arn": guest_role.arn,
            },
            custom_events={"status": "DISABLED"},
            cw_log_enabled=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._log_settings(monitor)

        self.app_monitor_id = monitor.app_monitor_id
        self.app_monitor_arn = monitor.arn
        self.app_monitor_name = args.app_monitor_name
        self.identity_pool_id = pool.id
        self.guest_role_arn = guest_role.arn
        self.region = args.region
        self.log_group_name = monitor.cw_log_group
        register_all(self)

    def _guest_access(self) -> tuple[aws.cognito.IdentityPool, aws.iam.Role]:
        """An identity pool whose guests get a role that may only put events to the monitor."""
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        pool = aws.cognito.IdentityPool(
            f"{name}-identity-pool",
            # Identity pool names allow word characters and spaces only.
            identity_pool_name=re.sub(r"\W", "_", args.app_monitor_name),
            allow_unauthenticated_identities=True,
            # Enhanced flow only: a guest cannot pick a role or get an OpenID token to use
            # elsewhere; Cognito issues the guest role's credentials itself.
            allow_classic_flow=False,
            opts=child,
        )
        monitor_arn = app_monitor_arn(
            context.partition_of(args.region),
            args.region,
            context.account_id(self),
            args.app_monitor_name,
        )
        guest_role, _ = iam.role_with_policy(
            f"{name}-guest-role",
            f"{name}-guest-put-events",
            self,
            guest_trust_policy(pool.id),
            iam.document(iam.statement(["rum:PutRumEvents"], [monitor_arn], sid="PutRumEvents")),
            description="CloudWatch RUM web client guests: PutRumEvents on one app monitor",
            max_session_duration=3600,
        )
        aws.cognito.IdentityPoolRoleAttachment(
            f"{name}-identity-pool-roles",
            identity_pool_id=pool.id,
            roles={"unauthenticated": guest_role.arn},
            opts=child,
        )
        return pool, guest_role

    def _log_settings(self, monitor: aws.rum.AppMonitor) -> None:
        """Retention, key and log class for the log group RUM creates for its events."""
        args = self._args
        ServiceLogSettings(
            f"{self._name}-log-settings",
            ServiceLogSettingsArgs(
                region=args.region,
                logs_key_arn=args.logs_key_arn,
                log_groups={
                    "events": ServiceLogGroup(
                        name=monitor.cw_log_group,
                        name_pattern=f"{RUM_LOG_GROUP_PREFIX}{args.app_monitor_name}*",
                        retention_days=args.log_retention_days,
                        log_class="runtime",
                    )
                },
                own_retention_days=args.function_log_retention_days,
                ops_dir=args.ops_dir,
                protect=args.protect,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )


def _validate(name: str, args: RealUserMonitoringArgs) -> None:
    if not _MONITOR_NAME.match(args.app_monitor_name):
        raise ValueError(
            f"{name}: app_monitor_name {args.app_monitor_name!r} must be 1-255 of "
            "A-Z a-z 0-9 . - _ / #"
        )
    if not 0 <= args.session_sample_rate <= 1:
        raise ValueError(
            f"{name}: session_sample_rate must be within 0..1 (got {args.session_sample_rate})"
        )
