"""The accessibility check of issue 13: axe-core (vendored in tests/browser/vendor/) runs on a
page the journey has open and the test fails on any "serious" or "critical" violation."""
from __future__ import annotations

from functools import cache
from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
BLOCKING = ("serious", "critical")


@cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def _load_axe(page) -> None:
    # Evaluated through the DevTools protocol, so the site's Content-Security-Policy (no inline
    # scripts) does not refuse it, as it would a <script> tag added to the page.
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source() + "\n;true")


def violations(page) -> list[dict]:
    """axe's serious and critical violations on the page as it is now."""
    _load_axe(page)
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
    }""")
    return [violation for violation in found if violation["impact"] in BLOCKING]


def assert_accessible(page) -> None:
    found = violations(page)
    assert not found, f"{page.url}: axe found " + "; ".join(
        f"[{v['impact']}] {v['id']} ({v['help']}): {' | '.join(v['nodes'])}" for v in found)
