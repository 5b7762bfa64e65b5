"""Who sees a material, tags, names and preview sizes: the rules without I/O."""
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.material.domain import (
    Viewer,
    clean_filename,
    ensure_owner,
    ensure_visible,
    may_see,
    normalize_tags,
    thumbnail_size,
)
from shared.errors import NotFound

TEACHER, OTHER_TEACHER, STUDENT, PARENT = (uuid.uuid4() for _ in range(4))


@dataclass
class M:
    owner_id: uuid.UUID
    visibility: str


student = Viewer(STUDENT, "student", frozenset({STUDENT}), frozenset({TEACHER}))
parent = Viewer(PARENT, "parent", frozenset({STUDENT}), frozenset({TEACHER}))
stranger = Viewer(uuid.uuid4(), "student", frozenset(), frozenset())
teacher = Viewer(TEACHER, "teacher")


@pytest.mark.parametrize("visibility, owner, viewer, seen", [
    ("private", TEACHER, teacher, True),
    ("private", TEACHER, student, False),
    ("students", TEACHER, student, True),
    ("students", TEACHER, parent, True),
    ("students", TEACHER, stranger, False),
    ("students", OTHER_TEACHER, student, False),
    ("students", OTHER_TEACHER, teacher, False),
    ("public", OTHER_TEACHER, stranger, True),
])
def test_who_sees_what(visibility, owner, viewer, seen):
    assert may_see(viewer, M(owner, visibility)) is seen


def test_a_private_material_shared_with_a_student_is_seen_by_them_and_their_parents():
    material = M(TEACHER, "private")
    assert may_see(student, material, [STUDENT]) and may_see(parent, material, [STUDENT])
    assert not may_see(stranger, material, [STUDENT])


def test_what_is_not_visible_is_not_found_rather_than_forbidden():
    with pytest.raises(NotFound):
        ensure_visible(stranger, M(TEACHER, "students"))
    with pytest.raises(NotFound):
        ensure_owner(STUDENT, M(TEACHER, "public"))


def test_tags_are_trimmed_lowered_split_and_deduplicated():
    assert normalize_tags(["  Дроби ", "grammar, Present  Simple", "дроби", ""]) == \
        ["дроби", "grammar", "present simple"]
    with pytest.raises(ValueError, match="at most"):
        normalize_tags([",".join(f"t{i}" for i in range(21))])


def test_a_filename_keeps_its_letters_and_loses_its_path():
    assert clean_filename("C:\\Users\\anna\\Дроби 5 класс.pdf", "x") == "Дроби 5 класс.pdf"
    assert clean_filename("../../etc/passwd\x00", "x") == "passwd"
    assert clean_filename("..", "material.pdf") == "material.pdf"
    assert len(clean_filename("a" * 300 + ".pdf", "x")) == 255


@given(st.integers(1, 20_000), st.integers(1, 20_000), st.integers(32, 2048))
def test_a_thumbnail_keeps_the_aspect_and_never_grows(width, height, side):
    w, h = thumbnail_size(width, height, side)
    assert max(w, h) <= max(side, 1) and w <= width and h <= height
    assert max(w, h) == min(side, max(width, height))
