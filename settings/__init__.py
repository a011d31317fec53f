"""Typed, validated stack settings: the only place that reads the stack's config.

The package splits three concerns (every name stays importable from `settings`):
- `settings.models`: one pydantic model per config group, `Settings`, the scalar keys;
- `settings.validation`: rules spanning fields or groups, one check function per group;
  `settings.updates`: values a dry run accepts and a real update refuses;
- `settings.docs`: the stack-file JSON Schema and the README reference, both generated from
  the models (`python -m settings schema|readme`), so the schema an editor validates against
  and `parse` refuse the same values (tests/test_schema_enums.py checks every enum).

`parse()` is pure (a flat `namespace:key -> string` map in, `Settings` out, `SettingsError`
listing every problem); `load()` feeds it from the Pulumi runtime and turns a problem into a
`pulumi.RunError` before any resource is registered; `load_stack_file()` feeds it from a
`Pulumi.<stack>.yaml` (settings.stackfile, which the offline engine reuses).
"""

from settings.docs import (
    README_END,
    README_START,
    config_reference,
    readme_with_reference,
    stack_file_schema,
)
from settings.errors import SettingsError
from settings.models import (
    GROUPS,
    LOG_RETENTION_DAYS,
    NAMESPACE,
    PHASES,
    PLACEHOLDER_ACCOUNT,
    RESERVED_DOMAINS,
    SCALARS,
    Alarms,
    Alerts,
    Analytics,
    AssumeRole,
    Audit,
    Auth,
    AwsProvider,
    Backups,
    Cost,
    Database,
    Edge,
    Hosting,
    Logging,
    LogRetentionDays,
    Network,
    Oidc,
    Performance,
    Pipeline,
    Rum,
    Scaling,
    Settings,
)
from settings.parsing import load, load_stack_file, parse
from settings.updates import (
    PLACEHOLDER_ZONE_ID,
    UPDATE_RULES,
    UpdateRule,
    is_reserved_domain,
    real_recipients,
    unsafe_for_update,
    update_refusal,
)
from settings.validation import MAX_BUDGET_NOTIFICATIONS, cross_checks, schedule_interval_hours

__all__ = [
    "GROUPS",
    "LOG_RETENTION_DAYS",
    "MAX_BUDGET_NOTIFICATIONS",
    "NAMESPACE",
    "PHASES",
    "PLACEHOLDER_ACCOUNT",
    "PLACEHOLDER_ZONE_ID",
    "README_END",
    "README_START",
    "RESERVED_DOMAINS",
    "SCALARS",
    "UPDATE_RULES",
    "Alarms",
    "Alerts",
    "Analytics",
    "AssumeRole",
    "Audit",
    "Auth",
    "AwsProvider",
    "Backups",
    "Cost",
    "Database",
    "Edge",
    "Hosting",
    "LogRetentionDays",
    "Logging",
    "Network",
    "Oidc",
    "Performance",
    "Pipeline",
    "Rum",
    "Scaling",
    "Settings",
    "SettingsError",
    "UpdateRule",
    "config_reference",
    "cross_checks",
    "is_reserved_domain",
    "load",
    "load_stack_file",
    "parse",
    "readme_with_reference",
    "real_recipients",
    "schedule_interval_hours",
    "stack_file_schema",
    "unsafe_for_update",
    "update_refusal",
]
