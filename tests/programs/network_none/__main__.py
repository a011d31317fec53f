"""Network with `natGateways: none`, for tests/test_network.py.

The shipped stacks cannot use `none` (the logical backup job needs outbound HTTPS, and
settings refuse the combination), so the mode is recorded here on the component alone.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.encryption import Encryption, EncryptionArgs  # noqa: E402
from components.network import Network, NetworkArgs  # noqa: E402

encryption = Encryption("encryption", EncryptionArgs(region="eu-west-1", protect=False))
Network(
    "network",
    NetworkArgs(
        cidr="10.40.0.0/16",
        az_count=2,
        nat_gateways="none",
        region="eu-west-1",
        flow_log_retention_days=30,
        log_kms_key_arn=encryption.logs_key_arn,
        protect=False,
    ),
)
