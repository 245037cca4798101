"""The HTML handout in a real browser: Chromium prints it to PDF.

Runs where Debian's ``chromium`` is installed (``apt-get install chromium
poppler-utils``) and skips elsewhere with the reason. Chromium is started with
everything that talks to the network switched off: the handout must print from
the file alone.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tproutine.paths import bundled_routines_dir
from tproutine.routine.expand import expand
from tproutine.routine.loader import load_routine
from tproutine.share.handout import html_handout

from .test_escaping import past_the_door


def _chromium() -> str:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.skip("chromium not installed: apt-get install chromium poppler-utils to run this check")


def _print_to_pdf(page: Path, tmp_path: Path) -> bytes:
    pdf = tmp_path / (page.stem + ".pdf")
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--print-to-pdf={pdf}",
        page.resolve().as_uri(),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert pdf.is_file(), result.stderr[-2000:]
    return pdf.read_bytes()


def _pdf_text(pdf: bytes, tmp_path: Path) -> str | None:
    tool = shutil.which("pdftotext")
    if tool is None:
        return None
    path = tmp_path / "text.pdf"
    path.write_bytes(pdf)
    result = subprocess.run([tool, str(path), "-"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_html_handout_prints_to_pdf(tmp_path: Path) -> None:
    loaded = load_routine(bundled_routines_dir() / "low-back.yaml")
    page = tmp_path / "low-back.html"
    page.write_text(html_handout(loaded, expand(loaded)), encoding="utf-8")
    pdf = _print_to_pdf(page, tmp_path)
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 5_000
    text = _pdf_text(pdf, tmp_path)
    if text is not None:
        assert "Low back release" in text
        assert "Before you start" in text
        assert "Quadratus lumborum" in text
        assert "tproutine run low-back.yaml" in text


def test_a_hostile_handout_prints_as_text(tmp_path: Path) -> None:
    routine = (
        "format: tproutine/1\n"
        "name: \"<b>Bold</b> <script>document.title='pwned'</script>\"\n"
        f'description: "{"W" * 2000}"\n'
        "steps:\n"
        '  - hold: "\\u202Eevil title"\n'
        "    duration: 30s\n"
    )
    loaded = past_the_door(routine, "hostile.yaml")
    page = tmp_path / "hostile.html"
    page.write_text(html_handout(loaded, expand(loaded)), encoding="utf-8")
    pdf = _print_to_pdf(page, tmp_path)
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf, tmp_path)
    if text is not None:
        # The markup is printed as the characters it is made of, and the script never ran.
        assert "<b>Bold</b> <script>document.title='pwned'</script>" in text
        # The long word wraps onto the page rather than running off it: all of it is there.
        assert text.replace("\n", "").count("W" * 50) >= 2000 // 50
