"""Policy config that must be refused, not silently accepted, and where each refusal happens.

The Pulumi CLI decodes the config file itself (the last duplicate key wins, it reads only
`enforcementLevel` under "all", it fills schema defaults for a missing file), so the offline
loader refuses those three and the code defaults are prod's. Everything the pack does receive is
validated by the pack in its real `Configure` call, before any resource is analysed: each case
here is sent straight to Configure over gRPC, as a CLI whose own schema check let it through
would, and must come back INVALID_ARGUMENT naming the policy, the key, the value and what is
allowed; its passing twin must be accepted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import policy_builders as b
import pytest
import yaml
from conftest import BASE_STACK, PROD_CONFIG, ROOT, stack_config, violations
from google.protobuf import empty_pb2
from policy_builders import UNKNOWN
from pulumi.runtime.proto import analyzer_pb2

from offline.analyzer import PolicyConfigError, PolicyPackProcess, load_policy_config, reconcile
from policies.rules.catalog import BY_NAME, STRICTNESS
from tests.cli import run_offline
from tests.conftest import SETTINGS_ONLY

CONFIG_DIR = ROOT / "policies" / "config"
SHIPPED = sorted(CONFIG_DIR.glob("*.json"))
TODAY = dt.datetime.now(dt.UTC).date()
SOON = (TODAY + dt.timedelta(days=90)).isoformat()
REASON = "RUM's web client needs guest identities to send its telemetry"
POOL = "aws:cognito/identityPool:IdentityPool"
RUM_POOL = (
    "urn:pulumi:prod::groundwork::groundwork:observability:RealUserMonitoring$"
    f"{POOL}::rum-identity-pool"
)
DEFAULT_TYPES = BY_NAME["resources-alarmed"].defaults()["types"]


@pytest.fixture(scope="module")
def own_pack() -> Iterator[PolicyPackProcess]:
    """A pack of its own: raw Configure calls must not leave state for other modules."""
    with PolicyPackProcess(stack_config(BASE_STACK)) as pack:
        yield pack


def configure_raw(pack: PolicyPackProcess, configs: Mapping[str, Mapping[str, Any]]) -> str:
    """Send `configs` (policy -> properties) straight to Configure, with each policy's schema
    defaults filled in as the CLI does; the refusal's details, or "" when accepted."""
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for policy, props in configs.items():
        spec = BY_NAME.get(policy)
        full = {**(spec.defaults() if spec else {}), **props}
        request.policyConfig[policy].CopyFrom(
            analyzer_pb2.PolicyConfig(
                enforcementLevel=analyzer_pb2.MANDATORY, properties=b_struct(full)
            )
        )
    try:
        pack._stub.Configure(request)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        return exc.details()
    return ""


def b_struct(values: Mapping[str, Any]) -> Any:
    from google.protobuf import struct_pb2

    s = struct_pb2.Struct()
    s.update(dict(values))
    return s


def exemption(**entry: str) -> dict[str, list[dict[str, str]]]:
    return {"exemptions": [{"urn": RUM_POOL, "reason": REASON, "expires": SOON, **entry}]}


def without(entry_key: str) -> dict[str, list[dict[str, str]]]:
    out = exemption()
    del out["exemptions"][0][entry_key]
    return out


# -- the loader: what the CLI would decode into a weaker pack ------------------------------------
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_file_loads_and_the_pack_accepts_it(
    own_pack: PolicyPackProcess, path: Path
) -> None:
    config = load_policy_config(path)
    assert configure_raw(own_pack, {k: v for k, v in config.items() if k != "all"}) == "", path
    own_pack.configure(config)


def _broken_copy(tmp_path: Path, edit: Any) -> Path:
    text = (CONFIG_DIR / "prod.json").read_text()
    broken = tmp_path / "prod.json"
    broken.write_text(edit(text))
    return broken


@pytest.mark.parametrize(
    "edit,needle",
    [
        (  # a second, weaker level after the reviewed one: the CLI keeps the last
            lambda t: t.replace(
                '"rds-multi-az": {\n    "enforcementLevel": "mandatory",',
                '"rds-multi-az": {\n    "enforcementLevel": "mandatory",\n'
                '    "enforcementLevel": "disabled",',
            ),
            "rds-multi-az.enforcementLevel",
        ),
        (  # a whole second entry for a policy
            lambda t: t.replace(
                '  "rds-not-public": {',
                '  "rds-multi-az": {"enforcementLevel": "advisory"},\n  "rds-not-public": {',
            ),
            "duplicate key(s) rds-multi-az",
        ),
        (  # inside an exemption entry
            lambda t: t.replace(
                '"expires": "2027-05-31"', '"expires": "2027-05-31", "expires": "x"'
            ),
            "cognito-no-unauthenticated-identities.exemptions[0].expires",
        ),
    ],
)
def test_loader_refuses_duplicate_keys(tmp_path: Path, edit: Any, needle: str) -> None:
    broken = _broken_copy(tmp_path, edit)
    assert broken.read_text() != (CONFIG_DIR / "prod.json").read_text(), "the edit applied"
    with pytest.raises(PolicyConfigError, match="duplicate key") as err:
        load_policy_config(broken)
    assert needle in str(err.value), str(err.value)
    assert load_policy_config(CONFIG_DIR / "prod.json"), "the unbroken file loads"


@pytest.mark.parametrize("text", ["", "  \n", "{}"], ids=["empty", "blank", "empty-object"])
def test_loader_refuses_an_empty_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "prod.json"
    path.write_text(text)
    with pytest.raises(PolicyConfigError, match=r"prod\.json") as err:
        load_policy_config(path)
    assert "empty" in str(err.value) or "non-empty" in str(err.value), str(err.value)


def test_loader_refuses_nan_and_infinity(tmp_path: Path) -> None:
    path = tmp_path / "prod.json"
    path.write_text('{"rum-session-sample-rate": {"maxSessionSampleRate": NaN}}')
    with pytest.raises(PolicyConfigError, match="NaN is not a JSON number"):
        load_policy_config(path)
    path.write_text('{"rum-session-sample-rate": {"maxSessionSampleRate": 0.5}}')
    assert load_policy_config(path)["rum-session-sample-rate"]["maxSessionSampleRate"] == 0.5


def test_loader_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError, match="cannot read policy config"):
        load_policy_config(tmp_path / "prod.json")


@pytest.mark.parametrize(
    "all_value,ok",
    [
        ("advisory", True),
        ({"enforcementLevel": "advisory"}, True),
        ({"enforcementLevel": "advisory", "minRetentionDays": 3}, False),
        ({"exemptions": [{"urn": RUM_POOL, "reason": REASON, "expires": SOON}]}, False),
    ],
)
def test_loader_refuses_settings_under_all(tmp_path: Path, all_value: Any, ok: bool) -> None:
    path = tmp_path / "prod.json"
    path.write_text(json.dumps({"all": all_value, "rds-multi-az": "mandatory"}))
    if ok:
        assert load_policy_config(path)["all"] == {"enforcementLevel": "advisory"}
        return
    with pytest.raises(PolicyConfigError, match=r"all\.(minRetentionDays|exemptions)") as err:
        load_policy_config(path)
    assert "only enforcementLevel" in str(err.value), str(err.value)
    # The same config handed over as a mapping, not a file, is refused too.
    with pytest.raises(PolicyConfigError, match="only enforcementLevel"):
        reconcile([], {"all": all_value})


# -- code defaults: a missing file can only make the pack stricter --------------------------------
def test_code_defaults_are_prods_values_and_levels(own_pack: PolicyPackProcess) -> None:
    # What the CLI fills in for a missing file: the schema defaults the pack advertises.
    defaults = reconcile(own_pack.policies, {})
    prod = reconcile(own_pack.policies, PROD_CONFIG)
    for name, effective in prod.items():
        default = defaults[name]
        assert (
            STRICTNESS[default["enforcementLevel"]] >= STRICTNESS[effective["enforcementLevel"]]
        ), (
            f"{name}: code level {default['enforcementLevel']} is weaker than prod's "
            f"{effective['enforcementLevel']}"
        )
        for knob, value in effective.items():
            if knob not in ("enforcementLevel", "exemptions"):
                assert default[knob] == value, (
                    f"{name}.{knob}: code default {default[knob]!r} != prod {value!r}"
                )


def test_a_missing_config_judges_like_prod(own_pack: PolicyPackProcess) -> None:
    db = b.rds(backupRetentionPeriod=7, copyTagsToSnapshot=False, performanceInsightsEnabled=False)
    result = own_pack.run(b.recording(db), {})
    for policy in ("rds-backup-retention", "rds-copy-tags-to-snapshot", "rds-performance-insights"):
        found = violations(result, policy, db.urn)
        assert found and all(v.level == "mandatory" for v in found), (
            f"{policy} on {db.urn}: {found}"
        )
    clean = own_pack.run(b.recording(b.rds()), {})
    assert not [v for v in clean.violations if v.policy.startswith("rds-")], clean.violations


# -- Configure: values that disable a rule, typos, bad exemptions ---------------------------------
def classes(runtime: tuple[int, int] = (30, 365), audit: tuple[int, int] = (365, 3653)) -> dict:
    bounds = {"runtime": runtime, "error": (90, 731), "audit": audit}
    return {"classes": {k: {"minDays": lo, "maxDays": hi} for k, (lo, hi) in bounds.items()}}


ALARM, SECRETS = "resources-alarmed", "codebuild-no-plaintext-secrets"
LOGS, COGNITO = "log-group-retention", "cognito-no-unauthenticated-identities"
GOOD_SECRETS = {"secretNamePattern": "(?i)(secret|passw(or)?d|token|key|credential)"}
# id, policy, bad config, its passing twin, what the refusal must mention
# fmt: off
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], tuple[str, ...]]] = [
    ("alarm-types-empty", ALARM, {"types": []}, {"types": DEFAULT_TYPES},
     ("resources-alarmed.types", "[]")),
    ("alarm-types-unknown", ALARM, {"types": [*DEFAULT_TYPES, "aws:ec2/instanse:Instance"]},
     {"types": [*DEFAULT_TYPES, "aws:dynamodb/table:Table"]},
     ("resources-alarmed.types.", "aws:ec2/instanse:Instance", "known type token")),
    ("alarm-types-narrowed", ALARM, {"types": ["aws:lb/loadBalancer:LoadBalancer"]},
     {"types": DEFAULT_TYPES}, ("resources-alarmed.types", "aws:rds/instance:Instance", "keep")),
    ("secret-pattern-empty", SECRETS, {"secretNamePattern": "^$"}, GOOD_SECRETS,
     ("codebuild-no-plaintext-secrets.secretNamePattern", "'^$'", "empty string")),
    ("secret-pattern-everything", SECRETS, {"secretNamePattern": ".*"}, GOOD_SECRETS,
     ("secretNamePattern", "'.*'", "empty string")),
    ("secret-pattern-invalid", SECRETS, {"secretNamePattern": "(secret"}, GOOD_SECRETS,
     ("secretNamePattern", "'(secret'", "not a valid regular expression")),
    ("secret-pattern-blind", SECRETS, {"secretNamePattern": "^NOTHING_MATCHES$"}, GOOD_SECRETS,
     ("secretNamePattern", "NOTHING_MATCHES", "DB_PASSWORD")),
    ("secret-pattern-exact-names", SECRETS,
     {"secretNamePattern": "DB_PASSWORD|API_KEY|AUTH_TOKEN|CLIENT_SECRET|PRIVATE_KEY"},
     GOOD_SECRETS, ("secretNamePattern", "GITHUB_TOKEN", "must catch")),
    ("sample-rate-nan", "rum-session-sample-rate", {"maxSessionSampleRate": float("nan")},
     {"maxSessionSampleRate": 0.1}, ("rum-session-sample-rate.maxSessionSampleRate", "nan",
                                     "finite")),
    ("log-retention-1-day", LOGS, classes(runtime=(1, 365)), classes(runtime=(7, 365)),
     ("log-group-retention.classes.runtime.minDays", "1 is not one of", "allowed: one of 7")),
    ("log-retention-99999-days", LOGS, classes(audit=(365, 99999)), classes(),
     ("log-group-retention.classes.audit.maxDays", "99999", "3653")),
    ("log-retention-inverted", LOGS, classes(runtime=(365, 30)), classes(runtime=(30, 30)),
     ("log-group-retention.classes.runtime.minDays is 365", "minDays <= maxDays")),
    ("lock-inverted", "s3-object-lock-retention", {"minDays": 400, "maxDays": 30},
     {"minDays": 30, "maxDays": 400}, ("s3-object-lock-retention.minDays is 400", "<= maxDays")),
    ("test-category-source", "pipeline-test-before-deploy", {"testCategories": ["Source"]},
     {"testCategories": ["Test"]},
     ("pipeline-test-before-deploy.testCategories", "'Source'", "'Test', 'Build'")),
    ("typo-knob", "asg-multi-az", {"minAvailabiltyZones": 3}, {"minAvailabilityZones": 3},
     ("asg-multi-az.minAvailabiltyZones", "not a config key", "minAvailabilityZones")),
    ("wrong-type", "rds-backup-retention", {"minRetentionDays": "two weeks"},
     {"minRetentionDays": 21}, ("rds-backup-retention.minRetentionDays", "'two weeks'", "1..35")),
    ("cpu-counts-as-requests", "phase-capabilities",
     {"requestScalingMetric": "ASGAverageCPUUtilization"},
     {"requestScalingMetric": "ALBRequestCountPerTarget"},
     ("phase-capabilities.requestScalingMetric", "'ASGAverageCPUUtilization'", "one of")),
    ("tags-dropped", "required-tags", {"keys": ["Project"]},
     {"keys": ["Project", "Environment", "Owner", "CostCentre"]},
     ("required-tags.keys", "Owner", "must always keep")),
    # exemptions: blanket, misdirected, open-ended, unexplained, impossible
    ("exempt-urn-star", COGNITO, exemption(urn="*"), exemption(),
     ("exemptions[0].urn", "'*'", "allowed: urn:pulumi:")),
    ("exempt-urn-prefix", COGNITO, exemption(urn="urn:pulumi:*"), exemption(),
     ("exemptions[0].urn", "'urn:pulumi:*'")),
    ("exempt-instance-glob", COGNITO, exemption(urn="*Instance*"), exemption(),
     ("exemptions[0].urn", "'*Instance*'")),
    ("exempt-name-star", COGNITO,
     {"exemptions": [{"name": "*", "reason": REASON, "expires": SOON}]}, exemption(),
     ("exemptions[0]", "'name': '*'", "not a logical name")),
    ("exempt-any-name", COGNITO, exemption(urn=RUM_POOL.replace("::rum-identity-pool", "::*")),
     exemption(urn=RUM_POOL.replace("urn:pulumi:prod::", "urn:pulumi:*::")),
     ("exemptions[0].urn", "not a type/name pattern")),
    ("exempt-any-type", COGNITO, exemption(urn="urn:pulumi:prod::groundwork::*::rum-identity-pool"),
     exemption(urn=f"urn:pulumi:prod::groundwork::*${POOL}::rum-identity-pool"),
     ("exemptions[0].urn", "not a type/name pattern")),
    ("exempt-misdirected", COGNITO,
     exemption(urn="urn:pulumi:prod::groundwork::aws:ec2/instance:Instance::web"), exemption(),
     ("exemptions[0].urn", "aws:ec2/instance:Instance", "never checks", POOL)),
    ("exempt-forever", COGNITO, exemption(expires="9999-12-31"),
     exemption(expires=(TODAY + dt.timedelta(days=300)).isoformat()),
     ("exemptions[0].expires", "'9999-12-31'", "more than a year ahead")),
    ("exempt-13-months", COGNITO, exemption(expires=(TODAY + dt.timedelta(days=400)).isoformat()),
     exemption(), ("exemptions[0].expires", "more than a year ahead")),
    ("exempt-impossible-date", COGNITO, exemption(expires="2027-02-30"), exemption(),
     ("exemptions[0].expires", "'2027-02-30'", "real date")),
    ("exempt-not-prose", COGNITO, exemption(reason="xxxxxxxxxx"), exemption(),
     ("exemptions[0].reason", "'xxxxxxxxxx'", "sentence")),
    ("exempt-vowels-reason", COGNITO, exemption(reason="aaaa eeee iiii oooo uuuu"), exemption(),
     ("exemptions[0].reason", "'aaaa eeee iiii oooo uuuu'", "sentence")),
    ("exempt-repeated-reason", COGNITO, exemption(reason="reason reason reason reason"),
     exemption(), ("exemptions[0].reason", "4 distinct words")),
    ("exempt-blank-reason", COGNITO, exemption(reason=" " * 30), exemption(),
     ("exemptions[0].reason", "sentence")),
    ("exempt-no-expiry", COGNITO, without("expires"), exemption(),
     ("exemptions[0]", "missing ['expires']")),
    ("exempt-stack-policy-any-name", "asg-scaling-policy",
     exemption(urn="urn:pulumi:prod::groundwork::aws:autoscaling/group:Group::*"),
     exemption(urn="urn:pulumi:prod::groundwork::aws:autoscaling/group:Group::web-asg"),
     ("asg-scaling-policy.exemptions[0].urn", "not a type/name pattern")),
]
# fmt: on


@pytest.mark.parametrize(
    "policy,bad,good,needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_configure_refuses_weakening_config(
    own_pack: PolicyPackProcess,
    policy: str,
    bad: dict[str, Any],
    good: dict[str, Any],
    needles: tuple[str, ...],
) -> None:
    refusal = configure_raw(own_pack, {policy: bad})
    assert refusal, f"{policy}: Configure accepted {bad}"
    for needle in (policy, "allowed", *needles):
        assert needle in refusal, f"{policy}: refusal of {bad} lacks {needle!r}:\n{refusal}"
    assert configure_raw(own_pack, {policy: good}) == "", f"{policy}: {good} must be accepted"


def test_configure_refuses_unknown_policies_and_lists_every_problem(
    own_pack: PolicyPackProcess,
) -> None:
    refusal = configure_raw(
        own_pack,
        {
            "rds-backup-retenton": {"minRetentionDays": 3},
            "pipeline-test-before-deploy": {"testCategories": ["Source"]},
            "cognito-no-unauthenticated-identities": exemption(urn="*"),
        },
    )
    for needle in (
        "rds-backup-retenton is not a policy",
        "pipeline-test-before-deploy.testCategories",
        "cognito-no-unauthenticated-identities.exemptions[0].urn",
    ):
        assert needle in refusal, f"{needle!r} missing from:\n{refusal}"


def test_a_refused_config_fails_the_run_with_no_resource_of_its_type(
    own_pack: PolicyPackProcess,
) -> None:
    # Refused before Analyze: the run fails at Configure even though no resource of the
    # policy's type exists.
    config = {**PROD_CONFIG, "pipeline-test-before-deploy": {"testCategories": ["Source"]}}
    with pytest.raises(PolicyConfigError, match=r"pipeline-test-before-deploy\.testCategories"):
        own_pack.run(b.recording(b.kms_key()), config)
    assert own_pack.run(b.recording(b.kms_key()), PROD_CONFIG).policies, "valid config runs"


# -- one version: PulumiPolicy.yaml's --------------------------------------------------------------
def test_pack_version_is_pulumipolicy_yaml_everywhere(own_pack: PolicyPackProcess) -> None:
    version = str(yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())["version"])
    assert own_pack._stub.GetAnalyzerInfo(empty_pb2.Empty()).version == version
    db = b.rds(backupRetentionPeriod=UNKNOWN)
    messages = [
        v.message
        for v in own_pack.run(b.recording(db), PROD_CONFIG).of("rds-backup-retention", db.urn)
    ]
    assert any("during preview" in m for m in messages), messages
    assert all(f"groundwork-guardrails@v{version}'" in m for m in messages), messages


# -- the offline CLI: one error line, no traceback -------------------------------------------------
@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda t: t.replace('"2027-05-31"', '"2027-02-30"'), "'2027-02-30'"),
        (
            lambda t: t.replace(
                '"minRetentionDays": 1', '"minRetentionDays": 1, "minRetentionDays": 1'
            ),
            "duplicate key",
        ),
    ],
    ids=["impossible-date", "duplicate-key"],
)
def test_offline_cli_reports_bad_config_without_traceback(
    tmp_path: Path, edit: Any, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (CONFIG_DIR / "dev.json").read_text()
    bad = tmp_path / "dev.json"
    bad.write_text(edit(text))
    assert bad.read_text() != text, "the edit applied"
    # The pack refuses its config whatever the program registers: the CLI runs the program's
    # settings load alone (SETTINGS_ONLY) on the shipped dev stack, not the whole platform.
    argv = ["preview", "--stack", "dev", "--project-dir", str(SETTINGS_ONLY)]
    argv += ["--stack-file", str(ROOT / "Pulumi.dev.yaml"), "--policy-config", str(bad)]
    code, _out, err = run_offline(argv, capsys)
    assert code == 1, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and needle in err, err


# -- the shipped exemption binds the real program's RUM identity pool, and nothing else ------------
def test_shipped_rum_exemption_binds_the_real_identity_pool(
    phase_variant: Any, stack_packs: Callable[..., PolicyPackProcess]
) -> None:
    from offline import stackfile

    rec = phase_variant("prod", "growth", preview=True)
    pools = [r.urn for r in rec.resources if r.type == POOL]
    assert pools == [RUM_POOL], f"the program's identity pools: {pools}"
    values = {**stackfile.load("prod", ROOT).values, "groundwork:phase": "growth"}
    no_exemption = {
        **PROD_CONFIG,
        COGNITO: {k: v for k, v in PROD_CONFIG[COGNITO].items() if k != "exemptions"},
    }
    pack = stack_packs(stack_config(values))
    shipped = pack.run(rec, PROD_CONFIG)
    bare = pack.run(rec, no_exemption)
    assert [(e.status, e.resources) for e in shipped.exemptions] == [("applied", (RUM_POOL,))]
    assert not shipped.of(COGNITO), shipped.of(COGNITO)
    assert violations(bare, COGNITO, RUM_POOL), "without the exemption the guest pool is flagged"
    dev = load_policy_config(CONFIG_DIR / "dev.json")[COGNITO]["exemptions"]
    assert [e["urn"] for e in dev] == [RUM_POOL.replace("urn:pulumi:prod::", "urn:pulumi:dev::")]


# -- pure parts: every default is valid, URN patterns match part by part ---------------------------
def test_every_policys_defaults_pass_its_own_validation() -> None:
    from policies.rules.catalog import CATALOG
    from policies.rules.configcheck import check_config
    from policies.rules.sdk import known_types

    types = known_types(CATALOG)
    for spec in CATALOG:
        config, exemptions = check_config(spec, {}, types)
        assert (config, exemptions) == (spec.defaults(), ()), spec.name
    broken = {"minDays": 30, "maxDays": 7}
    with pytest.raises(ValueError, match=r"s3-object-lock-retention\.minDays is 30"):
        check_config(BY_NAME["s3-object-lock-retention"], broken, types)


@pytest.mark.parametrize(
    "urn,hit",
    [
        (RUM_POOL, True),
        (RUM_POOL.replace("urn:pulumi:prod::", "urn:pulumi:staging::"), True),
        (RUM_POOL.replace("::rum-identity-pool", "::rum-identity-pool2"), False),
        (RUM_POOL.replace("RealUserMonitoring$", "RealUserMonitoring$groundwork:x:Y$"), True),
        (f"urn:pulumi:prod::groundwork::{POOL}::rum-identity-pool", True),
        (RUM_POOL.replace(POOL, "aws:cognito/userPool:UserPool"), False),
        (RUM_POOL.replace("::groundwork::", "::other::"), False),
    ],
)
def test_exemption_urn_patterns_match_part_by_part(urn: str, hit: bool) -> None:
    from policies.rules.base import parse_exemptions

    pattern = f"urn:pulumi:*::groundwork::*${POOL}::rum-identity-pool"
    [e] = parse_exemptions(
        COGNITO, [{"urn": pattern, "reason": REASON, "expires": SOON}], frozenset({POOL})
    )
    assert e.matches(urn) is hit, f"{pattern} vs {urn}"
