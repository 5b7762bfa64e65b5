"""The notifications API on PostgreSQL: the inbox, marking read, preferences, and its refusals."""
import uuid

import pytest

from services.notification.models import Notification
from shared.events import StudentLevelUp
from tests.integration.notification.world import Person, World


async def three_level_ups(world: World, student: Person) -> list[dict]:
    for level in (2, 3, 4):
        world.clock.advance(seconds=1)
        await world.publish(StudentLevelUp(student_id=student.id, old_level=level - 1, new_level=level, xp=level * 100),
                            producer="student")
        await world.row(Notification, user_id=student.id, title=f"Level {level} reached!")
    return await world.inbox(student)


async def test_the_inbox_is_newest_first_and_pages_with_a_cursor(world):
    student = await world.known()
    items = await three_level_ups(world, student)
    assert [i["title"] for i in items] == ["Level 4 reached!", "Level 3 reached!", "Level 2 reached!"]

    first = await world.client.get("/api/v1/notifications", params={"limit": 2}, headers=student.headers)
    assert [i["title"] for i in first.json()["items"]] == ["Level 4 reached!", "Level 3 reached!"]
    cursor = first.json()["next_cursor"]
    rest = await world.client.get("/api/v1/notifications", params={"limit": 2, "cursor": cursor},
                                  headers=student.headers)
    assert [i["title"] for i in rest.json()["items"]] == ["Level 2 reached!"]
    assert rest.json()["next_cursor"] is None


async def test_marking_read_one_and_all(world):
    student = await world.known()
    newest, middle, oldest = await three_level_ups(world, student)

    read = await world.client.post(f"/api/v1/notifications/{middle['id']}/read", headers=student.headers)
    assert read.status_code == 200 and read.json()["read"] is True and read.json()["read_at"]
    again = await world.client.post(f"/api/v1/notifications/{middle['id']}/read", headers=student.headers)
    assert again.json()["read_at"] == read.json()["read_at"]
    unread = await world.inbox(student, unread="true")
    assert [i["id"] for i in unread] == [newest["id"], oldest["id"]]

    marked = await world.client.post("/api/v1/notifications/read-all", headers=student.headers)
    assert marked.status_code == 200 and marked.json() == {"marked": 2}
    assert await world.inbox(student, unread="true") == []
    assert len(await world.inbox(student)) == 3


async def test_another_users_notification_is_not_found(world):
    student, other = await world.known(), await world.known()
    [item] = (await three_level_ups(world, student))[:1]
    for method, path in (("GET", f"/api/v1/notifications/{item['id']}"),
                         ("POST", f"/api/v1/notifications/{item['id']}/read"),
                         ("GET", f"/api/v1/notifications/{uuid.uuid4()}")):
        response = await world.client.request(method, path, headers=other.headers)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    await world.client.post("/api/v1/notifications/read-all", headers=other.headers)
    assert all(not i["read"] for i in await world.inbox(student))
    own = await world.client.get(f"/api/v1/notifications/{item['id']}", headers=student.headers)
    assert own.status_code == 200 and own.json()["title"] == item["title"]


async def test_preferences_default_to_everything_on_and_are_replaced_by_put(world):
    student = world.person()
    default = await world.client.get("/api/v1/notifications/preferences", headers=student.headers)
    assert default.status_code == 200
    assert default.json()["quiet_hours"] is None
    assert default.json()["channels"]["lesson_reminder"] == {"email": True, "telegram": True}

    body = {"channels": {"homework_graded": {"telegram": False}}, "quiet_hours": {"start": "23:00", "end": "07:30"}}
    put = await world.client.put("/api/v1/notifications/preferences", json=body, headers=student.headers)
    assert put.status_code == 200
    got = (await world.client.get("/api/v1/notifications/preferences", headers=student.headers)).json()
    assert got == put.json()
    assert got["channels"]["homework_graded"] == {"email": True, "telegram": False}
    assert got["quiet_hours"] == {"start": "23:00", "end": "07:30"}

    cleared = await world.client.put("/api/v1/notifications/preferences", json={}, headers=student.headers)
    assert cleared.json()["quiet_hours"] is None
    assert cleared.json()["channels"]["homework_graded"]["telegram"] is True


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), [
    ("PUT", "/api/v1/notifications/preferences", {"json": {"channels": {"nope": {"email": False}}}}, 422),
    ("PUT", "/api/v1/notifications/preferences", {"json": {"quiet_hours": {"start": "25:00", "end": "07:00"}}}, 422),
    ("PUT", "/api/v1/notifications/preferences", {"json": {"quiet_hours": {"start": "07:00", "end": "07:00"}}}, 422),
    ("PUT", "/api/v1/notifications/preferences", {"json": {"channels": {"level_up": {"email": "off"}}}}, 422),
    ("PUT", "/api/v1/notifications/preferences", {"json": []}, 422),
    ("PUT", "/api/v1/notifications/preferences",
     {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
    ("PUT", "/api/v1/notifications/preferences",
     {"content": b'{"channels": {}, "x": "' + b"a" * 1_100_000 + b'"}',
      "headers": {"content-type": "application/json"}}, 413),
    ("GET", "/api/v1/notifications", {"params": {"unread": "maybe"}}, 422),
    ("GET", "/api/v1/notifications", {"params": {"limit": 500}}, 422),
    ("GET", "/api/v1/notifications", {"params": {"cursor": "not-a-cursor"}}, 422),
    ("GET", "/api/v1/notifications", {"params": {"cursor": "WzFd"}}, 422),  # [1]
    ("POST", "/api/v1/notifications/not-a-uuid/read", {}, 404),  # not a notification's path
    ("GET", "/api/v1/notifications/deliveries", {}, 403),
])
async def test_malformed_or_forbidden_requests_get_a_problem(world, method, path, kwargs, status):
    student = world.person()
    headers = {**student.headers, **kwargs.pop("headers", {})}
    response = await world.client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/notifications"), ("POST", "/api/v1/notifications/read-all"),
    ("GET", "/api/v1/notifications/preferences"), ("PUT", "/api/v1/notifications/preferences"),
    ("POST", f"/api/v1/notifications/{uuid.uuid4()}/read"), ("GET", "/api/v1/notifications/deliveries"),
])
async def test_without_a_valid_token_every_route_is_unauthorized(world, method, path):
    assert (await world.client.request(method, path)).status_code == 401
    bad = await world.client.request(method, path, headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401


async def test_only_admins_list_deliveries_and_filters_are_checked(world):
    admin = world.person("admin")
    assert (await world.client.get("/api/v1/notifications/deliveries", headers=admin.headers)).status_code == 200
    for params in ({"status": "lost"}, {"channel": "fax"}):
        response = await world.client.get("/api/v1/notifications/deliveries", params=params, headers=admin.headers)
        assert response.status_code == 422
