"""Files that material tests upload, made in the test: real JPEGs, PNGs and PDFs, and bad ones."""
from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def jpeg(width: int = 640, height: int = 480, *, orientation: int | None = None, tint: int = 0) -> bytes:
    """A JPEG of `width` x `height` stored pixels; with `orientation`, an EXIF Orientation tag;
    another `tint`, other bytes."""
    image = Image.new("RGB", (width, height), (200, 30, (30 + 50 * tint) % 256))
    image.paste((30, 30, 200), (0, 0, width // 2, height // 2))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(out, format="JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def pdf(width_pt: float = 595.0, height_pt: float = 842.0, *, text: str = "Fractions") -> bytes:
    """A one-page PDF of the given page size (points), written by hand as PDF 1.4."""
    content = f"BT /F1 24 Tf 72 {height_pt - 100:.0f} Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width_pt} {height_pt}] "
        f"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".encode(),
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def png_bomb(side: int = 9_000) -> bytes:
    """A small PNG that claims `side` x `side` pixels (a decompression bomb): rows of zeros of a
    1-bit image compress to almost nothing."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (side + 7) // 8)
    squeeze = zlib.compressobj(1)
    data = b"".join(squeeze.compress(row) for _ in range(side)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def truncated_pdf() -> bytes:
    return pdf()[:200]


def exe_bytes() -> bytes:
    """The start of a Windows executable (an "MZ" header), as a file renamed `.pdf` would hold."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 400
