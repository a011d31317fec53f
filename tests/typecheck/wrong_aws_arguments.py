"""Deliberately wrong `pulumi_aws` arguments: the type checker (`make test`) must flag each line.

Never imported or run. Each error is silenced by a rule-specific ignore, and the checker
treats an ignore that silences nothing as an error (reportUnnecessaryTypeIgnoreComment in
pyrightconfig.json). So if the checker stopped seeing a wrong argument type here, the way it
would in a component, `make test` fails.
"""

import pulumi_aws as aws


def wrong_arguments() -> None:
    # A string where the SDK takes a bool.
    aws.s3.Bucket("b", force_destroy="yes")  # pyright: ignore[reportArgumentType]
    # A plain dict with a key the SDK's TypedDict does not have.
    aws.autoscaling.Policy(
        "p",
        autoscaling_group_name="asg",
        step_adjustments=[{"scaling_adjustment": 1, "no_such_key": 2}],  # pyright: ignore[reportArgumentType]
    )
    # A number where the SDK takes a string.
    aws.cloudwatch.LogGroup("g", kms_key_id=42)  # pyright: ignore[reportArgumentType]
