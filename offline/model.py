"""What the offline engine records: one entry per resource registration, engine-shaped.

Property maps keep the wire form the engine and `pulumi_policy` see: camelCase keys, unknown
values as `UNKNOWN` (the runtime's sentinel string) and secrets as the runtime's signature
object (`{SECRET_SIG: SECRET_VALUE, "value": ...}`). `plain()` strips the secret wrappers for
tests that only care about values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# The runtime's wire sentinels (pulumi.runtime.rpc); repeated here so the model has no import
# side effects and reports can be written without the SDK loaded.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"


def is_unknown(value: Any) -> bool:
    return value == UNKNOWN


def plain(value: Any) -> Any:
    """Return `value` with secret wrappers replaced by their contents (unknowns kept)."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return plain(value.get("value"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class RecordedResource:
    """One `RegisterResource` request as the engine would receive it."""

    type: str
    name: str
    urn: str
    custom: bool
    parent: str
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]
    protect: bool | None
    retain_on_delete: bool | None
    ignore_changes: tuple[str, ...]
    provider: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)

    def input(self, *path: str, default: Any = None) -> Any:
        """Plain value at a camelCase path of the inputs, or `default`."""
        value: Any = plain(self.inputs)
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value


@dataclass
class Recording:
    """A whole program run: every resource in registration order and the stack's exports."""

    project: str
    stack: str
    preview: bool
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    stack_urn: str
    # What the program logged at warning level (pulumi.log.warn), in order.
    warnings: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[RecordedResource]:
        return iter(self.resources)

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> RecordedResource:
        found = self.of_type(type_)
        if len(found) != 1:
            raise AssertionError(
                f"expected exactly one {type_} in stack {self.stack}, found "
                f"{[r.urn for r in found]}"
            )
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def children_of(self, component_type: str, type_: str | None = None) -> list[RecordedResource]:
        """Resources (of `type_`, if given) directly under components of `component_type`."""
        parents = {r.urn for r in self.resources if r.type == component_type}
        return [r for r in self.resources if r.parent in parents and type_ in (None, r.type)]
