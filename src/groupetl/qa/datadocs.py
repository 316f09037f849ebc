"""A plain-HTML run summary at the top of the Data Docs index page.

GX's index page fills its tables with JavaScript loaded from public CDNs (jQuery, Bootstrap
Table), so opened without network (an air-gapped runner, a CI artifact) it lists nothing. The
validation pages themselves are rendered server-side and read fine offline. This module puts a
static table of the run's outcomes, each linking to its suite's validation page, right after
``<body>``: the index is then useful anywhere, and unchanged otherwise.

GX's pages also take their logo from a public S3 bucket, though GX copies the same image into
the site's ``static/images``: ``localize_images`` points the pages at that copy.

Their stylesheets and scripts come from CDNs too, and the GX package does not ship them:
``vendor_assets`` copies Bootstrap, jQuery and Font Awesome from their pinned XStatic packages
into the site's ``static/vendor`` and ``localize_assets`` points the pages' tags there; the tags
of libraries that PyPI does not ship (Bootstrap Table, its datepicker, the dark theme) or that no
page uses (Vega) are removed. ``CDN_ASSETS`` lists every such URL and what becomes of it.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from groupetl.qa.report import ExpectationOutcome

_START = "<!-- groupetl-qa-summary:start -->"
_END = "<!-- groupetl-qa-summary:end -->"
_BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)
# the logo URL of GX's top navigation bar (top_navbar.j2), with its "?d=<context id>" suffix
_GX_WEB_ASSET = re.compile(
    r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/([\w.-]+)(\?[^\"']*)?"
)
# a <script src=...></script> or a <link ... href=...> tag whose URL is absolute
_EXTERNAL_TAG = re.compile(
    r"<script\b[^>]*\bsrc=\"(https?://[^\"]+)\"[^>]*>\s*</script>\s*"
    r"|<link\b[^>]*\bhref=\"(https?://[^\"]+)\"[^>]*>\s*",
    re.IGNORECASE,
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


@dataclass(frozen=True)
class CdnAsset:
    """A stylesheet or script GX's templates load from a CDN.

    ``url`` is the start of its URL; ``local`` its path under the site's ``static/vendor``
    (``None``: the tag is removed, unless the page contains ``used_if``: then it keeps its URL,
    which the Data Docs test flags); ``why`` says where the local copy comes from or why none."""

    url: str
    local: str | None
    why: str
    used_if: str | None = None


# Every CDN URL of great-expectations 1.24.1's page templates (page.j2, page_minimal.j2,
# index_page.j2, js_script_imports.j2). The vendored versions are those PyPI's XStatic ships: the
# same jQuery, Bootstrap 4.5 for 4.3 (same major, the bundle carries Popper), Font Awesome 6.2
# for 6.6 (GX's icons, fa-check-circle, fa-times, fa-question-circle, are in both).
CDN_ASSETS: tuple[CdnAsset, ...] = (
    CdnAsset(
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
        "bootstrap/css/bootstrap.min.css",
        "XStatic-Bootstrap 4.5.3",
    ),
    CdnAsset(
        "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",
        "bootstrap/js/bootstrap.bundle.min.js",
        "XStatic-Bootstrap 4.5.3, the bundle with Popper",
    ),
    CdnAsset(
        "https://cdnjs.cloudflare.com/ajax/libs/popper.js/",
        None,
        "inside Bootstrap's bundle",
    ),
    CdnAsset(
        "https://code.jquery.com/jquery-3.7.1.min.js", "jquery/jquery.min.js", "XStatic-jQuery"
    ),
    CdnAsset(
        "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",
        "font-awesome/css/all.min.css",
        "XStatic-Font-Awesome 6.2.1 (all.min.css and its woff2 fonts)",
    ),
    CdnAsset(
        "https://unpkg.com/bootstrap-table@",
        None,
        "not on PyPI; only the index's tables use it, groupetl's summary replaces them",
    ),
    CdnAsset(
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/",
        None,
        "only Bootstrap Table's filters use it",
    ),
    CdnAsset(
        "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@",
        None,
        "dark theme, not on PyPI: pages stay light",
    ),
    CdnAsset(
        "https://cdn.jsdelivr.net/npm/vega",
        None,
        "only the charts of two expectations groupetl does not use (KL divergence, distinct values)",
        used_if="vegaEmbed(",
    ),
)

# site folder under static/vendor -> (XStatic module, the files of its data to copy). Only the
# files the pages load: Font Awesome's woff2 fonts, which every browser GX supports picks first.
_VENDOR_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "bootstrap": ("xstatic.pkg.bootstrap", ("css/bootstrap.min.css", "js/bootstrap.bundle.min.js")),
    "jquery": ("xstatic.pkg.jquery", ("jquery.min.js",)),
    "font-awesome": ("xstatic.pkg.font_awesome", ("css/all.min.css", "webfonts/*.woff2")),
}


def vendor_assets(site: Path) -> Path:
    """Copy the files of ``_VENDOR_SOURCES`` from their installed XStatic packages into
    ``site/static/vendor`` (replacing an earlier copy); returns that folder."""
    vendor = site / "static" / "vendor"
    for name, (module, patterns) in _VENDOR_SOURCES.items():
        data = Path(import_module(module).BASE_DIR)
        shutil.rmtree(vendor / name, ignore_errors=True)
        for source in (f for pattern in patterns for f in sorted(data.glob(pattern))):
            target = vendor / name / source.relative_to(data)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return vendor


def local_tags(page: str, vendor: str) -> str:
    """``page`` with each tag loading a ``CDN_ASSETS`` URL pointed at ``<vendor>/<local>`` (as a
    plain tag: GX's ``integrity`` hashes are those of the CDN's files) or removed. A URL not in
    ``CDN_ASSETS``, or of an asset the page uses (``used_if``) but PyPI does not ship, keeps its
    tag."""

    def replace(match: re.Match[str]) -> str:
        script, style = match.group(1), match.group(2)
        url = script or style
        asset = next((a for a in CDN_ASSETS if url.startswith(a.url)), None)
        if asset is None or (asset.local is None and asset.used_if and asset.used_if in page):
            return match.group(0)
        if asset.local is None:
            return ""
        src = f"{vendor}/{asset.local}"
        tag = (
            f'<script src="{src}"></script>' if script else f'<link rel="stylesheet" href="{src}">'
        )
        return tag + "\n"

    return _EXTERNAL_TAG.sub(replace, page)


def localize_assets(site: Path) -> int:
    """Vendor the libraries into ``site`` and point every page's CDN tags at them (``local_tags``);
    returns how many pages changed."""
    vendor = vendor_assets(site)
    changed = 0
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = local_tags(text, Path(os.path.relpath(vendor, page.parent)).as_posix())
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed
