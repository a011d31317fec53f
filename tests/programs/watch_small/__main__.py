"""A small program for the watch-mode tests: the real settings, then a few of blueprint's pieces.

Copied over `__main__.py` in the watch tests' copy of the project, so that it imports the
copy's settings, blueprint, components and ops, which the tests edit. It registers what their
edits reach: the network (a component edit, a stack-file edit of `groundwork:network`, a NAT
gateway that the dev budget prices), the alerts topic with one alarm notifying it (judged by a
rule in `policies/`), the app bundle as the pipeline ships it (an `app/` edit), and the backup
job's source archive of `ops/` as blueprint ships it (an `ops/` edit). A run costs
a fraction of the whole dev program's, which goes through the watch in tests/test_watch.py.
"""

import pulumi
import pulumi_aws as aws

import blueprint
import settings
from components.alarms import AlarmSpec, metric_alarm
from components.backup_job import ops_sources, source_archive
from components.encryption import Encryption, EncryptionArgs
from ops.bundle import build_bundle

s = settings.load()
encryption = Encryption("encryption", EncryptionArgs(region=s.region, protect=s.protect))
alerts = blueprint._alerts(s)
blueprint._network(s, encryption)
nat_errors = AlarmSpec(
    role="natErrors",
    suffix="nat-port-allocation-errors",
    name="nat-port-allocation-errors",
    description="NAT gateway port allocation errors",
    comparison="GreaterThanThreshold",
    treat_missing_data="notBreaching",
    evaluation_periods=1,
    alarm_actions=[alerts.topic_arn],
    threshold=0,
    period=300,
    namespace="AWS/NATGateway",
    metric_name="ErrorPortAllocation",
    statistic="Sum",
)
metric_alarm("nat-port-allocation-errors", nat_errors, pulumi.ResourceOptions())
# The bundle by its digest, not its bytes: the recording stays small, an edit still shows.
aws.s3.BucketObjectv2(
    "reference-release",
    bucket="groundwork-dev-releases",
    key="app.zip",
    source_hash=build_bundle(blueprint.APP_DIR).sha256,
)
# The ops/ sources as the backup job ships them: file assets, recorded by path.
aws.s3.BucketObjectv2(
    "backup-job-source-code",
    bucket="groundwork-dev-backup-job",
    key="backup-job/source.zip",
    source=source_archive(ops_sources(blueprint.OPS_DIR)),
)
