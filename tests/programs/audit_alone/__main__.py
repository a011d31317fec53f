"""The audit trail alone: the real settings load, then blueprint's own `_audit_trail` wiring.

What the audit trail does with `groundwork:audit` (an organisation trail, with or without a
log group of this account) is decided by settings and that one function; the rest of the
platform only hands it three values (the logs key, the alerts topic, the vault bucket), which
stand in here as fixed ARNs and a name.
"""

import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import blueprint  # noqa: E402
import settings  # noqa: E402

s = settings.load()
region = s.region
blueprint._audit_trail(
    s,
    f"{s.project}-{s.stack}",
    SimpleNamespace(logs_key_arn=f"arn:aws:kms:{region}:123456789012:key/logs"),
    SimpleNamespace(topic_arn=f"arn:aws:sns:{region}:123456789012:alerts"),
    SimpleNamespace(bucket_name="groundwork-vault"),
)
