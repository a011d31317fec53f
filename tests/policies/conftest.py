"""Fixtures for the policy-pack tests: started packs shared by the whole session.

Tests send hand-built resources through the real Analyzer protocol (offline.analyzer) with
policies/config/prod.json as the base policy config, overriding per case.

The base stack config goes to a pack started as the CLI starts one (stack config in
PULUMI_CONFIG, read at start-up), so every test on `pack` proves that path. A stack-config
variant is a view of one other started pack that takes its stack config from each
ConfigureStack request (the watch mode's switch, GROUNDWORK_STACK_CONFIG_SOURCE=request): the
same settings parser reads both, and a pack start per variant cost more CPU than the cases.
Tests about start-up itself (the memo switch, the shipped stack files) still start their own.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import pytest
from policy_builders import PROJECT, STACK, recording

from offline.analyzer import AnalysisResult, PolicyPackProcess, load_policy_config
from offline.model import RecordedResource
from offline.stackfile import StackConfig

ROOT = Path(__file__).resolve().parents[2]
PROD_CONFIG = load_policy_config(ROOT / "policies" / "config" / "prod.json")
DEV_CONFIG = load_policy_config(ROOT / "policies" / "config" / "dev.json")

BASE_STACK: dict[str, str] = {
    "aws:region": "eu-west-1",
    "aws:defaultTags": json.dumps(
        {"tags": {"Project": "groundwork", "Environment": "prod", "Owner": "platform"}}
    ),
    "groundwork:phase": "growth",
    "groundwork:rum": json.dumps(
        {"domain": "app.example.com", "sessionSampleRate": 0.1, "allowCookies": False}
    ),
    "groundwork:analytics": json.dumps({"retentionDays": 90}),
}


def stack_config(values: Mapping[str, str]) -> StackConfig:
    return StackConfig(PROJECT, STACK, dict(values), (), ROOT / f"Pulumi.{STACK}.yaml")


STACK_CONFIG_FROM_REQUEST = {"GROUNDWORK_STACK_CONFIG_SOURCE": "request"}


class StackView:
    """A shared started pack as seen by one stack config: before any use it sends the pack that
    config (ConfigureStack) if the pack last served another, so views may interleave."""

    def __init__(self, pack: PolicyPackProcess, config: StackConfig) -> None:
        self._pack = pack
        self._config = config

    def __getattr__(self, name: str) -> Any:
        if self._pack.stack_config != self._config:
            self._pack.configure_stack(self._config)
        return getattr(self._pack, name)


@pytest.fixture(scope="session")
def stack_packs() -> Iterator[Callable[..., PolicyPackProcess]]:
    """Factory: a view for any stack config of one reconfigurable pack per dry-run mode and
    extra start-up environment (such as the memo switch, read once at start)."""
    started: dict[tuple[bool, str], PolicyPackProcess] = {}

    def get(
        config: StackConfig, *, dry_run: bool = True, extra_env: Mapping[str, str] | None = None
    ) -> PolicyPackProcess:
        env = {**(extra_env or {}), **STACK_CONFIG_FROM_REQUEST}
        key = (dry_run, json.dumps(env, sort_keys=True))
        if key not in started:
            started[key] = PolicyPackProcess(config, dry_run=dry_run, extra_env=env).__enter__()
        return cast(PolicyPackProcess, StackView(started[key], config))

    yield get
    for pack in started.values():
        pack.close()


@pytest.fixture(scope="session")
def base_pack() -> Iterator[PolicyPackProcess]:
    """The base stack config, in PULUMI_CONFIG of a pack started as the CLI starts it."""
    with PolicyPackProcess(stack_config(BASE_STACK)) as pack:
        yield pack


@pytest.fixture(scope="session")
def packs(
    base_pack: PolicyPackProcess, stack_packs: Callable[..., PolicyPackProcess]
) -> Callable[..., PolicyPackProcess]:
    """Factory: a started pack for stack config overrides (None removes a key)."""

    def get(**overrides: str | None) -> PolicyPackProcess:
        if not overrides:
            return base_pack
        values = {**BASE_STACK, **overrides}
        return stack_packs(stack_config({k: v for k, v in values.items() if v is not None}))

    return get


@pytest.fixture(scope="session")
def pack(packs: Callable[..., PolicyPackProcess]) -> PolicyPackProcess:
    return packs()


def config_with(
    base: Mapping[str, Mapping[str, Any]], **policies: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """`base` with per-policy keys replaced (policy names use '_' for '-')."""
    out = copy.deepcopy({k: dict(v) for k, v in base.items()})
    for name, values in policies.items():
        out.setdefault(name.replace("_", "-"), {}).update(values)
    return out


def run(
    pack: PolicyPackProcess,
    resources: list[RecordedResource],
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> AnalysisResult:
    return pack.run(recording(*resources), PROD_CONFIG if config is None else config)


def undecided(result: AnalysisResult, policy: str, urn: str) -> list[Any]:
    return [v for v in result.of(policy, urn) if "during preview" in v.message]


def violations(result: AnalysisResult, policy: str, urn: str) -> list[Any]:
    return [v for v in result.of(policy, urn) if "during preview" not in v.message]
