"""A plain-HTML run summary at the top of the Data Docs index page.

GX's index page fills its tables with JavaScript loaded from public CDNs (jQuery, Bootstrap
Table), so opened without network (an air-gapped runner, a CI artifact) it lists nothing. The
validation pages themselves are rendered server-side and read fine offline. This module puts a
static table of the run's outcomes, each linking to its suite's validation page, right after
``<body>``: the index is then useful anywhere, and unchanged otherwise.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from groupetl.qa.report import ExpectationOutcome

_START = "<!-- groupetl-qa-summary:start -->"
_END = "<!-- groupetl-qa-summary:end -->"
_BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)
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
