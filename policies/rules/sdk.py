"""The only module that touches pulumi_policy: turns catalogue specs into SDK policies.

Responsibilities: refuse invalid policy config in `Configure` itself, before any resource is
analysed (every policy's config validated, exemptions parsed), report the pack version of
PulumiPolicy.yaml (the one the CLI shows) in the SDK's own messages too, skip resources a
policy does not cover before any work, read stack config once per process environment (or per
ConfigureStack, for a driver that asks: see STACK_CONFIG_SOURCE_ENV), apply exemptions, report
findings, and turn "undecided" findings into the SDK's own preview diagnostic (by raising its
UnknownValueError). Applied exemptions are logged to the engine (Engine.Log at the address the
CLI passes), so `pulumi preview` shows them and the offline driver can list them.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from .base import (
    RESOURCE,
    Exemption,
    PolicyConfigError,
    PolicySpec,
    StackSettings,
    settings_from_env,
    today_utc,
)
from .configcheck import check_config
from .props import Finding, Resource

PACK_NAME = "groundwork-guardrails"
EXEMPTION_LOG_PREFIX = "exemption applied: "
_LEVELS = {
    "advisory": EnforcementLevel.ADVISORY,
    "mandatory": EnforcementLevel.MANDATORY,
    "disabled": EnforcementLevel.DISABLED,
}
PACK_DIR = Path(__file__).resolve().parent.parent

_local = threading.local()


def _identity_memo(fn: Callable[[Any], Any], slot: str, size: int = 4) -> Callable[..., Any]:
    """Memoize a one-argument function on the identity of its argument, per thread.

    Entries hold the argument, so an id can never be reused for another object while cached.
    A short list scanned with `is` is cheaper than hashing for the 1-2 live entries per request.
    Inside `_request_scope` (one AnalyzeStack call) every argument is kept until the call ends,
    so each resource of the stack is converted once rather than once per stack policy.
    """

    def wrapper(arg: Any, *rest: Any, **kw: Any) -> Any:
        if rest or kw:
            return fn(arg, *rest, **kw)
        if getattr(_local, "scope", None) is not None:
            return _scoped(slot, arg, fn)
        entries: list[tuple[Any, Any]] | None = getattr(_local, slot, None)
        if entries is None:
            entries = []
            setattr(_local, slot, entries)
        for held, out in entries:
            if held is arg:
                return out
        out = fn(arg)
        entries.insert(0, (arg, out))
        del entries[size:]
        return out

    functools.update_wrapper(wrapper, fn, assigned=(), updated=())  # sets only __wrapped__
    return wrapper


def _scoped(slot: str, key: Any, make: Callable[[Any], Any]) -> Any:
    """`make(key)`, once per `key` object within the current AnalyzeStack call (`_request_scope`);
    outside one, every call makes a fresh value."""
    scope: dict[tuple[str, int], tuple[Any, Any]] | None = getattr(_local, "scope", None)
    if scope is None:
        return make(key)
    hit = scope.get((slot, id(key)))
    if hit is not None and hit[0] is key:
        return hit[1]
    out = make(key)
    scope[(slot, id(key))] = (key, out)  # holding `key` keeps its id from being reused
    return out


class _MemoJsonFormat:
    def __init__(self, real: Any) -> None:
        self._real = real
        self.MessageToDict = _identity_memo(real.MessageToDict, "m2d")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def install_request_memo() -> bool:
    """Make pulumi_policy deserialize each request once instead of once per policy.

    pulumi_policy's Analyze loop converts the request's properties (MessageToDict, then
    deserialize_properties, then the unknown-checking proxy) for every policy; with ~50 policies
    that is most of the pack's time. Memoizing those three steps on the identity of their input
    gives every policy the same read-only view. Policies never mutate props. AnalyzeStack does
    the same for every resource of the stack once per stack policy (24 x 284 conversions for
    prod); within one such call every conversion is kept (`_request_scope`). Protobuf hands
    back the same object for a sub-message while its parent lives, so identity is stable.
    Returns False (and changes nothing) if the SDK's internals are not what this expects; set
    GROUNDWORK_POLICY_MEMO=0 to turn it off.
    """
    if os.environ.get("GROUNDWORK_POLICY_MEMO", "1") == "0":
        return False
    import pulumi_policy.policy

    # The SDK's own imports (json_format, deserialize_properties, ...) are module globals it does
    # not export; patching them is the point, so the module is handled untyped.
    sdk_policy: Any = pulumi_policy.policy
    names = (
        "json_format",
        "deserialize_properties",
        "unknown_checking_proxy",
        "_PolicyAnalyzerServicer",
    )
    if not all(hasattr(sdk_policy, n) for n in names) or isinstance(
        sdk_policy.json_format, _MemoJsonFormat
    ):
        return False
    sdk_policy.json_format = _MemoJsonFormat(sdk_policy.json_format)
    sdk_policy.deserialize_properties = _identity_memo(sdk_policy.deserialize_properties, "deser")
    sdk_policy.unknown_checking_proxy = _identity_memo(sdk_policy.unknown_checking_proxy, "proxy")
    sdk_policy._PolicyAnalyzerServicer = _request_scope(sdk_policy._PolicyAnalyzerServicer)
    return True


def _request_scope(base: type) -> type:
    """A servicer subclass whose AnalyzeStack keeps every memoized conversion for its duration."""

    class Servicer(base):
        def AnalyzeStack(self, request: Any, context: Any) -> Any:
            _local.scope = {}
            try:
                return super().AnalyzeStack(request, context)
            finally:
                _local.scope = None  # the request's objects go with it

    return Servicer


def install_request_fast_path(specs: Sequence[PolicySpec]) -> bool:
    """Skip the SDK's per-policy setup where its outcome is known, and do per-process work once.

    - pulumi_policy's Analyze calls every resource policy on every resource, building its
      arguments first (options, provider, config, a report callback); each of ours then returns
      at once unless the type is one of its spec's `types` (validate_resource's first line).
      Prod's resources are covered by one of 32 resource policies on average, so that setup
      was most of an Analyze call. The SDK asks `_get_enforcement_level` about each policy
      before anything else and skips a disabled one without a trace in the response, which is
      what the early return leaves: during Analyze, a policy whose spec does not cover the
      request's type reads as disabled. Everywhere else (AnalyzeStack, GetAnalyzerInfo) the
      level is untouched.
    - Every Analyze also parsed PULUMI_CONFIG into the runtime's config and rebuilt the
      runtime settings from the environment; that is done again only when those variables
      change.
    - Within one AnalyzeStack call each resource's options and provider are built once, not
      once per stack policy.
    Returns False (and changes nothing) if the SDK's internals are not what this expects or
    GROUNDWORK_POLICY_MEMO=0 turns the pack's request speed-ups off.
    """
    if os.environ.get("GROUNDWORK_POLICY_MEMO", "1") == "0":
        return False
    import pulumi_policy.policy as sdk_policy

    base = getattr(sdk_policy, "_PolicyAnalyzerServicer", None)
    names = (
        "Analyze",
        "_get_enforcement_level",
        "_configure_runtime_settings",
        "_get_resource_options",
        "_get_provider_resource",
    )
    if base is None or not all(hasattr(base, n) for n in names) or hasattr(base, "_covers"):
        return False
    covers = {spec.name: frozenset(spec.types) for spec in specs if spec.kind == RESOURCE}
    sdk_policy._PolicyAnalyzerServicer = _fast_path(base, covers)
    return True


_RUNTIME_ENV = (
    "PULUMI_CONFIG",
    "PULUMI_PROJECT",
    "PULUMI_STACK",
    "PULUMI_DRY_RUN",
    "PULUMI_ORGANIZATION",
)


def _fast_path(base: type, covers: Mapping[str, frozenset[str]]) -> type:
    """The servicer subclass `install_request_fast_path` installs (see there)."""

    class Servicer(base):
        _covers = covers
        _runtime_lock = threading.Lock()
        _runtime_env: tuple[str | None, ...] | None = None

        def Analyze(self, request: Any, context: Any) -> Any:
            _local.analyzing = request.type
            try:
                return super().Analyze(request, context)
            finally:
                _local.analyzing = None

        def _get_enforcement_level(self, policy: Any) -> Any:
            analyzing = getattr(_local, "analyzing", None)
            types = self._covers.get(policy.name)
            if analyzing is not None and types is not None and analyzing not in types:
                return EnforcementLevel.DISABLED
            return super()._get_enforcement_level(policy)

        def _configure_runtime_settings(self) -> None:
            env = tuple(os.environ.get(k) for k in _RUNTIME_ENV)
            with self._runtime_lock:
                if env != Servicer._runtime_env:
                    super()._configure_runtime_settings()
                    Servicer._runtime_env = env

        def _get_resource_options(self, request: Any) -> Any:
            return _scoped("opts", request, super()._get_resource_options)

        def _get_provider_resource(self, request: Any) -> Any:
            return _scoped("provider", request, super()._get_provider_resource)

    return Servicer


def plain(value: Any) -> Any:
    """Plain dicts/lists from the SDK's unknown-checking proxies, unknowns left as sentinels."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in _unproxied(value).items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in _unproxied(value)]
    return value


def _unproxied(value: Any) -> Any:
    """The dict or list behind one of the SDK's proxies (a proxy hands it out as `__target`)."""
    return value["__target"] if type(value).__name__ in ("_DictProxy", "_ListProxy") else value


_plain_memo = _identity_memo(plain, "plain")


class EngineLog:
    """Engine.Log client for the address the CLI passes the pack (errors never fail a policy)."""

    def __init__(self, address: str | None) -> None:
        self._address = address
        self._stub: Any = None
        self._lock = threading.Lock()

    def info(self, message: str, urn: str = "") -> None:
        if not self._address:
            return
        try:
            import grpc
            from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

            with self._lock:
                if self._stub is None:
                    self._stub = engine_pb2_grpc.EngineStub(grpc.insecure_channel(self._address))
            self._stub.Log(
                engine_pb2.LogRequest(severity=engine_pb2.INFO, message=message, urn=urn), timeout=5
            )
        except Exception:
            return


class _ConfigCache:
    """Parsed, validated config per policy, recomputed only when Configure changed it."""

    def __init__(self, spec: PolicySpec, known_types: frozenset[str]) -> None:
        self._spec = spec
        self._known_types = known_types
        self._key: tuple[tuple[str, Any], ...] | None = None
        self._value: tuple[dict[str, Any], tuple[Exemption, ...]] = ({}, ())
        self._lock = threading.Lock()

    def get(self, given: Mapping[str, Any] | None) -> tuple[dict[str, Any], tuple[Exemption, ...]]:
        items = tuple((given or {}).items())
        key = self._key
        if (
            key is not None
            and len(key) == len(items)
            and all(a[0] == b[0] and a[1] is b[1] for a, b in zip(key, items, strict=True))
        ):
            return self._value
        with self._lock:
            # Configure refused anything invalid already; this only parses what it accepted.
            self._value = check_config(self._spec, dict(items), self._known_types)
            self._key = items
            return self._value


# Where the rules' stack settings come from. Unset (the Pulumi CLI): PULUMI_CONFIG, fixed for
# the process's life, which is how pulumi_policy itself delivers stack config (it reads the
# environment; its ConfigureStack keeps only the stack tags). "request": the `config` map each
# ConfigureStack request carries (the analyzer protocol's "configuration of the stack being
# analyzed"), so a driver can keep one pack across stack-config edits (the offline watch mode)
# instead of starting a new one.
STACK_CONFIG_SOURCE_ENV = "GROUNDWORK_STACK_CONFIG_SOURCE"
STACK_CONFIG_FROM_REQUEST = "request"


class _Settings:
    """Stack settings from PULUMI_CONFIG, parsed again only when the environment changes, or
    from the latest ConfigureStack request when the driver asked for that (see above)."""

    _raw: str | None = None
    _value: StackSettings = StackSettings()
    _requested: StackSettings | None = None

    @classmethod
    def get(cls) -> StackSettings:
        if cls._requested is not None:
            return cls._requested
        raw = os.environ.get("PULUMI_CONFIG", "") + "\0" + os.environ.get("PULUMI_STACK", "")
        if raw != cls._raw:
            cls._value = settings_from_env(os.environ)
            cls._raw = raw
        return cls._value

    @classmethod
    def configure_stack(cls, request: Any) -> bool:
        """Adopt a ConfigureStack request's config if the driver asked for it; True if so."""
        if os.environ.get(STACK_CONFIG_SOURCE_ENV) != STACK_CONFIG_FROM_REQUEST:
            return False
        cls._requested = StackSettings.from_config(
            {str(k): str(v) for k, v in request.config.items()},
            project=request.project,
            stack=request.stack,
        )
        return True


def _raise_undecided(findings: Sequence[Finding]) -> None:
    paths = sorted({(f"{f.urn}:" if f.urn else "") + f.message for f in findings if f.unknown})
    if paths:
        raise UnknownValueError(UNKNOWN_STRING_VALUE, [", ".join(paths)])


def _framework(spec: PolicySpec) -> PolicyComplianceFramework | None:
    if not spec.security_hub and not spec.config_rules:
        return None
    return PolicyComplianceFramework(
        name="AWS Security Hub (AWS Foundational Security Best Practices)",
        reference=", ".join(spec.security_hub) or None,
        specification="AWS Config: " + ", ".join(spec.config_rules) if spec.config_rules else None,
    )


def _description(spec: PolicySpec) -> str:
    refs = [f"Security Hub {', '.join(spec.security_hub)}"] if spec.security_hub else []
    refs += [f"AWS Config {', '.join(spec.config_rules)}"] if spec.config_rules else []
    if not refs:
        return spec.description
    return f"{spec.description[:-1]} ({'; '.join(refs)})."


def _expired_message(e: Exemption) -> str:
    return (
        f"exemption ({e.target}) expired on {e.expires.isoformat()} (reason was: {e.reason}); "
        "fix the resource or renew the exemption"
    )


def _resource_of(args: ResourceValidationArgs) -> Resource:
    provider = args.provider
    return Resource(
        type=args.resource_type,
        urn=args.urn,
        name=args.name,
        props=_plain_memo(args.props),
        protect=bool(args.opts.protect),
        parent=args.opts.parent or "",
        provider_props=_plain_memo(provider.props) if provider is not None else None,
    )


def _stack_resources(args: StackValidationArgs) -> list[Resource]:
    # Within one AnalyzeStack call the SDK hands every stack policy the same props object per
    # resource (the request memo), so the view built from it is built once.
    return [_scoped("resource", r.props, lambda _, r=r: _stack_view(r)) for r in args.resources]


def _report_expired(
    exemptions: Sequence[Exemption],
    resources: Sequence[Resource],
    today: date,
    report: ReportViolation,
) -> None:
    """A stack policy names every resource an expired exemption still matches."""
    for e in exemptions:
        if e.expired(today):
            for r in resources:
                if e.matches(r.urn, r.name):
                    report(_expired_message(e), r.urn)


def _report_findings(findings: Sequence[Finding], report: ReportViolation, by_urn: bool) -> None:
    """Report the decided findings (a stack policy names each one's resource), then hand the
    undecided ones to the SDK's preview diagnostic."""
    for f in findings:
        if not f.unknown:
            report(f.message, (f.urn or None) if by_urn else None)
    _raise_undecided(findings)


class _Validators:
    """The resource and stack validators of one policy, over one config cache."""

    def __init__(self, spec: PolicySpec, log: EngineLog, known_types: frozenset[str]) -> None:
        self._spec = spec
        self._log = log
        self._cache = _ConfigCache(spec, known_types)

    def _applied(self, exemption: Exemption, urn: str) -> None:
        record = {**exemption.as_dict(), "resource": urn}
        self._log.info(
            f"{PACK_NAME}: {EXEMPTION_LOG_PREFIX}{json.dumps(record, sort_keys=True)}", urn
        )

    def resource(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in self._spec.types:
            return
        config, exemptions = self._cache.get(args.get_config())
        resource = _resource_of(args)
        today = today_utc()
        matching = [e for e in exemptions if e.matches(resource.urn, resource.name)]
        for e in matching:
            if e.expired(today):
                report(_expired_message(e), None)
        active = [e for e in matching if not e.expired(today)]
        findings = self._spec.check(resource, config, _Settings.get())
        if active:
            if findings:
                self._applied(active[0], resource.urn)
            return
        _report_findings(findings, report, by_urn=False)

    def stack(self, args: StackValidationArgs, report: ReportViolation) -> None:
        config, exemptions = self._cache.get(args.get_config())
        resources = _stack_resources(args)
        names = {r.urn: r.name for r in resources}
        today = today_utc()
        _report_expired(exemptions, resources, today, report)
        findings = self._spec.check(resources, config, _Settings.get())
        kept = self._unexempted(findings, exemptions, names, today)
        _report_findings(kept, report, by_urn=True)

    def _unexempted(
        self,
        findings: Sequence[Finding],
        exemptions: Sequence[Exemption],
        names: Mapping[str, str],
        today: date,
    ) -> list[Finding]:
        """The findings no active exemption covers; each covered one is logged as applied."""
        kept: list[Finding] = []
        for f in findings:
            active = [
                e
                for e in exemptions
                if f.urn and not e.expired(today) and e.matches(f.urn, names.get(f.urn, ""))
            ]
            if active:
                self._applied(active[0], f.urn)
                continue
            kept.append(f)
        return kept


def to_policy(
    spec: PolicySpec, log: EngineLog, known_types: frozenset[str] = frozenset()
) -> ResourceValidationPolicy | StackValidationPolicy:
    validators = _Validators(spec, log, known_types)
    common: dict[str, Any] = {
        "name": spec.name,
        "description": _description(spec),
        "enforcement_level": _LEVELS[spec.level],
        "config_schema": PolicyConfigSchema(properties=spec.schema()),
        "remediation_steps": spec.remediation,
        "framework": _framework(spec),
        "tags": ["groundwork"],
    }
    if spec.kind == RESOURCE:
        return ResourceValidationPolicy(validate=validators.resource, **common)
    return StackValidationPolicy(validate=validators.stack, **common)


def _stack_view(r: Any) -> Resource:
    """The rule's view of one resource of an AnalyzeStack request (a PolicyResource)."""
    provider = r.provider
    return Resource(
        type=r.resource_type,
        urn=r.urn,
        name=r.name,
        props=_plain_memo(r.props),
        protect=bool(r.opts.protect),
        parent=r.parent.urn if r.parent is not None else "",
        dependencies=tuple(d.urn for d in r.dependencies),
        property_dependencies={
            k: tuple(d.urn for d in v) for k, v in r.property_dependencies.items()
        },
        # The provider's settings (its region, for a replica's cost), as Analyze passes them.
        provider_props=_plain_memo(provider.props) if provider is not None else None,
    )


def known_types(specs: Sequence[PolicySpec]) -> frozenset[str]:
    """Every resource type token some policy checks: what a config may name."""
    return frozenset().union(*(spec.types for spec in specs))


def pack_version(pack_dir: Path = PACK_DIR) -> str | None:
    """`version` of PulumiPolicy.yaml: the one source of the pack's version."""
    import yaml

    try:
        doc = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    version = doc.get("version") if isinstance(doc, dict) else None
    return str(version) if version else None


def _from_struct(value: Any) -> Any:
    """Config as written, from a protobuf Struct: every number arrives as a double (3 as 3.0),
    and NaN is kept (json_format refuses to convert it) so validation can name its key."""
    from google.protobuf import struct_pb2

    if isinstance(value, struct_pb2.Struct):
        return {k: _from_struct(v) for k, v in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_from_struct(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def configure_problems(
    specs: Mapping[str, PolicySpec], configs: Mapping[str, Mapping[str, Any]], types: frozenset[str]
) -> list[str]:
    """Every problem in the policy config of one Configure request (empty when valid)."""
    problems = [
        f"{name} is not a policy of {PACK_NAME}; allowed: {', '.join(sorted(specs))}"
        for name in sorted(set(configs) - set(specs))
    ]
    for name in sorted(set(configs) & set(specs)):
        try:
            check_config(specs[name], configs[name], types)
        except PolicyConfigError as exc:
            problems += str(exc).splitlines()
    return problems


def install_configure_check(specs: Sequence[PolicySpec], types: frozenset[str]) -> bool:
    """Make pulumi_policy's analyzer validate all policy config in Configure, report the
    PulumiPolicy.yaml version, and take stack config from ConfigureStack when the driver set
    STACK_CONFIG_SOURCE_ENV (the CLI does not: PULUMI_CONFIG stays the source there).

    The SDK stores whatever Configure receives and hands it to a policy only when a resource of
    its type turns up, so a bad value would surface late or never; and it reports version
    0.0.1 in its "can't run policy during preview" messages whatever the pack says. The SDK builds
    its servicer from the module global `_PolicyAnalyzerServicer`; this swaps in a subclass.
    Returns False (and changes nothing) if the SDK's internals are not what this expects; each
    policy still validates its config at first use then (_ConfigCache).
    """
    import grpc
    import pulumi_policy.policy as sdk_policy

    base = getattr(sdk_policy, "_PolicyAnalyzerServicer", None)
    if base is None or getattr(base, "_groundwork", False):
        return False
    by_name = {spec.name: spec for spec in specs}
    version = pack_version()

    class Servicer(base):
        _groundwork = True

        def __init__(self, name: str, sdk_version: str, *args: Any, **kw: Any) -> None:
            super().__init__(name, version or sdk_version, *args, **kw)

        def ConfigureStack(self, request: Any, context: Any) -> Any:
            _Settings.configure_stack(request)
            return super().ConfigureStack(request, context)

        def Configure(self, request: Any, context: Any) -> Any:
            configs = {
                k: _from_struct(request.policyConfig[k].properties) for k in request.policyConfig
            }
            problems = configure_problems(by_name, configs, types)
            if problems:
                sep = " " if len(problems) == 1 else "\n"
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{PACK_NAME}: invalid policy config:{sep}" + "\n".join(problems),
                )
            return super().Configure(request, context)

    sdk_policy._PolicyAnalyzerServicer = Servicer
    return True
