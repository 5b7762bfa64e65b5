"""The shared people kit: what it keeps of an event's fields, and the internal route's paths."""
from __future__ import annotations

import uuid

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shared.sql import Base, new_metadata
from shared.people import ParentLinkColumns, People, TeacherLinkColumns, UserColumns, link_path


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
