"""Fixtures for the policy-pack tests: one pack process per stack config for the whole session.

Tests send hand-built resources through the real Analyzer protocol (offline.analyzer) with
policies/config/prod.json as the base policy config, overriding per case.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
def packs() -> Iterator[Callable[..., PolicyPackProcess]]:
    """Factory: a started pack for stack config overrides, one process per distinct config."""
    started: dict[str, PolicyPackProcess] = {}

    def get(**overrides: str | None) -> PolicyPackProcess:
        values = {**BASE_STACK, **overrides}
        values = {k: v for k, v in values.items() if v is not None}
        key = json.dumps(values, sort_keys=True)
        if key not in started:
            started[key] = PolicyPackProcess(stack_config(values)).__enter__()
        return started[key]

    yield get
    for pack in started.values():
        pack.close()


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
