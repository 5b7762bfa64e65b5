"""Previews from real files made in the test: sizes, EXIF orientation, and the files that have none."""
import io

import pytest
from PIL import Image

from services.material.previews import Unpreviewable, image_thumbnail, pdf_thumbnail, render
from tests.material_files import exe_bytes, jpeg, pdf, png_bomb, truncated_pdf


def _write(tmp_path, data: bytes):
    path = tmp_path / "file"
    path.write_bytes(data)
    return path


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    return image


def test_a_jpeg_becomes_a_webp_of_320_on_the_long_side(tmp_path):
    thumb = image_thumbnail(_write(tmp_path, jpeg(1600, 1200)), long_side=320, max_pixels=50_000_000)
    assert (thumb.width, thumb.height) == (320, 240) == _decoded(thumb.data).size


def test_exif_orientation_is_respected(tmp_path):
    # stored 640x480 but tagged "rotate 90°": it is shown (and previewed) standing, 240x320
    thumb = image_thumbnail(_write(tmp_path, jpeg(640, 480, orientation=6)), long_side=320, max_pixels=10**8)
    assert (thumb.width, thumb.height) == (240, 320)


def test_a_small_image_is_not_enlarged(tmp_path):
    thumb = image_thumbnail(_write(tmp_path, jpeg(100, 50)), long_side=320, max_pixels=10**8)
    assert (thumb.width, thumb.height) == (100, 50)


def test_a_pdf_first_page_is_rendered_to_its_aspect_ratio(tmp_path):
    thumb = pdf_thumbnail(_write(tmp_path, pdf(600, 800)), long_side=320)
    assert (thumb.width, thumb.height) == (240, 320) == _decoded(thumb.data).size


@pytest.mark.parametrize("data, reason", [
    (png_bomb(9_000), "decompression bomb"),          # over our limit, under Pillow's own
    (png_bomb(30_000), "decompression bomb"),         # over Pillow's own limit too
    (b"", "unreadable image"),
    (exe_bytes(), "unreadable image"),
])
def test_images_that_cannot_be_previewed_are_refused_with_a_reason(tmp_path, data, reason):
    with pytest.raises(Unpreviewable, match=reason):
        render("image", _write(tmp_path, data), long_side=320, max_pixels=50_000_000)


@pytest.mark.parametrize("data", [truncated_pdf(), b"", exe_bytes(), b"%PDF-1.4\n" + b"\x00" * 100])
def test_pdfs_that_cannot_be_rendered_are_refused(tmp_path, data):
    with pytest.raises(Unpreviewable):
        render("pdf", _write(tmp_path, data), long_side=320, max_pixels=50_000_000)
