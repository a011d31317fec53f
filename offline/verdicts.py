"""Render a policy analysis: text for people (grouped by enforcement level) and a JSON report."""

from __future__ import annotations

from typing import Any

from .analyzer import AnalysisResult, Violation

_ORDER = ("mandatory", "remediate", "advisory", "disabled")


def _first_line_after_description(v: Violation) -> str:
    # The SDK prefixes every message with the policy description; show only the specific part.
    text = v.message
    if v.description and text.startswith(v.description):
        text = text[len(v.description) :].lstrip("\n")
    return text.replace("\n", " ") or v.description


def render_text(result: AnalysisResult) -> str:
    lines = [f"Policy pack {result.pack}@v{result.version} on {result.project}/{result.stack}"]
    for level in _ORDER:
        group = [v for v in result.violations if v.level == level]
        if not group:
            continue
        lines.append("")
        lines.append(f"{level.upper()} ({len(group)})")
        for v in group:
            lines.append(f"  [{v.policy}] {v.urn}")
            lines.append(f"      {_first_line_after_description(v)}")
    if result.exemptions:
        lines.append("")
        lines.append(f"EXEMPTIONS ({len(result.exemptions)})")
        for e in result.exemptions:
            where = f" -> {', '.join(e.resources)}" if e.resources else ""
            lines.append(
                f"  [{e.policy}] {e.target} {e.status}, expires {e.expires}: {e.reason}{where}"
            )
    counts = {level: sum(1 for v in result.violations if v.level == level) for level in _ORDER}
    lines.append("")
    lines.append(
        f"{'FAIL' if counts['mandatory'] else 'PASS'}: {counts['mandatory']} mandatory, "
        f"{counts['advisory']} advisory violation(s); {len(result.policies)} policies ran; "
        f"{sum(e.status == 'applied' for e in result.exemptions)} exemption(s) applied, "
        f"{sum(e.status == 'expired' for e in result.exemptions)} expired"
    )
    return "\n".join(lines) + "\n"


def to_report(result: AnalysisResult) -> dict[str, Any]:
    counts = {level: sum(1 for v in result.violations if v.level == level) for level in _ORDER}
    return {
        "pack": result.pack,
        "version": result.version,
        "project": result.project,
        "stack": result.stack,
        "ok": result.ok,
        "summary": {**counts, "policies": len(result.policies)},
        "policies": [{"name": n, "level": result.levels.get(n, "")} for n in result.policies],
        "violations": [v.as_dict() for v in result.violations],
        "exemptions": [e.as_dict() for e in result.exemptions],
    }
