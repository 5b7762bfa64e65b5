"""Tables of the student service: progress (state, facts, XP ledger, achievements, rule sets)
and the read models it learns from other services' events (people, links, materials)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.events import utcnow
from shared.people import ParentLinkColumns, TeacherLinkColumns, UserColumns
from shared.sql import Base, JSONType, UtcDateTime, new_metadata

SERIAL = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


class StudentBase(Base):
    __abstract__ = True
    metadata = new_metadata()


# --- progress ---------------------------------------------------------------------------
class StudentStateRow(StudentBase):
    """One row per student: the engine's state as JSON, locked while a fact is applied."""

    __tablename__ = "student_state"

    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    state: Mapped[dict] = mapped_column(JSONType)
    ruleset_version: Mapped[int | None] = mapped_column(Integer, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FactRow(StudentBase):
    """Every fact applied, in ingestion order (`seq`): what replay reads."""

    __tablename__ = "facts"
    __table_args__ = (
        UniqueConstraint("student_id", "event_id"),
        Index("ix_facts_student_seq", "student_id", "seq"),
        Index("ix_facts_student_type_seq", "student_id", "type", "seq"),
    )

    seq: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    type: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    timezone: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSONType)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class XpEntry(StudentBase):
    """The append-only XP ledger. The database itself allows one award per (student, event, rule);
    on PostgreSQL also for awards without an event (retroactive rewards), NULLs being equal there."""

    __tablename__ = "xp_ledger"
    __table_args__ = (
        UniqueConstraint("student_id", "source_event_id", "rule", postgresql_nulls_not_distinct=True),
        Index("ix_xp_ledger_student_id_id", "student_id", "id"),
    )

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    amount: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(200))
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    total_after: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class EarnedAchievement(StudentBase):
    __tablename__ = "student_achievements"

    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    tier: Mapped[str] = mapped_column(String(20))
    earned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    position: Mapped[int] = mapped_column(Integer)  # award order for this student, from 1
    ruleset_version: Mapped[int] = mapped_column(Integer)


class RuleSetVersion(StudentBase):
    """Every rule set ever active; the highest version is the active one."""

    __tablename__ = "rulesets"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


# --- read models ---------------------------------------------------------------------------
class KnownUser(UserColumns, StudentBase):   # the read model of people (shared.people)
    pass


class TeacherLink(TeacherLinkColumns, StudentBase):
    pass


class ParentLink(ParentLinkColumns, StudentBase):
    pass


class UserTimezone(StudentBase):
    """A user's zone from `effective_from` on: a fact gets the zone in effect when it happened."""

    __tablename__ = "user_timezones"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    effective_from: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))


class Material(StudentBase):
    __tablename__ = "materials"
    __table_args__ = (Index("ix_materials_subject_uploaded", "subject", "uploaded_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    teacher_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    subject: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(300))
    grade_level: Mapped[int | None] = mapped_column(Integer)
    visibility: Mapped[str] = mapped_column(String(20))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StudiedMaterial(StudentBase):
    __tablename__ = "studied_materials"

    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    material_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    studied_at: Mapped[datetime] = mapped_column(UtcDateTime)
