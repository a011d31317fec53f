"""Shared fixtures: the real stacks recorded once per session, variants on demand, and a
moto server for the code that calls AWS.

Pulumi's runtime is process-global; `offline.recorder.record` resets it before every run, so
recordings made one after another in this process are independent of each other.
"""

from __future__ import annotations

import copy
import functools
import gc
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline import stackfile
from offline.model import Recording
from offline.recorder import record
from tests.recordings import shared_record

ROOT = Path(__file__).resolve().parent.parent


# ---- the cyclic collector ---------------------------------------------------------------------
# Each worker keeps the session's recordings (about a million tracked objects) and makes
# cyclic garbage fast (every Output is a web of futures and tasks). With the default
# thresholds (700, 10, 10) the collector re-walked that heap some 40 times per worker, about
# a fifth of the suite's CPU. Young collections now wait for 50,000 new objects, and an
# automatic full collection needs 100 middle ones (about 10^8 net allocations: in practice the
# explicit collections only, pytest's at the end and the watch's between runs). The collector
# still runs, so nothing depends on it being off; memory stays well under a gigabyte per worker.
GC_THRESHOLDS = (50_000, 20, 100)


def pytest_configure(config: pytest.Config) -> None:
    gc.set_threshold(*GC_THRESHOLDS)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported lives for the whole run: take it out of every later collection."""
    gc.collect()
    gc.freeze()


# The region every AWS-facing test runs in (moto serves any).
AWS_TEST_REGION = "eu-west-1"


# The values an operator sets before the first `pulumi up` of prod (the shipped file is a
# template with placeholders a real update refuses). Every recording of prod as an update
# merges it over Pulumi.prod.yaml; tests/test_day_one.py records the shipped file alone.
OVERLAYS: dict[str, Path] = {"prod": ROOT / "tests" / "stacks" / "prod.operator.yaml"}


@functools.cache
def _parsed(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    return stackfile.read_config(path)


def _read_config(path: Path) -> dict[str, Any]:
    """`stackfile.read_config(path)`, parsed once per version of the file in this process (the
    tests read the shipped files hundreds of times); a deep copy, so no test can change what
    another one reads."""
    stat = path.stat()
    return copy.deepcopy(_parsed(path, stat.st_mtime_ns, stat.st_size))


def shipped_stack_config(stack: str) -> dict[str, Any]:
    """The `config:` mapping of the shipped `Pulumi.<stack>.yaml`, as it is in the repository."""
    return _read_config(ROOT / f"Pulumi.{stack}.yaml")


def stack_config(stack: str) -> dict[str, Any]:
    """The config the `dev`/`prod` fixtures record: the shipped file plus its overlay."""
    config = shipped_stack_config(stack)
    overlay = OVERLAYS.get(stack)
    return stackfile.merge(config, _read_config(overlay)) if overlay else config


merge = stackfile.merge
# libyaml's emitter where PyYAML has it: what the tests write is read back as the same config
# (tests/test_stackfile_yaml.py), whichever emitter wrote it.
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def write_stack_file(directory: Path, stack: str, overrides: dict[str, Any]) -> Path:
    path = directory / f"Pulumi.{stack}.variant.yaml"
    config = merge(stack_config(stack), overrides)
    path.write_text(yaml.dump({"config": config}, Dumper=_DUMPER))
    return path


def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory every process of this run shares and no other run sees: an xdist
    worker's base temp sits in the run's own directory; a run without workers has only its
    base temp (whose parent holds earlier runs' directories)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def recording_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where recordings are shared: the run's own directory, common to every xdist worker."""
    return run_dir(tmp_path_factory) / "recordings"


@pytest.fixture(scope="session")
def dev(recording_cache: Path) -> Recording:
    return shared_record(recording_cache, ROOT, "dev")


@pytest.fixture(scope="session")
def operator_prod_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pulumi.prod.yaml with its overlay (tests/stacks/prod.operator.yaml) merged in, as one
    file: recordings are shared across workers by the file's content."""
    return write_stack_file(tmp_path_factory.mktemp("prod"), "prod", {})


@pytest.fixture(scope="session")
def prod(recording_cache: Path, operator_prod_file: Path) -> Recording:
    """The shipped prod stack as deployed (`pulumi up`): placeholders filled in."""
    return shared_record(recording_cache, ROOT, "prod", stack_file=operator_prod_file)


@pytest.fixture(scope="session")
def prod_preview(recording_cache: Path, operator_prod_file: Path) -> Recording:
    return shared_record(recording_cache, ROOT, "prod", stack_file=operator_prod_file, preview=True)


@pytest.fixture(scope="session")
def shipped_prod_dry_run(recording_cache: Path) -> Recording:
    """A dry run of the shipped prod template, placeholders and all (`make preview STACK=prod`)."""
    return shared_record(recording_cache, ROOT, "prod", preview=True)


@pytest.fixture
def record_variant(tmp_path: Path, recording_cache: Path) -> Callable[..., Recording]:
    """Record a copy of a shipped stack with `overrides` deep-merged into its config.

    Shared through the recording cache: the same variant asked for by several tests (or
    workers) is recorded once. A recording that needs a callback is made afresh."""

    def run(
        stack: str, overrides: dict[str, Any], *, preview: bool = False, **kw: Any
    ) -> Recording:
        path = write_stack_file(tmp_path, stack, overrides)
        if "on_register" in kw:
            return record(stack, project_dir=ROOT, stack_file=path, preview=preview, **kw)
        return shared_record(recording_cache, ROOT, stack, stack_file=path, preview=preview, **kw)

    return run


@pytest.fixture(scope="session")
def phase_variant(
    tmp_path_factory: pytest.TempPathFactory, recording_cache: Path
) -> Callable[..., Recording]:
    """A shipped stack recorded at another phase (plus overrides), once per run per variant
    (shared with the other workers through the recording cache)."""
    cache: dict[str, Recording] = {}

    def get(
        stack: str, phase: str, overrides: dict[str, Any] | None = None, *, preview: bool = False
    ) -> Recording:
        merged = merge({"groundwork:phase": phase}, overrides or {})
        key = repr((stack, sorted(merged.items()), preview))
        if key not in cache:
            directory = tmp_path_factory.mktemp(f"{stack}-{phase}")
            path = write_stack_file(directory, stack, merged)
            cache[key] = shared_record(
                recording_cache, ROOT, stack, stack_file=path, preview=preview
            )
        return cache[key]

    return get


# ---- variants several test files record: one definition, so they share one recording ----------

# prod serving HTTPS with a certificate of its own and no domain (tests/test_day_one.py,
# tests/test_hosting.py).
OWN_CERTIFICATE: dict[str, Any] = {
    "groundwork:hosting": {
        "domainName": None,
        "hostedZoneId": None,
        "certificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/abcd-1234",
    },
    "groundwork:performance": {"canaryUrl": "https://shop.northwind-saas.com"},
}
# prod with a GitHub source (tests/test_pipeline.py, tests/test_day_one.py).
GITHUB_SOURCE: dict[str, Any] = {
    "groundwork:pipeline": {
        "source": "github",
        "repository": "acme/shop",
        "branch": "release",
        "connectionArn": (
            "arn:aws:codestar-connections:eu-west-1:123456789012:connection/0a1b2c3d-4e5f"
        ),
    }
}
# Scaling values that are none of the defaults (tests/test_scaling_sim.py reads each back from
# the recorded ASG, scaling policies and latency alarm); ELSEWHERE and PROD_ALTERED carry them.
SIM_SCALING: dict[str, Any] = {
    "requestsPerTarget": 800,
    "latencyP95Ms": 400,
    "predictive": True,
    "instanceWarmupSeconds": 120,
    "latencyEvaluationPeriods": 4,
    "latencyDatapointsToAlarm": 2,
    "schedulingBufferSeconds": 600,
}
# prod grown to its last phase in another region and account: nothing of the shipped region
# or the mock account may remain (tests/test_hosting.py, tests/test_performance.py,
# tests/test_edge.py). Its scaling values are not the defaults, for tests/test_scaling_sim.py,
# which reads them back from the ASG, its scaling policies and the latency alarm: numbers that
# name no region or account, and the region and account reach no scaling value.
ELSEWHERE: dict[str, Any] = {
    "groundwork:phase": "growth",
    "aws:region": "ap-southeast-2",
    "groundwork:scaling": SIM_SCALING,
}
ELSEWHERE_ACCOUNT = "210987654321"
# two addresses on a reserved domain (recorded in DEV_NEWER_REGION).
RESERVED_RECIPIENTS: dict[str, Any] = {
    "groundwork:alerts": {"emails": ["a@example.com", "b@example.com"]}
}
# dev in a region AWS opened after August 2022 (tests/test_edge.py: the log delivery service
# writes ALB access logs there, not an ELB account) with RESERVED_RECIPIENTS (tests/test_alerts.py:
# one subscription each; tests/test_spend_alerts.py: they count as nobody). The region reaches
# ARNs, endpoints and the access-log bucket's writer, not who is subscribed or warned; the
# recipients reach only the alerts topic's subscriptions and the warning; so one recording.
DEV_NEWER_REGION: dict[str, Any] = {
    "aws:region": "eu-central-2",
    "groundwork:database": {"backupReplicaRegion": None},
} | RESERVED_RECIPIENTS


@pytest.fixture(scope="session")
def prod_elsewhere(recording_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """prod with ELSEWHERE, looked up in account ELSEWHERE_ACCOUNT: once per run."""
    path = write_stack_file(tmp_path_factory.mktemp("elsewhere"), "prod", ELSEWHERE)
    return shared_record(
        recording_cache, ROOT, "prod", stack_file=path, account_id=ELSEWHERE_ACCOUNT
    )


# prod with one value changed in each of several independent groups, as DEV_ALTERED below. Each
# test that uses it checks its own group's resources (and that a stale value is caught):
# - the pipeline (GITHUB_SOURCE; tests/test_pipeline.py, tests/test_day_one.py): the source
#   action, the pipeline role and buckets, the first release and the rollback alarms;
# - audit (tests/test_audit.py): an organisation trail with its log group, so no trail, bucket
#   or key of the stack's own, and the audit filters on that group;
# - scaling (tests/test_scaling_sim.py, early): values other than the defaults, read back
#   from the ASG and its scaling policies;
# - the default provider's `aws:` settings (tests/test_providers.py): repeated by each explicit
#   (replica-region) provider, a secret one kept secret;
# - the on-call address as a secret (tests/test_offline.py): the alerts topic's one
#   subscription gets it as a secret. Only the topic's subscriptions read it; audit's checks
#   find the topic itself, and the stand-in is not on a reserved domain, so nothing warns;
# - HTTPS from a certificate of the stack's own and no domain (OWN_CERTIFICATE;
#   tests/test_day_one.py, tests/test_hosting.py, and tests/test_auth.py's stack without
#   auth): the load balancer's listeners and ingress, no certificate or DNS record of the
#   stack's own, and no warning at all.
# The pipeline reads no audit, scaling, provider, recipient or hosting value, audit reads no
# pipeline or scaling value, at `early` the scaling group only sets the ASG's warmup and its CPU
# policy, which none of the others reads, the provider settings reach only the providers, which
# none of the others checks, and the certificate reaches only the HTTPS listener; so they share
# one recording. (Groups are joined with `|`, not merged: OWN_CERTIFICATE's None values must
# reach the stack file, where they delete the operator's domain.)
PROD_ALTERED: dict[str, Any] = (
    GITHUB_SOURCE
    | OWN_CERTIFICATE
    | {
        "groundwork:audit": {
            "existingTrailArn": "arn:aws:cloudtrail:eu-west-1:999988887777:trail/org-trail",
            "existingTrailLogGroupName": "org/cloudtrail",
        },
        "groundwork:scaling": SIM_SCALING,
        "aws:profile": "prod-deployer",
        "aws:assumeRoles": [
            {
                "roleArn": "arn:aws:iam::123456789012:role/deploy",
                "sessionName": "groundwork",
                "externalId": {"secure": "v1:abc"},
            }
        ],
        "aws:allowedAccountIds": ["123456789012"],
        "aws:forbiddenAccountIds": ["999999999999"],
        "aws:skipCredentialsValidation": True,
        "groundwork:alerts": {"emails": [{"secure": "v1:AAAAbase64"}]},
    }
)

# prod's sizes (tests/policies/test_cost_policies.py: a prod-sized dev fails every dev cost
# policy): its network, hosting and database groups, without the replica region dev has none of.
PROD_SIZED: dict[str, Any] = {
    key: stack_config("prod")[key] for key in ("groundwork:network", "groundwork:hosting")
} | {
    "groundwork:database": {
        **stack_config("prod")["groundwork:database"],
        "backupReplicaRegion": None,
    }
}

# dev with one value changed in each of several independent groups, and prod's sizes. Each test
# that uses it checks that its own group's value reaches its own resources (and that a stale
# value is caught); no group below feeds another's resources, so they share one recording.
# The sizes (test_cost_policies) set instance types and counts, NAT gateways, zones and the
# database's class, storage and Multi-AZ (and bring prod's domain, so an HTTPS listener): they
# change what the stack costs and how it is reached, not any value the other tests read (prod's
# database keeps deletion protection on, as test_data_protection asks).
DEV_ALTERED: dict[str, Any] = PROD_SIZED | {
    "groundwork:alarms": {"alb5xxPerMinute": 42, "errorLogEventsPerMinute": 7},  # test_alarms
    "groundwork:analytics": {"retentionDays": 90},  # test_analytics
    "groundwork:logging": {"runtimeRetentionDays": 14},  # test_logging
    "groundwork:edge": {"wafMode": "block", "rateLimitPer5Min": 500},  # test_edge
    # test_data_protection (over prod's database sizes)
    "groundwork:database": merge(PROD_SIZED["groundwork:database"], {"deletionProtection": True}),
    "groundwork:audit": {"enabled": False},  # test_audit
    # test_spend_alerts: a recipient outside the reserved domains silences the "reach nobody"
    # warning. Recipients only add subscriptions to the alerts topic; no group above reads them.
    "groundwork:alerts": {"emails": ["ops@northwind-saas.com"]},
}

# An OpenID Connect identity provider for the HTTPS listener (tests/test_auth.py).
OIDC: dict[str, Any] = {
    "issuer": "https://idp.example.com",
    "authorizationEndpoint": "https://idp.example.com/authorize",
    "tokenEndpoint": "https://idp.example.com/token",
    "userInfoEndpoint": "https://idp.example.com/userinfo",
    "clientId": "groundwork-prod",
    "clientSecret": {"secure": "v1:ciphertext"},
}

# prod at growth with scaling switches (tests/test_scaling.py), RUM settings (tests/test_rum.py)
# and OIDC authentication on the HTTPS listener (tests/test_auth.py) changed: independent
# groups, one recording. Scaling sets the ASG's policies; RUM its app monitor, identity pool
# and log group; auth the listener's actions, the load balancer's egress to the IdP and the
# app's `auth` config (its client secret, this variant's only secret). None reads another's.
GROWTH_ALTERED: dict[str, Any] = {
    "groundwork:scaling": {
        "predictive": False,
        "requestsPerTarget": 600,
        "schedulingBufferSeconds": 600,
    },
    "groundwork:rum": {"sessionSampleRate": 0.05, "allowCookies": True, "logRetentionDays": 90},
    "groundwork:auth": {"oidc": OIDC},
}


# ---- the settings load alone ----------------------------------------------------------------

# A program that only loads the settings (tests/programs/settings_only): what a config does
# to a dry run (warnings) or an update (a refusal), without building the platform.
SETTINGS_ONLY = ROOT / "tests" / "programs" / "settings_only"


@pytest.fixture
def load_variant(tmp_path: Path) -> Callable[..., Recording]:
    """`settings.load()` under the Pulumi runtime for a variant of a shipped stack: a Recording
    whose warnings are the dry run's, or the ProgramError a real update raises."""

    def run(stack: str, overrides: dict[str, Any], *, preview: bool = False) -> Recording:
        path = write_stack_file(tmp_path, stack, overrides)
        return record(stack, project_dir=SETTINGS_ONLY, stack_file=path, preview=preview)

    return run


# ---- AWS: a moto server over real HTTP ------------------------------------------------------


def fake_aws_env(
    monkeypatch: pytest.MonkeyPatch, scratch: Path, *, endpoint: str | None = None
) -> None:
    """Fake credentials and the test region, set the standard way, and nothing from the host
    (no AWS_* variable, no config or credentials file). With `endpoint`, every boto3 client
    goes there (AWS_ENDPOINT_URL); without it, code under test must be given the endpoint."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", AWS_TEST_REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", AWS_TEST_REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(scratch / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(scratch / "no-aws-credentials"))
    if endpoint is not None:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The endpoint URL of a moto server on 127.0.0.1 (a free port), one per test process."""
    # Imported here: only the processes that run AWS-facing tests pay for moto's import.
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # One INFO line per request otherwise lands in every captured test log.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_server: str) -> str:
    """boto3 pointed at the moto server with fake credentials and the test region."""
    fake_aws_env(monkeypatch, tmp_path, endpoint=moto_server)
    return moto_server
