"""The HTML report page: self-contained (plotly.js inlined, no CDN) and drawn by a browser
with the network off."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pyspark.sql import Row

from groupetl.reports.html import funnel_figure, page_html, segmentation_figure
from test_report_helpers import report_from

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MARK = re.compile(r'class="point(?: [^"]*)?"')  # scatter markers (path) and bars (g)


def sample_page(tmp_path: Path) -> str:
    """Two charts: 2 segments x 3 weeks of markers, and 2 breakdowns x 2 funnel bars."""
    seg = report_from(
        tmp_path / "s", "- name: wac\n  group_type: company\n  segment_by: group.region\n"
    )
    fun = report_from(
        tmp_path / "f", "- name: inv\n  kind: funnel\n  group_type: company\n  steps: [A, B]\n"
    )
    monday = dt.date(2024, 1, 1)
    seg_rows = [
        Row(
            period_start=monday + dt.timedelta(weeks=i),
            segment=s,
            cohort_segment=None,
            events=10,
            uniques=i + 1,
            users=3,
        )
        for s in ("EU", "US")
        for i in range(3)
    ]
    fun_rows = [
        Row(breakdown=b, cohort_segment=None, step=k, reached=12 // k, from_first=1 / k)
        for b in ("(all)", "paid")
        for k in (1, 2)
    ]
    charts = [(seg, segmentation_figure(seg, seg_rows)), (fun, funnel_figure(fun, fun_rows))]
    return page_html("test page", charts)


def test_page_is_self_contained(tmp_path: Path) -> None:
    page = sample_page(tmp_path)
    assert page.count("<script src=") == 0  # no CDN, no external file
    assert page.count("plotly.js v") == 1  # the library is inlined once
    assert page.count('class="plotly-graph-div"') == 2
    assert "50%" in page  # the funnel's conversion from the first step


@pytest.mark.slow
def test_browser_draws_every_mark_with_the_network_off(tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare/ip not available: cannot cut the network")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {probe.stderr.decode().strip()}")
    page = tmp_path / "reports.html"
    page.write_text(sample_page(tmp_path), encoding="utf-8")
    browser = (
        f"{CHROMIUM} --headless --no-sandbox --disable-gpu --disable-background-networking "
        f"--no-first-run --user-data-dir={tmp_path / 'profile'} --virtual-time-budget=5000 "
        f"--dump-dom file://{page}"
    )
    # a fresh network namespace holds only a loopback device: no route to any network
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c", f"ip link set lo up; {browser}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    dom = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    assert dom.count('class="plot-container plotly"') == 2, dom[:500]
    assert len(MARK.findall(dom)) == 2 * 3 + 2 * 2  # 6 markers + 4 bars
    assert dom.count('class="js-line"') >= 2  # one line per segment
