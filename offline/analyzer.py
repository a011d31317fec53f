"""Drive the policy pack over its real gRPC protocol, as the Pulumi CLI does, without the CLI.

`PolicyPackProcess` starts `python -u -m pulumi.policy <engine-address> .` in the pack's
directory with the environment the CLI sets (PULUMI_CONFIG, PULUMI_PROJECT, PULUMI_STACK,
PULUMI_DRY_RUN, PULUMI_ORGANIZATION), serves a minimal Engine service at that address to
receive the pack's log lines, reads the port the pack prints, and calls the Analyzer service:
Handshake (optional), GetAnalyzerInfo, ConfigureStack, Configure, Analyze per resource and
AnalyzeStack once. Policy config is reconciled like the CLI does (schema defaults, then "all",
then per-policy values) and validated against each policy's config schema before Configure.

One process can be reused: `configure()` again between runs. `analyze()` is the one-shot form.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jsonschema
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2, engine_pb2_grpc

from .model import RecordedResource, Recording
from .stackfile import StackConfig

PACK_DIR = Path(__file__).resolve().parent.parent / "policies"
LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_LEVEL_OF = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
_LEVEL_TO = {v: k for k, v in _LEVEL_OF.items()}
EXEMPTION_LOG_MARK = "exemption applied: "
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


class AnalyzerError(RuntimeError):
    """The pack could not be started or failed while analyzing."""


class PolicyConfigError(ValueError):
    """The policy pack config file is invalid (names the policy, key and what is allowed)."""


@dataclass(frozen=True, order=True)
class Violation:
    level: str
    policy: str
    urn: str
    message: str
    pack: str = ""
    version: str = ""
    description: str = ""
    phase: str = ""  # "analyze" (resource inputs) or "analyze-stack" (outputs)

    def as_dict(self) -> dict[str, str]:
        return {
            "level": self.level,
            "policy": self.policy,
            "urn": self.urn,
            "message": self.message,
            "pack": self.pack,
            "version": self.version,
            "phase": self.phase,
        }


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    level: str
    kind: str  # "resource" or "stack"
    schema: dict[str, Any]
    required: tuple[str, ...]


@dataclass(frozen=True)
class ExemptionReport:
    policy: str
    target: str  # "urn=..." or "name=..."
    reason: str
    expires: str
    status: str  # "applied", "expired" or "unused"
    resources: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "target": self.target,
            "reason": self.reason,
            "expires": self.expires,
            "status": self.status,
            "resources": list(self.resources),
        }


@dataclass
class AnalysisResult:
    pack: str
    version: str
    project: str
    stack: str
    violations: list[Violation]
    policies: list[str]  # policies that ran (not disabled), sorted
    exemptions: list[ExemptionReport]
    levels: dict[str, str] = field(default_factory=dict)  # policy -> effective level

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    @property
    def ok(self) -> bool:
        return not self.mandatory

    def of(self, policy: str, urn: str | None = None) -> list[Violation]:
        return [v for v in self.violations if v.policy == policy and (urn is None or v.urn == urn)]


class _Pairs(dict[str, Any]):
    """A JSON object that remembers the keys it saw more than once."""

    duplicates: tuple[str, ...] = ()


def _pairs(pairs: list[tuple[str, Any]]) -> _Pairs:
    obj = _Pairs(pairs)
    keys = [k for k, _ in pairs]
    obj.duplicates = tuple(sorted({k for k in keys if keys.count(k) > 1}))
    return obj


def _duplicate_keys(value: Any, path: str = "") -> list[str]:
    """Full paths of the keys that occur twice in one object, anywhere in `value`."""
    if isinstance(value, list):
        return [d for i, sub in enumerate(value) for d in _duplicate_keys(sub, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return []
    prefix = f"{path}." if path else ""
    found = [prefix + k for k in getattr(value, "duplicates", ())]
    for key, sub in value.items():
        found += _duplicate_keys(sub, prefix + key)
    return found


def _no_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; they are not JSON and NaN passes every bound.
    raise ValueError(f"{name} is not a JSON number")


def load_policy_config(path: Path) -> dict[str, dict[str, Any]]:
    """Read a `--policy-pack-config` file: policy -> level or {enforcementLevel?, ...props}.

    Refuses what the CLI would silently decode into a weaker pack before the pack sees it: a
    missing or empty file (the CLI falls back to code defaults), duplicate keys (the CLI keeps
    the last one, so a reviewer reads the first) and anything but a level under "all" (the CLI
    reads only `enforcementLevel` there).
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyConfigError(f"cannot read policy config {path}: {exc}") from exc
    if not text.strip():
        raise PolicyConfigError(
            f"{path} is empty; allowed: a JSON object naming each policy's level and settings "
            "(an empty file would silently fall back to the code defaults)"
        )
    try:
        doc = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except ValueError as exc:
        raise PolicyConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not doc:
        raise PolicyConfigError(
            f"{path} must hold a non-empty JSON object of policy name -> config (got {doc!r})"
        )
    duplicates = _duplicate_keys(doc, "")
    if duplicates:
        raise PolicyConfigError(
            f"{path}: duplicate key(s) {', '.join(duplicates)}; allowed: each key once (the CLI "
            "would silently keep only the last value)"
        )
    out = {name: _policy_entry(path, name, value) for name, value in doc.items()}
    _check_all(out, f"{path}: ")
    return out


def _check_all(config: Mapping[str, Mapping[str, Any]], where: str) -> None:
    extra = sorted(set(config.get("all") or {}) - {"enforcementLevel"})
    if extra:
        raise PolicyConfigError(
            f"{where}all.{extra[0]} is ignored by the Pulumi CLI (got all = "
            f'{dict(config["all"])!r}); allowed under "all": only enforcementLevel; put '
            "settings and exemptions under each policy"
        )


def _policy_entry(path: Path, name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"enforcementLevel": value}
    if not isinstance(value, dict):
        raise PolicyConfigError(
            f"{path}: {name!r} must be a level string or an object (got {value!r})"
        )
    level = value.get("enforcementLevel")
    if level is not None and level not in LEVELS:
        raise PolicyConfigError(
            f"{path}: {name}.enforcementLevel is {level!r}; allowed: {', '.join(LEVELS)}"
        )
    return json.loads(json.dumps(value))  # plain dicts


def reconcile(
    policies: Sequence[PolicyInfo], given: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Effective config per policy, as the CLI computes it before Configure.

    Schema defaults first, then the "all" level, then each policy's own level and properties;
    the result is validated against each policy's schema (errors name policy and key). Unlike the
    CLI, config for a policy the pack does not have is an error (it is always a typo).
    """
    known = {p.name for p in policies}
    strays = sorted(set(given) - known - {"all"})
    if strays:
        raise PolicyConfigError(
            f"policy config names unknown policies {strays}; the pack has {sorted(known)}"
        )
    _check_all(given, "")
    result: dict[str, dict[str, Any]] = {}
    all_level = (given.get("all") or {}).get("enforcementLevel")
    for p in policies:
        props = {
            k: s["default"] for k, s in p.schema.items() if isinstance(s, dict) and "default" in s
        }
        level = all_level or p.level
        own = dict(given.get(p.name) or {})
        level = own.pop("enforcementLevel", None) or level
        props.update(own)
        schema = {"type": "object", "properties": p.schema}
        if p.required:
            schema["required"] = list(p.required)
        errors = sorted(
            jsonschema.Draft7Validator(schema).iter_errors(props), key=lambda e: list(e.path)
        )
        if errors:
            details = "; ".join(
                f"{p.name}.{'.'.join(str(x) for x in e.path) or '(root)'}: {e.message}; "
                f"allowed: {_allowed(e.schema)}"
                for e in errors
            )
            raise PolicyConfigError(f"invalid policy config: {details}")
        result[p.name] = {"enforcementLevel": level, **props}
    return result


_CONSTRAINTS = (
    "type",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "pattern",
    "minItems",
    "uniqueItems",
    "required",
    "additionalProperties",
)


def _allowed(schema: Any) -> str:
    """The constraints of the (sub)schema an error came from, for the error message."""
    if not isinstance(schema, Mapping):
        return "see the policy's config schema"
    shown = {k: schema[k] for k in _CONSTRAINTS if k in schema and k != "additionalProperties"}
    if schema.get("additionalProperties") is False:
        shown["keys"] = sorted(schema.get("properties") or {})
    text = ", ".join(f"{k} {json.dumps(v)}" for k, v in shown.items()) or "see the schema"
    return f"{text} ({schema['description']})" if schema.get("description") else text


class _Engine(engine_pb2_grpc.EngineServicer):
    """The part of the CLI's Engine service a policy pack talks to: it logs."""

    def __init__(self) -> None:
        self.logs: queue.Queue[tuple[int, str, str]] = queue.Queue()

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:
        self.logs.put((request.severity, request.message, request.urn))
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.GetRootResourceResponse()

    def SetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.SetRootResourceResponse()


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(values))
    return s


def _pack_version(pack_dir: Path) -> str:
    try:
        doc = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return ""
    return str(doc.get("version") or "")


class PolicyPackProcess:
    """A running policy pack plus the Engine service it logs to. Use as a context manager."""

    def __init__(
        self,
        stack_config: StackConfig,
        *,
        pack_dir: Path = PACK_DIR,
        dry_run: bool = True,
        organization: str = "organization",
        python: str = sys.executable,
        start_timeout: float = 30.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.stack_config = stack_config
        self.extra_env = dict(extra_env or {})
        self.pack_dir = pack_dir
        self.dry_run = dry_run
        self.organization = organization
        self.python = python
        self.start_timeout = start_timeout
        self.version = _pack_version(pack_dir)
        self.policies: list[PolicyInfo] = []
        self.name = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._server: grpc.Server | None = None
        self._channel: grpc.Channel | None = None
        self._stub: Any = None
        self._engine = _Engine()
        self._stderr: list[str] = []
        self._effective: dict[str, dict[str, Any]] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> PolicyPackProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def environment(self) -> dict[str, str]:
        """The environment the CLI gives a Python policy pack (constructEnv)."""
        env = dict(os.environ)
        for key in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS"):
            env.pop(key, None)
        if self.stack_config.values:
            env["PULUMI_CONFIG"] = json.dumps(self.stack_config.values, sort_keys=True)
        env.update(
            {
                "PULUMI_ORGANIZATION": self.organization,
                "PULUMI_PROJECT": self.stack_config.project,
                "PULUMI_STACK": self.stack_config.stack,
                "PULUMI_DRY_RUN": "true" if self.dry_run else "false",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        engine_pb2_grpc.add_EngineServicer_to_server(self._engine, self._server)
        engine_port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        engine_address = f"127.0.0.1:{engine_port}"
        try:
            self._proc = subprocess.Popen(
                [self.python, "-u", "-m", "pulumi.policy", engine_address, "."],
                cwd=self.pack_dir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            self.close()
            raise AnalyzerError(f"cannot start the policy pack in {self.pack_dir}: {exc}") from exc
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        port = self._read_port()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self.start_timeout)
            self._handshake(engine_address)
            self._load_info()
            self._configure_stack()
        except (grpc.RpcError, grpc.FutureTimeoutError) as exc:
            self.close()
            raise AnalyzerError(
                f"policy pack did not answer: {exc}; stderr: {self.stderr()}"
            ) from exc

    @property
    def pid(self) -> int | None:
        """The pack process's id while it runs (which process judged a run)."""
        return self._proc.pid if self._proc is not None else None

    def _configure_stack(self) -> None:
        self._stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=self.stack_config.stack,
                project=self.stack_config.project,
                organization=self.organization,
                dry_run=self.dry_run,
                config=self.stack_config.values,
                config_secret_keys=list(self.stack_config.secret_keys),
            )
        )

    def configure_stack(self, stack_config: StackConfig) -> None:
        """Send a running pack another stack config (ConfigureStack), for the next run.

        Only a pack that takes stack config from the request uses it (the groundwork pack does
        when started with GROUNDWORK_STACK_CONFIG_SOURCE=request in `extra_env`); one that reads
        PULUMI_CONFIG keeps the config it started with. The default providers follow it either way.
        """
        self.stack_config = stack_config
        try:
            self._configure_stack()
        except grpc.RpcError as exc:
            raise AnalyzerError(
                f"ConfigureStack failed: {exc.details()}; pack stderr: {self.stderr()}"
            ) from exc

    def _drain_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in iter(self._proc.stderr.readline, b""):
            self._stderr.append(line.decode("utf-8", "replace"))

    def stderr(self) -> str:
        return "".join(self._stderr[-40:]).strip()

    def _read_port(self) -> int:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        result: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=lambda: result.put(stdout.readline()), daemon=True).start()
        try:
            line = result.get(timeout=self.start_timeout)
        except queue.Empty:
            self.close()
            raise AnalyzerError(
                f"policy pack printed no port within {self.start_timeout:g}s"
            ) from None
        try:
            return int(line.strip())
        except ValueError:
            self._proc.wait(timeout=5)
            stderr = self.stderr()
            self.close()
            raise AnalyzerError(
                f"policy pack failed to start (printed {line!r}); stderr:\n{stderr}"
            ) from None

    def _handshake(self, engine_address: str) -> None:
        directory = str(self.pack_dir)
        try:
            self._stub.Handshake(
                analyzer_pb2.AnalyzerHandshakeRequest(
                    engine_address=engine_address,
                    root_directory=directory,
                    program_directory=directory,
                )
            )
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:  # the CLI tolerates only this
                raise

    def _load_info(self) -> None:
        info = self._stub.GetAnalyzerInfo(empty_pb2.Empty())
        self.name = info.name
        self.version = self.version or info.version
        policies = []
        for p in info.policies:
            schema = (
                json_format.MessageToDict(p.configSchema.properties)
                if p.HasField("configSchema")
                else {}
            )
            kind = "stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource"
            policies.append(
                PolicyInfo(
                    p.name,
                    p.description,
                    _LEVEL_OF[p.enforcementLevel],
                    kind,
                    _ints(schema),
                    tuple(p.configSchema.required),
                )
            )
        self.policies = sorted(policies, key=lambda p: p.name)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        # Taken before use: a failed background start closes too, possibly at the same time.
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        if self._server is not None:
            self._server.stop(0)
            self._server = None

    # -- protocol ----------------------------------------------------------------------------
    def configure(
        self, policy_config: Mapping[str, Mapping[str, Any]] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Reconcile and validate `policy_config`, send it with Configure; return the result."""
        effective = reconcile(self.policies, policy_config or {})
        if effective == self._effective:
            return effective
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, cfg in effective.items():
            props = {k: v for k, v in cfg.items() if k != "enforcementLevel"}
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(
                    enforcementLevel=_LEVEL_TO[cfg["enforcementLevel"]], properties=_struct(props)
                )
            )
        try:
            self._stub.Configure(request)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:  # the pack refused the config
                raise PolicyConfigError(exc.details()) from None
            raise AnalyzerError(
                f"Configure failed: {exc.details()}; pack stderr: {self.stderr()}"
            ) from exc
        self._effective = effective
        return effective

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._stub, method)(request)
        except grpc.RpcError as exc:
            raise AnalyzerError(
                f"{method} failed: {exc.details()}; pack stderr: {self.stderr()}"
            ) from exc

    def analyze_request(self, r: RecordedResource, provider: RecordedResource | None) -> Any:
        return analyzer_pb2.AnalyzeRequest(
            urn=r.urn,
            type=r.type,
            name=r.name,
            properties=_struct(r.inputs),
            options=_options(r),
            provider=_provider(provider) if provider is not None else None,
        )

    def run(
        self, recording: Recording, policy_config: Mapping[str, Mapping[str, Any]] | None = None
    ) -> AnalysisResult:
        """Analyze every resource, then the stack; the verdict in a stable order."""
        stream = self.stream(policy_config)
        for r in recording.resources:
            stream.submit(r)
        return stream.finish(recording)

    def stream(
        self,
        policy_config: Mapping[str, Mapping[str, Any]] | None = None,
        ready: threading.Event | None = None,
    ) -> StreamingAnalysis:
        """Analyze resources as they are registered, the way the engine does (see the class)."""
        return StreamingAnalysis(self, policy_config, ready)

    def _analyze_stack(
        self,
        recording: Recording,
        resources: list[RecordedResource],
        providers: Mapping[str, RecordedResource],
        effective: Mapping[str, Mapping[str, Any]],
        diags: list[Violation],
    ) -> AnalysisResult:
        request = analyzer_pb2.AnalyzeStackRequest(
            resources=[_stack_resource(r, providers.get(r.urn)) for r in resources]
        )
        response = self._call("AnalyzeStack", request)
        diags = diags + self._violations(
            response, recording.stack_urn, {r.urn for r in resources}, "analyze-stack"
        )
        logs = self._drain_logs()
        ran = sorted(n for n, c in effective.items() if c["enforcementLevel"] != "disabled")
        return AnalysisResult(
            pack=self.name,
            version=self.version,
            project=self.stack_config.project,
            stack=self.stack_config.stack,
            violations=sorted(set(diags)),
            policies=ran,
            exemptions=_exemption_reports(effective, logs, diags),
            levels={n: c["enforcementLevel"] for n, c in effective.items()},
        )

    def _violations(self, response: Any, urn: str, known: set[str], phase: str) -> list[Violation]:
        out = []
        for d in response.diagnostics:
            # Analyze: the engine always uses the analyzed resource's URN. AnalyzeStack: the
            # diagnostic's URN if it names a resource of the stack, else the root stack.
            target = urn if phase == "analyze" else (d.urn if d.urn in known else urn)
            out.append(
                Violation(
                    _LEVEL_OF.get(d.enforcementLevel, "advisory"),
                    d.policyName,
                    target,
                    d.message,
                    d.policyPackName,
                    self.version or d.policyPackVersion,
                    d.description,
                    phase,
                )
            )
        return out

    def _drain_logs(self) -> list[tuple[int, str, str]]:
        out = []
        while True:
            try:
                out.append(self._engine.logs.get_nowait())
            except queue.Empty:
                return out


_DONE = object()


class StreamingAnalysis:
    """`Analyze` per resource as the program registers it, `AnalyzeStack` when it is done.

    This is the engine's order of work, and it lets the pack judge resources while the program
    is still running. `submit()` is thread-safe and never blocks (the recording monitor calls it
    from the runtime's worker threads); a worker thread waits for `ready` (the pack's start),
    configures the pack, and sends each resource, preceded by the default provider of its
    package the first time that package is seen, as the engine registers those itself.
    """

    def __init__(
        self,
        pack: PolicyPackProcess,
        policy_config: Mapping[str, Mapping[str, Any]] | None,
        ready: threading.Event | None,
    ) -> None:
        self._pack = pack
        self._policy_config = policy_config
        self._ready = ready
        self._queue: queue.Queue[Any] = queue.Queue()
        self._resources: list[RecordedResource] = []
        self._providers: dict[str, RecordedResource] = {}
        self._defaults: dict[str, RecordedResource] = {}
        self._by_urn: dict[str, RecordedResource] = {}
        self._diags: list[Violation] = []
        self._pending: list[tuple[str, Any]] = []
        self._effective: dict[str, dict[str, Any]] = {}
        self._error: BaseException | None = None
        self._project_stack: tuple[str, str] | None = None
        self._worker = threading.Thread(target=self._work, name="analyze", daemon=True)
        self._worker.start()

    def submit(self, resource: RecordedResource) -> None:
        self._queue.put(resource)

    def finish(self, recording: Recording) -> AnalysisResult:
        """Wait for every `Analyze`, then run `AnalyzeStack` over the whole recording."""
        latest = {r.urn: r for r in recording.resources}
        if recording.stack_urn and recording.stack_urn not in latest:
            # The engine analyzes the root stack's registration too (the program's first).
            self._queue.put(_root_stack(recording))
        self._queue.put(_DONE)
        self._worker.join()
        if self._error is not None:
            raise self._error
        # Outputs are known only now; the stack view carries them, root stack first.
        resources = sorted(
            (latest.get(r.urn, r) for r in self._resources),
            key=lambda r: r.type != ROOT_STACK_TYPE,
        )
        return self._pack._analyze_stack(
            recording, resources, self._providers, self._effective, self._diags
        )

    def abort(self) -> None:
        """Stop the worker (idempotent; a no-op after `finish`)."""
        if self._worker.is_alive():
            self._queue.put(_DONE)
            self._worker.join()

    def _work(self) -> None:
        done = False
        try:
            if self._ready is not None:
                self._ready.wait()
            if self._pack._stub is None:
                raise AnalyzerError("the policy pack did not start")
            self._effective = self._pack.configure(self._policy_config)
            self._pack._drain_logs()
            while (item := self._queue.get()) is not _DONE:
                self._analyze(item)
            done = True
            self._collect()
        except BaseException as exc:  # re-raised in finish(), on the caller's thread
            self._error = exc
            # Keep consuming until the caller says it is done, so submit() never piles up.
            while not done and self._queue.get() is not _DONE:
                pass

    def _analyze(self, r: RecordedResource) -> None:
        self._by_urn[r.urn] = r
        provider: RecordedResource | None = None
        if r.custom and not r.type.startswith("pulumi:providers:"):
            if r.provider:
                # A provider reference is "<provider urn>::<provider id>".
                ref = r.provider
                provider = self._by_urn.get(ref.rsplit("::", 1)[0]) or self._by_urn.get(ref)
            else:
                package = r.type.split(":", 1)[0]
                if package not in self._defaults:
                    default = _default_provider(package, r.urn, self._pack.stack_config)
                    self._defaults[package] = default
                    self._send(default, None)
                provider = self._defaults[package]
        if provider is not None:
            self._providers[r.urn] = provider
        self._send(r, provider)

    def _send(self, r: RecordedResource, provider: RecordedResource | None) -> None:
        # Pipelined: the request goes out now, its answer is collected in finish(), so this
        # thread never waits on the pack while the program is still registering resources.
        self._resources.append(r)
        request = self._pack.analyze_request(r, provider)
        self._pending.append((r.urn, self._pack._stub.Analyze.future(request)))

    def _collect(self) -> None:
        for urn, future in self._pending:
            try:
                response = future.result()
            except grpc.RpcError as exc:
                raise AnalyzerError(
                    f"Analyze failed for {urn}: {exc.details()}; pack stderr: {self._pack.stderr()}"
                ) from exc
            self._diags.extend(self._pack._violations(response, urn, set(), "analyze"))
        self._pending.clear()


def _root_stack(recording: Recording) -> RecordedResource:
    return RecordedResource(
        ROOT_STACK_TYPE,
        f"{recording.project}-{recording.stack}",
        recording.stack_urn,
        False,
        "",
        (),
        {},
        None,
        None,
        (),
        "",
        {},
        dict(recording.outputs),
    )


def _ints(value: Any) -> Any:
    """Struct numbers come back as floats; JSON-schema keywords like minimum want ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def _options(r: RecordedResource) -> Any:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(r.protect),
        ignoreChanges=list(r.ignore_changes),
        parent=r.parent,
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
    )


def _provider(p: RecordedResource) -> Any:
    return analyzer_pb2.AnalyzerProviderResource(
        urn=p.urn, type=p.type, name=p.name, properties=_struct(p.inputs)
    )


def _stack_resource(r: RecordedResource, provider: RecordedResource | None) -> Any:
    return analyzer_pb2.AnalyzerResource(
        urn=r.urn,
        type=r.type,
        name=r.name,
        # The engine sends outputs here; a recording without outputs for a resource falls back
        # to its inputs (what a preview of a create reports for them).
        properties=_struct(r.outputs or r.inputs),
        options=_options(r),
        provider=_provider(provider) if provider is not None else None,
        parent=r.parent,
        dependencies=list(r.dependencies),
        propertyDependencies={
            k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
            for k, v in r.property_dependencies.items()
            if v
        },
    )


def _default_provider(package: str, first_urn: str, config: StackConfig) -> RecordedResource:
    """The provider the engine registers for `package`: its stack config are the inputs."""
    inputs = {
        k.split(":", 1)[1]: v for k, v in config.values.items() if k.split(":", 1)[0] == package
    }
    stack, project = first_urn.split("::")[0].removeprefix("urn:pulumi:"), config.project
    urn = f"urn:pulumi:{stack}::{project}::pulumi:providers:{package}::default"
    return RecordedResource(
        f"pulumi:providers:{package}",
        "default",
        urn,
        True,
        "",
        (),
        {},
        None,
        None,
        (),
        "",
        inputs,
        dict(inputs),
    )


def _exemption_reports(
    effective: Mapping[str, Mapping[str, Any]],
    logs: Iterable[tuple[int, str, str]],
    violations: Sequence[Violation],
) -> list[ExemptionReport]:
    """Each configured exemption: applied (the pack logged it), expired (the pack reported it
    on the resources it matches) or unused; the pack's own matching decides both."""
    applied: dict[tuple[str, str], set[str]] = {}
    for _severity, message, urn in logs:
        if EXEMPTION_LOG_MARK not in message:
            continue
        try:
            record = json.loads(message.split(EXEMPTION_LOG_MARK, 1)[1])
        except ValueError:
            continue
        applied.setdefault((record.get("policy", ""), f"urn={record.get('urn')}"), set()).add(
            record.get("resource") or urn
        )
    today = dt.datetime.now(dt.UTC).date()
    reports = []
    for policy, cfg in effective.items():
        for e in cfg.get("exemptions") or []:
            target = f"urn={e['urn']}"
            # The pack refused any other date in Configure.
            expired = dt.date.fromisoformat(e["expires"]) < today
            hits = applied.get((policy, target), set())
            if expired:
                mark = f"exemption ({target}) expired on"
                hits = {v.urn for v in violations if v.policy == policy and mark in v.message}
            status = "expired" if expired else ("applied" if hits else "unused")
            reports.append(
                ExemptionReport(
                    policy, target, e["reason"], e["expires"], status, tuple(sorted(hits))
                )
            )
    return sorted(reports, key=lambda x: (x.policy, x.target))


def analyze(
    recording: Recording,
    stack_config: StackConfig,
    *,
    pack_dir: Path = PACK_DIR,
    config_path: Path | None = None,
) -> AnalysisResult:
    """One-shot: start the pack, run the recording with policies/config/<stack>.json, stop it."""
    path = config_path or pack_dir / "config" / f"{stack_config.stack}.json"
    policy_config = load_policy_config(path)
    with PolicyPackProcess(stack_config, pack_dir=pack_dir, dry_run=recording.preview) as pack:
        return pack.run(recording, policy_config)
