"""The material service's tables, on its own metadata: no other service reads them. After a
change, `repitbot makemigrations material -m "what changed"` writes the migration.

Full-text search lives beside these tables and is not declared here, because each database does
it its own way (`search.py`): on PostgreSQL a generated `tsvector` column of `materials` with a
GIN index, on SQLite the FTS5 table `material_search`. Both are made by the migration, and
autogenerate is told to leave them alone (`metadata.info["unmanaged"]`)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.material.domain import PreviewStatus
from shared.events import utcnow
from shared.people import ParentLinkColumns, TeacherLinkColumns, UserColumns
from shared.sql import Base, UtcDateTime, new_metadata

SEARCH_TABLE = "material_search"      # SQLite FTS5 (and the shadow tables it makes: material_search_*)
SEARCH_COLUMN = "search_vector"       # PostgreSQL: generated tsvector column of `materials`


class MaterialBase(Base):
    __abstract__ = True
    metadata = new_metadata()


MaterialBase.metadata.info["unmanaged"] = (SEARCH_TABLE,)


class Material(MaterialBase):
    __tablename__ = "materials"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    title: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    # the subject case-folded in Python, for a filter that ignores case in every alphabet (SQLite's
    # lower() folds ASCII only)
    subject_key: Mapped[str] = mapped_column(String(200))
    grade_level: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(Text, default="")   # the tags as one text, for search
    visibility: Mapped[str] = mapped_column(String(20))
    file_key: Mapped[str] = mapped_column(String(64), index=True)   # sha256 of the bytes (shared.storage)
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    preview_status: Mapped[str] = mapped_column(String(20), default=PreviewStatus.PENDING)
    thumbnail_key: Mapped[str | None] = mapped_column(String(64), index=True)
    thumbnail_width: Mapped[int | None] = mapped_column(Integer)
    thumbnail_height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    tag_rows: Mapped[list[MaterialTag]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="MaterialTag.position")

    __table_args__ = (
        Index("ix_materials_owner_created", "owner_id", "created_at"),
        Index("ix_materials_visibility_created", "visibility", "created_at"),
        Index("ix_materials_subject_key", "subject_key"),
        CheckConstraint("visibility IN ('private', 'students', 'public')", name="known_visibility"),
        CheckConstraint("preview_status IN ('pending', 'ready', 'unavailable')", name="known_preview_status"),
        CheckConstraint("grade_level IS NULL OR (grade_level >= 1 AND grade_level <= 12)", name="grade_range"),
    )

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]

    @property
    def has_preview(self) -> bool:
        return self.preview_status == PreviewStatus.READY and self.thumbnail_key is not None


class MaterialTag(MaterialBase):
    __tablename__ = "material_tags"

    material_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("materials.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_material_tags_tag", "tag"),)


class MaterialShare(MaterialBase):
    """A material shared with one student by its owner, whatever its visibility."""

    __tablename__ = "material_shares"

    material_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("materials.id", ondelete="CASCADE"), primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    shared_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_material_shares_student", "student_id"),)


class StudiedMark(MaterialBase):
    """A student marked a material studied: once, whatever they send again."""

    __tablename__ = "studied_marks"

    material_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("materials.id", ondelete="CASCADE"), primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    studied_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_studied_marks_student", "student_id"),)


# --- the read model of people (shared.people) ----------------------------------------------
class KnownUser(UserColumns, MaterialBase):
    pass


class TeacherLink(TeacherLinkColumns, MaterialBase):
    pass


class ParentLink(ParentLinkColumns, MaterialBase):
    pass
