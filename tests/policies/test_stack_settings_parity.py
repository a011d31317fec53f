"""The pack's own stack-config reader agrees with the program's settings.

The policy pack runs in its own virtualenv (pulumi and pulumi-policy only), so it cannot
import `settings` and keeps a small reader of its own (`policies/rules/base.StackSettings`).
This test holds the two together: for the shipped stacks and for variants that move every
value the pack reads, each field the pack reads equals what `settings.parse` made of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import settings
from offline import stackfile
from policies.rules import observability
from policies.rules.base import StackSettings
from tests.conftest import ROOT, write_stack_file

# Each field of the pack's StackSettings, as the program's settings hold it.
PROGRAM_VIEW: dict[str, Callable[[Any], Any]] = {
    "default_tags": lambda s: dict(s.default_tags),
    "phase": lambda s: s.phase,
    "rum_allow_cookies": lambda s: s.rum.allow_cookies,
    "analytics_retention_days": lambda s: s.analytics.retention_days,
    "region": lambda s: s.region,
    "monthly_budget_usd": lambda s: s.cost.monthly_budget_usd,
}
NOT_FROM_CONFIG = {"project", "stack"}

VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("dev", {}),
    ("prod", {}),
    ("prod", {"groundwork:phase": "growth", "groundwork:rum": {"allowCookies": True}}),
    ("dev", {"groundwork:phase": "pmf", "groundwork:analytics": {"retentionDays": 400}}),
    ("dev", {"aws:defaultTags": {"tags": {"Project": "x", "Environment": "dev", "Cost": "y"}}}),
    ("dev", {"aws:region": "eu-central-1", "groundwork:cost": {"monthlyBudgetUsd": 150.5}}),
    ("dev", {"groundwork:cost": None}),
]


def parity_problems(
    values: Mapping[str, str], project: str, stack: str, reader: Callable[..., StackSettings]
) -> list[str]:
    program = settings.parse(values, project=project, stack=stack)
    pack = reader(values, project=project, stack=stack)
    return [
        f"{stack}: pack reads {name}={getattr(pack, name)!r}, program has {view(program)!r}"
        for name, view in PROGRAM_VIEW.items()
        if getattr(pack, name) != view(program)
    ]


def test_every_pack_field_has_a_program_view() -> None:
    fields = {f.name for f in dataclasses.fields(StackSettings)} - NOT_FROM_CONFIG
    assert fields == set(PROGRAM_VIEW), (
        "policies/rules/base.StackSettings gained or lost a field: add its program view here"
    )


@pytest.mark.parametrize(("stack", "overrides"), VARIANTS)
def test_pack_reads_stack_config_as_the_program_does(
    tmp_path: Path, stack: str, overrides: dict[str, Any]
) -> None:
    config = stackfile.load(stack, ROOT, write_stack_file(tmp_path, stack, overrides))
    problems = parity_problems(config.values, config.project, stack, StackSettings.from_config)
    assert problems == []


def test_a_reader_that_drifts_is_caught(tmp_path: Path) -> None:
    overrides = {"groundwork:rum": {"allowCookies": True}}
    config = stackfile.load("prod", ROOT, write_stack_file(tmp_path, "prod", overrides))

    def drifted(values: Mapping[str, str], **kw: str) -> StackSettings:
        return dataclasses.replace(StackSettings.from_config(values, **kw), rum_allow_cookies=False)

    problems = parity_problems(config.values, config.project, "prod", drifted)
    assert problems and "rum_allow_cookies" in problems[0], problems


def test_the_pack_and_settings_reserve_the_same_domains() -> None:
    """The pack's reserved-domain list is the program's, and both decide alike."""
    assert observability.RESERVED_DOMAINS == settings.RESERVED_DOMAINS, (
        "policies/rules/observability.RESERVED_DOMAINS differs from settings.RESERVED_DOMAINS"
    )
    probes = ["example.com", "mail.EXAMPLE.org.", "corp.test", "notexample.com", "acme.io"]
    for domain in probes:
        assert observability.is_reserved_domain(domain) == settings.is_reserved_domain(domain), (
            f"the pack and settings disagree on whether {domain} is reserved"
        )
