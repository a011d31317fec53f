"""Entry point the Pulumi CLI runs (`python -m pulumi.policy <engine-address> .`): wiring only."""

import sys

from pulumi_policy import EnforcementLevel, PolicyPack
from rules.catalog import CATALOG
from rules.sdk import PACK_NAME, EngineLog, install_request_memo, to_policy

install_request_memo()
engine = EngineLog(sys.argv[1] if len(sys.argv) > 1 else None)

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[to_policy(spec, engine) for spec in CATALOG],
)
