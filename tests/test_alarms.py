"""Baseline alarms: every alarm acts through the alerts topic on ALARM and OK, states its
missing-data treatment and watches a resource that exists in the recording; thresholds come
from `groundwork:alarms`. The database alarms are checked on the shipped stacks' database.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

import settings
from components import alarms as alarms_component
from offline.model import Recording
from tests import checks
from tests.alarm_checks import (
    BASE_ROLES,
    DB_ROLES,
    alarm_problems,
    roles,
    unnamed_alarm_problems,
    unwatched_filter_problems,
)
from tests.conftest import DEV_ALTERED, stack_config
from tests.obs_helpers import (
    STACKS,
    replaced,
    value,
    with_props,
)

# ---- shipped stacks ----------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_alarm_notifies_and_watches_a_real_resource(stack: str, request: Any) -> None:
    assert alarm_problems(request.getfixturevalue(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_log_metric_feeds_an_alarm(stack: str, request: Any) -> None:
    assert unwatched_filter_problems(request.getfixturevalue(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_baseline_roles_exist_and_database_ones_when_there_is_a_database(
    stack: str, request: Any
) -> None:
    rec = request.getfixturevalue(stack)
    found = set(roles(rec))
    assert found >= BASE_ROLES, f"{stack}: missing alarms {BASE_ROLES - found}"
    if rec.of_type("aws:rds/instance:Instance"):
        assert found >= DB_ROLES, f"{stack}: database without alarms {DB_ROLES - found}"
    assert set(alarms_component.ROLLBACK_ROLES) <= found


@pytest.mark.parametrize("stack", STACKS)
def test_thresholds_come_from_settings(stack: str, request: Any) -> None:
    rec = request.getfixturevalue(stack)
    cfg = stack_config(stack)
    t = settings.Alarms.model_validate(cfg.get("groundwork:alarms", {}))
    by_role = roles(rec)
    assert value(by_role["asgBelowMin"], "threshold") == cfg["groundwork:hosting"]["minSize"]
    assert value(by_role["alb5xx"], "threshold") == t.alb_5xx_per_minute
    assert value(by_role["errorLogRate"], "threshold") == t.error_log_events_per_minute
    assert value(by_role["targetResponseTime"], "threshold") == t.target_response_time_seconds
    assert value(by_role["errorLogRate"], "evaluationPeriods") == t.evaluation_periods
    assert value(by_role["errorLogRate"], "datapointsToAlarm") == t.datapoints_to_alarm


def test_alarm_names_are_known_and_exported(prod: Recording) -> None:
    names = prod.outputs["alarmNames"]
    for role, name in names.items():
        assert name.startswith("groundwork-prod-"), f"alarm {role} is named {name}"
    assert set(names) == set(roles(prod)), "exported alarm names and recorded alarms differ"


def test_changed_thresholds_reach_the_alarms(record_variant: Any) -> None:
    # dev with other groups changed too (DEV_ALTERED): one recording for several files.
    assert DEV_ALTERED["groundwork:alarms"] == {"alb5xxPerMinute": 42, "errorLogEventsPerMinute": 7}
    rec = record_variant("dev", DEV_ALTERED)
    by_role = roles(rec)
    assert value(by_role["alb5xx"], "threshold") == 42
    assert value(by_role["errorLogRate"], "threshold") == 7


def test_settings_and_thresholds_have_the_same_fields() -> None:
    fields = {f.name for f in dataclasses.fields(alarms_component.Thresholds)}
    assert fields == set(settings.Alarms.model_fields), "settings.Alarms and Thresholds differ"


# ---- database and backup-job alarms ------------------------------------------------------


def test_database_alarms_watch_the_recorded_database(prod: Recording) -> None:
    assert alarm_problems(prod) == []
    found = set(roles(prod))
    assert found == BASE_ROLES | DB_ROLES, found
    db = prod.one("aws:rds/instance:Instance")
    for role in DB_ROLES:
        dims = value(roles(prod)[role], "dimensions")
        assert dims == {"DBInstanceIdentifier": value(db, "identifier")}, (role, dims)


def test_database_thresholds_are_in_the_metric_units() -> None:
    t = alarms_component.Thresholds(**settings.Alarms().model_dump())
    args = alarms_component.BaselineAlarmsArgs(
        topic_arn="arn:aws:sns:eu-west-1:123456789012:t",
        alb_arn_suffix="app/a/1",
        target_group_arn_suffix="targetgroup/t/1",
        asg_name="asg",
        asg_min_size=2,
        log_metric_namespace="groundwork/t",
        error_log_metric_name="ErrorLogEvents",
        thresholds=t,
        name_prefix="groundwork-t",
        database_identifier="db-1",
    )
    specs = {s.role: s for s in alarms_component.alarm_specs(args)}
    assert specs["dbFreeStorage"].threshold == t.db_free_storage_gb * 1024**3
    assert specs["dbFreeableMemory"].threshold == t.db_freeable_memory_mb * 1024**2
    assert specs["dbCpu"].comparison == "GreaterThanThreshold"
    assert specs["dbFreeStorage"].comparison == "LessThanThreshold"
    assert all(specs[r].treat_missing_data == "missing" for r in DB_ROLES)
    without = alarms_component.alarm_specs(dataclasses.replace(args, database_identifier=None))
    assert not DB_ROLES & {s.role for s in without}, "database alarms without a database"


def test_missing_data_follows_the_documented_rule() -> None:
    t = alarms_component.Thresholds(**settings.Alarms().model_dump())
    args = alarms_component.BaselineAlarmsArgs(
        "topic", "app/a/1", "targetgroup/t/1", "asg", 2, "ns", "ErrorLogEvents", t, "p",
        database_identifier="db",
    )  # fmt: skip
    for spec in alarms_component.alarm_specs(args):
        expected = {"asgBelowMin": "breaching"}.get(
            spec.role, "missing" if spec.role in DB_ROLES else "notBreaching"
        )
        assert spec.treat_missing_data == expected, spec.role


# ---- failing counterparts ----------------------------------------------------------------


def test_an_alarm_without_ok_action_or_missing_data_is_reported(prod: Recording) -> None:
    alarm = roles(prod)["alb5xx"]
    broken = replaced(prod, alarm.urn, lambda r: with_props(r, okActions=[], treatMissingData=None))
    found = alarm_problems(broken)
    assert any("okActions" in p and alarm.urn in p for p in found), found
    assert any("treatMissingData" in p and alarm.urn in p for p in found), found
    elsewhere = replaced(
        prod,
        alarm.urn,
        lambda r: with_props(r, alarmActions=["arn:aws:sns:eu-west-1:123456789012:other"]),
    )
    assert any("alarmActions" in p for p in alarm_problems(elsewhere))


def test_an_alarm_on_a_resource_that_does_not_exist_is_reported(prod: Recording) -> None:
    alarm = roles(prod)["dbCpu"]
    ghost = replaced(
        prod, alarm.urn, lambda r: with_props(r, dimensions={"DBInstanceIdentifier": "ghost"})
    )
    assert any("DBInstanceIdentifier=ghost" in p for p in alarm_problems(ghost))
    five = roles(prod)["alb5xx"]
    queries = json.loads(json.dumps(value(five, "metricQueries")))
    queries[0]["metric"]["dimensions"] = {"LoadBalancer": "app/other/1"}
    other = replaced(prod, five.urn, lambda r: with_props(r, metricQueries=queries))
    assert any("LoadBalancer=app/other/1" in p for p in alarm_problems(other))


def test_an_error_rate_alarm_on_an_unpublished_metric_is_reported(prod: Recording) -> None:
    alarm = roles(prod)["errorLogRate"]
    queries = json.loads(json.dumps(value(alarm, "metricQueries")))
    queries[0]["metric"]["metricName"] = "ErrorEvents"
    renamed = replaced(prod, alarm.urn, lambda r: with_props(r, metricQueries=queries))
    found = alarm_problems(renamed)
    assert any("ErrorEvents" in p for p in found), found
    assert any("ErrorLogEvents feeds no alarm" in p for p in unwatched_filter_problems(renamed))


def test_a_filter_no_alarm_reads_is_reported(prod: Recording) -> None:
    alarm = roles(prod)["errorLogRate"]
    found = unwatched_filter_problems(replaced(prod, alarm.urn, lambda r: None))
    assert len(found) == 2, found


def test_bad_alarm_settings_are_reported_with_their_keys() -> None:
    with pytest.raises(settings.SettingsError) as err:
        settings.parse(
            {
                "aws:region": "eu-west-1",
                "groundwork:alarms": json.dumps(
                    {"evaluationPeriods": 2, "datapointsToAlarm": 3, "dbFreeStorageGb": 50}
                ),
                "groundwork:database": json.dumps({"allocatedStorageGb": 20}),
            },
            project="groundwork",
            stack="t",
        )
    text = str(err.value)
    assert "groundwork:alarms.datapointsToAlarm must be <= evaluationPeriods (got 3 > 2)" in text
    assert "groundwork:alarms.dbFreeStorageGb must be < groundwork:database.allocatedStorageGb" in (
        text
    )
    with pytest.raises(settings.SettingsError) as err:
        settings.parse(
            {"aws:region": "eu-west-1", "groundwork:alarms": json.dumps({"alb5xxPerMin": 3})},
            project="groundwork",
            stack="t",
        )
    assert "groundwork:alarms.alb5xxPerMin is not a known key" in str(err.value)
    assert "did you mean 'alb5xxPerMinute'" in str(err.value)


def test_every_alarm_has_an_explicit_name(
    dev: Recording, prod: Recording, phase_variant: Any
) -> None:
    growth = phase_variant("prod", "growth")
    for rec in (dev, prod, growth):
        assert unnamed_alarm_problems(rec) == []
    alarm = growth.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")[0]
    broken = checks.replace_inputs(growth, alarm.urn, lambda inputs: inputs.pop("name"))
    assert any(alarm.urn in p for p in unnamed_alarm_problems(broken))
