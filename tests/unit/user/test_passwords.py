"""Password policy and Argon2id hashing."""
import asyncio
import os
import threading

import pytest
from argon2 import extract_parameters
from hypothesis import given
from hypothesis import strategies as st

from services.user.domain import normalize_email, password_problems
from services.user.passwords import Argon2Parameters, HashingPool, Passwords, Verdict
from shared.errors import ServiceUnavailable
from tests.hashing import Argon2Calls, HeldWork
from tests.support import eventually


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


def passwords(memory_kib: int = 64, time_cost: int = 1, *, concurrency: int = 2,
              max_waiting: int = 8) -> Passwords:
    """Small parameters: these tests are about behaviour, not cost."""
    return Passwords(Argon2Parameters(memory_kib=memory_kib, time_cost=time_cost, parallelism=1),
                     HashingPool(concurrency=concurrency, max_waiting=max_waiting))


@pytest.fixture
def argon2_calls(monkeypatch) -> Argon2Calls:
    return Argon2Calls.install(monkeypatch)


async def test_a_password_is_hashed_with_argon2id_at_the_configured_parameters_and_verifies():
    hasher = passwords(memory_kib=128, time_cost=3)
    hashed = await hasher.hash("correct horse battery")
    parameters = extract_parameters(hashed)
    assert hashed.startswith("$argon2id$")
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (128, 3, 1)
    assert await hasher.verify(hashed, "correct horse battery") == Verdict(True)
    assert await hasher.verify(hashed, "correct horse battery!") == Verdict(False)
    hasher.close()


async def test_an_unknown_account_costs_one_verification_at_the_current_parameters(argon2_calls):
    hasher = passwords(memory_kib=128)
    stored = await hasher.hash("correct horse battery")
    await hasher.dummy_hash()
    argon2_calls.clear()
    assert await hasher.verify(None, "a password nobody has") == Verdict(False)
    assert await hasher.verify(stored, "a wrong password") == Verdict(False)
    unknown, wrong = argon2_calls.verified
    assert argon2_calls.hashed == 0
    assert extract_parameters(unknown) == extract_parameters(wrong)
    hasher.close()


async def test_a_damaged_hash_matches_nothing_and_costs_one_verification(argon2_calls):
    hasher = passwords()
    await hasher.dummy_hash()
    assert await hasher.verify("not-a-hash", "anything at all") == Verdict(False)
    assert argon2_calls.verified == ["not-a-hash", await hasher.dummy_hash()]
    hasher.close()


async def test_a_right_password_under_other_parameters_needs_a_rehash_and_a_wrong_one_does_not():
    old, new = passwords(memory_kib=64), passwords(memory_kib=128)
    stored = await old.hash("correct horse battery")
    assert await new.verify(stored, "correct horse battery") == Verdict(True, needs_rehash=True)
    assert await new.verify(stored, "a wrong password") == Verdict(False)
    assert await old.verify(stored, "correct horse battery") == Verdict(True, needs_rehash=False)
    old.close(), new.close()


async def test_the_pool_runs_at_most_its_concurrency_and_refuses_beyond_its_queue_with_retry_after():
    pool = HashingPool(concurrency=2, max_waiting=1)
    work = HeldWork()
    running = [asyncio.create_task(pool.run(work)) for _ in range(2)]
    await work.wait_started(2)
    waiting = asyncio.create_task(pool.run(work))
    await eventually(lambda: pool.waiting == 1)
    with pytest.raises(ServiceUnavailable) as refused:
        await pool.run(work)
    assert int(refused.value.headers["Retry-After"]) >= 1
    work.release.set()
    assert await asyncio.gather(*running, waiting) == ["done"] * 3
    assert work.most_at_once == 2 and pool.waiting == 0
    assert await pool.run(work) == "done"      # room again once the queue has drained
    pool.close()


async def test_with_no_queue_a_free_thread_still_takes_the_work():
    pool = HashingPool(concurrency=1, max_waiting=0)
    work = HeldWork()
    work.release.set()
    assert await pool.run(work) == "done"
    pool.close()


async def test_hashing_threads_run_at_a_lower_priority_than_the_event_loop():
    pool = HashingPool(concurrency=1, max_waiting=0, niceness=7)
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    hashing = await pool.run(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert hashing == min(19, own + 7)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own
    pool.close()
