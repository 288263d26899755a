"""The reports as a person sees them: each file converted to PDF by LibreOffice, the PDF
checked for an embedded Korean font (``pdffonts``) and for the Korean title and a KPI
value (``pdftotext``), and its pages kept as PNG (``pdftoppm -r 60``) for a person to
look at: ``build/visual/<format>/`` (``AUDITLENS_VISUAL_OUT`` to put them elsewhere).

CI installs LibreOffice (Impress, Calc), fonts-nanum and poppler-utils (``.ci/run``); a
machine without them skips these tests, CI fails them. Each conversion gets its own
output folder (same-named PDFs would overwrite each other) and its own LibreOffice
profile (parallel runs would otherwise share one and clash).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from auditlens.config import Settings
from auditlens.reports.formats import report_title, writer
from auditlens.reports.model import ReportData

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("libreoffice", "pdffonts", "pdftotext", "pdftoppm")
#: Families of fonts that hold Hangul (Debian's fonts-nanum, Windows, Noto, Un, Baekmuk).
KOREAN_FONT = re.compile(r"Nanum|Malgun|Noto\S*(CJK|KR)|UnDotum|UnBatang|Baekmuk", re.I)
#: Seconds one conversion may take (a cold LibreOffice start included).
CONVERT_SECONDS = 240


def _tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI must install {missing} (.ci/run: libreoffice, poppler-utils)")
    if missing:
        pytest.skip(f"not installed here: {missing}")


def _out(fmt: str) -> Path:
    base = Path(os.environ.get("AUDITLENS_VISUAL_OUT", ROOT / "build" / "visual"))
    out = base / fmt
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return out


def to_pdf(document: Path, folder: Path, profile: Path) -> Path:
    """``document`` converted by LibreOffice into ``folder`` (its own), with its own
    user profile ``profile``."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "libreoffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            str(document),
        ],
        check=True,
        capture_output=True,
        timeout=CONVERT_SECONDS,
    )
    pdf = folder / f"{document.stem}.pdf"
    assert pdf.is_file(), f"LibreOffice wrote no {pdf.name}"
    return pdf


def embedded_fonts(pdf: Path) -> dict[str, bool]:
    """Each font of ``pdf`` (``pdffonts``) and whether it is embedded."""
    listing = subprocess.run(
        ["pdffonts", str(pdf)], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    fonts = {}
    for line in listing[2:]:  # two header lines
        fields = line.split()
        # name type... encoding emb sub uni object ID: read from the end (types have spaces)
        fonts[fields[0]] = fields[-5] == "yes"
    return fonts


def pdf_text(pdf: Path) -> str:
    """The text of ``pdf`` without any white space (LibreOffice spaces Hangul from digits)."""
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    return re.sub(r"\s+", "", text)


def pages(pdf: Path, folder: Path) -> list[Path]:
    """``pdf``'s pages as PNG at 60 dpi in ``folder``."""
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(pdf), str(folder / "page")],
        check=True,
        capture_output=True,
        timeout=CONVERT_SECONDS,
    )
    return sorted(folder.glob("page-*.png"))


def _ink(png: Path) -> float:
    """The share of a page's pixels that are not white."""
    with Image.open(png) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
    return 1 - sum(histogram[245:]) / sum(histogram)


@pytest.mark.parametrize("fmt", ["pptx", "xlsx"])
def test_report_renders_with_korean_text(fmt: str, report_data: ReportData, tmp_path: Path) -> None:
    _tools()
    document = writer(fmt)(report_data, tmp_path / "written", Settings())
    out = _out(fmt)
    started = time.monotonic()
    pdf = to_pdf(document, tmp_path / f"pdf-{fmt}", tmp_path / f"profile-{fmt}")
    converted = time.monotonic() - started
    shutil.copy2(pdf, out / pdf.name)
    fonts = embedded_fonts(pdf)
    korean = {name: embedded for name, embedded in fonts.items() if KOREAN_FONT.search(name)}
    assert korean and all(korean.values()), fonts
    text = pdf_text(pdf)
    assert re.sub(r"\s+", "", report_title(report_data)) in text
    assert f"{report_data.kpis.alerts:,}건" in text or f"{report_data.kpis.alerts:,}" in text
    shown = pages(pdf, out)
    if fmt == "pptx":
        assert re.sub(r"\s+", "", "요약") in text and "한문장요약" in text
        assert len(shown) == 11 + len(report_data.controls)  # one page per slide
        assert f"{report_data.kpis.alerts:,}건" in text
    assert shown and all(_ink(png) > 0.005 for png in shown[:2]), "a page is blank"
    print(f"{fmt}: converted in {converted:.1f} s, {len(shown)} pages in {out}")
