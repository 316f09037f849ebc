"""A plain-HTML run summary at the top of the Data Docs index page.

GX's index page fills its tables with JavaScript loaded from public CDNs (jQuery, Bootstrap
Table), so opened without network (an air-gapped runner, a CI artifact) it lists nothing. The
validation pages themselves are rendered server-side and read fine offline. This module puts a
static table of the run's outcomes, each linking to its suite's validation page, right after
``<body>``: the index is then useful anywhere, and unchanged otherwise.

GX's pages also take their logo from a public S3 bucket, though GX copies the same image into
the site's ``static/images``: ``localize_images`` points the pages at that copy.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from groupetl.qa.report import ExpectationOutcome

_START = "<!-- groupetl-qa-summary:start -->"
_END = "<!-- groupetl-qa-summary:end -->"
_BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)
# the logo URL of GX's top navigation bar (top_navbar.j2), with its "?d=<context id>" suffix
_GX_WEB_ASSET = re.compile(
    r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/([\w.-]+)(\?[^\"']*)?"
)
_COLORS = {"PASS": "#1e7e34", "FAIL": "#b00020", "WARN": "#9a6700"}


def summary_html(
    title: str, outcomes: Sequence[ExpectationOutcome], pages: Mapping[str, str]
) -> str:
    """The summary block: a title and one table row per outcome (suite cell links its page)."""
    e = html.escape
    rows = []
    for o in outcomes:
        page = pages.get(o.suite)
        suite = f'<a href="{e(page)}">{e(o.suite)}</a>' if page else e(o.suite)
        status = f'<b style="color:{_COLORS[o.status]}">{o.status}</b>'
        cells = (
            suite,
            status,
            e(o.severity),
            e(o.expectation),
            e(o.observed),
            e(", ".join(o.samples)),
        )
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in ("suite", "status", "severity", "expectation", "observed", "samples")
    )
    return "\n".join(
        [
            _START,
            '<section id="groupetl-qa-summary" style="font-family:sans-serif;margin:1em 2em">',
            f"<h2>{e(title)}</h2>",
            '<table border="1" cellpadding="4" style="border-collapse:collapse;font-size:0.9em">',
            f"<thead><tr>{head}</tr></thead>",
            "<tbody>",
            *rows,
            "</tbody></table>",
            "</section>",
            _END,
        ]
    )


def add_summary(index: Path, block: str) -> None:
    """Insert ``block`` after ``<body>`` of ``index`` (replacing a previous summary)."""
    page = index.read_text(encoding="utf-8")
    page = re.sub(re.escape(_START) + ".*?" + re.escape(_END), "", page, flags=re.DOTALL)
    match = _BODY.search(page)
    at = match.end() if match else 0
    index.write_text(page[:at] + "\n" + block + "\n" + page[at:], encoding="utf-8")


def localize_images(site: Path) -> int:
    """Point every page of the Data Docs ``site`` at the local copy (``static/images``) of an
    image it loads from GX's S3 bucket; returns how many pages changed. Images without a local
    copy keep their URL."""
    images = site / "static" / "images"
    changed = 0
    for page in site.rglob("*.html"):
        prefix = Path(os.path.relpath(images, page.parent)).as_posix()

        def local(match: re.Match[str], prefix: str = prefix) -> str:
            name = match.group(1)
            return f"{prefix}/{name}" if (images / name).is_file() else match.group(0)

        text = page.read_text(encoding="utf-8")
        new = _GX_WEB_ASSET.sub(local, text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed
