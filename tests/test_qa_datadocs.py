"""GX Data Docs offline: CDN tags pointed at vendored copies or removed. Spark-free, milliseconds.

The Chromium check of a real site is in tests/test_qa_run.py.
"""

from __future__ import annotations

import re
from importlib.util import find_spec
from pathlib import Path

from groupetl.qa.datadocs import CDN_ASSETS, local_tags, localize_assets

# found without importing GX, which takes seconds
TEMPLATES = Path(str(find_spec("great_expectations").origin)).parent / "render/view/templates"
# the URL of a <script src> or <link href> tag
TAG_URL = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"(https?://[^\"]+)\"", re.IGNORECASE)

HEAD = """\
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<link rel="stylesheet" href="https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css">
<link rel="shortcut icon" href="./static/images/favicon.ico" type="image/x-icon"/>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" integrity="sha384-y" crossorigin="anonymous"></script>
<script src="https://example.org/other.js"></script>
<script>$(".x").collapse()</script>
<a href="https://greatexpectations.io">GX</a>
"""


def test_cdn_tags_point_at_the_vendored_copies_or_go() -> None:
    assert local_tags(HEAD, "../static/vendor") == (
        '<link rel="stylesheet" href="../static/vendor/bootstrap/css/bootstrap.min.css">\n'
        # Bootstrap Table: removed
        '<link rel="shortcut icon" href="./static/images/favicon.ico" type="image/x-icon"/>\n'
        '<script src="../static/vendor/jquery/jquery.min.js"></script>\n'
        # Popper: removed, it is inside Bootstrap's bundle, which loses the CDN's integrity hash
        '<script src="../static/vendor/bootstrap/js/bootstrap.bundle.min.js"></script>\n'
        '<script src="https://example.org/other.js"></script>\n'  # unknown URL: kept
        '<script>$(".x").collapse()</script>\n'
        '<a href="https://greatexpectations.io">GX</a>\n'  # a link, not an asset
    )


def test_vega_goes_only_from_pages_without_a_vega_chart() -> None:
    vega = '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>\n'
    assert local_tags(vega + "<p>no chart</p>", "static/vendor") == "<p>no chart</p>"
    charted = vega + "<script>vegaEmbed('#c', spec)</script>"
    assert local_tags(charted, "static/vendor") == charted  # kept: no local copy to use


def test_every_cdn_url_of_the_installed_gx_templates_is_handled() -> None:
    urls = {u for t in TEMPLATES.glob("*.j2") for u in TAG_URL.findall(t.read_text())}
    assert len(urls) >= 10  # the templates still load from CDNs (else this test is moot)
    unhandled = {u for u in urls if not any(u.startswith(a.url) for a in CDN_ASSETS)}
    assert unhandled == set()


def test_a_site_gets_the_files_its_rewritten_pages_load(tmp_path: Path) -> None:
    deep = tmp_path / "validations" / "s" / "run"
    deep.mkdir(parents=True)
    (tmp_path / "index.html").write_text(HEAD)
    (deep / "page.html").write_text(HEAD)
    (tmp_path / "static" / "vendor" / "jquery").mkdir(parents=True)
    (tmp_path / "static" / "vendor" / "jquery" / "stale.js").write_text("old")

    assert localize_assets(tmp_path) == 2
    assert localize_assets(tmp_path) == 0  # a second pass changes nothing
    vendor = tmp_path / "static" / "vendor"
    assert not (vendor / "jquery" / "stale.js").exists()
    assert sorted(p.name for p in (vendor / "font-awesome" / "webfonts").iterdir()) == [
        "fa-brands-400.woff2", "fa-regular-400.woff2", "fa-solid-900.woff2",
        "fa-v4compatibility.woff2",
    ]  # fmt: skip
    for page in (tmp_path / "index.html", deep / "page.html"):
        local = re.findall(r"(?:src|href)=\"([^\"]*static/vendor/[^\"]+)\"", page.read_text())
        assert len(local) == 3
        for path in local:
            assert (page.parent / path).resolve().stat().st_size > 10_000, path
    css = (vendor / "font-awesome" / "css" / "all.min.css").read_text()
    assert "../webfonts/fa-solid-900.woff2" in css  # the fonts sit where the stylesheet looks
