"""Settings: the shipped stacks parse; every kind of bad input stops the program before it
registers anything, with one message naming each full key, its value and what is allowed."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import settings
from offline.recorder import ProgramError
from tests.cli import run_offline
from tests.conftest import ROOT, shipped_stack_config, stack_config, write_stack_file


def flat(config: dict[str, Any]) -> dict[str, str]:
    import json

    return {
        k if ":" in k else f"groundwork:{k}": v if isinstance(v, str) else json.dumps(v)
        for k, v in config.items()
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_parse(stack: str) -> None:
    s = settings.load_stack_file(stack, ROOT)
    assert s.stack == stack and s.region == "eu-west-1"
    assert s.default_tags["Environment"] == stack


def test_prod_is_safe_and_dev_is_cheap() -> None:
    prod = settings.load_stack_file("prod", ROOT)
    dev = settings.load_stack_file("dev", ROOT)
    assert prod.network.availability_zones == 3 and prod.network.nat_gateways == "perAz"
    assert prod.database.multi_az and prod.database.deletion_protection
    assert prod.backups.lock_mode == "COMPLIANCE" and prod.protect
    assert dev.network.nat_gateways == "single" and not dev.database.multi_az
    assert not dev.protect and dev.backups.lock_mode == "GOVERNANCE"


def test_defaults_are_the_safe_ones() -> None:
    s = settings.parse({"aws:region": "eu-west-1"}, project="groundwork", stack="x")
    assert s.phase == "early" and s.protect is True
    assert s.database.deletion_protection and s.database.final_snapshot and s.database.multi_az
    assert (
        s.backups.lock_mode == "COMPLIANCE" and s.backups.expire_after_days >= s.backups.lock_days
    )
    assert s.hosting.deletion_protection and s.rum.allow_cookies is False
    assert s.pipeline.require_approval is True


BAD_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("unknown-phase", {"groundwork:phase": "beta"}, ["groundwork:phase", "'beta'", "early"]),
    (
        "min-over-max",
        {"groundwork:hosting": {"minSize": 5, "maxSize": 3}},
        ["groundwork:hosting.minSize must be <= maxSize (got 5 > 3)"],
    ),
    (
        "negative-size",
        {"groundwork:hosting": {"minSize": -1}},
        ["groundwork:hosting.minSize", ">= 1", "-1"],
    ),
    (
        "absurd-size",
        {"groundwork:hosting": {"maxSize": 100000}},
        ["groundwork:hosting.maxSize", "<= 500"],
    ),
    (
        "absurd-storage",
        {"groundwork:database": {"allocatedStorageGb": 10}},
        ["groundwork:database.allocatedStorageGb", ">= 20"],
    ),
    (
        "cidr-unparsable",
        {"groundwork:network": {"cidr": "10.0.0.300/16"}},
        ["groundwork:network.cidr", "10.0.0.300/16"],
    ),
    (
        "cidr-too-small",
        {"groundwork:network": {"cidr": "10.0.0.0/25"}},
        ["groundwork:network.cidr", "too small", "/23"],
    ),
    (
        "cidr-public",
        {"groundwork:network": {"cidr": "8.8.0.0/16"}},
        ["groundwork:network.cidr", "private"],
    ),
    (
        "one-az",
        {"groundwork:network": {"availabilityZones": 1}},
        ["groundwork:network.availabilityZones", ">= 2"],
    ),
    (
        "seven-azs",
        {"groundwork:network": {"availabilityZones": 7}},
        ["groundwork:network.availabilityZones", "<= 6"],
    ),
    (
        "bad-nat",
        {"groundwork:network": {"natGateways": "many"}},
        ["groundwork:network.natGateways", "'perAz'"],
    ),
    (
        "log-retention",
        {"groundwork:logging": {"runtimeRetentionDays": 10}},
        ["groundwork:logging.runtimeRetentionDays", "CloudWatch Logs accepts", "got 10"],
    ),
    (
        "expire-before-lock",
        {"groundwork:backups": {"lockDays": 35, "expireAfterDays": 20, "coldAfterDays": 10}},
        ["groundwork:backups.expireAfterDays must be >= lockDays", "20 < 35"],
    ),
    (
        "lock-mode",
        {"groundwork:backups": {"lockMode": "STRICT"}},
        ["groundwork:backups.lockMode", "'STRICT'", "COMPLIANCE"],
    ),
    (
        "github-without-connection",
        {"groundwork:pipeline": {"source": "github", "repository": "acme/app"}},
        ["groundwork:pipeline.connectionArn is required when source is 'github'"],
    ),
    (
        "string-for-number",
        {"groundwork:hosting": {"maxSize": "12"}},
        ["groundwork:hosting.maxSize must be an integer", "'12'", "a string"],
    ),
    (
        "string-for-bool",
        {"groundwork:database": {"multiAz": "yes"}},
        ["groundwork:database.multiAz must be a boolean"],
    ),
    (
        "typo-inside-object",
        {"groundwork:hosting": {"minSzie": 2}},
        ["groundwork:hosting.minSzie is not a known key", "did you mean 'minSize'"],
    ),
    (
        "typo-top-level",
        {"groundwork:hostng": {"minSize": 2}},
        ["groundwork:hostng is not a known key"],
    ),
    ("object-expected", {"groundwork:database": "big"}, ["groundwork:database must be an object"]),
    (
        "domain-without-zone",
        {"groundwork:hosting": {"hostedZoneId": None}},
        ["groundwork:hosting.hostedZoneId is required with hosting.domainName"],
    ),
    (
        "zone-without-domain",
        {"groundwork:hosting": {"domainName": None}},
        ["groundwork:hosting.domainName is required with hosting.hostedZoneId"],
    ),
    (
        "domain-with-scheme",
        {"groundwork:hosting": {"domainName": "https://app.northwind-saas.com"}},
        ["groundwork:hosting.domainName"],
    ),
    ("bad-email", {"groundwork:alerts": {"emails": ["oncall"]}}, ["groundwork:alerts.emails[0]"]),
    (
        "rum-domain-missing",
        {
            "groundwork:phase": "pmf",
            "groundwork:rum": {"domain": None},
            "groundwork:hosting": {"domainName": None, "hostedZoneId": None},
        },
        ["groundwork:rum.domain is required"],
    ),
    (
        "replica-same-region",
        {"groundwork:database": {"backupReplicaRegion": "eu-west-1"}},
        ["groundwork:database.backupReplicaRegion must differ from aws:region"],
    ),
    ("no-region", {"aws:region": None}, ["aws:region is required"]),
]


@pytest.mark.parametrize(
    ("case", "overrides", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES]
)
def test_bad_input_stops_before_any_resource(record_variant, case, overrides, expected) -> None:
    with pytest.raises(ProgramError) as caught:
        record_variant("prod", overrides)
    message = str(caught.value)
    for fragment in expected:
        assert fragment in message, f"{case}: {fragment!r} not in:\n{message}"
    assert caught.value.registered == 0, f"{case}: resources were registered before the error"


def test_all_problems_reported_at_once() -> None:
    config = flat(stack_config("prod"))
    config["groundwork:phase"] = "beta"
    config["groundwork:backups"] = '{"lockMode": "STRICT"}'
    config["groundwork:hosting"] = '{"minSize": 5, "maxSize": 3}'
    with pytest.raises(settings.SettingsError) as caught:
        settings.parse(config, project="groundwork", stack="prod")
    assert len(caught.value.problems) == 3, caught.value.problems


def test_good_variant_still_parses() -> None:
    """The counterpart of the bad cases: a valid change to the same keys is accepted."""
    config = flat(stack_config("prod"))
    config["groundwork:hosting"] = '{"minSize": 3, "maxSize": 3, "cpuTarget": 40.5}'
    config["groundwork:pipeline"] = (
        '{"source": "github", "repository": "acme/app", "connectionArn": '
        '"arn:aws:codeconnections:eu-west-1:111122223333:connection/abc-123"}'
    )
    s = settings.parse(config, project="groundwork", stack="prod")
    assert s.hosting.min_size == s.hosting.max_size == 3 and s.pipeline.source == "github"


def test_cli_reports_bad_config_without_traceback(tmp_path, capsys) -> None:
    path = write_stack_file(tmp_path, "prod", {"groundwork:hosting": {"minSize": 50}})
    code, out, err = run_offline(["preview", "--stack", "prod", "--stack-file", str(path)], capsys)
    assert code == 1, out + err
    assert "groundwork:hosting.minSize must be <= maxSize (got 50 > 12)" in err
    assert "Traceback" not in err + out
    assert out == "", "nothing may be previewed for an invalid config"


def test_update_rules_are_data_and_name_full_keys() -> None:
    """Other concerns add a rule by adding one `UpdateRule` entry; each names its full key."""
    assert all(rule.key.startswith("groundwork:") for rule in settings.UPDATE_RULES)
    shipped = settings.parse(flat(shipped_stack_config("prod")), project="groundwork", stack="prod")
    completed = settings.parse(flat(stack_config("prod")), project="groundwork", stack="prod")
    assert [k for k, _ in settings.unsafe_for_update(shipped)] == [
        "groundwork:alerts.emails",
        "groundwork:hosting.domainName",
        "groundwork:hosting.hostedZoneId",
        "groundwork:backups.breakGlassRoleArn",
    ]
    assert settings.unsafe_for_update(completed) == []
    extra = settings.UpdateRule("groundwork:x.y", lambda s: s.protect, "is a test")
    # The rules live in settings.updates (settings re-exports them); adding one is one entry.
    original = settings.updates.UPDATE_RULES
    try:
        settings.updates.UPDATE_RULES = (*original, extra)
        assert ("groundwork:x.y", "is a test") in settings.unsafe_for_update(completed)
    finally:
        settings.updates.UPDATE_RULES = original
    message = settings.update_refusal("prod", settings.unsafe_for_update(shipped))
    assert message.count("\n  - ") == 4 and "groundwork:hosting.hostedZoneId" in message


def test_settings_does_not_depend_on_the_offline_engine() -> None:
    """Settings read stack files themselves (settings.stackfile); the offline engine reuses
    that reader through offline.stackfile, never the other way round."""
    code = (
        "import sys, settings\n"
        "settings.load_stack_file('dev', __import__('pathlib').Path('.'))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'offline'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", f"settings imported {out.stdout.strip()}"
    from offline import stackfile

    assert stackfile.load is settings.stackfile.load, "offline.stackfile must reuse the reader"
