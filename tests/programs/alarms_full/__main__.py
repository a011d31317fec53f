"""BaselineAlarms with a database and a backup job, for tests/test_alarms.py.

The shipped stacks get their Database and BackupJob from other components; this program stands
in for them with bare resources of the same types, so the database and backup-job alarms are
recorded and checked against resources that exist in the recording.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402
import pulumi_aws as aws  # noqa: E402

import settings  # noqa: E402
from components.alarms import BaselineAlarms, BaselineAlarmsArgs, Thresholds  # noqa: E402

topic = aws.sns.Topic("topic")
alb = aws.lb.LoadBalancer("alb", load_balancer_type="application")
target_group = aws.lb.TargetGroup("tg", port=8080, protocol="HTTP")
group = aws.autoscaling.Group("asg", min_size=2, max_size=4)
database = aws.rds.Instance(
    "db", engine="postgres", instance_class="db.t4g.micro", allocated_storage=20
)
backup = aws.codebuild.Project(
    "backup",
    service_role="arn:aws:iam::123456789012:role/backup",
    artifacts={"type": "NO_ARTIFACTS"},
    environment={
        "compute_type": "BUILD_GENERAL1_SMALL",
        "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
        "type": "LINUX_CONTAINER",
    },
    source={"type": "NO_SOURCE", "buildspec": "version: 0.2"},
)
aws.cloudwatch.LogMetricFilter(
    "errors",
    log_group_name="/groundwork/test/app/error",
    pattern="",
    metric_transformation={"name": "ErrorLogEvents", "namespace": "groundwork/test", "value": "1"},
)
alarms = BaselineAlarms(
    "alarms",
    BaselineAlarmsArgs(
        topic_arn=topic.arn,
        alb_arn_suffix=alb.arn_suffix,
        target_group_arn_suffix=target_group.arn_suffix,
        asg_name=group.name,
        asg_min_size=2,
        log_metric_namespace="groundwork/test",
        error_log_metric_name="ErrorLogEvents",
        thresholds=Thresholds(**settings.Alarms().model_dump()),
        name_prefix="groundwork-test",
        database_identifier=database.identifier,
        backup_job_project_name=backup.name,
    ),
)
pulumi.export("alarmNames", alarms.alarm_names)
