"""Bucket roles on the real prod stack: the ALB access-log bucket may skip a customer key only
while a load balancer of the stack writes to it, and nothing else may."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import PROD_CONFIG, violations

from offline.analyzer import PolicyPackProcess
from offline.model import Recording
from offline.stackfile import load
from tests.checks import ALB
from tests.conftest import ROOT

POLICY = "s3-bucket-customer-key"


@pytest.fixture(scope="module")
def prod_pack():
    with PolicyPackProcess(load("prod", ROOT)) as pack:
        yield pack


def _access_log_bucket(rec: Recording):
    return next(r for r in rec if r.name == "access-logs-bucket")


def test_shipped_access_log_bucket_passes(prod: Recording, prod_pack) -> None:
    result = prod_pack.run(prod, PROD_CONFIG)
    assert [v.urn for v in result.of(POLICY)] == []


def test_retagged_or_orphaned_access_log_bucket_is_refused(prod: Recording, prod_pack) -> None:
    bucket = _access_log_bucket(prod)
    # AnalyzeStack judges outputs: retag both sides.
    tags = {**bucket.inputs["tags"], "groundwork:purpose": "analytics"}
    retagged = dataclasses.replace(
        prod,
        resources=[
            dataclasses.replace(
                r, inputs={**r.inputs, "tags": tags}, outputs={**r.outputs, "tags": tags}
            )
            if r.urn == bucket.urn
            else r
            for r in prod
        ],
    )
    alb = prod.one(ALB)
    orphaned = [
        dataclasses.replace(
            r,
            inputs={k: v for k, v in r.inputs.items() if k != "accessLogs"},
            outputs={k: v for k, v in r.outputs.items() if k != "accessLogs"},
            property_dependencies={},
        )
        if r.urn == alb.urn
        else r
        for r in prod
    ]
    for broken in (retagged, dataclasses.replace(prod, resources=orphaned)):
        result = prod_pack.run(broken, PROD_CONFIG)
        assert violations(result, POLICY, bucket.urn), f"{POLICY} must flag {bucket.urn}"


@pytest.mark.parametrize(
    ("tags", "locked", "backup_rules", "vault"),
    [
        ({"groundwork:purpose": "backups"}, True, True, True),
        ({"groundwork:purpose": "audit-trail"}, True, True, False),
        # The role alone puts a bucket under the locked-storage rules, lock or not.
        ({"groundwork:purpose": "audit-trail"}, False, True, False),
        ({"groundwork:purpose": "analytics"}, True, True, True),
        ({"groundwork:purpose": "access-logs"}, False, False, False),
    ],
)
def test_bucket_roles(tags: dict, locked: bool, backup_rules: bool, vault: bool) -> None:
    from policies.rules import storage
    from policies.rules.props import Resource

    props = {"tags": tags, **({"objectLockEnabled": True} if locked else {})}
    bucket = Resource(type="aws:s3/bucket:Bucket", urn="urn:x", name="b", props=props)
    assert storage.is_backup_bucket(bucket) is backup_rules, tags
    assert storage.is_backup_vault(bucket) is vault, tags
