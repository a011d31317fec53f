"""Estimated monthly cost of a stack, from its resources' properties and one price file.

`estimate(items, region)` prices every resource whose type `prices.json` lists as priced, at the
stack's minimum and at its maximum capacity (autoscaling group min/max size, database storage
autoscaling limit), with the usage assumptions named in the same file. Each line says how it was
computed, so a reviewer can redo the arithmetic from the AWS pricing pages. Standard library
only: the policy pack imports this with nothing but its own requirements.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, overload

PRICES_FILE = Path(__file__).with_name("prices.json")
COMPONENT_SEPARATOR = "$"


@dataclass(frozen=True)
class Item:
    """The view of one resource the estimator needs (engine-shaped camelCase props)."""

    type: str
    urn: str
    name: str
    parent: str
    props: Mapping[str, Any]
    deps: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # The region of the explicit provider it is created through, when that provider names one
    # (the backup replica's); None means the stack's region.
    region: str | None = None


@dataclass(frozen=True)
class Line:
    """One priced resource: monthly USD at minimum and at maximum capacity, and how."""

    component: str
    urn: str
    type: str
    low: float
    high: float
    basis: str


@dataclass
class Estimate:
    region: str
    read: str
    hours: float  # hours in a month, as the price file counts them
    lines: list[Line]
    usage_only: dict[str, str]  # urn -> why it has no fixed price
    missing: list[str]  # resources that should be priced but could not be (e.g. unknown class)
    assumptions: dict[str, Mapping[str, Any]]

    @property
    def low(self) -> float:
        return round(sum(x.low for x in self.lines), 2)

    @property
    def high(self) -> float:
        return round(sum(x.high for x in self.lines), 2)

    def by_component(self) -> dict[str, tuple[float, float]]:
        out: dict[str, list[float]] = {}
        for x in self.lines:
            acc = out.setdefault(x.component, [0.0, 0.0])
            acc[0] += x.low
            acc[1] += x.high
        return {k: (round(v[0], 2), round(v[1], 2)) for k, v in sorted(out.items())}


class CostDataError(ValueError):
    """The price file has no figures for the region (names the region and what exists)."""


@cache
def load_prices(path: Path = PRICES_FILE) -> dict[str, Any]:
    return json.loads(path.read_text())


def classification(data: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Resource type -> 'priced' | 'included' | 'free' | 'usageOnly'."""
    types = (data or load_prices())["resourceTypes"]
    out: dict[str, str] = {t: "priced" for t in types["priced"]}
    for kind in ("included", "free", "usageOnly"):
        out.update({t: kind for t in types[kind]})
    return out


class _Ctx:
    """Prices of one region, the assumptions, and the stack's resources by URN."""

    def __init__(self, data: Mapping[str, Any], region: str, items: Sequence[Item]):
        if region not in data["regions"]:
            raise CostDataError(
                f"no prices for region {region!r} in {PRICES_FILE.name} "
                f"(have: {', '.join(sorted(data['regions']))})"
            )
        self.data = data
        self.region = region
        self.p = data["regions"][region]
        self.a = {k: v["value"] for k, v in data["assumptions"].items()}
        self.hours = float(data["hoursPerMonth"])
        self.items = items
        self.by_urn = {i.urn: i for i in items}
        self.used: set[str] = set()
        self.missing: list[str] = []

    # A price without a variant is always in the table (KeyError otherwise); one with a variant
    # (an instance class, a storage class) may be missing: None, so the item is left unpriced.
    @overload
    def usd(self, key: str) -> float: ...

    @overload
    def usd(self, key: str, variant: str) -> float | None: ...

    def usd(self, key: str, variant: str | None = None) -> float | None:
        entry = self.p[key]
        if variant is None:
            return float(entry["usd"])
        value = entry["values"].get(variant)
        return None if value is None else float(value)

    def usd_where(self, item: Item, key: str) -> tuple[float, str]:
        """A price in the item's own region, or the stack's when that region has none."""
        region = item.region or self.region
        prices = self.data["regions"].get(region)
        if prices is None:
            return float(self.p[key]["usd"]), f"{self.region} rate; no prices for {region}"
        return float(prices[key]["usd"]), region

    def assume(self, key: str) -> Any:
        self.used.add(key)
        return self.a[key]

    def parent_type(self, item: Item) -> str:
        parent = self.by_urn.get(item.parent)
        return parent.type if parent else ""


def _num(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return default
    return default


def _get(props: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(props, Mapping):
            return None
        props = props.get(key)
    return props


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def component_of(item: Item, by_urn: Mapping[str, Item]) -> str:
    """`name (Type)` of the outermost component above `item`, or '(stack)'."""
    top: Item | None = None
    seen: set[str] = set()
    current = by_urn.get(item.parent)
    while current is not None and current.urn not in seen:
        seen.add(current.urn)
        if not current.type.startswith(("aws:", "pulumi:")):
            top = current
        current = by_urn.get(current.parent)
    if top is None:
        return "(stack)"
    return f"{top.name} ({top.type.rsplit(':', 1)[-1]})"


# ---- pricing rules: item -> (low, high, basis) or None when a price is missing ----------------

Priced = tuple[float, float, str] | None


def _launch_template(ctx: _Ctx, asg: Item) -> Item | None:
    for urn in asg.deps.get("launchTemplate", ()):
        if urn in ctx.by_urn:
            return ctx.by_urn[urn]
    same_parent = [
        i
        for i in ctx.items
        if i.type == "aws:ec2/launchTemplate:LaunchTemplate" and i.parent == asg.parent
    ]
    return same_parent[0] if len(same_parent) == 1 else None


def _asg(ctx: _Ctx, item: Item) -> Priced:
    lt = _launch_template(ctx, item)
    if lt is None:
        return None
    itype = _get(lt.props, "instanceType")
    hourly = ctx.usd("ec2InstanceHour", itype) if isinstance(itype, str) else None
    if hourly is None:
        return None
    ebs_month = 0.0
    for m in _as_list(_get(lt.props, "blockDeviceMappings")):
        size, kind = _num(_get(m, "ebs", "volumeSize")), _get(m, "ebs", "volumeType") or "gp3"
        gb_price = ctx.usd("ebsGbMonth", kind)
        if gb_price is None:
            return None
        ebs_month += size * gb_price
    per_instance = hourly * ctx.hours + ebs_month
    lo, hi = _num(_get(item.props, "minSize")), _num(_get(item.props, "maxSize"))
    warm = _get(item.props, "warmPool")
    warm_n, warm_cost = 0.0, 0.0
    if isinstance(warm, Mapping):
        warm_n = _num(warm.get("minSize"))
        running = warm.get("poolState") == "Running"
        warm_cost = warm_n * (per_instance if running else ebs_month)
    basis = f"{lo:g}..{hi:g} x {itype} (${hourly}/h x {ctx.hours:g} h + ${ebs_month:.2f} EBS)" + (
        f" + warm pool {warm_n:g} (${warm_cost:.2f})" if warm_n else ""
    )
    return lo * per_instance + warm_cost, hi * per_instance + warm_cost, basis


def _instance(ctx: _Ctx, item: Item) -> Priced:
    itype = _get(item.props, "instanceType")
    hourly = ctx.usd("ec2InstanceHour", itype) if isinstance(itype, str) else None
    kind = _get(item.props, "rootBlockDevice", "volumeType") or "gp3"
    gb_price = ctx.usd("ebsGbMonth", kind)
    if hourly is None or gb_price is None:
        return None
    # An AMI's root volume is 8 GB unless the instance says otherwise.
    size = _num(_get(item.props, "rootBlockDevice", "volumeSize"), 8)
    cost = hourly * ctx.hours + size * gb_price
    return cost, cost, f"{itype} ${hourly}/h x {ctx.hours:g} h + {size:g} GB {kind}"


def _nat(ctx: _Ctx, item: Item) -> Priced:
    count = sum(1 for i in ctx.items if i.type == item.type) or 1
    gb = ctx.assume("natProcessedGbPerMonth") / count
    hourly, per_gb = ctx.usd("natGatewayHour"), ctx.usd("natGatewayGb")
    cost = hourly * ctx.hours + gb * per_gb
    return cost, cost, f"${hourly}/h x {ctx.hours:g} h + {gb:g} GB x ${per_gb}/GB"


def _eip(ctx: _Ctx, item: Item) -> Priced:
    hourly = ctx.usd("publicIpv4Hour")
    return hourly * ctx.hours, hourly * ctx.hours, f"public IPv4 ${hourly}/h x {ctx.hours:g} h"


def _endpoint(ctx: _Ctx, item: Item) -> Priced:
    if _get(item.props, "vpcEndpointType") != "Interface":
        return 0.0, 0.0, "gateway endpoint: no charge"
    azs = max(1, len(_as_list(_get(item.props, "subnetIds"))))
    hourly = ctx.usd("interfaceEndpointAzHour")
    cost = azs * hourly * ctx.hours
    return cost, cost, f"{azs} AZ x ${hourly}/h x {ctx.hours:g} h (data processed not included)"


def _alb(ctx: _Ctx, item: Item) -> Priced:
    lcu = ctx.assume("albAverageLcu")
    hourly, lcu_price = ctx.usd("albHour"), ctx.usd("albLcuHour")
    cost = (hourly + lcu * lcu_price) * ctx.hours
    return cost, cost, f"(${hourly}/h + {lcu:g} LCU x ${lcu_price}/LCU-h) x {ctx.hours:g} h"


def _rds(ctx: _Ctx, item: Item) -> Priced:
    cls = _get(item.props, "instanceClass")
    hourly = ctx.usd("rdsInstanceHour", cls) if isinstance(cls, str) else None
    if hourly is None:
        return None
    copies = 2 if _get(item.props, "multiAz") is True else 1
    alloc = _num(_get(item.props, "allocatedStorage"))
    top = max(alloc, _num(_get(item.props, "maxAllocatedStorage")))
    gb_price, backup_price = ctx.usd("rdsStorageGbMonth"), ctx.usd("rdsBackupGbMonth")
    change = ctx.assume("rdsBackupDailyChangeFraction")
    retention = _num(_get(item.props, "backupRetentionPeriod"), 1)
    extras, basis_extra = 0.0, ""
    if _get(item.props, "manageMasterUserPassword") is True:
        extras += ctx.usd("secretMonth")
        basis_extra += " + managed master secret"
    pi_days = _num(_get(item.props, "performanceInsightsRetentionPeriod"), 7)
    pi_on = _get(item.props, "performanceInsightsEnabled") is True
    if pi_on and pi_days <= 7:
        basis_extra += " + Performance Insights 7 days (free tier)"
    if pi_on and pi_days > 7:
        vcpus = load_prices()["rdsVcpus"]["values"].get(cls)
        if vcpus is None:
            return None
        extras += vcpus * ctx.usd("rdsDatabaseInsightsVcpuHour") * ctx.hours
        basis_extra += f" + Performance Insights {pi_days:g} days ({vcpus} vCPU)"

    def month(storage: float) -> float:
        # Backup storage up to 100% of the provisioned storage is free.
        billable_backup = storage * change * retention
        return (
            copies * (hourly * ctx.hours + storage * gb_price)
            + billable_backup * backup_price
            + extras
        )

    basis = (
        f"{copies} x {cls} (${hourly}/h x {ctx.hours:g} h + {alloc:g}..{top:g} GB x "
        f"${gb_price}/GB) + backups beyond free ({change:g}/day x {retention:g} days of "
        f"storage) x ${backup_price}/GB{basis_extra}"
    )
    return month(alloc), month(top), basis


def _source_db(ctx: _Ctx, item: Item) -> Item | None:
    dbs = [i for i in ctx.items if i.type == "aws:rds/instance:Instance"]
    linked = [ctx.by_urn[u] for u in item.deps.get("sourceDbInstanceArn", ()) if u in ctx.by_urn]
    return (linked or dbs or [None])[0]


def _backup_replication(ctx: _Ctx, item: Item) -> Priced:
    db = _source_db(ctx, item)
    if db is None:
        return None
    change = ctx.assume("rdsBackupDailyChangeFraction")
    retention = _num(_get(item.props, "retentionPeriod"), 7)
    alloc = _num(_get(db.props, "allocatedStorage"))
    top = max(alloc, _num(_get(db.props, "maxAllocatedStorage")))
    # Stored in the replica's region and priced there; the transfer is billed by the source.
    store, where = ctx.usd_where(item, "rdsBackupGbMonth")
    transfer = ctx.usd("interRegionTransferGb")

    def month(storage: float) -> float:
        # The replica region has no free allowance: the whole copy is billed, and each
        # month's changes cross regions.
        return storage * (1 + change * retention) * store + storage * change * 30 * transfer

    basis = (
        f"{alloc:g}..{top:g} GB x (1 + {change:g} x {retention:g}) x ${store}/GB ({where}) + "
        f"30 days of changes x ${transfer}/GB across regions"
    )
    return month(alloc), month(top), basis


def _cold_fraction(ctx: _Ctx, bucket: Item) -> tuple[float, str]:
    for lc in ctx.items:
        if lc.type != "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
            continue
        if bucket.urn not in lc.deps.get("bucket", ()):
            continue
        for rule in _as_list(_get(lc.props, "rules")):
            transitions = _as_list(_get(rule, "transitions"))
            expire = _num(_get(rule, "expiration", "days"))
            if transitions and expire and _get(rule, "status") == "Enabled":
                first = transitions[0]
                cold_after = _num(_get(first, "days"))
                return max(0.0, (expire - cold_after) / expire), str(first.get("storageClass"))
    return 0.0, "STANDARD"


def _bucket(ctx: _Ctx, item: Item) -> Priced:
    purpose = _get(item.props, "tags", "groundwork:purpose")
    by_purpose = ctx.assume("s3StoredGbByPurpose")
    gb = float(by_purpose.get(purpose, ctx.assume("s3StoredGbDefault")))
    cold, cold_class = _cold_fraction(ctx, item)
    std, cold_price = ctx.usd("s3GbMonth", "STANDARD"), ctx.usd("s3GbMonth", cold_class)
    if std is None or cold_price is None:
        return None
    cost = gb * ((1 - cold) * std + cold * cold_price)
    basis = f"{gb:g} GB ({purpose or 'untagged'})"
    basis += f", {cold:.0%} in {cold_class}" if cold else f" x ${std}/GB-month"
    return cost, cost, basis


def _capacity(ctx: _Ctx) -> tuple[float, float]:
    groups = [i for i in ctx.items if i.type == "aws:autoscaling/group:Group"]
    lo = sum(_num(_get(g.props, "minSize")) for g in groups)
    hi = sum(_num(_get(g.props, "maxSize")) for g in groups)
    return lo, hi


def _log_group(ctx: _Ctx, item: Item) -> Priced:
    parent = ctx.parent_type(item)
    if parent == "groundwork:observability:Logging":
        per = ctx.assume("appLogGbPerInstanceMonth")
        lo_n, hi_n = _capacity(ctx)
        lo_gb, hi_gb, what = per * lo_n, per * hi_n, f"{per:g} GB x {lo_n:g}..{hi_n:g} instances"
    elif parent == "groundwork:network:Network":
        lo_gb = hi_gb = ctx.assume("flowLogGbPerMonth")
        what = f"{lo_gb:g} GB flow logs"
    else:
        lo_gb = hi_gb = ctx.assume("otherLogGbPerGroupMonth")
        what = f"{lo_gb:g} GB"
    days = _num(_get(item.props, "retentionInDays"))
    months = days / 30 if days else ctx.assume("logNeverExpireMonths")
    ratio = ctx.assume("logStorageCompressionRatio")
    ingest, store = ctx.usd("logsIngestGb"), ctx.usd("logsStorageGbMonth")

    def month(gb: float) -> float:
        return gb * ingest + gb * months * ratio * store

    basis = (
        f"{what}/month x ${ingest}/GB + {months:.1f} months kept x {ratio:g} compressed x "
        f"${store}/GB-month"
    )
    return month(lo_gb), month(hi_gb), basis


def _alarm(ctx: _Ctx, item: Item) -> Priced:
    queries = _as_list(_get(item.props, "metricQueries"))
    metrics = sum(1 for q in queries if isinstance(_get(q, "metric"), Mapping)) or 1
    band = any("ANOMALY_DETECTION_BAND" in str(_get(q, "expression") or "") for q in queries)
    periods = [_num(_get(item.props, "period"))] + [
        _num(_get(q, "metric", "period")) for q in queries
    ]
    high_res = any(0 < p < 60 for p in periods)
    # An anomaly-detection alarm bills 3 metrics (the metric and both band edges); a
    # high-resolution alarm metric costs 3 standard ones.
    units = metrics * (3 if band else 1) * (3 if high_res else 1)
    price = ctx.usd("alarmMetricMonth")
    return units * price, units * price, f"{units} alarm metric(s) x ${price}"


def _fixed(key: str, label: str) -> Callable[[_Ctx, Item], Priced]:
    def rule(ctx: _Ctx, item: Item) -> Priced:
        price = ctx.usd(key)
        return price, price, f"{label} ${price}/month"

    return rule


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")


def runs_per_month(expression: Any, hours: float) -> float | None:
    """Runs a month of a `rate(...)` or a once-a-day `cron(...)` schedule; None if neither."""
    text = str(expression or "").strip()
    if m := _RATE.match(text):
        n, unit = int(m.group(1)), m.group(2).rstrip("s")
        minutes = n * {"minute": 1, "hour": 60, "day": 1440}[unit]
        return hours * 60 / minutes
    if text.startswith("cron(") and len(fields := text[5:-1].split()) >= 5:
        minute, hour, dom, _month, dow = fields[:5]
        if minute.isdigit() and hour.isdigit() and dom in "*?" and dow in "*?":
            return hours / 24
    return None


def _canary(ctx: _Ctx, item: Item) -> Priced:
    runs = runs_per_month(_get(item.props, "schedule", "expression"), ctx.hours)
    if runs is None:
        return None
    price = ctx.usd("canaryRun")
    return runs * price, runs * price, f"{runs:g} runs x ${price}"


def _rum(ctx: _Ctx, item: Item) -> Priced:
    rate = _num(_get(item.props, "appMonitorConfiguration", "sessionSampleRate"), 0.1)
    sessions, per = ctx.assume("rumSessionsPerMonth"), ctx.assume("rumEventsPerSession")
    events = sessions * rate * per
    price = ctx.usd("rumEvents100k")
    cost = events / 100_000 * price
    return cost, cost, f"{sessions:g} sessions x {rate:g} sampled x {per:g} events x ${price}/100k"


def _firehose(ctx: _Ctx, item: Item) -> Priced:
    gb = ctx.assume("firehoseGbPerMonth")
    price = ctx.usd("firehoseGb")
    convert = _get(
        item.props, "extendedS3Configuration", "dataFormatConversionConfiguration", "enabled"
    )
    conversion = ctx.usd("firehoseConversionGb") if convert in (True, "true") else 0.0
    cost = gb * (price + conversion)
    extra = f" + ${conversion}/GB format conversion" if conversion else ""
    return cost, cost, f"{gb:g} GB x ${price}/GB{extra}"


def _schedule_runs(ctx: _Ctx, item: Item) -> float:
    for s in ctx.items:
        if s.type == "aws:scheduler/schedule:Schedule" and s.parent == item.parent:
            runs = runs_per_month(_get(s.props, "scheduleExpression"), ctx.hours)
            if runs is not None:
                return runs
    return ctx.hours / 24


def _codebuild(ctx: _Ctx, item: Item) -> Priced:
    compute = _get(item.props, "environment", "computeType")
    price = ctx.usd("codebuildMinute", compute) if isinstance(compute, str) else None
    if price is None:
        return None
    if ctx.parent_type(item) == "groundwork:data:BackupJob":
        runs, minutes = _schedule_runs(ctx, item), ctx.assume("backupJobMinutesPerRun")
    else:
        runs, minutes = ctx.assume("releasesPerMonth"), ctx.assume("testBuildMinutes")
    cost = runs * minutes * price
    return cost, cost, f"{runs:g} runs x {minutes:g} min x ${price}/min ({compute})"


def _pipeline(ctx: _Ctx, item: Item) -> Priced:
    if _get(item.props, "pipelineType") == "V2":
        runs, minutes = (
            ctx.assume("releasesPerMonth"),
            ctx.assume("pipelineActionMinutesPerRelease"),
        )
        price = ctx.usd("pipelineV2ActionMinute")
        cost = runs * minutes * price
        return cost, cost, f"{runs:g} releases x {minutes:g} action min x ${price}/min"
    return _fixed("pipelineV1Month", "V1 pipeline")(ctx, item)


def _scaling_policy(ctx: _Ctx, item: Item) -> Priced:
    if _get(item.props, "policyType") not in (None, "TargetTrackingScaling"):
        return 0.0, 0.0, "no alarms of its own"
    n, price = ctx.assume("targetTrackingAlarmsPerPolicy"), ctx.usd("alarmMetricMonth")
    return n * price, n * price, f"{n} managed alarms x ${price}"


def _waf(ctx: _Ctx, item: Item) -> Priced:
    rules = len(_as_list(_get(item.props, "rules")))
    acl, rule, per_m = (
        ctx.usd("wafWebAclMonth"),
        ctx.usd("wafRuleMonth"),
        ctx.usd("wafMillionRequests"),
    )
    req = ctx.assume("wafMillionRequestsPerMonth")
    cost = acl + rules * rule + req * per_m
    return cost, cost, f"${acl} + {rules} rules x ${rule} + {req:g}M requests x ${per_m}/M"


RULES: dict[str, Callable[[_Ctx, Item], Priced]] = {
    "aws:autoscaling/group:Group": _asg,
    "aws:ec2/instance:Instance": _instance,
    "aws:ec2/natGateway:NatGateway": _nat,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _endpoint,
    "aws:lb/loadBalancer:LoadBalancer": _alb,
    "aws:rds/instance:Instance": _rds,
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": (
        _backup_replication
    ),
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketV2:BucketV2": _bucket,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _fixed("compositeAlarmMonth", "composite"),
    "aws:cloudwatch/dashboard:Dashboard": _fixed("dashboardMonth", "dashboard"),
    "aws:synthetics/canary:Canary": _canary,
    "aws:rum/appMonitor:AppMonitor": _rum,
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": _firehose,
    "aws:kms/key:Key": _fixed("kmsKeyMonth", "key"),
    "aws:secretsmanager/secret:Secret": _fixed("secretMonth", "secret"),
    "aws:codebuild/project:Project": _codebuild,
    "aws:codepipeline/pipeline:Pipeline": _pipeline,
    "aws:autoscaling/policy:Policy": _scaling_policy,
    "aws:wafv2/webAcl:WebAcl": _waf,
    "aws:route53/zone:Zone": _fixed("route53HostedZoneMonth", "hosted zone"),
}


def unclassified_types(types: Iterable[str]) -> list[str]:
    """Cloud resource types neither priced nor marked included, free or usage-only."""
    known = classification()
    return sorted({t for t in types if t.startswith(("aws:", "random:")) and t not in known})


def estimate(items: Sequence[Item], region: str) -> Estimate:
    """Price `items` (a whole stack) in `region`; raises CostDataError for an unpriced region."""
    data = load_prices()
    ctx = _Ctx(data, region, items)
    kinds = classification(data)
    usage_reasons = data["resourceTypes"]["usageOnly"]
    lines: list[Line] = []
    usage_only: dict[str, str] = {}
    for item in items:
        kind = kinds.get(item.type)
        if kind == "usageOnly":
            usage_only[item.urn] = usage_reasons[item.type]
        if kind != "priced":
            continue
        priced = RULES[item.type](ctx, item)
        if priced is None:
            ctx.missing.append(f"{item.urn}: no price for its class or schedule in {region}")
            continue
        low, high, basis = priced
        component = component_of(item, ctx.by_urn)
        lines.append(Line(component, item.urn, item.type, round(low, 4), round(high, 4), basis))
    if usage_only and "lambdaMonthlyUsd" in data["assumptions"]:
        ctx.used.add("lambdaMonthlyUsd")
    used = {k: data["assumptions"][k] for k in sorted(ctx.used)}
    return Estimate(region, data["read"], ctx.hours, lines, usage_only, ctx.missing, used)
