"""The material service's own settings; the common ones come from `shared.settings.Settings`.
Each field is read from the environment variable of its name in capitals (and listed in `.env.example`)."""
from pydantic import Field

from shared.settings import Settings

# What a tutor shares: documents, scans, recordings, videos, office files, plain text.
DEFAULT_ACCEPTED_TYPES = ",".join((
    "application/pdf", "text/plain",
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/tiff", "image/bmp",
    "audio/mpeg", "audio/ogg", "audio/x-wav", "audio/x-flac", "audio/mp4", "audio/aac", "audio/webm",
    "video/mp4", "video/webm", "video/quicktime", "video/x-matroska", "video/x-msvideo",
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation", "application/rtf", "application/epub+zip",
))


class MaterialSettings(Settings):
    """Settings of the material service."""

    material_max_bytes: int = Field(50 * 1024 * 1024, gt=0)        # one uploaded file
    # content types accepted (sniffed from the bytes), comma-separated
    material_accepted_types: str = DEFAULT_ACCEPTED_TYPES
    material_thumbnail_px: int = Field(320, ge=32, le=2048)         # the long side of a preview
    material_preview_concurrency: int = Field(2, ge=1, le=64)       # previews rendered at once
    # images larger than this are not decoded (decompression bombs); PDF pages are rendered small
    material_preview_max_pixels: int = Field(50_000_000, gt=0)
    material_preview_timeout_seconds: float = Field(30.0, gt=0)     # then the preview is given up

    def accepted_types(self) -> frozenset[str]:
        return frozenset(t.strip().lower() for t in self.material_accepted_types.split(",") if t.strip())
