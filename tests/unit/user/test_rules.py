"""Rules of refresh tokens, invites, profiles and visibility."""
import uuid
from datetime import timedelta

import pytest

from services.user import domain
from services.user.domain import InviteKind, InviteProblem, RefreshState, RefreshVerdict, judge_refresh
from shared.events import utcnow

NOW = utcnow()
LATER = NOW + timedelta(days=30)


def test_a_live_unused_refresh_token_rotates():
    assert judge_refresh(RefreshState(LATER, None, None), NOW) is RefreshVerdict.ROTATE


def test_a_spent_refresh_token_presented_again_is_a_reuse():
    assert judge_refresh(RefreshState(LATER, NOW - timedelta(seconds=1), None), NOW) is RefreshVerdict.REUSED


def test_a_token_of_a_revoked_family_stays_refused_even_when_unused():
    assert judge_refresh(RefreshState(LATER, None, NOW), NOW) is RefreshVerdict.REVOKED


def test_a_revoked_and_spent_token_is_not_counted_as_a_new_reuse():
    assert judge_refresh(RefreshState(LATER, NOW, NOW), NOW) is RefreshVerdict.REVOKED


def test_an_expired_refresh_token_is_refused():
    assert judge_refresh(RefreshState(NOW, None, None), NOW) is RefreshVerdict.EXPIRED


def test_secrets_are_stored_as_sha256_and_are_unguessable():
    first, second = domain.new_secret(), domain.new_secret()
    assert first != second and len(first) >= 40
    assert len(domain.secret_hash(first)) == 64 and domain.secret_hash(first) != first


def _invite(kind, expires_at=None, **state):
    return domain.InviteState(kind, expires_at or LATER, **state)


def test_a_teacher_invite_is_for_students_and_a_parent_invite_for_parents():
    assert InviteKind.TEACHER.inviter_role == "teacher" and InviteKind.PARENT.inviter_role == "student"
    assert domain.judge_acceptance(_invite(InviteKind.TEACHER), "student", NOW) is None
    assert domain.judge_acceptance(_invite(InviteKind.PARENT), "parent", NOW) is None
    assert domain.judge_acceptance(_invite(InviteKind.TEACHER), "parent", NOW) is InviteProblem.WRONG_ROLE
    assert domain.judge_acceptance(_invite(InviteKind.PARENT), "teacher", NOW) is InviteProblem.WRONG_ROLE


def test_an_expired_invite_cannot_be_accepted():
    assert domain.judge_acceptance(_invite(InviteKind.TEACHER, NOW), "student", NOW) is InviteProblem.EXPIRED


def test_a_personal_invite_is_spent_by_its_first_use_and_a_class_code_is_not():
    assert domain.judge_acceptance(_invite(InviteKind.PARENT, used_at=NOW), "parent", NOW) is InviteProblem.SPENT
    assert domain.judge_acceptance(_invite(InviteKind.TEACHER, multi_use=True, used_at=NOW), "student", NOW) is None
    revoked = _invite(InviteKind.TEACHER, multi_use=True, revoked_at=NOW)
    assert domain.judge_acceptance(revoked, "student", NOW) is InviteProblem.REVOKED


@pytest.mark.parametrize("name", ["Europe/Moscow", "Asia/Vladivostok", "America/New_York", "UTC"])
def test_iana_time_zones_are_accepted(name):
    assert domain.check_timezone(name) == name


@pytest.mark.parametrize("name", ["Mars/Olympus", "MSK", "+03:00", "../../etc/passwd", ""])
def test_other_time_zone_names_are_refused(name):
    with pytest.raises(ValueError, match="time zone"):
        domain.check_timezone(name)


@pytest.mark.parametrize("phone", ["+7 (912) 345-67-89", "89123456789"])
def test_phone_numbers_in_usual_forms_are_accepted(phone):
    assert domain.check_phone(phone) == phone


@pytest.mark.parametrize("phone", ["call me", "+7", "12-"])
def test_a_phone_that_is_not_a_number_is_refused(phone):
    with pytest.raises(ValueError):
        domain.check_phone(phone)


def test_only_fields_that_differ_count_as_changed():
    current = {"full_name": "Anna", "timezone": "Europe/Moscow", "phone": None}
    requested = {"full_name": "Anna", "timezone": "Asia/Omsk", "phone": None}
    assert domain.changed_fields(current, requested) == {"timezone": "Asia/Omsk"}


def test_users_see_themselves_linked_users_and_admins_see_everyone():
    me, other = uuid.uuid4(), uuid.uuid4()
    assert domain.can_view_user(me, "student", me, linked=False)
    assert domain.can_view_user(me, "teacher", other, linked=True)
    assert domain.can_view_user(me, "admin", other, linked=False)
    assert not domain.can_view_user(me, "teacher", other, linked=False)


def test_only_the_user_and_admins_edit_a_profile():
    me, other = uuid.uuid4(), uuid.uuid4()
    assert domain.can_edit_user(me, "parent", me)
    assert domain.can_edit_user(me, "admin", other)
    assert not domain.can_edit_user(me, "teacher", other)
