"""A small typed client of the gateway's public API: what the bot asks, as the bot or as a user.

Every call carries the update's correlation ID (`X-Correlation-ID`), so the services' log lines
of one tap share it; writes a tap causes carry an `Idempotency-Key` made from that tap."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from shared.context import current_correlation_id
from telegram_bot.metrics import API_CALLS

M = TypeVar("M", bound=BaseModel)
Role = Literal["admin", "teacher", "student", "parent"]


class ApiError(Exception):
    """A 4xx/5xx answer of the API (a problem+json body) or the gateway out of reach (status 0)."""

    def __init__(self, status: int, detail: str, correlation_id: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail, self.correlation_id = status, detail, correlation_id


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Linked(Model):
    user_id: uuid.UUID
    full_name: str
    role: Role
    chat_key: str


class BotSession(Model):
    access_token: str
    expires_in: int
    user_id: uuid.UUID
    full_name: str
    role: Role
    locale: str
    timezone: str


class Lesson(Model):
    id: uuid.UUID
    student_id: uuid.UUID
    teacher_id: uuid.UUID
    subject: str
    title: str
    starts_at: datetime
    duration_minutes: int
    status: str
    score: int | None = None


class Person(Model):
    id: uuid.UUID
    full_name: str


class Invite(Model):
    code: str
    telegram_url: str
    expires_at: datetime


class LinkResult(Model):
    kind: str
    student_id: uuid.UUID
    created: bool


class Profile(Model):
    student_id: uuid.UUID
    xp: int
    level: int
    xp_for_next_level: int
    xp_into_level: int
    streak_days: int
    achievements_earned: int


class Achievement(Model):
    code: str
    title: str
    earned_at: datetime | None = None


class Standing(Model):
    student_id: uuid.UUID
    name: str
    xp: int
    rank: int


class Leaderboard(Model):
    period_label: str
    items: list[Standing]
    me: Standing | None = None


class HomeworkFile(Model):
    id: uuid.UUID
    file_name: str
    content_type: str


class Submission(Model):
    id: uuid.UUID
    text: str | None = None
    files: list[HomeworkFile] = []


class Homework(Model):
    id: uuid.UUID
    student_id: uuid.UUID
    title: str
    description: str = ""
    due_at: datetime
    max_score: int
    status: str
    score: int | None = None
    submissions: list[Submission] = []


class Card(Model):
    id: uuid.UUID
    deck_id: uuid.UUID
    term: str
    translation: str
    transcription: str | None = None
    example: str | None = None


class Deck(Model):
    id: uuid.UUID
    title: str


class Review(Model):
    rating: str
    due: datetime


class MoneyAmount(Model):
    amount: int
    currency: str


class Balance(Model):
    student_id: uuid.UUID
    balance: MoneyAmount | None = None


class Payment(Model):
    id: uuid.UUID
    status: str
    confirmation_url: str | None = None


class Upload(Model):
    """A file to send in a multipart request."""

    name: str
    content: bytes
    content_type: str


class Gateway:
    """The API as the bot itself (X-Bot-Token); `as_user(token)` gives the API as a user."""

    def __init__(self, http: httpx.AsyncClient, bot_secret: str) -> None:
        self.http, self._secret = http, bot_secret

    async def call(self, method: str, path: str, *, token: str | None = None, key: str | None = None,
                   **kwargs: Any) -> httpx.Response:
        correlation = current_correlation_id()
        headers = {"X-Correlation-ID": correlation}
        headers.update({"Authorization": f"Bearer {token}"} if token else {"X-Bot-Token": self._secret})
        if key:
            headers["Idempotency-Key"] = key
        try:
            response = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            API_CALLS.labels("unreachable").inc()
            raise ApiError(0, f"the platform is out of reach ({type(exc).__name__})", correlation) from exc
        API_CALLS.labels(f"{response.status_code // 100}xx").inc()
        if response.status_code >= 400:
            raise ApiError(response.status_code, _detail(response), correlation)
        return response

    async def link(self, token: str, chat_id: int) -> Linked:
        response = await self.call("POST", "/api/v1/telegram/link", json={"token": token, "telegram_chat_id": chat_id})
        return Linked.model_validate(response.json())

    async def bot_session(self, chat_id: int, chat_key: str) -> BotSession:
        response = await self.call("POST", "/api/v1/telegram/token",
                                   json={"telegram_chat_id": chat_id, "chat_key": chat_key})
        return BotSession.model_validate(response.json())

    async def unlink(self, chat_id: int, chat_key: str) -> None:
        await self.call("POST", "/api/v1/telegram/unlink", json={"telegram_chat_id": chat_id, "chat_key": chat_key})

    def as_user(self, token: str) -> UserApi:
        return UserApi(self, token)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    return str(body.get("detail") or body.get("title") or response.reason_phrase) if isinstance(body, dict) else ""


class UserApi:
    """The API as one user, with the short-lived token the bot got for their chat."""

    def __init__(self, gateway: Gateway, token: str) -> None:
        self._gateway, self._token = gateway, token

    async def _get(self, path: str, model: type[M], **params: Any) -> M:
        response = await self._gateway.call("GET", path, token=self._token, params=params)
        return model.model_validate(response.json())

    async def _items(self, path: str, model: type[M], **params: Any) -> list[M]:
        response = await self._gateway.call("GET", path, token=self._token, params={"limit": 200, **params})
        return [model.model_validate(item) for item in response.json()["items"]]

    async def _post(self, path: str, model: type[M], *, key: str | None = None, json: Any = None) -> M:
        response = await self._gateway.call("POST", path, token=self._token, key=key, json=json)
        return model.model_validate(response.json())

    async def lessons(self, start: datetime, end: datetime) -> list[Lesson]:
        return await self._items("/api/v1/lessons", Lesson, **{"from": start.isoformat(), "to": end.isoformat()})

    async def lesson(self, lesson_id: uuid.UUID) -> Lesson:
        return await self._get(f"/api/v1/lessons/{lesson_id}", Lesson)

    async def start_lesson(self, lesson_id: uuid.UUID, *, key: str) -> Lesson:
        return await self._post(f"/api/v1/lessons/{lesson_id}/start", Lesson, key=key)

    async def complete_lesson(self, lesson_id: uuid.UUID, *, score: int | None, attended: bool, key: str) -> Lesson:
        body = {"attended": attended, **({"score": score} if score is not None else {})}
        return await self._post(f"/api/v1/lessons/{lesson_id}/complete", Lesson, key=key, json=body)

    async def cancel_lesson(self, lesson_id: uuid.UUID, *, reason: str, key: str) -> Lesson:
        return await self._post(f"/api/v1/lessons/{lesson_id}/cancel", Lesson, key=key, json={"reason": reason})

    async def my_students(self) -> list[Person]:
        return await self._items("/api/v1/teachers/me/students", Person)

    async def children(self) -> list[Person]:
        return await self._items("/api/v1/users", Person, role="student")

    async def user(self, user_id: uuid.UUID) -> Person:
        return await self._get(f"/api/v1/users/{user_id}", Person)

    async def teacher_invite(self, *, key: str) -> Invite:
        return await self._post("/api/v1/teachers/me/invites", Invite, key=key)

    async def parent_invite(self, *, key: str) -> Invite:
        return await self._post("/api/v1/students/me/parent-invites", Invite, key=key)

    async def accept_invite(self, code: str) -> LinkResult:
        return await self._post(f"/api/v1/invites/{code}/accept", LinkResult)

    async def profile(self, student_id: uuid.UUID) -> Profile:
        return await self._get(f"/api/v1/students/{student_id}/profile", Profile)

    async def homework_list(self, *statuses: str) -> list[Homework]:
        found = await self._items("/api/v1/homework", Homework, order="due")
        return [h for h in found if not statuses or h.status in statuses]

    async def homework(self, homework_id: uuid.UUID) -> Homework:
        return await self._get(f"/api/v1/homework/{homework_id}", Homework)

    async def assign_homework(self, student_id: uuid.UUID, title: str, due_at: datetime, *, key: str) -> Homework:
        return await self._post("/api/v1/homework", Homework, key=key, json={
            "student_id": str(student_id), "title": title, "description": title, "due_at": due_at.isoformat()})

    async def submit_homework(self, homework_id: uuid.UUID, text: str | None, files: list[Upload], *,
                              key: str) -> Homework:
        """One submission: the text and every file in one multipart request."""
        parts = [("files", (f.name, f.content, f.content_type)) for f in files]
        response = await self._gateway.call("POST", f"/api/v1/homework/{homework_id}/submissions",
                                            token=self._token, key=key, data={"text": text} if text else {},
                                            files=parts or None)
        return Homework.model_validate(response.json())

    async def grade_homework(self, homework_id: uuid.UUID, score: int, submission_id: uuid.UUID | None, *,
                             key: str) -> Homework:
        body = {"score": score, **({"submission_id": str(submission_id)} if submission_id else {})}
        return await self._post(f"/api/v1/homework/{homework_id}/grade", Homework, key=key, json=body)

    async def homework_file(self, homework_id: uuid.UUID, file_id: uuid.UUID) -> bytes:
        response = await self._gateway.call("GET", f"/api/v1/homework/{homework_id}/files/{file_id}",
                                            token=self._token)
        return response.content

    async def decks(self) -> list[Deck]:
        return await self._items("/api/v1/decks", Deck)

    async def due_cards(self, deck_id: uuid.UUID) -> list[Card]:
        response = await self._gateway.call("GET", f"/api/v1/decks/{deck_id}/due", token=self._token)
        return [Card.model_validate(item["card"]) for item in response.json()["items"]]

    async def card(self, card_id: uuid.UUID) -> Card:
        return await self._get(f"/api/v1/cards/{card_id}", Card)

    async def card_audio(self, card_id: uuid.UUID) -> bytes:
        return (await self._gateway.call("GET", f"/api/v1/cards/{card_id}/audio", token=self._token)).content

    async def review_card(self, card_id: uuid.UUID, rating: str, *, key: str) -> Review:
        return await self._post(f"/api/v1/cards/{card_id}/reviews", Review, key=key, json={"rating": rating})

    async def balance(self, student_id: uuid.UUID | None = None) -> Balance:
        params = {"student_id": str(student_id)} if student_id else {}
        return await self._get("/api/v1/payments/balance", Balance, **params)

    async def top_up(self, amount: int, currency: str, student_id: uuid.UUID | None, *, key: str) -> Payment:
        body = {"amount": {"amount": amount, "currency": currency},
                **({"student_id": str(student_id)} if student_id else {})}
        return await self._post("/api/v1/payments/top-ups", Payment, key=key, json=body)

    async def progress_chart(self, student_id: uuid.UUID) -> bytes:
        path = f"/api/v1/analytics/students/{student_id}/progress.png"
        return (await self._gateway.call("GET", path, token=self._token)).content

    async def achievements(self, student_id: uuid.UUID) -> list[Achievement]:
        return await self._items(f"/api/v1/students/{student_id}/achievements", Achievement)

    async def leaderboard(self, period: str) -> Leaderboard:
        return await self._get("/api/v1/leaderboards", Leaderboard, period=period, limit=10)
