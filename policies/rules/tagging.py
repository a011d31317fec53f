"""Required tags: every taggable resource carries the configured keys.

Tags come from the resource's own `tags` or from the default tags of the AWS provider that
manages it (its inputs; stack config `aws:defaultTags` only when no provider was sent). An
autoscaling group's instances do not inherit default tags, so the group needs the keys in its
own `tags` list with `propagateAtLaunch: true`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources as importlib_resources
from typing import Any

from .base import StackSettings
from .props import (
    Finding,
    Resource,
    as_bool,
    as_list,
    get,
    is_unknown,
    parse_json_object,
    tags_of,
    undecided,
    violation,
)

ASG = "aws:autoscaling/group:Group"


@cache
def taggable_types() -> frozenset[str]:
    """Type tokens whose pulumi-aws 7 inputs have a `tags` map (see taggable_types.txt)."""
    package = __name__.rpartition(".")[0]  # `rules` or `policies.rules`, as imported
    text = importlib_resources.files(package).joinpath("taggable_types.txt").read_text()
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def _provider_default_tags(r: Resource) -> Mapping[str, Any] | None:
    if not r.provider_props:
        return None
    doc = parse_json_object(r.provider_props.get("defaultTags"))
    if not isinstance(doc, Mapping):
        return None
    tags = doc.get("tags")
    return tags if isinstance(tags, Mapping) else None


def required_tags(r: Resource, cfg: Mapping[str, Any], st: StackSettings) -> list[Finding]:
    keys = [str(k) for k in cfg.get("keys", ["Project", "Environment", "Owner"])]
    if r.type == ASG:
        tags = get(r.props, "tags")
        if is_unknown(tags):
            return [undecided("tags")]
        propagated = {
            get(t, "key") for t in as_list(tags) if as_bool(get(t, "propagateAtLaunch")) is True
        }
        missing = [k for k in keys if k not in propagated]
        if missing:
            return [
                violation(
                    f"tags list lacks {', '.join(missing)} with propagateAtLaunch: true "
                    "(instances do not inherit provider default tags)"
                )
            ]
        return []
    own = tags_of(r.props)
    if is_unknown(own):
        return [undecided("tags")]
    # The resource's provider applies its own defaultTags only. The engine sends the default
    # provider with the stack's aws config as inputs, so aws:defaultTags arrives that way; an
    # explicit provider without defaultTags applies none, whatever the stack config says.
    defaults = _provider_default_tags(r)
    if defaults is None:
        defaults = st.default_tags if r.provider_props is None else {}
    # A blank value names no project, environment or owner: it counts as missing.
    present = {k for k, v in {**defaults, **own}.items() if v is not None and str(v).strip()}
    missing = [k for k in keys if k not in present]
    if missing:
        return [
            violation(f"missing required tag(s) {', '.join(missing)} (own tags or aws:defaultTags)")
        ]
    return []
