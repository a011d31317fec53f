"""Unit tests of the pure rule functions and of the pack's generated data, without the protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.rules import hosting, security, storage
from policies.rules.base import PolicyConfigError, StackSettings, parse_exemptions
from policies.rules.catalog import CATALOG
from policies.rules.props import UNKNOWN, Resource, as_bool, get, statements
from policies.rules.taggable_gen import generate

ROOT = Path(__file__).resolve().parents[2]
NONE = StackSettings()


def r(type_: str, **props: object) -> Resource:
    return Resource(type_, f"urn:pulumi:s::p::{type_}::x", "x", props)


@pytest.mark.parametrize(
    "value,expected",
    [(True, True), ("true", True), ("FALSE", False), (UNKNOWN, None), (None, None), ("yes", None)],
)
def test_as_bool_accepts_string_booleans(value: object, expected: bool | None) -> None:
    assert as_bool(value) is expected, f"as_bool({value!r})"


def test_get_stops_at_unknowns_and_missing() -> None:
    props = {"a": {"b": UNKNOWN}, "c": None}
    assert get(props, "a", "b", "deeper") == UNKNOWN
    assert not get(props, "c") and not get(props, "nope", "x")


def test_statements_accepts_string_object_and_single_statement() -> None:
    one = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    assert statements({"Statement": one}) == [one]
    assert statements('{"Statement": [{"Effect": "Deny"}]}') == [{"Effect": "Deny"}]
    assert statements(UNKNOWN) == UNKNOWN
    assert statements("not json") == []


def test_asg_zone_count_uses_subnets_over_zones() -> None:
    group = r(hosting.ASG, vpcZoneIdentifiers=["a", "b", "c"], availabilityZones=["z"])
    assert not hosting.asg_availability_zones([group], {"minAvailabilityZones": 3}, NONE)
    assert hosting.asg_availability_zones([group], {"minAvailabilityZones": 4}, NONE)


def test_iam_allow_star_with_resource_list_containing_star() -> None:
    doc = {"Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": ["arn:x", "*"]}]}
    [finding] = security.iam_no_wildcard_admin(r("aws:iam/policy:Policy", policy=doc), {}, NONE)
    assert "full admin" in finding.message


def test_tls_condition_with_bool_if_exists_and_boolean_false() -> None:
    stmt = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "*",
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:SecureTransport": False}},
    }
    arn = "arn:aws:s3:::b"
    assert storage._denies_insecure_transport(stmt, arn) is True
    assert storage._denies_insecure_transport({**stmt, "Action": "s3:GetObject"}, arn) is False


def test_stack_settings_from_config() -> None:
    st = StackSettings.from_config(
        {
            "aws:defaultTags": '{"tags": {"Project": "g"}}',
            "groundwork:phase": "pmf",
            "groundwork:rum": '{"allowCookies": true}',
            "groundwork:analytics": '{"retentionDays": 30}',
        },
        project="groundwork",
    )
    assert (st.default_tags, st.phase, st.rum_allow_cookies, st.analytics_retention_days) == (
        {"Project": "g"},
        "pmf",
        True,
        30,
    )


def test_exemption_parsing_errors_name_the_entry() -> None:
    with pytest.raises(PolicyConfigError, match=r"p\.exemptions\[1\]\.expires"):
        parse_exemptions(
            "p",
            [
                {"urn": "a", "reason": "a good reason", "expires": "2030-01-01"},
                {"urn": "b", "reason": "a good reason", "expires": "soon"},
            ],
        )


def test_catalog_conventions() -> None:
    for spec in CATALOG:
        assert spec.name == spec.name.lower() and " " not in spec.name, f"{spec.name}: kebab-case"
        assert spec.description.endswith(".") and spec.description.count(". ") == 0, (
            f"{spec.name}: one sentence"
        )
        assert spec.remediation and spec.unknowns and spec.reads, (
            f"{spec.name}: remediation/unknowns/reads"
        )
        assert spec.level in ("advisory", "mandatory"), f"{spec.name}: explicit level"
        assert (spec.kind == "resource") == bool(spec.types), (
            f"{spec.name}: resource policies list types"
        )


def test_docs_describe_every_policy() -> None:
    text = (ROOT / "docs" / "policies.md").read_text()
    missing = [s.name for s in CATALOG if f"### `{s.name}`" not in text]
    assert not missing, f"docs/policies.md lacks sections for {missing}"


def test_taggable_types_match_installed_pulumi_aws() -> None:
    listed = [
        line
        for line in (ROOT / "policies" / "rules" / "taggable_types.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert listed == generate(), (
        "regenerate: python -m policies.rules.taggable_gen > policies/rules/taggable_types.txt"
    )
