"""The bot's own calls: a linked chat's short-lived access token, and unlinking the chat."""
import uuid

from tests.integration.user.conftest import BOT_TOKEN

AS_BOT = {"X-Bot-Token": BOT_TOKEN}


async def _linked_chat(service, account) -> tuple[int, str]:
    token = (await service.client.post("/api/v1/users/me/telegram-link", headers=account.headers)).json()["token"]
    chat_id = int(uuid.uuid4().int % 10**12)
    linked = await service.client.post("/api/v1/telegram/link", headers=AS_BOT,
                                       json={"token": token, "telegram_chat_id": chat_id})
    assert linked.status_code == 200, linked.text
    return chat_id, linked.json()["chat_key"]


async def test_the_bot_gets_a_token_for_a_linked_chat_only_with_its_secret_and_the_chat_key(service):
    student = await service.account("student")
    chat_id, chat_key = await _linked_chat(service, student)

    session = await service.client.post("/api/v1/telegram/token", headers=AS_BOT,
                                        json={"telegram_chat_id": chat_id, "chat_key": chat_key})
    assert session.status_code == 200, session.text
    body = session.json()
    assert body["user_id"] == student.id and body["role"] == "student" and body["expires_in"] == 300
    me = await service.client.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == student.id

    # a leaked chat id (with or without the bot's secret), or a key without the secret, buys nothing
    for headers, key in (({}, chat_key), (AS_BOT, "guessed"), ({"X-Bot-Token": "guess"}, chat_key)):
        refused = await service.client.post("/api/v1/telegram/token", headers=headers,
                                            json={"telegram_chat_id": chat_id, "chat_key": key})
        assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"


async def test_an_unlinked_chat_gets_no_more_tokens_and_linking_again_makes_a_new_key(service):
    student = await service.account("student")
    chat_id, chat_key = await _linked_chat(service, student)
    chat = {"telegram_chat_id": chat_id, "chat_key": chat_key}

    assert (await service.client.post("/api/v1/telegram/unlink", headers=AS_BOT, json=chat)).status_code == 204
    assert (await service.client.post("/api/v1/telegram/token", headers=AS_BOT, json=chat)).status_code == 401
    assert (await service.client.post("/api/v1/telegram/unlink", headers=AS_BOT, json=chat)).status_code == 401
    assert (await service.client.get("/auth/me", headers=student.headers)).json()["telegram_linked"] is False
    updates = [e for e in await service.outbox("user.updated") if e.payload["user_id"] == student.id]
    assert [e.payload["changed"] for e in updates] == [{"telegram_linked": False}]

    _, new_key = await _linked_chat(service, student)
    assert new_key != chat_key
