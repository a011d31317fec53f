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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

import settings
from components import backup_job, backup_vault, database, windows
from offline import stackfile
from offline.model import RecordedResource, Recording, is_unknown, plain
from tests.conftest import DEV_ALTERED, ROOT, stack_config

RDS = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
KMS_KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SUBNET = "aws:ec2/subnet:Subnet"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
BUCKET = "aws:s3/bucket:Bucket"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
PROJECT = "aws:codebuild/project:Project"
SCHEDULE = "aws:scheduler/schedule:Schedule"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
PROVIDER = "pulumi:providers:aws"
JOB_COMPONENT = "groundwork:data:BackupJob"
VAULT_COMPONENT = "groundwork:data:BackupVault"

Check = Callable[[Recording, dict[str, Any]], list[str]]


# ---- reading a recording ------------------------------------------------------------------


def expected(stack: str) -> dict[str, Any]:
    """What the stack file asks for, read straight from YAML (defaults where it is silent)."""
    config = stack_config(stack)
    return {
        "db": config["groundwork:database"],
        "backups": config["groundwork:backups"],
        "protect": config.get("groundwork:protect", True),
        "project": "groundwork",
        "stack": stack,
    }


def deps(r: RecordedResource, key: str) -> tuple[str, ...]:
    return r.property_dependencies.get(key, ())


def linked(rec: Recording, r: RecordedResource, key: str, type_: str) -> list[RecordedResource]:
    """Resources of `type_` that input `key` of `r` was built from."""
    return [rec.by_urn(u) for u in deps(r, key) if rec.by_urn(u).type == type_]


def companions(rec: Recording, bucket: RecordedResource, type_: str) -> list[RecordedResource]:
    return [r for r in rec.of_type(type_) if bucket.urn in deps(r, "bucket")]


def the_instance(rec: Recording) -> RecordedResource:
    return rec.one(RDS)


def vault_bucket(rec: Recording) -> RecordedResource:
    """The primary vault bucket (the replica is the one on another region's provider)."""
    found = [b for b in rec.children_of(VAULT_COMPONENT, BUCKET) if not b.provider]
    assert len(found) == 1, f"expected one vault bucket in {rec.stack}, found {found}"
    return found[0]


def job_project(rec: Recording) -> RecordedResource:
    """The nightly backup project (the other one in the component is the role setup)."""
    found = [
        p
        for p in rec.children_of(JOB_COMPONENT, PROJECT)
        if "python -m ops.backup " in p.input("source", "buildspec", default="")
    ]
    assert len(found) == 1, f"expected one backup job project in {rec.stack}, found {found}"
    return found[0]


def policy_docs_of(rec: Recording, role: RecordedResource) -> list[dict[str, Any]]:
    docs = [
        json.loads(p.input("policy"))
        for p in rec.of_type(ROLE_POLICY)
        if role.urn in deps(p, "role")
    ]
    docs += [json.loads(p["policy"]) for p in role.input("inlinePolicies", default=[]) or []]
    return docs


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    stmts = doc.get("Statement", [])
    return stmts if isinstance(stmts, list) else [stmts]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def key_rotates(rec: Recording, urns: Iterable[str]) -> bool:
    keys = [rec.by_urn(u) for u in urns if rec.by_urn(u).type == KMS_KEY]
    return bool(keys) and all(k.input("enableKeyRotation") is True for k in keys)


# ---- database checks ----------------------------------------------------------------------


def engine_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    db = the_instance(rec)
    problems = []
    if db.input("engine") != "postgres":
        problems.append(f"{db.urn}: engine is {db.input('engine')!r}, not postgres")
    version = str(db.input("engineVersion"))
    if not re.match(r"^16(\.\d+)?$", version) or version != str(exp["db"]["engineVersion"]):
        problems.append(f"{db.urn}: engineVersion {version!r} is not the configured 16.x")
    return problems


def storage_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    db, cfg = the_instance(rec), exp["db"]
    problems = []
    if db.input("storageEncrypted") is not True:
        problems.append(f"{db.urn}: storageEncrypted is not true")
    if not key_rotates(rec, deps(db, "kmsKeyId")):
        problems.append(f"{db.urn}: kmsKeyId is not a customer-managed key with rotation on")
    if db.input("storageType") != "gp3":
        problems.append(f"{db.urn}: storageType is {db.input('storageType')!r}, not gp3")
    if db.input("allocatedStorage") != cfg["allocatedStorageGb"]:
        problems.append(f"{db.urn}: allocatedStorage != groundwork:database.allocatedStorageGb")
    if db.input("maxAllocatedStorage") != cfg["maxAllocatedStorageGb"]:
        problems.append(
            f"{db.urn}: maxAllocatedStorage {db.input('maxAllocatedStorage')} != "
            f"groundwork:database.maxAllocatedStorageGb {cfg['maxAllocatedStorageGb']}"
        )
    return problems


def automated_backup_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    db, cfg = the_instance(rec), exp["db"]
    problems = []
    if db.input("backupRetentionPeriod") != cfg["backupRetentionDays"]:
        problems.append(
            f"{db.urn}: backupRetentionPeriod {db.input('backupRetentionPeriod')} != "
            f"groundwork:database.backupRetentionDays {cfg['backupRetentionDays']}"
        )
    backup_win, maint_win = db.input("backupWindow"), db.input("maintenanceWindow")
    if not backup_win or not maint_win:
        problems.append(f"{db.urn}: backupWindow and maintenanceWindow must both be set")
    else:
        problems += [f"{db.urn}: {p}" for p in windows.problems(backup_win, maint_win)]
    if db.input("copyTagsToSnapshot") is not True:
        problems.append(f"{db.urn}: copyTagsToSnapshot is not true")
    if db.input("deleteAutomatedBackups") is not False:
        problems.append(f"{db.urn}: deleteAutomatedBackups is not false (the default deletes)")
    return problems


def deletion_guard_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    db, cfg = the_instance(rec), exp["db"]
    problems = []
    want = cfg["deletionProtection"]
    if db.input("deletionProtection") is not want:
        problems.append(f"{db.urn}: deletionProtection is not {want} (groundwork:database)")
    if bool(db.protect) is not want:
        problems.append(f"{db.urn}: Pulumi protect is {db.protect}, deletion protection {want}")
    ident = db.input("finalSnapshotIdentifier")
    if cfg["finalSnapshot"]:
        if db.input("skipFinalSnapshot") is not False or not ident:
            problems.append(
                f"{db.urn}: no named final snapshot (groundwork:database.finalSnapshot)"
            )
    elif db.input("skipFinalSnapshot") is not True:
        problems.append(f"{db.urn}: finalSnapshot is off but skipFinalSnapshot is not true")
    return problems


def availability_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    db = the_instance(rec)
    if db.input("multiAz") is not exp["db"]["multiAz"]:
        return [f"{db.urn}: multiAz is not {exp['db']['multiAz']} (groundwork:database.multiAz)"]
    return []


def observability_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    db = the_instance(rec)
    problems = []
    if db.input("performanceInsightsEnabled") is not True:
        problems.append(f"{db.urn}: performanceInsightsEnabled is not true")
    if not key_rotates(rec, deps(db, "performanceInsightsKmsKeyId")):
        problems.append(f"{db.urn}: Performance Insights is not encrypted with a rotating CMK")
    if db.input("monitoringInterval") not in (1, 5, 10, 15, 30, 60):
        problems.append(f"{db.urn}: enhanced monitoring is off (monitoringInterval)")
    roles = linked(rec, db, "monitoringRoleArn", ROLE)
    trusted = [
        s.get("Principal", {}).get("Service")
        for r in roles
        for s in statements(json.loads(r.input("assumeRolePolicy")))
    ]
    if "monitoring.rds.amazonaws.com" not in trusted:
        problems.append(f"{db.urn}: monitoringRoleArn is not a role RDS monitoring can assume")
    return problems


def log_export_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    db = the_instance(rec)
    problems = []
    exports = db.input("enabledCloudwatchLogsExports", default=[])
    if sorted(exports) != ["postgresql", "upgrade"]:
        problems.append(f"{db.urn}: exports {exports}, expected postgresql and upgrade")
    ident = db.input("identifier")
    groups = {g.input("name"): g for g in rec.of_type(LOG_GROUP)}
    for log in exports:
        name = f"/aws/rds/instance/{ident}/{log}"
        group = groups.get(name)
        if group is None:
            problems.append(f"{db.urn}: log group {name} is not created by the stack")
            continue
        if group.input("retentionInDays") not in settings.LOG_RETENTION_DAYS:
            problems.append(f"{group.urn}: retentionInDays is not a CloudWatch retention")
        if not key_rotates(rec, deps(group, "kmsKeyId")):
            problems.append(f"{group.urn}: not encrypted with the stack's logs key")
        if group.urn not in db.dependencies:
            problems.append(f"{db.urn}: does not wait for {group.urn} (RDS would create it)")
        if bool(group.protect) is not exp["protect"]:
            problems.append(f"{group.urn}: protect is not groundwork:protect")
    return problems


def credential_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    db = the_instance(rec)
    problems = []
    if db.input("manageMasterUserPassword") is not True:
        problems.append(f"{db.urn}: the master password is not managed by RDS")
    if not key_rotates(rec, deps(db, "masterUserSecretKmsKeyId")):
        problems.append(f"{db.urn}: the master-user secret is not under a rotating CMK")
    for r in rec:
        for key in ("password", "passwordWo", "masterPassword"):
            if r.input(key) is not None:
                problems.append(f"{r.urn}: input {key} puts a password in config/state")
    if db.input("iamDatabaseAuthenticationEnabled") is not True:
        problems.append(f"{db.urn}: IAM database authentication is off")
    return problems


def parameter_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    db = the_instance(rec)
    groups = linked(rec, db, "parameterGroupName", PARAMS)
    if len(groups) != 1:
        return [f"{db.urn}: parameterGroupName is not this stack's parameter group"]
    group = groups[0]
    values = {p["name"]: p["value"] for p in group.input("parameters", default=[])}
    problems = []
    if group.input("family") != "postgres16":
        problems.append(f"{group.urn}: family {group.input('family')!r} is not postgres16")
    if values.get("rds.force_ssl") != "1":
        problems.append(f"{group.urn}: rds.force_ssl is not 1 (plain-text connections allowed)")
    slow = values.get("log_min_duration_statement")
    if slow is None or int(slow) < 0:
        problems.append(f"{group.urn}: slow statements are not logged (log_min_duration_statement)")
    return problems


def network_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    db = the_instance(rec)
    problems = []
    if db.input("publiclyAccessible") is not False:
        problems.append(f"{db.urn}: publiclyAccessible is not false")
    for group in linked(rec, db, "dbSubnetGroupName", SUBNET_GROUP):
        subnets = [rec.by_urn(u) for u in deps(group, "subnetIds")]
        tiers = {s.input("tags", "groundwork:tier") for s in subnets}
        if not subnets or tiers != {"private"}:
            problems.append(f"{group.urn}: subnets are not all private (tiers {tiers})")
    return problems


def web_security_group(rec: Recording) -> str:
    templates = rec.of_type(LAUNCH_TEMPLATE)
    return next(u for t in templates for u in deps(t, "networkInterfaces") if "SecurityGroup" in u)


def ingress_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    """Only the web instances and the backup job reach the database, only on 5432."""
    db = the_instance(rec)
    db_groups = set(deps(db, "vpcSecurityGroupIds"))
    job_groups = {u for u in deps(job_project(rec), "vpcConfig") if rec.by_urn(u).type == SG}
    allowed = {web_security_group(rec), *job_groups}
    problems = []
    seen: set[str] = set()
    for sg in db_groups:
        if rec.by_urn(sg).input("ingress"):
            problems.append(f"{sg}: inline ingress rules bypass the per-client rules")
    for rule in rec.of_type(INGRESS):
        if not db_groups & set(deps(rule, "securityGroupId")):
            continue
        clients = set(deps(rule, "referencedSecurityGroupId"))
        seen |= clients
        if any(rule.input(k) for k in ("cidrIpv4", "cidrIpv6", "prefixListId")):
            problems.append(f"{rule.urn}: admits an address range, not a security group")
        if not clients or not clients <= allowed:
            problems.append(f"{rule.urn}: admits {clients or 'no group'}, not web or backup job")
        if (rule.input("fromPort"), rule.input("toPort")) != (5432, 5432):
            problems.append(f"{rule.urn}: opens ports other than 5432")
    if seen != allowed:
        problems.append(f"{db.urn}: clients {sorted(seen)} differ from web + backup job")
    return problems


def replica_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    cfg = exp["db"]
    region = cfg.get("backupReplicaRegion")
    found = rec.of_type(REPLICATION)
    if not region:
        return [f"{r.urn}: replicates backups but no region is configured" for r in found]
    if len(found) != 1:
        return [f"{rec.stack}: expected one backup replication to {region}, found {len(found)}"]
    repl, db = found[0], the_instance(rec)
    problems = []
    provider_urn = repl.provider.rsplit("::", 1)[0]
    providers = [p for p in rec.of_type(PROVIDER) if p.urn == provider_urn]
    if not providers or providers[0].input("region") != region:
        problems.append(f"{repl.urn}: not created through an explicit provider for {region}")
    elif not providers[0].input("defaultTags"):
        problems.append(f"{providers[0].urn}: the replica provider drops the stack's tags")
    if db.urn not in deps(repl, "sourceDbInstanceArn"):
        problems.append(f"{repl.urn}: does not replicate this stack's instance")
    keys = [rec.by_urn(u) for u in deps(repl, "kmsKeyId")]
    if not keys or any(k.provider != repl.provider for k in keys):
        problems.append(f"{repl.urn}: replicated backups are not under a key of {region}")
    if not key_rotates(rec, deps(repl, "kmsKeyId")):
        problems.append(f"{repl.urn}: the replica key does not rotate")
    if repl.input("retentionPeriod") != cfg["backupRetentionDays"]:
        problems.append(f"{repl.urn}: retentionPeriod != groundwork:database.backupRetentionDays")
    return problems


# ---- vault checks -------------------------------------------------------------------------


def vault_lock_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    bucket, cfg = vault_bucket(rec), exp["backups"]
    problems = []
    if bucket.input("objectLockEnabled") is not True:
        problems.append(f"{bucket.urn}: not created with object lock")
    locks = companions(rec, bucket, LOCK)
    if len(locks) != 1:
        return [*problems, f"{bucket.urn}: expected one lock configuration, found {len(locks)}"]
    retention = locks[0].input("rule", "defaultRetention", default={})
    if (retention.get("mode"), retention.get("days")) != (cfg["lockMode"], cfg["lockDays"]):
        problems.append(
            f"{locks[0].urn}: default retention {retention} != groundwork:backups "
            f"lockMode {cfg['lockMode']} / lockDays {cfg['lockDays']}"
        )
    versioning = companions(rec, bucket, VERSIONING)
    statuses = [v.input("versioningConfiguration", "status") for v in versioning]
    if statuses != ["Enabled"]:
        problems.append(f"{bucket.urn}: versioning is {statuses}, not Enabled")
    return problems


def vault_encryption_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    bucket = vault_bucket(rec)
    configs = companions(rec, bucket, SSE)
    if len(configs) != 1:
        return [f"{bucket.urn}: expected one encryption configuration, found {len(configs)}"]
    problems = []
    for rule in configs[0].input("rules", default=[]):
        default = rule.get("applyServerSideEncryptionByDefault", {})
        if default.get("sseAlgorithm") != "aws:kms" or not default.get("kmsMasterKeyId"):
            problems.append(f"{configs[0].urn}: objects are not SSE-KMS with the vault key")
        if rule.get("bucketKeyEnabled") is not True:
            problems.append(f"{configs[0].urn}: S3 Bucket Key is off")
    if not key_rotates(rec, deps(configs[0], "rules")):
        problems.append(f"{configs[0].urn}: the vault key is not a rotating CMK")
    return problems


def _denies_plain_http(stmt: dict[str, Any], bucket_arn: str) -> bool:
    cond = stmt.get("Condition", {}).get("Bool", {})
    resources = set(as_list(stmt.get("Resource")))
    return (
        stmt.get("Effect") == "Deny"
        and stmt.get("Principal") in ("*", {"AWS": "*"})
        and "s3:*" in as_list(stmt.get("Action"))
        and str(cond.get("aws:SecureTransport")).lower() == "false"
        and {bucket_arn, f"{bucket_arn}/*"} <= resources
    )


def vault_access_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    bucket = vault_bucket(rec)
    problems = []
    blocks = companions(rec, bucket, PAB)
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    if len(blocks) != 1 or not all(blocks[0].input(f) is True for f in flags):
        problems.append(f"{bucket.urn}: not all four public-access blocks are on")
    owners = [o.input("rule", "objectOwnership") for o in companions(rec, bucket, OWNERSHIP)]
    if owners != ["BucketOwnerEnforced"]:
        problems.append(f"{bucket.urn}: ownership {owners}, not BucketOwnerEnforced (no ACLs)")
    arn = bucket.outputs.get("arn", "")
    docs = [json.loads(p.input("policy")) for p in companions(rec, bucket, BUCKET_POLICY)]
    if not any(_denies_plain_http(s, arn) for d in docs for s in statements(d)):
        problems.append(f"{bucket.urn}: no bucket policy denies requests without TLS")
    if bucket.input("tags", "groundwork:purpose") != "backups":
        problems.append(f"{bucket.urn}: tag groundwork:purpose is not 'backups'")
    if bool(bucket.protect) is not exp["protect"]:
        problems.append(f"{bucket.urn}: protect is not groundwork:protect ({exp['protect']})")
    return problems


def vault_lifecycle_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    bucket, cfg = vault_bucket(rec), exp["backups"]
    configs = companions(rec, bucket, LIFECYCLE)
    if len(configs) != 1:
        return [f"{bucket.urn}: expected one lifecycle configuration, found {len(configs)}"]
    lc = configs[0]
    rules = [r for r in lc.input("rules", default=[]) if r.get("status") == "Enabled"]
    backups = [r for r in rules if r.get("filter", {}).get("prefix") == "postgres/"]
    if len(backups) != 1:
        return [f"{lc.urn}: expected one enabled rule for postgres/, found {len(backups)}"]
    rule = backups[0]
    problems = []
    cold = [t["days"] for t in rule.get("transitions", []) if t["storageClass"] == "GLACIER_IR"]
    expire = rule.get("expiration", {}).get("days")
    if cold != [cfg["coldAfterDays"]] or expire != cfg["expireAfterDays"]:
        problems.append(
            f"{lc.urn}: cold after {cold}, expire after {expire}; groundwork:backups says "
            f"{cfg['coldAfterDays']} and {cfg['expireAfterDays']}"
        )
    if not cold or expire is None or not cold[0] < expire:
        problems.append(f"{lc.urn}: backups do not move to cold storage before they expire")
    for r in rules:
        days = [r.get("expiration", {}).get("days"), r.get("noncurrentVersionExpiration", {})]
        for value in (days[0], days[1].get("noncurrentDays")):
            if value is not None and value < cfg["lockDays"]:
                problems.append(
                    f"{lc.urn}: rule {r.get('id')} deletes after {value} days, "
                    f"before the {cfg['lockDays']}-day lock ends"
                )
    if "noncurrentVersionExpiration" not in rule:
        problems.append(f"{lc.urn}: noncurrent versions are kept forever")
    if "abortIncompleteMultipartUpload" not in rule:
        problems.append(f"{lc.urn}: abandoned multipart uploads are kept forever")
    return problems


# ---- backup job checks --------------------------------------------------------------------


def _kms_key_arns(rec: Recording, component_type: str) -> set[str]:
    parents = {r.urn for r in rec if r.type == component_type}
    return {k.outputs["arn"] for k in rec.of_type(KMS_KEY) if k.parent in parents}


def job_role_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    """Least privilege: no *:* anywhere; writes only its prefix; no secret, connects as the
    backup user only; the vault key only through S3."""
    project = job_project(rec)
    roles = linked(rec, project, "serviceRole", ROLE)
    if len(roles) != 1:
        return [f"{project.urn}: serviceRole is not a role of this stack"]
    role = roles[0]
    db_name = exp["db"].get("databaseName", "app")
    vault_arn = vault_bucket(rec).outputs["arn"]
    vault_keys = _kms_key_arns(rec, VAULT_COMPONENT)
    db = the_instance(rec).outputs
    db_user_arn = (
        f"arn:aws:rds-db:{db['arn'].split(':')[3]}:{db['arn'].split(':')[4]}:dbuser:"
        f"{db['resourceId']}/{backup_job.DB_USER}"
    )
    problems = []
    attached = [a for a in rec.of_type(ROLE_ATTACHMENT) if role.urn in deps(a, "role")]
    problems += [f"{a.urn}: a managed policy widens the backup job role" for a in attached]
    for stmt in (s for d in policy_docs_of(rec, role) for s in statements(d)):
        if stmt.get("Effect") != "Allow":
            continue
        actions, resources = as_list(stmt.get("Action")), as_list(stmt.get("Resource"))
        where = f"{role.urn} statement {stmt.get('Sid', actions)}"
        if "NotAction" in stmt or "NotResource" in stmt:
            problems.append(f"{where}: NotAction/NotResource grants more than it names")
        if any(a == "*" or a.endswith(":*") for a in actions):
            problems.append(f"{where}: wildcard action")
        if "*" in resources and not set(actions) <= set(backup_job.VPC_BUILD_ACTIONS):
            problems.append(f"{where}: Resource * for {actions}")
        if "s3:PutObject" in actions and resources != [f"{vault_arn}/postgres/{db_name}/*"]:
            problems.append(f"{where}: PutObject on {resources}, not only postgres/{db_name}/*")
        if any(a.startswith("secretsmanager:") for a in actions):
            problems.append(f"{where}: the nightly job may read secrets {resources}")
        if any(a.startswith("rds-db:") for a in actions) and resources != [db_user_arn]:
            problems.append(f"{where}: connects as {resources}, not only {db_user_arn}")
        if any(a.startswith("kms:") for a in actions):
            for key in resources:
                via = stmt.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService", "")
                if key in vault_keys and via.startswith("s3."):
                    continue
                problems.append(f"{where}: may use key {key} (only the vault key through S3)")
    return problems


def schedule_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    project = job_project(rec)
    found = rec.children_of(JOB_COMPONENT, SCHEDULE)
    if len(found) != 1:
        return [f"{project.urn}: expected one schedule, found {len(found)}"]
    sched = found[0]
    problems = []
    if sched.input("scheduleExpression") != exp["backups"]["schedule"]:
        problems.append(f"{sched.urn}: expression != groundwork:backups.schedule")
    # CodeBuild is a templated Scheduler target: its ARN is the project's.
    if sched.input("target", "arn") != project.outputs["arn"]:
        problems.append(f"{sched.urn}: target is not the backup job project")
    roles = linked(rec, sched, "target", ROLE)
    grants = [
        (as_list(s.get("Action")), as_list(s.get("Resource")))
        for r in roles
        for d in policy_docs_of(rec, r)
        for s in statements(d)
    ]
    if grants != [(["codebuild:StartBuild"], [project.outputs["arn"]])]:
        problems.append(f"{sched.urn}: its role may do {grants}, not only start this project")
    return problems


def alarm_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    project = job_project(rec)
    topic = rec.outputs["alertsTopicArn"]
    alarms = [
        a
        for a in rec.of_type(ALARM)
        if a.input("dimensions", "ProjectName") == project.outputs["name"]
    ]
    metrics = {a.input("metricName"): a for a in alarms}
    problems = []
    for metric in ("FailedBuilds", "SucceededBuilds"):
        alarm = metrics.get(metric)
        if alarm is None:
            problems.append(f"{project.urn}: no alarm on {metric}")
            continue
        if alarm.input("alarmActions") != [topic] or alarm.input("okActions") != [topic]:
            problems.append(f"{alarm.urn}: alarm and OK actions are not the alerts topic")
        if alarm.input("actionsEnabled") is False or not alarm.input("treatMissingData"):
            problems.append(f"{alarm.urn}: actions off or missing-data treatment implicit")
    missed = metrics.get("SucceededBuilds")
    if missed is not None:
        hours = exp["backups"].get("maxBackupAgeHours", 26)
        # Silence after a success must notify (OK -> INSUFFICIENT_DATA), but a new alarm must
        # not page before the first scheduled run (docs/day-one.md).
        if missed.input("treatMissingData") != "missing" or missed.input(
            "insufficientDataActions"
        ) != [topic]:
            problems.append(f"{missed.urn}: a backup that stopped running does not notify")
        if missed.input("period") != hours * 3600 or missed.input("threshold") != 1:
            problems.append(f"{missed.urn}: does not cover {hours} h without a success")
    return problems


def job_runtime_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    project = job_project(rec)
    problems = []
    subnets = [rec.by_urn(u) for u in deps(project, "vpcConfig") if rec.by_urn(u).type == SUBNET]
    if not subnets or {s.input("tags", "groundwork:tier") for s in subnets} != {"private"}:
        problems.append(f"{project.urn}: does not run in the private subnets")
    env = project.input("environment", default={})
    if env.get("privilegedMode") is not False:
        problems.append(f"{project.urn}: privileged mode is not off")
    variables = {v["name"]: v for v in env.get("environmentVariables", [])}
    if any(re.search("PASSWORD|PGPASS", n) for n in variables):
        problems.append(f"{project.urn}: a password travels in the environment")
    if "DB_SECRET_ARN" in variables:
        problems.append(f"{project.urn}: the nightly job is given the master secret")
    if f"--iam-auth-user {backup_job.DB_USER}" not in project.input("source", "buildspec"):
        problems.append(f"{project.urn}: the job does not log in with IAM authentication")
    if variables.get("BACKUP_BUCKET", {}).get("value") != vault_bucket(rec).outputs["bucket"]:
        problems.append(f"{project.urn}: BACKUP_BUCKET is not the vault")
    if "python -m ops.backup" not in project.input("source", "buildspec", default=""):
        problems.append(f"{project.urn}: the buildspec does not run ops.backup")
    source_buckets = set(deps(project, "source"))
    objects = [o for o in rec.of_type(OBJECT) if source_buckets & set(deps(o, "bucket"))]
    assets = objects[0].input("source", "assets", default={}) if len(objects) == 1 else {}
    if "ops/__init__.py" not in assets:
        problems.append(f"{project.urn}: its source is not the ops package")
    elif any(Path(a.get("path", "/")).is_absolute() for a in assets.values()):
        problems.append(f"{objects[0].urn}: source paths depend on the checkout location")
    groups = linked(rec, project, "logsConfig", LOG_GROUP)
    if len(groups) != 1 or groups[0].input("retentionInDays") not in settings.LOG_RETENTION_DAYS:
        problems.append(f"{project.urn}: does not log to its own log group with a retention")
    elif not deps(groups[0], "kmsKeyId") or bool(groups[0].protect) is not exp["protect"]:
        problems.append(f"{groups[0].urn}: not KMS-encrypted or not protected per settings")
    return problems


def output_problems(rec: Recording, exp: dict[str, Any]) -> list[str]:
    want = {
        "databaseEndpoint": the_instance(rec).outputs.get("endpoint"),
        "databaseSecretArn": the_instance(rec).outputs["masterUserSecrets"][0]["secretArn"],
        "backupVaultBucket": vault_bucket(rec).outputs.get("bucket"),
        "backupJobName": job_project(rec).outputs.get("name"),
    }
    return [
        f"{rec.stack_urn}: export {k} is {rec.outputs.get(k)!r}, expected {v!r}"
        for k, v in want.items()
        if not v or rec.outputs.get(k) != v
    ]


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
    assert DEV_ALTERED["groundwork:database"] == {"deletionProtection": True}
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
