"""Previews: a small WebP image of an image's pixels or a PDF's first page, made after the
upload has returned.

Rendering runs in worker threads (`anyio.to_thread`), at most `material_preview_concurrency`
at once per process, each given up after `material_preview_timeout_seconds`. Whatever goes
wrong with a file (a corrupt PDF, a decompression bomb, a format Pillow cannot read) ends as
`preview_status = "unavailable"` and one logged line: the file is still stored and served, and
the worker goes on with the next one.
"""
from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageOps

from services.material.domain import thumbnail_size

log = logging.getLogger(__name__)

THUMBNAIL_TYPE = "image/webp"
PDFIUM = threading.Lock()   # PDFium is not thread-safe: one document at a time per process


class Unpreviewable(Exception):
    """The file cannot be made into a preview; the reason is the message."""


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    width: int
    height: int


def render(kind: str, path: Path, *, long_side: int, max_pixels: int) -> Thumbnail:
    """The preview of the file at `path` (`kind` from `domain.preview_kind`). Blocking: run in a thread."""
    if kind == "image":
        return image_thumbnail(path, long_side=long_side, max_pixels=max_pixels)
    if kind == "pdf":
        return pdf_thumbnail(path, long_side=long_side)
    raise Unpreviewable(f"no preview for files of kind {kind!r}")


def image_thumbnail(path: Path, *, long_side: int, max_pixels: int) -> Thumbnail:
    """An image scaled down, turned upright as its EXIF orientation says; an image of more than
    `max_pixels` is refused before its pixels are decoded."""
    try:
        with Image.open(path) as image:   # reads the header only; Pillow refuses the largest itself
            width, height = image.size
            if width * height > max_pixels:
                raise Unpreviewable(f"decompression bomb: {width}x{height} pixels, more than {max_pixels}")
            image.draft("RGB", (long_side, long_side))   # JPEG: decode at a reduced scale
            upright = ImageOps.exif_transpose(image)
            return _encode(upright, long_side)
    except Unpreviewable:
        raise
    except Image.DecompressionBombError as exc:
        raise Unpreviewable(f"decompression bomb: {exc}") from exc
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError, EOFError) as exc:
        raise Unpreviewable(f"unreadable image: {exc}") from exc


def pdf_thumbnail(path: Path, *, long_side: int) -> Thumbnail:
    """The first page of a PDF, rendered at the scale that makes its long side `long_side` pixels."""
    with PDFIUM:
        return _pdf_thumbnail(path, long_side)


def _pdf_thumbnail(path: Path, long_side: int) -> Thumbnail:
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise Unpreviewable(f"unreadable PDF: {exc}") from exc
    try:
        if len(document) == 0:
            raise Unpreviewable("the PDF has no pages")
        page = document[0]
        try:
            width, height = page.get_size()
            if width <= 0 or height <= 0:
                raise Unpreviewable("the first page has no size")
            bitmap = page.render(scale=long_side / max(width, height))
            image = bitmap.to_pil()
            try:
                return _encode(image, long_side)
            finally:
                bitmap.close()
        finally:
            page.close()
    except pdfium.PdfiumError as exc:
        raise Unpreviewable(f"PDF not renderable: {exc}") from exc
    finally:
        document.close()


def _encode(image: Image.Image, long_side: int) -> Thumbnail:
    size = thumbnail_size(image.width, image.height, long_side)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or image.mode == "P" else "RGB")
    small = image.resize(size, Image.Resampling.LANCZOS) if size != image.size else image
    out = io.BytesIO()
    small.save(out, format="WEBP", quality=80, method=4)
    return Thumbnail(out.getvalue(), small.width, small.height)
