"""The homework service's own settings; the common ones come from `shared.settings.Settings`.
Each field is read from the environment variable of its name in capitals (and listed in `.env.example`)."""
from pydantic import Field

from shared.settings import Settings


class HomeworkSettings(Settings):
    """Settings of the homework service."""

    # all the files of one submission (or of one request of task sheets) together
    homework_max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1)
    homework_max_files: int = Field(20, ge=1)   # files in one request
    # what a file may be, sniffed from its bytes: groups of shared.storage.TYPE_GROUPS and MIME types
    homework_accepted_types: str = "documents,images,audio,archives"
