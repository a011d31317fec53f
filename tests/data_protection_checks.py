"""Invariants of data protection, as check functions over a Recording: the database (engine,
storage, automated backups, deletion guards, availability, logs, credentials, parameters,
network and ingress, cross-region replica), the backup vault (object lock, encryption, access,
lifecycle) and the logical backup job (role scope, schedule, alarms, runtime), and the stack's
exports of them.

Each check takes the recording and `expected(stack)` (what the raw stack file asks for, read
from YAML rather than through settings.py) and returns problems naming the URN (empty = fine);
tests/test_data_protection.py runs them on the shipped stacks and on deliberately broken copies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import settings
from components import backup_job, windows
from offline.model import RecordedResource, Recording
from tests.conftest import stack_config
from tests.recording_queries import as_list, companions, deps, statements

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


def linked(rec: Recording, r: RecordedResource, key: str, type_: str) -> list[RecordedResource]:
    """Resources of `type_` that input `key` of `r` was built from."""
    return [rec.by_urn(u) for u in deps(r, key) if rec.by_urn(u).type == type_]


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
