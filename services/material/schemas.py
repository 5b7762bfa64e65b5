"""Request and response bodies of the material API."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.material.domain import (
    DESCRIPTION_MAX,
    GRADE_MAX,
    GRADE_MIN,
    SUBJECT_MAX,
    TAGS_MAX,
    TITLE_MAX,
    PreviewStatus,
    Visibility,
    normalize_tags,
)
from services.material.models import Material

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL characters


def _text(value: Any) -> Any:
    return " ".join(value.split()) if isinstance(value, str) else value


class MaterialFields(BaseModel):
    """What describes a material, in an upload's text parts or an edit's JSON."""

    title: str = Field(min_length=1, max_length=TITLE_MAX, pattern=NO_NUL)
    subject: str = Field(min_length=1, max_length=SUBJECT_MAX, pattern=NO_NUL)
    grade_level: int | None = Field(None, ge=GRADE_MIN, le=GRADE_MAX)
    description: str | None = Field(None, max_length=DESCRIPTION_MAX, pattern=NO_NUL)
    tags: list[Annotated[str, Field(pattern=NO_NUL)]] = Field(default_factory=list, max_length=TAGS_MAX * 4)
    visibility: Visibility = Visibility.PRIVATE

    _one_line = field_validator("title", "subject", mode="before")(_text)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return normalize_tags(value)


class MaterialCreate(MaterialFields):
    """The text parts of an upload (the file is the part `file`)."""


class MaterialUpdate(BaseModel):
    """An edit: any of the fields; `null` clears `grade_level` and `description`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "minProperties": 1, "examples": [{"title": "Дроби: сложение", "visibility": "students"}]})

    title: str = Field(None, min_length=1, max_length=TITLE_MAX, pattern=NO_NUL)  # type: ignore[assignment]
    subject: str = Field(None, min_length=1, max_length=SUBJECT_MAX, pattern=NO_NUL)  # type: ignore[assignment]
    grade_level: int | None = Field(None, ge=GRADE_MIN, le=GRADE_MAX)
    description: str | None = Field(None, max_length=DESCRIPTION_MAX, pattern=NO_NUL)
    tags: list[Annotated[str, Field(pattern=NO_NUL)]] = Field(None, max_length=TAGS_MAX * 4)  # type: ignore[assignment]
    visibility: Visibility = None  # type: ignore[assignment]

    _one_line = field_validator("title", "subject", mode="before")(_text)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return normalize_tags(value)

    @model_validator(mode="after")
    def _something_changes(self) -> MaterialUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in ("title", "subject", "tags", "visibility"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class MaterialShares(BaseModel):
    """The students a material is shared with, whatever its visibility (replaces the earlier list)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"student_ids": ["5f0c2b7e-8a41-4c36-9d1e-2b7a6c3f9e10"]}]})

    student_ids: list[uuid.UUID] = Field(max_length=100)


class MaterialPublic(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    subject: str
    grade_level: int | None
    description: str | None
    tags: list[str]
    visibility: Visibility
    content_type: str
    size: int
    filename: str
    has_preview: bool
    preview_status: PreviewStatus
    thumbnail_width: int | None
    thumbnail_height: int | None
    shared_with: list[uuid.UUID] | None = Field(None, description="The owner only: the students it is shared with")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, material: Material, shared_with: list[uuid.UUID] | None = None) -> MaterialPublic:
        return cls(id=material.id, owner_id=material.owner_id, title=material.title, subject=material.subject,
                   grade_level=material.grade_level, description=material.description, tags=material.tags,
                   visibility=Visibility(material.visibility), content_type=material.content_type,
                   size=material.size, filename=material.filename, has_preview=material.has_preview,
                   preview_status=PreviewStatus(material.preview_status),
                   thumbnail_width=material.thumbnail_width if material.has_preview else None,
                   thumbnail_height=material.thumbnail_height if material.has_preview else None,
                   shared_with=shared_with, created_at=material.created_at, updated_at=material.updated_at)


class StudiedPublic(BaseModel):
    material_id: uuid.UUID
    student_id: uuid.UUID
    studied_at: datetime
