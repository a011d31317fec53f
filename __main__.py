"""groundwork: load the stack's settings once, build the platform, export its outputs."""

import pulumi

import blueprint
import settings

platform = blueprint.build(settings.load())
for key, value in platform.outputs().items():
    pulumi.export(key, value)
