"""One way for a component to register its outputs: every public typed attribute it declares.

A component declares its outputs as class annotations (`bucket_name: pulumi.Output[str]`)
and sets each in `__init__`; `register_all(self)` ends `__init__` and registers all of them
under their camelCase names. A hand-picked dict drifted from the attributes (a subset, or a
key naming no attribute); this cannot.
"""

from __future__ import annotations

from typing import Any

import pulumi


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def declared_outputs(component: object) -> list[str]:
    """The public attributes annotated on the component's own classes (not Pulumi's)."""
    names: list[str] = []
    for klass in reversed(type(component).__mro__):
        if klass.__module__.startswith("pulumi"):
            continue
        for name in vars(klass).get("__annotations__", {}):
            if not name.startswith("_") and name not in names:
                names.append(name)
    return names


def public_outputs(component: object) -> dict[str, Any]:
    """camelCase name -> value of every declared output; each must have been set."""
    missing = [name for name in declared_outputs(component) if not hasattr(component, name)]
    if missing:
        raise AttributeError(
            f"{type(component).__name__} declares outputs it never sets: {', '.join(missing)}"
        )
    return {_camel(name): getattr(component, name) for name in declared_outputs(component)}


def register_all(component: pulumi.ComponentResource) -> None:
    """End a component's `__init__`: register every declared output."""
    component.register_outputs(public_outputs(component))
