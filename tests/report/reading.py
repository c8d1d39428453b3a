"""Reading a written report back with an independent reader (pypdfium2: PDFium's text extraction
and rasteriser), shared by the report tests."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium

from ecgviewer.render.options import MM_PER_INCH

PT_PER_MM = 72 / MM_PER_INCH
NOT_ON_PAPER = ("\u2026", "see the viewer", "in the viewer", "on screen")  # elided, or sent to a screen


def pdf_pages(pdf: Path | bytes) -> list[tuple[tuple[float, float], str]]:
    """(width, height) in mm and the text of every page."""
    doc = pdfium.PdfDocument(str(pdf) if isinstance(pdf, Path) else pdf)
    out = []
    for page in doc:
        w, h = page.get_size()
        out.append(((w / PT_PER_MM, h / PT_PER_MM), page.get_textpage().get_text_range()))
    return out


def raster(path: Path, index: int, dpi: float) -> np.ndarray:
    doc = pdfium.PdfDocument(str(path))
    return doc[index].render(scale=dpi / 72, rev_byteorder=True).to_numpy()[..., :3]  # RGB


def flat(text: str) -> str:
    """Text with its line breaks undone: a wrapped line reads as the line it was (a break after a
    hyphen joins without a space)."""
    return re.sub(r"-\s+", "-", re.sub(r"\s+", " ", text))
