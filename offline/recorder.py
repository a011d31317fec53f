"""Run the real `__main__.py` under Pulumi's mock runtime and record every registration.

The recording monitor sees exactly the `RegisterResource` requests the engine would: type,
name, parent, dependencies, property dependencies, options and inputs. URNs are built the way
the engine builds them (the parent's full type chain, no root-stack prefix), not the way the
stock mock does. In preview mode the mocks return only the inputs, so every computed output
is unknown, which is what a real preview of a create looks like.

Pulumi's runtime is process-global: `record()` resets it before each run, so sequential
recordings in one process are independent; they must not run concurrently.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import runpy
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from offline import runtime, stackfile
from offline.arns import arn_for, fake_uuid
from offline.model import RecordedResource, Recording

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
# The mock account: stands in for what aws.get_caller_identity returns. The program must never
# contain it; tests assert that it only appears where the program derived it from the lookup.
MOCK_ACCOUNT_ID = "123456789012"


class ProgramError(RuntimeError):
    """The program stopped with an error (a bad config, an exception in a component)."""

    def __init__(self, message: str, registered: int = 0):
        super().__init__(message)
        # How many resources the program had registered before it stopped: a config error
        # must stop it before the first one.
        self.registered = registered


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:8]


def _struct_to_dict(struct: Any) -> dict[str, Any]:
    return json_format.MessageToDict(struct, preserving_proto_field_name=True)


def _service_of(type_: str) -> str:
    # aws:ec2/vpc:Vpc -> ec2; aws:lb/loadBalancer:LoadBalancer -> elasticloadbalancing
    module = type_.split(":")[1].split("/")[0] if type_.count(":") >= 2 else "unknown"
    return {"lb": "elasticloadbalancing", "alb": "elasticloadbalancing", "cloudwatch": "logs"}.get(
        module, module
    )


class FakeCloud(pulumi.runtime.Mocks):
    """Answers registrations and invokes the way AWS would shape them, deterministically."""

    def __init__(self, region: str, preview: bool, account_id: str = MOCK_ACCOUNT_ID):
        self.region = region
        self.preview = preview
        self.account_id = account_id
        # Explicit providers' regions by resource id: a resource created through one (the
        # database's replica region) gets ARNs in that region, as in AWS.
        self._provider_regions: dict[str, str] = {}

    def _region_of(self, args: pulumi_mocks.MockResourceArgs) -> str:
        provider_id = (args.provider or "").rsplit("::", 1)[-1]
        return self._provider_regions.get(provider_id, self.region)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        if not args.custom:
            return "", inputs
        rid = f"{args.name}-{_short_hash(args.typ, args.name)}"
        if self.preview:
            # A create in preview knows only its inputs; its id and every computed output are
            # unknown (an empty id is how the runtime marks the id unknown).
            return "", inputs
        state = {**inputs}
        region = self._region_of(args)
        if args.typ == "pulumi:providers:aws":
            self._provider_regions[rid] = inputs.get("region") or self.region
        if args.typ == "aws:kms/key:Key":
            rid = state["keyId"] = fake_uuid(args.name)
        made = _Created(args.typ, args.name, inputs, state, rid, region)
        self._common_outputs(made)
        fake = _OUTPUT_FAKES.get(args.typ)
        if fake is not None:
            fake(self, made)
        return made.rid, state

    def _common_outputs(self, made: _Created) -> None:
        """The id, name and ARN every resource reports (unless its inputs set them)."""
        state = made.state
        state.setdefault("id", made.rid)
        state.setdefault("name", made.name)
        arn = arn_for(made.typ, made.inputs, made.name, made.rid, made.region, self.account_id)
        if arn is None:
            service = _service_of(made.typ)
            kind = made.typ.rsplit(":", 1)[-1].lower()
            arn = f"arn:aws:{service}:{made.region}:{self.account_id}:{kind}/{made.name}"
        state.setdefault("arn", arn)

    def call(
        self, args: pulumi_mocks.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        handler = _INVOKES.get(args.token)
        if handler is None:
            raise NotImplementedError(
                f"the offline engine has no answer for invoke {args.token}; add one to "
                f"offline/recorder.py or compute the value in the program"
            )
        return handler(self, dict(args.args)), []  # the answer, and no check failures


@dataclass
class _Created:
    """A resource being created: what a per-type fake reads, and the state it fills in."""

    typ: str
    logical: str  # the resource's name in the program
    inputs: dict[str, Any]
    state: dict[str, Any]
    rid: str
    region: str  # of its provider
    name: str = ""  # the physical name: its `name` input, else derived from the logical name

    def __post_init__(self) -> None:
        self.name = self.inputs.get("name") or f"{self.logical}-{_short_hash(self.logical)[:7]}"

    def elb(self, cloud: FakeCloud) -> str:
        return f"arn:aws:elasticloadbalancing:{self.region}:{cloud.account_id}"


def _load_balancer(cloud: FakeCloud, made: _Created) -> None:
    state, name = made.state, made.name
    state["arnSuffix"] = f"app/{name}/{_short_hash(name)}"
    state["arn"] = f"{made.elb(cloud)}:loadbalancer/{state['arnSuffix']}"
    state["dnsName"] = f"{name}.{made.region}.elb.amazonaws.com"
    state["zoneId"] = "Z32O12XQLNTSW2"


def _target_group(cloud: FakeCloud, made: _Created) -> None:
    made.state["arnSuffix"] = f"targetgroup/{made.name}/{_short_hash(made.name)}"
    made.state["arn"] = f"{made.elb(cloud)}:{made.state['arnSuffix']}"


def _listener(cloud: FakeCloud, made: _Created) -> None:
    fallback = f"{made.elb(cloud)}:loadbalancer/app/{made.name}/0"
    balancer = str(made.inputs.get("loadBalancerArn", fallback))
    listener = balancer.replace(":loadbalancer/", ":listener/")
    made.state["arn"] = f"{listener}/{_short_hash(made.name)}"


def _db_instance(cloud: FakeCloud, made: _Created) -> None:
    ident = made.inputs.get("identifier") or made.name
    host = f"{ident}.abcdefghijkl.{cloud.region}.rds.amazonaws.com"
    made.state.update(
        identifier=ident,
        address=host,
        endpoint=f"{host}:5432",
        port=made.inputs.get("port", 5432),
        resourceId=f"db-{_short_hash(ident).upper()}",
    )
    if made.inputs.get("manageMasterUserPassword"):
        secret = f"arn:aws:secretsmanager:{cloud.region}:{cloud.account_id}:secret:rds!{ident}"
        made.state["masterUserSecrets"] = [
            {"secretArn": secret, "secretStatus": "active", "kmsKeyId": ""}
        ]


def _bucket(cloud: FakeCloud, made: _Created) -> None:
    bucket = made.inputs.get("bucket") or made.name
    made.state.update(
        bucket=bucket,
        arn=f"arn:aws:s3:::{bucket}",
        bucketDomainName=f"{bucket}.s3.amazonaws.com",
        bucketRegionalDomainName=f"{bucket}.s3.{cloud.region}.amazonaws.com",
    )


def _certificate(cloud: FakeCloud, made: _Created) -> None:
    domain = made.inputs.get("domainName", made.name)
    made.state["domainValidationOptions"] = [
        {
            "domainName": domain,
            "resourceRecordName": f"_{_short_hash(domain)}.{domain}.",
            "resourceRecordType": "CNAME",
            "resourceRecordValue": f"_{_short_hash(domain, 'v')}.acm-validations.aws.",
        }
    ]
    made.state["arn"] = f"arn:aws:acm:{cloud.region}:{cloud.account_id}:certificate/{made.rid}"


def _dns_record(cloud: FakeCloud, made: _Created) -> None:
    made.state["fqdn"] = str(made.inputs.get("name", made.name)).rstrip(".")


def _random_id(cloud: FakeCloud, made: _Created) -> None:
    digest = _short_hash(made.typ, made.logical)
    made.state.update(hex=digest, dec=str(int(digest, 16)), b64Url=digest, b64Std=digest)


def _launch_template(cloud: FakeCloud, made: _Created) -> None:
    made.state["latestVersion"] = 1


def _identity_pool(cloud: FakeCloud, made: _Created) -> None:
    # Identity pool ids are `<region>:<uuid>`.
    made.state["id"] = made.rid = f"{cloud.region}:{fake_uuid(made.logical)}"
    made.state["arn"] = (
        f"arn:aws:cognito-identity:{cloud.region}:{cloud.account_id}:identitypool/{made.rid}"
    )


def _app_monitor(cloud: FakeCloud, made: _Created) -> None:
    monitor_id = fake_uuid(made.logical)
    made.state["appMonitorId"] = monitor_id
    if made.inputs.get("cwLogEnabled"):
        # RUM names its copy of events after the monitor and the start of its id.
        made.state["cwLogGroup"] = f"/aws/vendedlogs/RUMService_{made.name}{monitor_id[:8]}"


def _canary(cloud: FakeCloud, made: _Created) -> None:
    function = f"cwsyn-{made.name}-{fake_uuid(made.logical)}"
    made.state["engineArn"] = (
        f"arn:aws:lambda:{cloud.region}:{cloud.account_id}:function:{function}:1"
    )


# The outputs AWS computes for a type, beyond the id, name and ARN every resource gets.
_OUTPUT_FAKES: dict[str, Callable[[FakeCloud, _Created], None]] = {
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:alb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:alb/listener:Listener": _listener,
    "aws:rds/instance:Instance": _db_instance,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:acm/certificate:Certificate": _certificate,
    "aws:route53/record:Record": _dns_record,
    "random:index/randomId:RandomId": _random_id,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:cognito/identityPool:IdentityPool": _identity_pool,
    "aws:rum/appMonitor:AppMonitor": _app_monitor,
    "aws:synthetics/canary:Canary": _canary,
}


def _azs(cloud: FakeCloud, _: dict[str, Any]) -> dict[str, Any]:
    # us-east-1 has six AZs; three is what most regions offer.
    suffixes = "abcdef" if cloud.region == "us-east-1" else "abc"
    names = [f"{cloud.region}{s}" for s in suffixes]
    return {
        "id": cloud.region,
        "names": names,
        "zoneIds": [f"{cloud.region}-az{i + 1}" for i in range(len(names))],
        "state": "available",
        "groupNames": [cloud.region] * len(names),
    }


def _identity(cloud: FakeCloud, _: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": cloud.account_id,
        "accountId": cloud.account_id,
        "arn": f"arn:aws:iam::{cloud.account_id}:user/offline",
        "userId": "AIDAOFFLINE",
    }


def _region(cloud: FakeCloud, args: dict[str, Any]) -> dict[str, Any]:
    region = args.get("region") or args.get("name") or cloud.region
    return {
        "id": region,
        "name": region,
        "region": region,
        "description": region,
        "endpoint": f"ec2.{region}.amazonaws.com",
    }


def _partition(cloud: FakeCloud, _: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "aws",
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
    }


def _ssm_parameter(cloud: FakeCloud, args: dict[str, Any]) -> dict[str, Any]:
    name = args["name"]
    value = f"ami-{_short_hash(name)}{_short_hash(name, 'x')[:9]}"
    return {
        "id": name,
        "name": name,
        "arn": f"arn:aws:ssm:{cloud.region}::parameter{name}",
        "type": "String",
        "value": value,
        "insecureValue": value,
        "version": 1,
        "withDecryption": args.get("withDecryption", True),
    }


def _elb_service_account(cloud: FakeCloud, args: dict[str, Any]) -> dict[str, Any]:
    # A made-up but well-formed 12-digit account per region (AWS's are per region too).
    region = args.get("region") or cloud.region
    account = str(int(hashlib.sha256(region.encode()).hexdigest(), 16))[:12]
    return {"id": account, "arn": f"arn:aws:iam::{account}:root", "region": region}


_INVOKES: dict[str, Callable[[FakeCloud, dict[str, Any]], dict[str, Any]]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _azs,
    "aws:index/getCallerIdentity:getCallerIdentity": _identity,
    "aws:index/getRegion:getRegion": _region,
    "aws:index/getPartition:getPartition": _partition,
    "aws:ssm/getParameter:getParameter": _ssm_parameter,
    "aws:elb/getServiceAccount:getServiceAccount": _elb_service_account,
}


def _release_thread_loop() -> None:
    """Close the event loop the mock monitor made for this worker thread.

    The SDK calls the monitor from executor threads and the stock monitor gives each thread
    an event loop that is never closed; left to the garbage collector at interpreter exit,
    they print 'Invalid file descriptor' noise.
    """
    if threading.current_thread() is threading.main_thread():
        return
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        return
    if not loop.is_running():
        loop.close()
        asyncio.set_event_loop(None)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that records each registration as the engine would receive it."""

    def __init__(
        self,
        mocks: FakeCloud,
        project: str,
        stack: str,
        on_register: Callable[[RecordedResource], None] | None = None,
    ):
        super().__init__(mocks)
        # Called with each registration as it happens (the offline preview streams them to
        # the policy pack, as the engine does); must be quick and thread-safe.
        self.on_register = on_register
        self.project = project
        self.stack = stack
        self.records: list[RecordedResource] = []
        self.stack_urn = f"urn:pulumi:{stack}::{project}::{ROOT_STACK_TYPE}::{project}-{stack}"
        self.stack_outputs: dict[str, Any] = {}
        self._outputs_by_urn: dict[str, dict[str, Any]] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != ROOT_STACK_TYPE:
                qualified = f"{parent_type}${type_}"
        return f"urn:pulumi:{self.stack}::{self.project}::{qualified}::{name}"

    def Invoke(self, request: Any) -> Any:
        try:
            return super().Invoke(request)
        finally:
            _release_thread_loop()

    def RegisterResource(self, request: Any) -> Any:
        try:
            response = super().RegisterResource(request)
        finally:
            _release_thread_loop()
        if request.type == ROOT_STACK_TYPE:
            return response
        urn = response.urn
        outputs = _struct_to_dict(response.object) if response.object else {}
        recorded = RecordedResource(
            type=request.type,
            name=request.name,
            urn=urn,
            custom=bool(request.custom),
            parent=request.parent,
            dependencies=tuple(request.dependencies),
            property_dependencies={
                key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()
            },
            protect=request.protect if request.HasField("protect") else None,
            retain_on_delete=(
                request.retainOnDelete if request.HasField("retainOnDelete") else None
            ),
            ignore_changes=tuple(request.ignoreChanges),
            provider=request.provider,
            inputs=_struct_to_dict(request.object),
            outputs=outputs,
        )
        self.records.append(recorded)
        if self.on_register is not None:
            self.on_register(recorded)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self.stack_urn:
            self.stack_outputs = _struct_to_dict(request.outputs)
        return super().RegisterResourceOutputs(request)


class _WarningLog(logging.Handler):
    """Collects what the program logs at warning level and above (the engine's Log calls)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _program_logger() -> tuple[logging.Logger, _WarningLog]:
    logger = logging.getLogger(f"offline.program.{id(object())}")
    logger.propagate = False
    handler = _WarningLog()
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    return logger, handler


def _reset_runtime() -> None:
    runtime_settings.ROOT.set(None)
    set_all_config({}, [])


def record(
    stack: str,
    *,
    project_dir: Path | str = ".",
    stack_file: Path | str | None = None,
    preview: bool = False,
    account_id: str = MOCK_ACCOUNT_ID,
    on_register: Callable[[RecordedResource], None] | None = None,
    overlay: Path | str | None = None,
) -> Recording:
    """Run `project_dir/__main__.py` for `stack` and return every registration it made.

    `account_id` is what the mocked caller-identity lookup answers; recording with another
    one shows whether any account ID in the inputs was written down instead of looked up.
    """
    project_dir = Path(project_dir).resolve()
    config = stackfile.load(
        stack,
        project_dir,
        Path(stack_file) if stack_file else None,
        Path(overlay) if overlay else None,
    )
    region = config.values.get("aws:region", "")
    cloud = FakeCloud(region=region, preview=preview, account_id=account_id)
    monitor = RecordingMonitor(cloud, config.project, stack, on_register)
    warnings = _mock_runtime(config, stack, preview, cloud, monitor)
    main = project_dir / "__main__.py"
    try:
        with program_environment(project_dir), runtime.installed():
            _sync_await(run_in_stack(lambda: _run_program(main)))
    except pulumi.RunError as exc:
        raise ProgramError(str(exc), registered=len(monitor.records)) from None
    finally:
        _reset_runtime()
    return Recording(
        project=config.project,
        stack=stack,
        preview=preview,
        resources=list(monitor.records),
        outputs=dict(monitor.stack_outputs),
        stack_urn=monitor.stack_urn,
        warnings=list(warnings.messages),
    )


def _run_program(main: Path) -> None:
    runpy.run_path(str(main), run_name="__main__")


def _mock_runtime(
    config: stackfile.StackConfig,
    stack: str,
    preview: bool,
    cloud: FakeCloud,
    monitor: RecordingMonitor,
) -> _WarningLog:
    """Point Pulumi's runtime at the mocks with the stack's config; returns the warning log."""
    _reset_runtime()
    # A placeholder root keeps set_mocks from registering a stack of its own; run_in_stack
    # then registers the real one, so exports arrive as the stack's outputs.
    runtime_settings.ROOT.set(object())  # type: ignore[arg-type]
    logger, warnings = _program_logger()
    pulumi.runtime.set_mocks(cloud, config.project, stack, preview, logger=logger, monitor=monitor)
    runtime_settings.ROOT.set(None)
    set_all_config(dict(config.values), list(config.secret_keys))
    return warnings


@contextmanager
def program_environment(project_dir: Path) -> Iterator[None]:
    """The program's directory as the working directory and first on the import path (the
    watch imports the project's modules ahead of a run in the same context)."""
    added = str(project_dir) not in sys.path
    if added:
        sys.path.insert(0, str(project_dir))
    cwd = os.getcwd()
    os.chdir(project_dir)
    try:
        yield
    finally:
        os.chdir(cwd)
        if added:
            sys.path.remove(str(project_dir))
