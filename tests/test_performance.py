"""Performance monitoring (phase growth): dashboard, alarms, health-check canary; phase gating."""

from __future__ import annotations

import dataclasses
import http.server
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from components import dashboard as dash
from components import performance
from offline.model import Recording, plain
from ops import health_canary
from settings import SettingsError, parse
from tests import performance_checks as pc
from tests.checks import replace_inputs
from tests.shipped_settings import performance_options, shipped_settings

ROOT = Path(__file__).resolve().parent.parent


def _ours(rec: Recording, type_: str):
    """The one resource of `type_` that PerformanceMonitoring owns (others have their own)."""
    (found,) = rec.children_of("groundwork:observability:PerformanceMonitoring", type_)
    return found


@pytest.fixture(scope="module")
def pmf(phase_variant: Callable[..., Recording]) -> Recording:
    return phase_variant("prod", "pmf")


@pytest.fixture(scope="module")
def growth(phase_variant: Callable[..., Recording]) -> Recording:
    return phase_variant("prod", "growth")


# ---- phase gating --------------------------------------------------------------------------


def test_each_phase_adds_exactly_its_capabilities(
    prod: Recording, pmf: Recording, growth: Recording
) -> None:
    assert prod.outputs["phase"] == "early"
    assert pc.capabilities(prod) == set(), "early must have no RUM, monitoring or scaling"
    assert pc.capabilities(pmf) == pc.RUM_CAPABILITIES, "pmf adds RUM only"
    # prod sets predictive: true
    expected = pc.RUM_CAPABILITIES | pc.GROWTH_CAPABILITIES | {"predictive-scaling"}
    assert pc.capabilities(growth) == expected
    components = {r.type for r in growth if not r.custom}
    assert {
        "groundwork:observability:RealUserMonitoring",
        "groundwork:observability:PerformanceMonitoring",
        "groundwork:hosting:PerformanceScaling",
    } <= components
    # Nothing else of phase 1 disappears when a stack grows.
    early_names = {(r.type, r.name) for r in prod}
    assert early_names <= {(r.type, r.name) for r in growth}


def test_capability_check_tells_the_phases_apart(pmf: Recording, growth: Recording) -> None:
    assert pc.capabilities(pmf) != pc.capabilities(growth)
    without_rum = [r for r in growth if r.type not in (pc.APP_MONITOR, pc.IDENTITY_POOL)]
    assert "rum-monitor" not in pc.capabilities(dataclasses.replace(growth, resources=without_rum))


def test_growth_stack_writes_down_no_region(growth: Recording, prod_elsewhere: Recording) -> None:
    # growth in ap-southeast-2 (and another account), shared with tests/test_hosting.py.
    moved = prod_elsewhere
    assert moved.outputs["phase"] == "growth" and moved.outputs["region"] == "ap-southeast-2"
    leaks = [r.urn for r in moved if "eu-west-1" in json.dumps(plain(r.inputs))]
    assert leaks == [], "inputs still name the shipped region"
    # The same scan does find the region where the shipped stack legitimately uses it.
    assert any("eu-west-1" in json.dumps(plain(r.inputs)) for r in growth.of_type(pc.DASHBOARD))


# ---- alarms --------------------------------------------------------------------------------


def test_every_alarm_acts_through_the_alerts_topic(growth: Recording) -> None:
    ours = growth.children_of("groundwork:observability:PerformanceMonitoring", pc.METRIC_ALARM)
    assert len(ours) == 5, [a.urn for a in ours]
    assert len(growth.of_type(pc.COMPOSITE_ALARM)) == 1
    assert pc.alarm_problems(growth) == []


@pytest.mark.parametrize(
    ("alarm", "change", "expected"),
    [
        ("performance-latency-p95", lambda i: i.pop("okActions"), "okActions"),
        ("performance-5xx-rate", lambda i: i.update(alarmActions=[]), "alarmActions"),
        ("performance-canary-success", lambda i: i.pop("treatMissingData"), "treatMissingData"),
        ("performance-request-anomaly", lambda i: i.update(actionsEnabled=False), "disabled"),
    ],
)
def test_alarm_check_catches_a_silent_alarm(growth: Recording, alarm, change, expected) -> None:
    target = pc.named(growth, pc.METRIC_ALARM, alarm)
    problems = pc.alarm_problems(replace_inputs(growth, target.urn, change))
    assert any(target.urn in p and expected in p for p in problems), problems


def test_latency_alarm_is_p95_over_the_setting_for_m_of_n_and_scales_out(
    growth: Recording,
) -> None:
    alarm = pc.named(growth, pc.METRIC_ALARM, "performance-latency-p95")
    assert alarm.input("extendedStatistic") == "p95", alarm.urn
    assert alarm.input("threshold") == pytest.approx(0.4), alarm.urn  # prod latencyP95Ms: 400
    assert (alarm.input("datapointsToAlarm"), alarm.input("evaluationPeriods")) == (3, 5)
    assert alarm.input("comparisonOperator") == "GreaterThanThreshold"
    alb, tg = growth.one(pc.ALB), growth.one(pc.TG)
    assert alarm.input("dimensions") == {
        "LoadBalancer": pc.out(alb, "arnSuffix"),
        "TargetGroup": pc.out(tg, "arnSuffix"),
    }
    step = pc.named(growth, pc.POLICY, "scaling-latency-step")
    assert pc.out(step, "arn") in alarm.input("alarmActions"), alarm.urn
    assert step.urn in pc.deps(alarm, "alarmActions")


def test_error_rate_alarm_is_a_percentage_by_metric_math(growth: Recording) -> None:
    alarm = pc.named(growth, pc.METRIC_ALARM, "performance-5xx-rate")
    queries = {q["id"]: q for q in alarm.input("metricQueries")}
    returned = [q for q in queries.values() if q.get("returnData")]
    assert [q["id"] for q in returned] == ["e3"], alarm.urn
    assert "100 *" in returned[0]["expression"]
    assert queries["m1"]["metric"]["metricName"] == "RequestCount"
    assert {queries[m]["metric"]["metricName"] for m in ("m2", "m3")} == {
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
    }
    assert "FILL(m2, 0)" in queries["e1"]["expression"]
    assert alarm.input("threshold") == 5, alarm.urn


def test_request_count_has_an_anomaly_detection_alarm(growth: Recording) -> None:
    alarm = pc.named(growth, pc.METRIC_ALARM, "performance-request-anomaly")
    queries = {q["id"]: q for q in alarm.input("metricQueries")}
    assert alarm.input("thresholdMetricId") == "ad1", alarm.urn
    assert queries["ad1"]["expression"] == "ANOMALY_DETECTION_BAND(m1, 3)"
    assert queries["m1"]["metric"]["metricName"] == "RequestCount"
    assert alarm.input("comparisonOperator") == "GreaterThanUpperThreshold"
    assert alarm.input("threshold") is None, "anomaly alarms compare with the band, not a value"


def test_service_unhealthy_combines_latency_errors_and_health_check(growth: Recording) -> None:
    members = [
        "performance-latency-p95",
        "performance-5xx-rate",
        "performance-canary-success",
        # phase 1's unhealthy-targets and error-log alarms, passed in by the blueprint
        "alarms-unhealthy-hosts",
        "alarms-error-log-rate",
    ]
    assert pc.composite_problems(growth, members) == []
    assert pc.composite_problems(growth, members[:3])  # a rule missing a member is caught
    comp = growth.one(pc.COMPOSITE_ALARM)
    assert comp.input("alarmName") == "groundwork-prod-service-unhealthy", comp.urn
    assert growth.outputs["serviceUnhealthyAlarmArn"] == pc.out(comp, "arn")


# ---- canary --------------------------------------------------------------------------------


def test_canary_checks_the_health_path_every_five_minutes(growth: Recording) -> None:
    canary = growth.one(pc.CANARY)
    assert canary.input("schedule", "expression") == "rate(5 minutes)", canary.urn
    url = canary.input("runConfig", "environmentVariables", "TARGET_URL")
    assert url == f"{growth.outputs['url']}/health", canary.urn
    assert canary.input("runtimeVersion").startswith("syn-python-selenium-")
    assert canary.input("handler") == "health_canary.handler"
    assert canary.input("runConfig", "activeTracing") is False
    assert canary.input("artifactConfig", "s3Encryption", "encryptionMode") == "SSE_KMS"
    assert canary.input("startCanary") is True and canary.input("deleteLambda") is True
    alarm = pc.named(growth, pc.METRIC_ALARM, "performance-canary-success")
    assert alarm.input("dimensions") == {"CanaryName": canary.input("name")}, alarm.urn
    assert (alarm.input("namespace"), alarm.input("metricName")) == (
        "CloudWatchSynthetics",
        "SuccessPercent",
    )
    assert alarm.input("treatMissingData") == "breaching", "a silent canary must alarm"


def test_canary_code_object_holds_the_script_under_a_content_key(growth: Recording) -> None:
    code = _ours(growth, "aws:s3/bucketObjectv2:BucketObjectv2")
    canary = growth.one(pc.CANARY)
    assert canary.input("s3Key") == code.input("key"), canary.urn
    assert re.fullmatch(r"canary-code/health_canary-[0-9a-f]{16}\.zip", code.input("key"))


def test_canary_artifacts_bucket_is_private_encrypted_tls_only_and_expiring(
    growth: Recording,
) -> None:
    bucket = _ours(growth, "aws:s3/bucket:Bucket")
    assert bucket.input("tags", "groundwork:purpose") == "canary-artifacts", bucket.urn

    def of(type_: str):
        found = [r for r in growth.of_type(type_) if bucket.urn in pc.deps(r, "bucket")]
        assert len(found) == 1, f"{bucket.urn}: {type_} {found}"
        return found[0]

    pab = of("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(pab.input(f) is True for f in flags), pab.urn
    sse = of(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    default = sse.input("rules")[0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"], sse.urn
    policy = of("aws:s3/bucketPolicy:BucketPolicy")
    deny = pc.statements(policy.input("policy"))[0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }, policy.urn
    lifecycle = of("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    expiring = [r for r in lifecycle.input("rules") if r.get("expiration")]
    assert expiring == [
        {
            "id": "expire-canary-runs",
            "status": "Enabled",
            "filter": {"prefix": "canary-runs/"},
            "expiration": {"days": 14},
        }
    ], lifecycle.urn
    assert growth.one(pc.CANARY).input("artifactS3Location").endswith("/canary-runs/")


def test_canary_role_gets_only_what_the_canary_needs(growth: Recording) -> None:
    policy = pc.named(growth, pc.ROLE_POLICY, "performance-canary-policy")
    stmts = {s["Sid"]: s for s in pc.statements(policy.input("policy"))}
    wildcard = {sid for sid, s in stmts.items() if "*" in pc.as_list(s["Resource"])}
    # Only actions without a resource-level form get "*", PutMetricData only in its namespace.
    assert wildcard == {"ListBuckets", "PublishCanaryMetrics"}, policy.urn
    assert stmts["ListBuckets"]["Action"] == ["s3:ListAllMyBuckets"]
    assert stmts["PublishCanaryMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}
    }
    assert stmts["CanaryLogs"]["Resource"][0].endswith(
        ":log-group:/aws/lambda/cwsyn-groundwork-prod-hc-*"
    )
    assert stmts["WriteRunArtifacts"]["Resource"][0].endswith("/canary-runs/*")
    assert not any("xray" in a for s in stmts.values() for a in pc.as_list(s["Action"]))


def test_canary_lambda_logs_get_retention_and_key(growth: Recording) -> None:
    engine = pc.out(growth.one(pc.CANARY), "engineArn")
    function = engine.split(":")[6]
    expected = {f"/aws/lambda/{function}": 30}
    assert pc.service_log_problems(growth, expected) == []
    assert pc.service_log_problems(growth, {"/aws/lambda/cwsyn-other-1": 30})


def test_canary_name_fits_synthetics_limits() -> None:
    assert performance.canary_name("groundwork", "prod") == "groundwork-prod-hc"
    long = performance.canary_name("My.Project", "a-very-long-stack-name")
    assert len(long) <= 21 and re.fullmatch(r"[a-z0-9_-]+", long)
    assert long != performance.canary_name("My.Project", "a-very-long-stack-nam3")


def test_canary_url_is_required_with_a_certificate_at_growth() -> None:
    base = {
        "aws:region": "eu-west-1",
        "groundwork:phase": "growth",
        "groundwork:rum": json.dumps({"domain": "app.example.com"}),
        "groundwork:hosting": json.dumps(
            {"certificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/abc-123"}
        ),
    }
    with pytest.raises(SettingsError, match=r"groundwork:performance\.canaryUrl is required"):
        parse(base, project="p", stack="s")
    ok = {**base, "groundwork:performance": json.dumps({"canaryUrl": "https://app.example.com"})}
    assert parse(ok, project="p", stack="s").performance.canary_url == "https://app.example.com"


# ---- the canary script, against a real local HTTP server -----------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/health")
            self.end_headers()
            return
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_canary_passes_on_200_and_follows_redirects(site: str) -> None:
    assert health_canary.check(f"{site}/health") == 200
    assert health_canary.check(f"{site}/moved") == 200


def test_canary_fails_on_other_status_or_no_answer(site: str) -> None:
    with pytest.raises(health_canary.HealthCheckFailed, match="answered 503, expected 200"):
        health_canary.check(f"{site}/broken")
    closed = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    port = closed.server_address[1]
    closed.server_close()
    with pytest.raises(health_canary.HealthCheckFailed, match="failed"):
        health_canary.check(f"http://127.0.0.1:{port}/health", timeout=2)
    with pytest.raises(health_canary.HealthCheckFailed, match="must be an http"):
        health_canary.check("")


def test_canary_handler_reads_the_url_from_its_environment(site, monkeypatch) -> None:
    monkeypatch.setenv("TARGET_URL", f"{site}/health")
    assert health_canary.handler({}, None) == "healthy"
    monkeypatch.setenv("TARGET_URL", f"{site}/down")
    with pytest.raises(health_canary.HealthCheckFailed):
        health_canary.handler({}, None)


# ---- dashboard -----------------------------------------------------------------------------


def test_every_dashboard_metric_refers_to_a_resource_of_the_stack(growth: Recording) -> None:
    board = growth.one(pc.DASHBOARD)
    assert board.input("dashboardName") == growth.outputs["performanceDashboardName"]
    assert pc.dashboard_problems(growth) == []
    titles = {m.widget for m in dash.metrics_in(json.loads(board.input("dashboardBody")))}
    assert {
        "Requests",
        "Target response time (s)",
        "5xx rate (%)",
        "Healthy hosts",
        "Instances: in service vs desired",
        "Instance CPU (%)",
        "Page load time, real users (ms)",
        "JavaScript errors, real users",
        "Health check success (%)",
    } <= titles
    alarms = dash.alarms_in(json.loads(board.input("dashboardBody")))
    assert len(alarms) == 6, board.urn


@pytest.mark.parametrize(
    ("old_key", "new"),
    [
        ("LoadBalancer", ("LoadBalancer", "app/some-other-alb/0123")),
        ("application_name", ("application_name", "another-app")),
        ("CanaryName", ("CanaryName", "someone-elses-canary")),
        ("AutoScalingGroupName", ("AutoScalingGrupName", "web-asg")),
    ],
)
def test_dashboard_check_catches_a_metric_of_something_else(
    growth: Recording, old_key: str, new: tuple[str, str]
) -> None:
    board = growth.one(pc.DASHBOARD)

    def repoint(inputs: dict) -> None:
        body = json.loads(inputs["dashboardBody"])
        for widget in body["widgets"]:
            for row in widget["properties"].get("metrics", []):
                if old_key in row:
                    i = row.index(old_key)
                    row[i], row[i + 1] = new
                    inputs["dashboardBody"] = json.dumps(body)
                    return
        raise AssertionError(f"no metric with {old_key}")

    problems = pc.dashboard_problems(replace_inputs(growth, board.urn, repoint))
    assert any(board.urn in p for p in problems), problems


def test_dashboard_graphs_database_error_log_and_rum_only_when_given() -> None:
    args = performance.PerformanceMonitoringArgs(
        region="eu-west-1",
        alb_arn_suffix="app/a/1",
        target_group_arn_suffix="targetgroup/t/2",
        asg_name="asg",
        alerts_topic_arn="arn:topic",
        site_url="http://x",
        health_check_path="/health",
        logs_key_arn="arn:key",
        canary_name="c-hc",
        dashboard_name="d",
        alarm_name_prefix="p",
        **performance_options(shipped_settings("prod")),
        ops_dir=Path("unused"),
    )

    def namespaces(a: performance.PerformanceMonitoringArgs) -> set[str]:
        widgets = performance._widgets(a, performance._Dimensions({}, {}, {}, {}), ["arn:alarm"])
        return {m.namespace for m in dash.metrics_in(dash.render(widgets, "eu-west-1"))}

    bare = namespaces(args)
    assert {"AWS/RDS", "AWS/RUM", "App/Errors"}.isdisjoint(bare)
    full = namespaces(
        dataclasses.replace(
            args,
            database_identifier="db-1",
            error_metric=("App/Errors", "ErrorEvents"),
            rum_app_monitor_name="app",
        )
    )
    assert {"AWS/RDS", "AWS/RUM", "App/Errors"} <= full


def test_dashboard_with_a_database_and_error_metric_is_checked_against_them(
    growth: Recording,
) -> None:
    # The integrator wires Database and Logging: their metrics must then resolve too. A
    # database identifier nobody created is reported.
    board = growth.one(pc.DASHBOARD)

    def add_db(inputs: dict) -> None:
        body = json.loads(inputs["dashboardBody"])
        body["widgets"][2]["properties"]["metrics"].append(
            ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", "db-nobody-made"]
        )
        body["widgets"][2]["properties"]["metrics"].append(["App/Errors", "ErrorEvents"])
        inputs["dashboardBody"] = json.dumps(body)

    problems = pc.dashboard_problems(replace_inputs(growth, board.urn, add_db))
    assert any("db-nobody-made" in p for p in problems), problems
    assert any("no metric filter publishes it" in p for p in problems), problems


# ---- the policy pack -----------------------------------------------------------------------


def test_growth_prod_stack_passes_the_pack_with_no_mandatory_violation(
    phase_variant: Callable[..., Recording],
) -> None:
    analyzer = pytest.importorskip(
        "offline.analyzer", reason="the policy pack driver arrives with the policy-pack branch"
    )
    from offline import stackfile

    rec = phase_variant("prod", "growth", preview=True)
    config = stackfile.load("prod", ROOT)
    config = dataclasses.replace(config, values={**config.values, "groundwork:phase": "growth"})
    result = analyzer.analyze(rec, config)
    assert [f"{v.policy}: {v.urn}: {v.message}" for v in result.mandatory] == []
