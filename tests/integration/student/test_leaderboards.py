"""Leaderboards in the real Redis, fed after each commit and rebuilt from the XP ledger."""
from datetime import UTC, datetime, time

import redis.asyncio as redis

from tests.integration.student.world import MOSCOW, StudentWorld, lesson_completed
from tests.support import eventually

BOARD = "/api/v1/leaderboards"


def lesson_now(student_id, **fields):
    """A lesson completed now (in this week and month) that started at noon in Moscow, whatever
    the hour the test runs at (a lesson started at night would also earn «Сова»)."""
    noon = datetime.combine(datetime.now(MOSCOW).date(), time(12), MOSCOW)
    return lesson_completed(student_id, datetime.now(UTC), starts_at=noon, **fields)


async def board(world: StudentWorld, who, **params) -> dict:
    response = await world.get(BOARD, who, **params)
    assert response.status_code == 200, response.text
    return response.json()


def ranking(body: dict) -> list[tuple[str, int, int]]:
    return [(item["student_id"], item["xp"], item["rank"]) for item in body["items"]]


async def test_boards_rank_by_xp_of_the_period_and_come_back_from_the_ledger_after_a_flush(
        world: StudentWorld, servers):
    ann, bob, cid = [await world.known_student(name) for name in ("Ann", "Bob", "Cid")]
    await world.publish(lesson_now(ann.id, score=100),
                        lesson_now(bob.id, score=0),
                        lesson_now(cid.id, score=0))
    for student in (ann, bob, cid):
        await world.wait_for_facts(student.id, 1)
    await world.app.state.background.settle()

    week = await board(world, bob, period="week")
    expected = [(str(ann.id), 250, 1), (str(bob.id), 150, 2), (str(cid.id), 150, 2)]
    assert sorted(ranking(week), key=lambda r: (r[2], r[0])) == sorted(expected, key=lambda r: (r[2], r[0]))
    assert [item["name"] for item in week["items"]][0] == "Ann"
    assert week["me"] == {"student_id": str(bob.id), "name": "Bob", "xp": 150, "rank": 2}

    client = redis.from_url(servers.redis_url)
    await client.flushdb()
    await client.aclose()
    for period in ("week", "month", "all"):
        assert sorted(ranking(await board(world, ann, period=period))) == sorted(expected)


async def test_an_increment_into_a_flushed_board_does_not_pass_for_the_whole_board(world: StudentWorld, servers):
    ann, bob = await world.known_student("Ann"), await world.known_student("Bob")
    await world.publish(lesson_now(ann.id, score=100))
    await world.wait_for_facts(ann.id, 1)
    await world.app.state.background.settle()
    client = redis.from_url(servers.redis_url)
    await client.flushdb()
    await client.aclose()
    await world.publish(lesson_now(bob.id, score=0))  # its increment makes a partial key
    await world.wait_for_facts(bob.id, 1)
    await world.app.state.background.settle()
    assert sorted(ranking(await board(world, ann, period="all"))) == sorted(
        [(str(ann.id), 250, 1), (str(bob.id), 150, 2)])


async def test_a_teacher_board_ranks_only_the_teachers_students_including_those_without_xp(world: StudentWorld):
    ann, bob, stranger = (await world.known_student("Ann"), await world.known_student("Bob"),
                          await world.known_student("Zed"))
    teacher = await world.linked_teacher(ann, bob)
    await world.publish(lesson_now(ann.id), lesson_now(stranger.id))
    await world.wait_for_facts(ann.id, 1)
    await world.wait_for_facts(stranger.id, 1)
    await world.app.state.background.settle()

    async def teacher_board() -> dict:
        body = await board(world, teacher, scope="teacher", period="month")
        return body if body["items"] and body["items"][0]["xp"] else None
    body = await eventually(teacher_board)
    assert ranking(body) == [(str(ann.id), 200, 1), (str(bob.id), 0, 2)]
    assert body["teacher_id"] == str(teacher.id)
    as_student = await board(world, bob, scope="teacher", period="month")
    assert ranking(as_student) == ranking(body)
    assert (await world.get(BOARD, stranger, scope="teacher")).status_code == 404  # no teacher


async def test_malformed_board_requests_are_refused(world: StudentWorld):
    student = world.person("student")
    assert (await world.get(BOARD, student, period="year")).status_code == 422
    assert (await world.get(BOARD, student, scope="school")).status_code == 422
    assert (await world.get(BOARD, student, limit=500)).status_code == 422
    assert (await world.get(BOARD, student, cursor="not-a-cursor")).status_code == 422
    assert (await world.client.get(BOARD)).status_code == 401
    admin = world.person("admin")
    assert (await world.get(BOARD, admin, scope="teacher")).status_code == 422


async def test_a_board_pages_with_a_cursor(world: StudentWorld):
    students = [await world.known_student(f"S{i}") for i in range(3)]
    await world.publish(*(lesson_now(s.id, score=10 * i) for i, s in enumerate(students)))
    for student in students:
        await world.wait_for_facts(student.id, 1)
    await world.app.state.background.settle()
    first = await board(world, students[0], period="all", limit=2)
    second = await board(world, students[0], period="all", limit=2, cursor=first["next_cursor"])
    assert [i["rank"] for i in first["items"] + second["items"]] == [1, 2, 3]
    assert second["next_cursor"] is None and first["total"] == 3


async def test_without_redis_the_ledger_still_gets_the_xp_and_the_board_catches_up_when_redis_is_back(
        world: StudentWorld, monkeypatch):
    ann = await world.known_student("Ann")
    await world.publish(lesson_now(ann.id, score=0))
    await world.wait_for_facts(ann.id, 1)
    await world.app.state.background.settle()
    assert ranking(await board(world, ann, period="all")) == [(str(ann.id), 150, 1)]

    boards = world.app.state.deps.game.boards
    alive = boards._redis
    dead = redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    monkeypatch.setattr(boards, "_redis", dead)
    await world.publish(lesson_now(ann.id, score=100))
    await world.wait_for_facts(ann.id, 2)
    await world.app.state.background.settle()
    down = await world.get(BOARD, ann, period="all")
    assert down.status_code == 503 and down.headers["content-type"].startswith("application/problem+json")
    assert sum(entry.amount for entry in await world.ledger(ann.id)) == 350

    monkeypatch.setattr(boards, "_redis", alive)  # the increment was lost; the board is dropped and rebuilt
    assert ranking(await board(world, ann, period="all")) == [(str(ann.id), 350, 1)]
    await dead.aclose()
