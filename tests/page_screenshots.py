"""Screenshots of the report page for docs/img (``./dev screenshots``): the page of
tests/sample_page.py (hand-made rows), whole and one PNG per section, by headless Chromium.

Usage: ``python tests/page_screenshots.py [OUT_DIR]`` (default docs/img).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from browser_page import CHROMIUM
from groupetl.reports.page import page_html
from sample_page import HEADER, sample_page, sample_sections

WIDTH = 1400
FULL_HEIGHT = 4300  # the whole sample page at 1400 px
SECTION_HEIGHT = {"retention-0": 760}  # the triangle and curve are taller than a line chart
DEFAULT_HEIGHT = 640
LAPTOP_HEIGHT = 800  # the top of the page as a laptop screen shows it


def screenshot(page: str, out: Path, height: int, folder: Path) -> None:
    """Draw ``page`` at WIDTH x ``height`` pixels into the PNG ``out``."""
    source = folder / f"{out.stem}.html"
    source.write_text(page, encoding="utf-8")
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={folder / 'profile'}", "--virtual-time-budget=5000",
         f"--window-size={WIDTH},{height}", f"--screenshot={out}", f"file://{source}"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def main(out_dir: Path) -> None:
    if CHROMIUM is None:
        sys.exit("chromium is not installed (apt-get install -y chromium)")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        screenshot(sample_page(folder), out_dir / "page.png", FULL_HEIGHT, folder)
        screenshot(sample_page(folder), out_dir / "page-top.png", LAPTOP_HEIGHT, folder)
        for section in sample_sections(folder):
            height = SECTION_HEIGHT.get(section.anchor, DEFAULT_HEIGHT)
            page = page_html(HEADER, [section])
            # the section alone: the header and contents are in page.png
            page = page.replace("<header>", "<header hidden>").replace("<nav>", "<nav hidden>")
            screenshot(page, out_dir / f"page-{section.anchor}.png", height, folder)
            print(out_dir / f"page-{section.anchor}.png")
    print(out_dir / "page.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/img"))
