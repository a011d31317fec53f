"""groundwork's guardrail rules: pure functions over engine property maps, and their catalogue.

Nothing in this package except `sdk.py` imports `pulumi_policy`, so the rules can be unit-tested
as plain functions and the pack's wiring stays in one place.
"""
