"""Entry point the Pulumi CLI runs (`python -m pulumi.policy <engine-address> .`): wiring only."""

import sys

from pulumi_policy import EnforcementLevel, PolicyPack
from rules.catalog import CATALOG
from rules.sdk import (
    PACK_NAME,
    EngineLog,
    install_configure_check,
    install_request_fast_path,
    install_request_memo,
    known_types,
    to_policy,
)

install_request_memo()
types = known_types(CATALOG)
install_configure_check(CATALOG, types)
install_request_fast_path(CATALOG)
engine = EngineLog(sys.argv[1] if len(sys.argv) > 1 else None)

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[to_policy(spec, engine, types) for spec in CATALOG],
)
