"""Deliberately wrong `pulumi_policy` arguments: the type checker (`make test`) must flag each line.

The policy pack's counterpart of wrong_aws_arguments.py (same arrangement: never imported or
run, each error silenced by a rule-specific ignore the checker must find necessary), for the
mistakes a pack's wiring can make with the SDK's typed constructors.
"""

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)


def validate_without_report(args: ResourceValidationArgs) -> None:
    return None


def wrong_arguments(report: ReportViolation) -> None:
    # A level spelled as in policies/config/*.json where the SDK takes its enum.
    ResourceValidationPolicy("p", "d", enforcement_level="mandatory")  # pyright: ignore[reportArgumentType]
    # A plain schema dict where the SDK takes a PolicyConfigSchema.
    ResourceValidationPolicy(
        "p",
        "d",
        enforcement_level=EnforcementLevel.ADVISORY,
        config_schema={"properties": {}},  # pyright: ignore[reportArgumentType]
    )
    # A validator that cannot receive the report callback.
    ResourceValidationPolicy("p", "d", validate=validate_without_report)  # pyright: ignore[reportArgumentType]
    # A report without its URN argument.
    report("message")  # pyright: ignore[reportCallIssue]
