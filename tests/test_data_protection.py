"""Data protection: the database, the backup vault and the logical backup job.

Each invariant is a check over a recording that returns its problems (naming the URN). The
shipped dev and prod recordings must have none; a deliberately broken copy of a recording
(one input changed, one resource removed) must be reported. Expected values come from the
raw `Pulumi.<stack>.yaml`, not from settings.py, so the stack is inspected independently of
the code that built it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import settings
from components import backup_job, backup_vault, database, windows
from offline import stackfile
from offline.model import RecordedResource, Recording, is_unknown, plain
from tests.conftest import DEV_ALTERED, ROOT
from tests.data_protection_checks import (
    INGRESS,
    LIFECYCLE,
    LOCK,
    OBJECT,
    REPLICATION,
    alarm_problems,
    automated_backup_problems,
    availability_problems,
    credential_problems,
    deletion_guard_problems,
    engine_problems,
    expected,
    ingress_problems,
    job_project,
    job_role_problems,
    job_runtime_problems,
    log_export_problems,
    network_problems,
    observability_problems,
    output_problems,
    parameter_problems,
    replica_problems,
    schedule_problems,
    storage_problems,
    the_instance,
    vault_access_problems,
    vault_bucket,
    vault_encryption_problems,
    vault_lifecycle_problems,
    vault_lock_problems,
)
from tests.recording_queries import companions, deps

Check = Callable[[Recording, dict[str, Any]], list[str]]


CHECKS: dict[str, Check] = {
    "engine": engine_problems,
    "storage": storage_problems,
    "automated-backups": automated_backup_problems,
    "deletion-guards": deletion_guard_problems,
    "availability": availability_problems,
    "observability": observability_problems,
    "log-exports": log_export_problems,
    "credentials": credential_problems,
    "parameters": parameter_problems,
    "network": network_problems,
    "ingress": ingress_problems,
    "replica": replica_problems,
    "vault-lock": vault_lock_problems,
    "vault-encryption": vault_encryption_problems,
    "vault-access": vault_access_problems,
    "vault-lifecycle": vault_lifecycle_problems,
    "job-role": job_role_problems,
    "schedule": schedule_problems,
    "alarms": alarm_problems,
    "job-runtime": job_runtime_problems,
    "outputs": output_problems,
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
def test_shipped_stacks_hold(stack: str, check: str, request: pytest.FixtureRequest) -> None:
    rec = request.getfixturevalue(stack)
    assert CHECKS[check](rec, expected(stack)) == []


# ---- broken copies: every check must notice -----------------------------------------------


def edit(
    rec: Recording, name: str, change: Callable[[dict[str, Any]], None] | None = None, **fields: Any
) -> Recording:
    """A copy of `rec` whose resource `name` has `change` applied to its (plain) inputs."""
    hits = [r for r in rec if r.name == name]
    assert len(hits) == 1, f"no single resource {name} in {rec.stack}"

    def patched(r: RecordedResource) -> RecordedResource:
        if r.name != name:
            return r
        inputs = copy.deepcopy(plain(r.inputs))
        if change is not None:
            change(inputs)
        return dataclasses.replace(r, inputs=inputs, **fields)

    return dataclasses.replace(rec, resources=[patched(r) for r in rec])


def drop(rec: Recording, name: str) -> Recording:
    assert any(r.name == name for r in rec), f"no resource {name} in {rec.stack}"
    return dataclasses.replace(rec, resources=[r for r in rec if r.name != name])


def setter(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(inputs: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = inputs
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if value is _REMOVE:
            node.pop(last, None)
        else:
            node[last] = value

    return apply


_REMOVE = object()


def rewrite_policy(fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(inputs: dict[str, Any]) -> None:
        doc = json.loads(inputs["policy"])
        fn(doc)
        inputs["policy"] = json.dumps(doc)

    return apply


def _widen_put(doc: dict[str, Any]) -> None:
    for s in doc["Statement"]:
        if "s3:PutObject" in s["Action"]:
            s["Resource"] = [r.replace("/postgres/app/*", "/*") for r in s["Resource"]]


def _admin(doc: dict[str, Any]) -> None:
    doc["Statement"].append({"Effect": "Allow", "Action": "*", "Resource": "*"})


def _connect_as_anyone(doc: dict[str, Any]) -> None:
    for stmt in doc["Statement"]:
        if stmt.get("Sid") == "ConnectAsBackupUser":
            stmt["Resource"] = [stmt["Resource"][0].rsplit("/", 1)[0] + "/*"]


def _reads_secret(doc: dict[str, Any]) -> None:
    secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!groundwork-prod-db"
    doc["Statement"].append(
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [secret]}
    )


def _master_env(inputs: dict[str, Any]) -> None:
    inputs["environment"]["environmentVariables"].append(
        {"name": "DB_SECRET_ARN", "value": "arn:aws:secretsmanager:x", "type": "PLAINTEXT"}
    )


def _unconditional_key(sid: str) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        for s in doc["Statement"]:
            if s.get("Sid") == sid:
                s.pop("Condition")

    return apply


def _absolute(inputs: dict[str, Any]) -> None:
    inputs["source"]["assets"]["ops/__init__.py"]["path"] = "/home/someone/groundwork/ops"


def _extra_ingress(rec: Recording) -> Recording:
    rule = next(r for r in rec.of_type(INGRESS) if r.name == "database-in-web")
    wide = dataclasses.replace(
        rule,
        name="database-in-anywhere",
        urn=rule.urn.replace("database-in-web", "database-in-anywhere"),
        inputs={**plain(rule.inputs), "cidrIpv4": "0.0.0.0/0"},
        property_dependencies={"securityGroupId": deps(rule, "securityGroupId")},
    )
    return dataclasses.replace(rec, resources=[*rec.resources, wide])


Breaker = Callable[[Recording], Recording]


def set_input(name: str, path: str, value: Any) -> Breaker:
    return lambda rec: edit(rec, name, setter(path, value))


def unprotect(name: str) -> Breaker:
    return lambda rec: edit(rec, name, protect=False)


def without(name: str) -> Breaker:
    return lambda rec: drop(rec, name)


def policy_of(name: str, fn: Callable[[dict[str, Any]], None]) -> Breaker:
    return lambda rec: edit(rec, name, rewrite_policy(fn))


DB, SSE_RULE = "database-instance", "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm"
# case -> (check that must notice, how the copy is broken)
BROKEN: dict[str, tuple[str, Breaker]] = {
    "engine-version": ("engine", set_input(DB, "engineVersion", "15")),
    "unencrypted": ("storage", set_input(DB, "storageEncrypted", False)),
    "key-not-rotated": ("storage", set_input("database-key", "enableKeyRotation", False)),
    "gp2": ("storage", set_input(DB, "storageType", "gp2")),
    "no-autoscaling": ("storage", set_input(DB, "maxAllocatedStorage", _REMOVE)),
    "retention": ("automated-backups", set_input(DB, "backupRetentionPeriod", 1)),
    "windows-overlap": ("automated-backups", set_input(DB, "backupWindow", "04:15-04:45")),
    "tags-not-copied": ("automated-backups", set_input(DB, "copyTagsToSnapshot", False)),
    "backups-deleted": ("automated-backups", set_input(DB, "deleteAutomatedBackups", _REMOVE)),
    "no-deletion-protection": ("deletion-guards", set_input(DB, "deletionProtection", False)),
    "not-protected": ("deletion-guards", unprotect(DB)),
    "no-final-snapshot": ("deletion-guards", set_input(DB, "skipFinalSnapshot", True)),
    "single-az": ("availability", set_input(DB, "multiAz", False)),
    "no-insights": ("observability", set_input(DB, "performanceInsightsEnabled", False)),
    "no-monitoring": ("observability", set_input(DB, "monitoringInterval", 0)),
    "no-log-group": ("log-exports", without("database-log-postgresql")),
    "log-kept-forever": ("log-exports", set_input("database-log-upgrade", "retentionInDays", 0)),
    "password-in-state": ("credentials", set_input(DB, "password", "hunter2hunter2")),
    "own-password": ("credentials", set_input(DB, "manageMasterUserPassword", False)),
    "no-iam-auth": ("credentials", set_input(DB, "iamDatabaseAuthenticationEnabled", False)),
    "tls-optional": ("parameters", set_input("database-params", "parameters.2.value", "0")),
    "public": ("network", set_input(DB, "publiclyAccessible", True)),
    "open-ingress": ("ingress", _extra_ingress),
    "no-replica": ("replica", without("database-backup-replication")),
    "replica-home-region": ("replica", set_input("database-replica-region", "region", "eu-west-1")),
    "no-lock": ("vault-lock", set_input("vault-bucket", "objectLockEnabled", False)),
    "governance": (
        "vault-lock",
        set_input("vault-bucket-lock", "rule.defaultRetention.mode", "GOVERNANCE"),
    ),
    "short-lock": ("vault-lock", set_input("vault-bucket-lock", "rule.defaultRetention.days", 1)),
    "unversioned": ("vault-lock", without("vault-bucket-versioning")),
    "sse-s3": ("vault-encryption", set_input("vault-bucket-encryption", SSE_RULE, "AES256")),
    "no-bucket-key": (
        "vault-encryption",
        set_input("vault-bucket-encryption", "rules.0.bucketKeyEnabled", False),
    ),
    "public-acls": (
        "vault-access",
        set_input("vault-bucket-public-access", "ignorePublicAcls", False),
    ),
    "acls-on": (
        "vault-access",
        set_input("vault-bucket-ownership", "rule.objectOwnership", "ObjectWriter"),
    ),
    "plain-http": ("vault-access", without("vault-bucket-policy")),
    "vault-unprotected": ("vault-access", unprotect("vault-bucket")),
    "expire-while-locked": (
        "vault-lifecycle",
        set_input("vault-bucket-lifecycle", "rules.0.expiration.days", 10),
    ),
    "cold-after-expiry": (
        "vault-lifecycle",
        set_input("vault-bucket-lifecycle", "rules.0.transitions.0.days", 500),
    ),
    "keep-noncurrent": (
        "vault-lifecycle",
        set_input("vault-bucket-lifecycle", "rules.0.noncurrentVersionExpiration", _REMOVE),
    ),
    "put-anywhere": ("job-role", policy_of("backup-job-policy", _widen_put)),
    "admin": ("job-role", policy_of("backup-job-policy", _admin)),
    "reads-master-secret": ("job-role", policy_of("backup-job-policy", _reads_secret)),
    "connects-as-anyone": ("job-role", policy_of("backup-job-policy", _connect_as_anyone)),
    "vault-key-directly": (
        "job-role",
        policy_of("backup-job-policy", _unconditional_key("UseVaultKey")),
    ),
    "other-schedule": (
        "schedule",
        set_input("backup-job-schedule", "scheduleExpression", "rate(7 days)"),
    ),
    "other-target": (
        "schedule",
        set_input("backup-job-schedule", "target.arn", "arn:aws:sqs:eu-west-1:123456789012:q"),
    ),
    "scheduler-admin": ("schedule", policy_of("backup-job-scheduler-policy", _admin)),
    "silent-failure": ("alarms", set_input("backup-job-failed", "alarmActions", [])),
    "no-missed-alarm": ("alarms", without("backup-job-missed")),
    "missing-is-fine": (
        "alarms",
        set_input("backup-job-missed", "treatMissingData", "notBreaching"),
    ),
    "privileged": (
        "job-runtime",
        set_input("backup-job-project", "environment.privilegedMode", True),
    ),
    "absolute-source": ("job-runtime", lambda rec: edit(rec, "backup-job-source-code", _absolute)),
    "master-secret-env": ("job-runtime", lambda rec: edit(rec, "backup-job-project", _master_env)),
    "password-env": (
        "job-runtime",
        set_input("backup-job-project", "environment.environmentVariables.0.name", "PGPASSWORD"),
    ),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_copies_are_reported(case: str, prod: Recording) -> None:
    check, breaker = BROKEN[case]
    assert CHECKS[check](prod, expected("prod")) == [], f"{check} fails on the shipped prod"
    assert CHECKS[check](breaker(prod), expected("prod")), f"{check} misses {case}"


def test_every_check_has_a_failing_counterpart() -> None:
    covered = {check for check, _ in BROKEN.values()} | {"outputs"}
    assert covered == set(CHECKS), f"checks without a broken case: {set(CHECKS) - covered}"


def test_outputs_must_match_the_resources(prod: Recording) -> None:
    broken = dataclasses.replace(prod, outputs={**prod.outputs, "backupJobName": "other"})
    assert output_problems(broken, expected("prod"))


def test_checks_follow_the_stack_file(dev: Recording, prod: Recording) -> None:
    """The same recording fails against the other stack's expectations."""
    for name in ("deletion-guards", "availability", "vault-lock", "replica"):
        assert CHECKS[name](prod, expected("dev")), f"{name} passes prod against dev's config"
        assert CHECKS[name](dev, expected("prod")), f"{name} passes dev against prod's config"


# ---- prod, safe; dev, opted out -----------------------------------------------------------


def test_prod_is_safe(prod: Recording) -> None:
    db = the_instance(prod)
    assert db.input("deletionProtection") is True and db.protect is True, db.urn
    assert db.input("skipFinalSnapshot") is False, db.urn
    # Unique per database (a random suffix kept in state): tests/test_day_one.py.
    assert db.input("finalSnapshotIdentifier").startswith("groundwork-prod-db-final-"), db.urn
    assert db.input("multiAz") is True, db.urn
    lock = companions(prod, vault_bucket(prod), LOCK)[0]
    assert lock.input("rule", "defaultRetention", "mode") == "COMPLIANCE", lock.urn
    assert prod.of_type(REPLICATION), f"{prod.stack}: no backup replication"


def test_dev_opt_outs_show(dev: Recording) -> None:
    db = the_instance(dev)
    assert db.input("deletionProtection") is False and not db.protect, db.urn
    assert db.input("skipFinalSnapshot") is True, db.urn
    assert db.input("finalSnapshotIdentifier") is None, db.urn
    assert db.input("multiAz") is False, db.urn
    assert not dev.of_type(REPLICATION), f"{dev.stack}: replicates backups without a region"
    lock = companions(dev, vault_bucket(dev), LOCK)[0]
    assert lock.input("rule", "defaultRetention") == {"mode": "GOVERNANCE", "days": 1}, lock.urn
    assert not vault_bucket(dev).protect, vault_bucket(dev).urn


def test_protect_follows_deletion_protection_not_groundwork_protect(record_variant: Any) -> None:
    """dev with deletion protection on: the instance is protected although groundwork:protect
    is false; the vault, which follows groundwork:protect, is not."""
    # dev with other groups changed too (DEV_ALTERED): one recording for several files.
    assert DEV_ALTERED["groundwork:database"]["deletionProtection"] is True
    assert "groundwork:protect" not in DEV_ALTERED, "dev's groundwork:protect (false) stays"
    rec = record_variant("dev", DEV_ALTERED)
    db = the_instance(rec)
    assert db.protect is True and db.input("deletionProtection") is True, db.urn
    assert not vault_bucket(rec).protect, vault_bucket(rec).urn


def test_prod_preview_decides_the_guards(prod_preview: Recording) -> None:
    """The values the policy pack reads are known at preview, not left to the apply."""
    db = the_instance(prod_preview)
    for key in (
        "storageEncrypted", "publiclyAccessible", "deletionProtection", "skipFinalSnapshot",
        "multiAz", "backupRetentionPeriod", "copyTagsToSnapshot",
        "deleteAutomatedBackups", "performanceInsightsEnabled", "manageMasterUserPassword",
    ):  # fmt: skip
        assert not is_unknown(db.input(key)) and db.input(key) is not None, f"{db.urn} {key}"
    # The final snapshot's name carries a random suffix, unknown only in the preview of the
    # create (the rule accepts an unknown name; skipFinalSnapshot above is what it decides).
    assert db.input("finalSnapshotIdentifier") is not None, db.urn
    bucket = vault_bucket(prod_preview)
    assert bucket.input("objectLockEnabled") is True, bucket.urn
    lock = companions(prod_preview, bucket, LOCK)[0]
    assert lock.input("rule", "defaultRetention") == {"mode": "COMPLIANCE", "days": 35}, lock.urn
    lifecycle = companions(prod_preview, bucket, LIFECYCLE)[0]
    assert not is_unknown(lifecycle.input("rules")), lifecycle.urn
    # Each deploy pins the build to the uploaded code's version (unknown until uploaded).
    project = job_project(prod_preview)
    pinned = [prod_preview.by_urn(u).type for u in deps(project, "sourceVersion")]
    assert pinned == [OBJECT], f"{project.urn}: sourceVersion is not the source object's"


# ---- pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backup", "maintenance", "shared"),
    [
        ("02:00-02:30", "sun:04:30-sun:05:00", 0),
        ("04:00-04:30", "sun:04:30-sun:05:00", 0),  # touching is not overlapping
        ("04:00-05:00", "sun:04:30-sun:05:00", 30),
        ("23:30-00:30", "sat:23:50-sun:00:20", 30),  # both wrap midnight
        ("23:30-00:30", "sun:23:45-mon:00:15", 30),  # the week wraps too
        ("10:00-11:00", "mon:09:00-wed:09:00", 120),  # a two-day window holds two backups
        ("12:00-12:30", "sat:13:00-sat:14:00", 0),
    ],
)
def test_window_overlap(backup: str, maintenance: str, shared: int) -> None:
    assert windows.overlap_minutes(backup, maintenance) == shared
    assert bool(windows.problems(backup, maintenance)) is bool(shared)


@pytest.mark.parametrize(
    ("backup", "maintenance", "fragment"),
    [
        ("02:00-02:20", "sun:04:30-sun:05:00", "lasts 20 minutes"),
        ("02:00-02:30", "sun:04:30-sun:04:40", "lasts 10 minutes"),
        ("24:00-00:30", "sun:04:30-sun:05:00", "does not exist"),
        ("2:00-2:30", "sun:04:30-sun:05:00", "not a daily window"),
        ("02:00-02:30", "sunday:04:30-sunday:05:00", "not a weekly window"),
        ("02:00-02:30", "Sun:04:30-Sun:05:00", "not a weekly window"),
    ],
)
def test_window_refused(backup: str, maintenance: str, fragment: str) -> None:
    problems = windows.problems(backup, maintenance)
    assert problems and fragment in problems[0], problems


def _parse(stack: str, overrides: dict[str, dict[str, Any]]) -> settings.Settings:
    values = dict(stackfile.load(stack, Path(ROOT)).values)
    for key, changes in overrides.items():
        values[key] = json.dumps({**json.loads(values[key]), **changes})
    return settings.parse(values, project="groundwork", stack=stack)


def test_settings_refuse_overlapping_windows() -> None:
    assert _parse("prod", {}).database.maintenance_window == "sun:04:30-sun:05:00"
    with pytest.raises(settings.SettingsError) as err:
        _parse("prod", {"groundwork:database": {"backupWindow": "04:00-05:00"}})
    assert "groundwork:database.maintenanceWindow must not overlap backupWindow" in str(err.value)


def test_settings_refuse_a_window_rds_refuses() -> None:
    with pytest.raises(settings.SettingsError) as err:
        _parse("dev", {"groundwork:database": {"backupWindow": "02:00-02:10"}})
    assert "groundwork:database.backupWindow is not accepted by RDS" in str(err.value)


def test_settings_refuse_a_missed_alarm_shorter_than_the_schedule() -> None:
    assert _parse("dev", {"groundwork:backups": {"schedule": "rate(1 day)"}})
    with pytest.raises(settings.SettingsError) as err:
        _parse("dev", {"groundwork:backups": {"schedule": "rate(2 days)"}})
    assert "groundwork:backups.maxBackupAgeHours must be longer" in str(err.value)
    assert _parse(
        "dev", {"groundwork:backups": {"schedule": "rate(2 days)", "maxBackupAgeHours": 50}}
    )


def test_settings_refuse_a_network_the_job_cannot_leave() -> None:
    with pytest.raises(settings.SettingsError) as err:
        _parse("dev", {"groundwork:network": {"natGateways": "none"}})
    assert "groundwork:network.natGateways must be 'single' or 'perAz'" in str(err.value)


def test_schedule_interval() -> None:
    assert settings.schedule_interval_hours("rate(30 minutes)") == 0.5
    assert settings.schedule_interval_hours("rate(1 day)") == 24
    assert settings.schedule_interval_hours("cron(0 3 * * ? *)") is None


@pytest.mark.parametrize(
    ("project", "stack", "identifier"),
    [
        ("groundwork", "prod", "groundwork-prod-db"),
        ("Groundwork", "Dev_EU", "groundwork-dev-eu-db"),
        ("9lives", "x", "db-9lives-x-db"),
        ("a" * 70, "prod", "a" * 63),
    ],
)
def test_db_identifier(project: str, stack: str, identifier: str) -> None:
    assert database.db_identifier(project, stack) == identifier
    assert re.match(r"^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$", identifier)


def test_vault_lifecycle_rules() -> None:
    assert (
        backup_vault.lifecycle_problems(lock_days=30, cold_after_days=30, expire_after_days=90)
        == []
    )
    assert backup_vault.lifecycle_problems(30, 90, 90)  # cold never happens
    assert backup_vault.lifecycle_problems(30, 7, 14)  # expires while locked


def test_job_ships_the_ops_package(tmp_path: Path) -> None:
    sources = backup_job.ops_sources(ROOT / "ops")
    assert "ops/__init__.py" in sources and all(k.startswith("ops/") for k in sources), sources
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "backup.py").write_text("")
    with pytest.raises(ValueError, match="not a Python package"):
        backup_job.ops_sources(tmp_path / "ops")


def test_buildspec_carries_no_secret() -> None:
    spec = json.loads(backup_job.buildspec("eu-west-1", backup_job.backup_command("b")))
    commands = [c for phase in spec["phases"].values() for c in phase["commands"]]
    assert "dnf install -y -q --setopt=gpgcheck=1 postgresql16" in commands
    assert any("eu-west-1-bundle.pem" in c for c in commands)
    assert not re.search(r"(?i)password|PGPASS", json.dumps(spec))
