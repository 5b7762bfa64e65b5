"""Databases made before the shared people kit upgrade with everything they held, on SQLite and
PostgreSQL: the notification service's contacts and links, the student service's current zones."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notification.app import SPEC as NOTIFICATION
from services.student.app import SPEC as STUDENT
from shared.db import make_engine
from shared.migrations import alembic_config, upgrade

BEFORE_THE_KIT = {"notification": "08a05b2ff25b", "student": "3389785962a2"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("fresh_database")("people_")


async def at_revision(engine: AsyncEngine, spec, revision: str) -> None:
    config = alembic_config(spec.name, spec.versions_dir, spec.metadata)
    async with engine.begin() as conn:
        def _upgrade(sync_conn) -> None:
            config.attributes["connection"] = sync_conn
            command.upgrade(config, revision)
        await conn.run_sync(_upgrade)


def table(name: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(name, sa.MetaData(), *columns)


async def test_the_notification_services_contacts_and_links_become_the_kits_tables(database_url):
    engine = make_engine(database_url)
    student, teacher, parent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    contacts = table("contacts", sa.Column("user_id", sa.Uuid), sa.Column("role", sa.String),
                     sa.Column("full_name", sa.String), sa.Column("email", sa.String),
                     sa.Column("locale", sa.String), sa.Column("timezone", sa.String),
                     sa.Column("telegram_chat_id", sa.BigInteger))
    links = table("links", sa.Column("student_id", sa.Uuid), sa.Column("related_id", sa.Uuid),
                  sa.Column("relation", sa.String))
    try:
        await at_revision(engine, NOTIFICATION, BEFORE_THE_KIT["notification"])
        async with engine.begin() as conn:
            await conn.execute(contacts.insert(), [
                {"user_id": student, "role": "student", "full_name": "Ivan", "email": "ivan@example.org",
                 "locale": "en", "timezone": "Asia/Tokyo", "telegram_chat_id": 42},
                {"user_id": parent, "role": None, "full_name": "", "email": None, "locale": "ru",
                 "timezone": "Europe/Moscow", "telegram_chat_id": None}])
            await conn.execute(links.insert(), [
                {"student_id": student, "related_id": teacher, "relation": "teacher"},
                {"student_id": student, "related_id": parent, "relation": "parent"}])
        await upgrade(engine, alembic_config("notification", NOTIFICATION.versions_dir, NOTIFICATION.metadata))
        tables = NOTIFICATION.metadata.tables
        async with engine.connect() as conn:
            users = {row.id: row for row in await conn.execute(sa.select(tables["users"]))}
            teachers = (await conn.execute(sa.select(tables["teacher_links"]))).all()
            parents = (await conn.execute(sa.select(tables["parent_links"]))).all()
    finally:
        await engine.dispose()
    ivan = users[student]
    assert (ivan.role, ivan.full_name, ivan.email, ivan.locale, ivan.timezone, ivan.telegram_chat_id) == \
        ("student", "Ivan", "ivan@example.org", "en", "Asia/Tokyo", 42)
    assert users[parent].full_name is None   # "" meant unknown
    assert [(r.teacher_id, r.student_id) for r in teachers] == [(teacher, student)]
    assert [(r.parent_id, r.student_id) for r in parents] == [(parent, student)]


async def test_the_student_services_users_learn_their_current_zone_from_the_zone_history(database_url):
    engine = make_engine(database_url)
    moved, stayed = uuid.uuid4(), uuid.uuid4()
    users = table("users", sa.Column("id", sa.Uuid), sa.Column("role", sa.String),
                  sa.Column("updated_at", sa.DateTime(timezone=True)))
    zones = table("user_timezones", sa.Column("user_id", sa.Uuid),
                  sa.Column("effective_from", sa.DateTime(timezone=True)), sa.Column("timezone", sa.String))
    always, later = datetime(1970, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    try:
        await at_revision(engine, STUDENT, BEFORE_THE_KIT["student"])
        async with engine.begin() as conn:
            await conn.execute(users.insert(), [{"id": moved, "role": "student", "updated_at": later},
                                                {"id": stayed, "role": "student", "updated_at": later}])
            await conn.execute(zones.insert(), [
                {"user_id": moved, "effective_from": always, "timezone": "Europe/Moscow"},
                {"user_id": moved, "effective_from": later, "timezone": "Asia/Tokyo"},
                {"user_id": stayed, "effective_from": always, "timezone": "Europe/Berlin"}])
        await upgrade(engine, alembic_config("student", STUDENT.versions_dir, STUDENT.metadata))
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(STUDENT.metadata.tables["users"].c["id", "timezone"]))
            known = dict(rows.all())
    finally:
        await engine.dispose()
    assert known == {moved: "Asia/Tokyo", stayed: "Europe/Berlin"}
