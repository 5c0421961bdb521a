"""axe-core in the browser tests: WCAG 2.2 AA, no serious or critical finding.

axe-core is the npm package pinned in tests/package.json (scripts/setup.sh --tests runs `npm ci` there).
It is injected into the page and into every frame of it (Folium maps and Streamlit components are
iframes) and run in each, with the WCAG A and AA rule tags up to 2.2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}

#: Findings inside third-party frames that we cannot fix, each with its rule id and why.
#: (frame URL fragment, rule id) -> reason. Nothing else is ever skipped.
THIRD_PARTY = {}


def _source() -> str:
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci` in tests/ (scripts/setup.sh --tests does)")
    return AXE_JS.read_text()


def run_axe(pg) -> list[dict]:
    """Serious and critical WCAG 2.2 A/AA violations in the page and each of its frames:
    one dict per violation with the frame URL, rule id, impact, help and the offending nodes."""
    src = _source()
    found = []
    for frame in pg.frames:
        if frame.is_detached():
            continue
        try:
            if not frame.evaluate("() => typeof window.axe !== 'undefined'"):
                frame.evaluate(src)
            result = frame.evaluate(
                "async (tags) => { const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},"
                " resultTypes: ['violations'], iframes: false}); return r.violations; }", TAGS)
        except Exception as e:  # a frame navigating away or a blank one
            if "detached" in str(e) or "destroyed" in str(e):
                continue
            raise
        for v in result:
            if v["impact"] not in BLOCKING:
                continue
            found.append({
                "frame": frame.url if frame != pg.main_frame else "main",
                "id": v["id"], "impact": v["impact"], "help": v["help"],
                "nodes": [{"target": n["target"], "html": n["html"][:300], "summary": n.get("failureSummary", "")[:300]}
                          for n in v["nodes"][:5]],
            })
    return found


def blocking(findings: list[dict]) -> list[dict]:
    """Findings not documented in THIRD_PARTY."""
    return [f for f in findings
            if not any(part in f["frame"] and f["id"] == rule for (part, rule) in THIRD_PARTY)]


def assert_accessible(pg, name: str, artifacts: Path | None = None) -> None:
    findings = run_axe(pg)
    if artifacts is not None:
        artifacts.mkdir(exist_ok=True)
        (artifacts / f"axe-{name}.json").write_text(json.dumps(findings, indent=1))
    bad = blocking(findings)
    assert not bad, f"{name}: " + json.dumps(bad, indent=1)
