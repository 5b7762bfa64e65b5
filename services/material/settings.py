"""The material service's own settings; the common ones come from `shared.settings.Settings`.
Each field is read from the environment variable of its name in capitals (and listed in `.env.example`)."""
from pydantic import Field, field_validator

from shared.settings import Settings
from shared.storage import accepted_types

# What a tutor shares: documents (PDF, office, plain text), scans, recordings, videos; the group
# names are `shared.storage.TYPE_GROUPS`, and MIME types may be added beside them.
DEFAULT_ACCEPTED_TYPES = "documents,images,audio,video,application/x-ole-storage,application/epub+zip"


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

    @field_validator("material_accepted_types")
    @classmethod
    def _known_types(cls, value: str) -> str:
        accepted_types(value)   # a name that is neither a group nor a MIME type stops the start
        return value

    def accepted_types(self) -> frozenset[str]:
        return accepted_types(self.material_accepted_types)
