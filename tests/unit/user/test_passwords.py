"""Password policy and Argon2id hashing."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.user.domain import normalize_email, password_problems
from services.user.service import hash_password, password_matches


def test_a_long_mixed_password_is_accepted():
    assert password_problems("correct horse battery", email="anna@example.com", full_name="Anna") == []


@pytest.mark.parametrize("password, reason", [
    ("short1!", "at least 8"),
    ("12345678901", "digits only"),
    ("aaaaaaaaaa", "single character"),
    ("Password123", "most common"),
    ("anna.smirnova@example.com", "e-mail"),
    ("ANNA.SMIRNOVA", "e-mail"),
    ("Anna Smirnova", "name"),
    ("x" * 300 + "y", "at most"),
])
def test_a_weak_password_is_refused_with_the_reason(password, reason):
    problems = password_problems(password, email="Anna.Smirnova@Example.com", full_name="Anna Smirnova")
    assert any(reason in problem for problem in problems), problems


@given(st.text(alphabet="0123456789", min_size=1, max_size=40))
def test_a_password_of_digits_only_is_never_accepted(password):
    assert password_problems(password)


@given(st.text(min_size=0, max_size=7))
def test_a_password_shorter_than_eight_characters_is_never_accepted(password):
    assert password_problems(password)


def test_emails_are_compared_in_lower_case_without_spaces():
    assert normalize_email("  Anna@Example.COM ") == "anna@example.com"


async def test_a_password_is_hashed_with_argon2id_and_verifies():
    hashed = await hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert await password_matches(hashed, "correct horse battery")
    assert not await password_matches(hashed, "correct horse battery!")


async def test_no_password_matches_an_account_that_does_not_exist():
    assert not await password_matches(None, "a password nobody has")


async def test_a_damaged_hash_matches_nothing():
    assert not await password_matches("not-a-hash", "anything at all")
