"""The shared people kit: what it keeps of an event's fields, what unlinking and deletion remove, and
the internal route's paths."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column

from shared.inbox import Handlers
from shared.people import ParentLinkColumns, People, TeacherLinkColumns, UserColumns, link_path
from shared.sql import Base, new_metadata


class KitBase(Base):
    __abstract__ = True
    metadata = new_metadata()


class Person(UserColumns, KitBase):
    email: Mapped[str | None] = mapped_column(String(12))


class Teaching(TeacherLinkColumns, KitBase):
    pass


class Parenting(ParentLinkColumns, KitBase):
    pass


people = People(Person, Teaching, Parenting)


def test_only_the_columns_of_the_services_table_are_kept_cut_to_their_length():
    kept = people._storable({"role": "teacher", "full_name": "x" * 300, "email": "someone@example.org",
                             "phone": "+7 900", "id": uuid.uuid4(), "locale": None})
    assert kept == {"role": "teacher", "full_name": "x" * 200, "email": "someone@exam"}


def test_a_zone_that_does_not_exist_is_not_kept_and_a_real_one_is():
    assert people._storable({"timezone": "Mars/Olympus"}) == {}
    assert people._storable({"timezone": "Asia/Tokyo"}) == {"timezone": "Asia/Tokyo"}


def test_every_service_declares_the_same_table_shapes_on_its_own_metadata():
    assert (Person.__table__.metadata, Teaching.__table__.name, Parenting.__table__.name) == \
        (KitBase.metadata, "teacher_links", "parent_links")
    assert [c.name for c in Teaching.__table__.primary_key] == ["teacher_id", "student_id"]


def test_the_internal_route_names_the_kind_and_both_people():
    teacher, student = uuid.uuid4(), uuid.uuid4()
    assert link_path("teacher", teacher, student) == f"/internal/people/links/teacher/{teacher}/{student}"


def test_the_kit_handles_every_user_event_about_people_and_the_service_names_them():
    handlers = Handlers()
    people.subscribe(handlers, owner="services.somewhere.handlers")
    assert sorted(handlers.by_type) == ["user.created", "user.deactivated", "user.deleted", "user.parent_linked",
                                        "user.parent_unlinked", "user.teacher_linked", "user.teacher_unlinked",
                                        "user.updated"]
    assert handlers.names("user.deleted") == ["services.somewhere.on_user_deleted"]


def test_a_service_handler_may_not_share_a_name_with_one_of_the_kit_on_the_same_event():
    handlers = Handlers()
    people.subscribe(handlers, owner="services.somewhere.handlers")

    async def on_user_deleted(uow, event) -> None: ...
    on_user_deleted.__module__ = "services.somewhere.handlers"
    with pytest.raises(ValueError, match=r"two handlers of user\.deleted"):
        handlers.on("user.deleted")(on_user_deleted)


async def _stored(run) -> tuple[list, list, list]:
    engine = create_async_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(KitBase.metadata.create_all)
        async with async_sessionmaker(engine)() as session:
            await run(session)
            await session.commit()
            users = [(u.id, u.full_name) for u in await session.scalars(select(Person))]
            teaching = [(t.teacher_id, t.student_id) for t in await session.scalars(select(Teaching))]
            parenting = [(p.parent_id, p.student_id) for p in await session.scalars(select(Parenting))]
            return users, teaching, parenting
    finally:
        await engine.dispose()


async def _a_class(kit: People, session, gone: uuid.UUID, teacher: uuid.UUID, parent: uuid.UUID,
                   other: uuid.UUID) -> None:
    for user_id, name in ((gone, "Gone"), (teacher, "Teacher"), (parent, "Parent"), (other, "Other")):
        await kit.record_user(session, user_id, {"full_name": name}, overwrite=False)
    await kit.link_teacher(session, teacher, gone)
    await kit.link_teacher(session, teacher, other)
    await kit.link_parent(session, parent, gone)
    await kit.link_parent(session, parent, other)


async def test_an_unlinked_pair_loses_only_its_own_link():
    teacher, parent, one, two = (uuid.uuid4() for _ in range(4))

    async def run(session):
        await _a_class(people, session, one, teacher, parent, two)
        await people.unlink_teacher(session, teacher, one)
        await people.unlink_parent(session, parent, two)

    _, teaching, parenting = await _stored(run)
    assert (teaching, parenting) == ([(teacher, two)], [(parent, one)])


async def test_a_deleted_user_loses_every_link_and_its_name_and_the_row_stays_as_a_bare_id():
    kit = People(Person, Teaching, Parenting, deleted_name="Deleted user")
    gone, teacher, parent, other = (uuid.uuid4() for _ in range(4))

    async def run(session):
        await _a_class(kit, session, gone, teacher, parent, other)
        await kit.forget_user(session, gone)
        await kit.forget_user(session, gone)   # a redelivery changes nothing

    users, teaching, parenting = await _stored(run)
    assert dict(users)[gone] == "Deleted user" and dict(users)[other] == "Other"
    assert (teaching, parenting) == ([(teacher, other)], [(parent, other)])


async def test_a_service_that_keeps_nothing_of_a_deleted_user_erases_its_row():
    kit = People(Person, Teaching, Parenting, erase_deleted=True)
    gone, teacher, parent, other = (uuid.uuid4() for _ in range(4))

    async def run(session):
        await _a_class(kit, session, gone, teacher, parent, other)
        await kit.forget_user(session, teacher)   # a deleted teacher: the students' links to it go

    users, teaching, parenting = await _stored(run)
    assert teacher not in dict(users) and teaching == []
    assert sorted(parenting) == sorted([(parent, gone), (parent, other)])
