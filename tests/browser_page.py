"""Open an HTML page in headless Chromium with the network off and report what it drew.

``render(page_html, folder)`` adds three things to a copy of the page and dumps the DOM after
the scripts ran (``--dump-dom`` with a virtual time budget):
- a Content-Security-Policy that lets inline scripts and styles run but blocks every request
  (any URL, including other local files); each blocked request is recorded, so "no request was
  attempted" is checked even where the network could not be cut;
- a hook, run before any other script, recording console errors, uncaught errors and rejections;
- a script that, once the charts are drawn, writes what plotly drew into ``<pre id="page-check">``
  as JSON: per plot, the lower end of each linear y axis, and how many traces are dashed, hatched
  or grey (the marks of incomplete periods): traces that mark them carry
  ``meta: "incomplete"`` (``groupetl.charts.INCOMPLETE``).
The browser runs in a fresh network namespace (only loopback) when ``unshare -n`` works.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CSP = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
    "script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; "
    'font-src data:">'
)
HOOK = """<script>
window.__check = {errors: [], blocked: []};
const __error = console.error;
console.error = function (...args) {
  window.__check.errors.push(args.map(String).join(" ")); __error.apply(console, args);
};
window.addEventListener("error", e => window.__check.errors.push("error: " + e.message));
window.addEventListener("unhandledrejection",
  e => window.__check.errors.push("rejection: " + e.reason));
document.addEventListener("securitypolicyviolation",
  e => window.__check.blocked.push(e.blockedURI));
</script>"""
SUMMARY = """<script>
function __summary() {
  const plots = {};
  for (const gd of document.querySelectorAll(".js-plotly-plot")) {
    const layout = gd._fullLayout, yMin = {};
    for (const key of Object.keys(layout).filter(k => /^yaxis\\d*$/.test(k))) {
      if (layout[key].type === "linear") yMin[key] = layout[key].range[0];
    }
    const traces = gd._fullData;
    plots[gd.id] = {
      traces: traces.length,
      yMin: yMin,
      incomplete: traces.filter(t => t.meta === "incomplete").map(t => ({
        type: t.type, dash: t.line ? t.line.dash : null,
        hatched: Boolean(t.marker && t.marker.pattern
          && [].concat(t.marker.pattern.shape).some(s => s)),
        colorscale: t.colorscale ? t.colorscale.map(c => c[1]) : null})),
      svgDashed: gd.querySelectorAll("path.js-line[style*=dasharray]").length,
    };
  }
  const out = document.createElement("pre");
  out.id = "page-check";
  out.textContent = JSON.stringify({plots: plots, errors: window.__check.errors,
    blocked: window.__check.blocked,
    resources: performance.getEntriesByType("resource").map(e => e.name)});
  document.body.appendChild(out);
}
window.addEventListener("load", () => setTimeout(__summary, 1000));
</script>"""
CHECK = re.compile(r'<pre id="page-check">(.*?)</pre>', re.DOTALL)


def network_cut() -> bool:
    """Whether the browser can be started in a network namespace of its own."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def instrumented(page: str) -> str:
    """The page with the CSP and error hook first in <head> and the summary script last."""
    return page.replace("<head>", "<head>" + CSP + HOOK, 1).replace(
        "</body>", SUMMARY + "</body>", 1
    )


def render(page: str, folder: Path) -> dict[str, Any]:
    """Draw ``page`` in headless Chromium (network off) and return the page-check summary."""
    assert CHROMIUM is not None
    path = folder / "page.html"
    path.write_text(instrumented(page), encoding="utf-8")
    browser = (
        f"{CHROMIUM} --headless --no-sandbox --disable-gpu --disable-background-networking "
        f"--no-first-run --user-data-dir={folder / 'profile'} --virtual-time-budget=8000 "
        f"--window-size=1400,900 --dump-dom file://{path}"
    )
    command = ["unshare", "-n", "sh", "-c", f"ip link set lo up; {browser}"]
    done = subprocess.run(
        command if network_cut() else ["sh", "-c", browser],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found = CHECK.search(done.stdout)
    assert found, f"no page check in the DOM: {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def check_drawn(
    summary: dict[str, Any], drawn: set[str], empty: frozenset[str] = frozenset()
) -> None:
    """Every plot of ``drawn`` has traces, those of ``empty`` exist (no rows yet), there are no
    others; no linear y axis starts above 0; no console error; no request was attempted."""
    plots = summary["plots"]
    assert set(plots) == drawn | empty
    for name, plot in plots.items():
        assert plot["traces"] > 0 or name in empty, name
        assert all(v <= 0 for v in plot["yMin"].values()), (name, plot["yMin"])
    assert summary["errors"] == []
    assert summary["blocked"] == [] and summary["resources"] == []
