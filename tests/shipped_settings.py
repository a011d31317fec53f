"""The settings of a shipped stack, as `settings.parse` returns them, for tests that build a
component's `*Args` directly: the values a setting owns come from settings, never a copy.

Components carry no defaults that settings owns (tests/test_args_defaults.py), so a test that
builds Args passes those values; taking them from a parsed shipped stack keeps the test on
the values a real deployment gets.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import settings
from tests.conftest import stack_config


@cache
def shipped_settings(stack: str) -> settings.Settings:
    """`settings.parse` of `Pulumi.<stack>.yaml` (prod with its operator overlay), as the CLI
    passes it: objects JSON-encoded."""
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in stack_config(stack).items()}
    return settings.parse(values, project="groundwork", stack=stack)


def pipeline_options(s: settings.Settings) -> dict[str, Any]:
    """DeployPipelineArgs' settings-owned fields, as blueprint passes them."""
    p = s.pipeline
    return {
        "source": p.source,
        "source_key": p.source_key,
        "repository": p.repository,
        "branch": p.branch,
        "connection_arn": p.connection_arn,
        "require_approval": p.require_approval,
        "buildspec": p.buildspec,
        "build_timeout_minutes": p.build_timeout_minutes,
        "build_compute_type": p.build_compute_type,
        "artifact_retention_days": p.artifact_retention_days,
        "protect": s.protect,
    }


def performance_options(s: settings.Settings) -> dict[str, Any]:
    """PerformanceMonitoringArgs' settings-owned fields, as blueprint passes them."""
    p = s.performance
    return {
        "latency_p95_ms": s.scaling.latency_p95_ms,
        "latency_evaluation_periods": s.scaling.latency_evaluation_periods,
        "latency_datapoints_to_alarm": s.scaling.latency_datapoints_to_alarm,
        "error_rate_percent": p.error_rate_percent,
        "request_anomaly_band": p.request_anomaly_band,
        "canary_runtime": p.canary_runtime,
        "canary_interval_minutes": p.canary_interval_minutes,
        "canary_artifact_days": p.canary_artifact_days,
        "canary_log_retention_days": s.logging.runtime_retention_days,
        "protect": s.protect,
    }
