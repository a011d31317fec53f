"""Logging and alarm rules: log group retention and encryption, alarms that notify, coverage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .base import StackSettings
from .props import (
    MISSING,
    Finding,
    Resource,
    as_bool,
    as_list,
    as_number,
    get,
    is_unknown,
    tags_of,
    undecided,
    violation,
)

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
ALARMS = frozenset({METRIC_ALARM, COMPOSITE_ALARM})
LOG_CLASS_TAG = "groundwork:logClass"

# The retention values CloudWatch Logs accepts (PutRetentionPolicy).
VALID_RETENTION = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def log_retention(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    classes: Mapping[str, Any] = cfg.get("classes") or {}
    tags = tags_of(r.props)
    if is_unknown(tags):
        return [undecided("tags")]
    cls = tags.get(LOG_CLASS_TAG, "runtime")
    if is_unknown(cls):
        return [undecided(f"tags.{LOG_CLASS_TAG}")]
    bounds = classes.get(cls)
    if not isinstance(bounds, Mapping):
        return [
            violation(
                f"tag {LOG_CLASS_TAG}={cls!r} is not a known log class "
                f"({', '.join(sorted(classes))})"
            )
        ]
    value = get(r.props, "retentionInDays")
    if is_unknown(value):
        return [undecided("retentionInDays")]
    days = as_number(value)
    lo, hi = int(bounds.get("minDays", 1)), int(bounds.get("maxDays", 3653))
    if days is None or days == 0:
        return [
            violation(
                f"retentionInDays is not set (logs kept forever); {cls} logs keep {lo}..{hi} days"
            )
        ]
    problems = []
    if not lo <= days <= hi:
        problems.append(
            violation(f"retentionInDays {days:g} is outside {lo}..{hi} days for {cls} logs")
        )
    if int(days) not in VALID_RETENTION:
        problems.append(
            violation(f"retentionInDays {days:g} is not a value CloudWatch Logs accepts")
        )
    return problems


def log_kms(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    key = get(r.props, "kmsKeyId")
    if key is MISSING or key == "":
        return [violation("kmsKeyId is not set; encrypt the log group with the stack's KMS key")]
    return []  # an unknown key id is a key created in this stack: set, value pending


def _own_action_findings(r: Resource) -> list[Finding]:
    findings: list[Finding] = []
    enabled = get(r.props, "actionsEnabled")
    if is_unknown(enabled):
        findings.append(undecided("actionsEnabled", r.urn))
    elif as_bool(enabled) is False:
        findings.append(violation("actionsEnabled is false; the alarm would notify no one", r.urn))
    actions = get(r.props, "alarmActions")
    if not is_unknown(actions) and not as_list(actions):
        findings.append(
            violation(
                "alarmActions is empty; add at least one action (e.g. the alerts topic), or "
                "make it part of a composite alarm that notifies",
                r.urn,
            )
        )
    return findings


def alarm_actions(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    """Every alarm notifies: through its own actions, or as a child of a composite alarm
    that notifies (the child then needs no actions of its own)."""
    composites = [r for r in resources if r.type == COMPOSITE_ALARM]
    findings: list[Finding] = []
    for r in (r for r in resources if r.type in ALARMS):
        own = _own_action_findings(r)
        if own and not any(f.unknown for f in own) and _in_notifying_composite(r, composites):
            continue
        findings.extend(own)
    return findings


def _in_notifying_composite(alarm: Resource, composites: Sequence[Resource]) -> bool:
    return any(
        _refers(comp, alarm) and _alarm_notifies(comp, composites, frozenset({alarm.urn}))
        for comp in composites
    )


def _refers(comp: Resource, alarm: Resource) -> bool:
    """The composite's rule names the alarm (by dependency, or by its name in the rule text)."""
    rule = get(comp.props, "alarmRule")
    name = get(alarm.props, "alarmName" if alarm.type == COMPOSITE_ALARM else "name")
    return alarm.urn in comp.depends_via("alarmRule") or (
        isinstance(name, str) and not is_unknown(name) and isinstance(rule, str) and name in rule
    )


def _alarm_notifies(
    alarm: Resource, composites: Sequence[Resource], seen: frozenset[str] = frozenset()
) -> bool:
    if as_bool(get(alarm.props, "actionsEnabled")) is not False and (
        is_unknown(get(alarm.props, "alarmActions")) or as_list(get(alarm.props, "alarmActions"))
    ):
        return True
    seen = seen | {alarm.urn}
    return any(
        comp.urn not in seen and _refers(comp, alarm) and _alarm_notifies(comp, composites, seen)
        for comp in composites
    )


def _dimension_values(alarm: Resource) -> set[str]:
    values: set[str] = set()
    dims = get(alarm.props, "dimensions")
    if isinstance(dims, Mapping):
        values.update(v for v in dims.values() if isinstance(v, str) and not is_unknown(v))
    for q in as_list(get(alarm.props, "metricQueries")):
        qd = get(q, "metric", "dimensions")
        if isinstance(qd, Mapping):
            values.update(v for v in qd.values() if isinstance(v, str) and not is_unknown(v))
    return values


def _identities(r: Resource) -> set[str]:
    keys = ("arnSuffix", "name", "id", "identifier", "clusterIdentifier")
    return {v for k in keys if isinstance(v := get(r.props, k), str) and not is_unknown(v) and v}


def resources_alarmed(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    watched = frozenset(cfg.get("types") or ())
    alarms = [r for r in resources if r.type == METRIC_ALARM]
    composites = [r for r in resources if r.type == COMPOSITE_ALARM]
    findings: list[Finding] = []
    for r in resources:
        if r.type not in watched:
            continue
        ids = _identities(r)
        covering = [
            a
            for a in alarms
            if r.urn in a.depends_via("dimensions")
            or r.urn in a.depends_via("metricQueries")
            or (ids & _dimension_values(a))
        ]
        if not covering:
            findings.append(violation(f"no CloudWatch alarm watches {r.name} ({r.type})", r.urn))
        elif not any(_alarm_notifies(a, composites) for a in covering):
            findings.append(
                violation(
                    f"alarms on {r.name} ({', '.join(a.name for a in covering)}) have no enabled "
                    "action",
                    r.urn,
                )
            )
    return findings


TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
PIPELINES = frozenset({"aws:codepipeline/pipeline:Pipeline"})


def _refers_to(r: Resource, key: str, value: Any, topic: Resource) -> bool:
    """`r` names `topic` in `value` (read from input `key`): by dependency or by ARN."""
    arn = get(topic.props, "arn")
    if isinstance(arn, str) and not is_unknown(arn) and arn in as_list(value):
        return True
    return topic.urn in r.depends_via(key) and (is_unknown(value) or _has_unknown(value))


def _has_unknown(value: Any) -> bool:
    return any(is_unknown(v) for v in as_list(value))


def _approval_topics(pipeline: Resource) -> list[Any]:
    """NotificationArn of every manual approval action of a pipeline."""
    stages = get(pipeline.props, "stages")
    return [
        get(action, "configuration", "NotificationArn")
        for stage in as_list(stages)
        for action in as_list(get(stage, "actions"))
        if get(action, "category") == "Approval"
    ]


# Domains reserved for documentation and testing (RFC 2606, RFC 6761): mail or a webhook
# addressed there never reaches a person. The program's settings keep the same list; a parity
# test holds them together (the pack runs in its own virtualenv and cannot import settings).
RESERVED_DOMAINS: tuple[str, ...] = (
    "example.com", "example.net", "example.org", "example", "test", "invalid", "localhost",
)  # fmt: skip
ADDRESSED = frozenset({"email", "email-json"})
WEBHOOKS = frozenset({"http", "https"})


def is_reserved_domain(domain: str) -> bool:
    """True for a documentation/test domain or any subdomain of one."""
    name = domain.lower().rstrip(".")
    return any(name == r or name.endswith(f".{r}") for r in RESERVED_DOMAINS)


def _endpoint_domain(subscription: Resource) -> str | None:
    """The domain a mail or webhook subscription delivers to; None when not decidable."""
    protocol, endpoint = get(subscription.props, "protocol"), get(subscription.props, "endpoint")
    if not isinstance(protocol, str) or not isinstance(endpoint, str):
        return None
    if protocol.lower() in ADDRESSED:
        return endpoint.rsplit("@", 1)[-1]
    if protocol.lower() in WEBHOOKS:
        return urlsplit(endpoint).hostname
    return None


def _filtered(subscription: Resource) -> bool:
    """A known filter policy: the subscriber gets only the messages it matches, and an alarm's
    or an approval's notice carries no message attributes for the default scope to match.
    https://docs.aws.amazon.com/sns/latest/dg/message-filtering.html"""
    policy = get(subscription.props, "filterPolicy")
    if policy is MISSING or is_unknown(policy):
        return False
    return not (isinstance(policy, str) and policy.strip() in ("", "{}"))


def reaches_someone(subscription: Resource) -> bool:
    """False for a subscription whose address is on a reserved domain (a placeholder) or that
    filters what it receives (it may hear none of the alarms)."""
    if _filtered(subscription):
        return False
    domain = _endpoint_domain(subscription)
    return domain is None or not is_reserved_domain(domain)


def alerts_topic_subscribed(
    resources: Sequence[Resource], cfg: Mapping[str, Any], st: StackSettings
) -> list[Finding]:
    """Every topic an alarm or a manual approval notifies reaches someone.

    A subscription counts when it names the topic, its address is not on a reserved
    documentation domain and it has no filter policy; an address or a filter policy unknown at
    preview counts.
    """
    topics = [r for r in resources if r.type == TOPIC]
    alerting: dict[str, Resource] = {}
    for r in resources:
        if r.type in ALARMS:
            for key in ("alarmActions", "okActions"):
                value = get(r.props, key)
                alerting |= {t.urn: t for t in topics if _refers_to(r, key, value, t)}
        if r.type in PIPELINES:
            for arn in _approval_topics(r):
                alerting |= {t.urn: t for t in topics if _refers_to(r, "stages", arn, t)}
    findings: list[Finding] = []
    subscriptions = [r for r in resources if r.type == SUBSCRIPTION]
    for topic in alerting.values():
        subscribed = [
            s for s in subscriptions if _refers_to(s, "topic", get(s.props, "topic"), topic)
        ]
        reachable = [s for s in subscribed if reaches_someone(s)]
        if subscribed and not reachable:
            findings.append(
                violation(
                    f"{topic.name} receives alarms or approval requests but every subscriber is "
                    "on a reserved domain (example.com, .test, ...) or has a filter policy: "
                    "nobody would hear them all (subscribe a real address, unfiltered)",
                    topic.urn,
                )
            )
        elif not subscribed:
            findings.append(
                violation(
                    f"{topic.name} receives alarms or approval requests but has no subscription: "
                    "nobody would hear them (subscribe at least one address)",
                    topic.urn,
                )
            )
    return findings
