"""Request and response bodies of the user service."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from services.user import domain
from services.user.models import User
from shared.errors import Problem

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL characters
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)]
Password = Annotated[str, Field(
    min_length=domain.MIN_PASSWORD_LENGTH, max_length=domain.MAX_PASSWORD_LENGTH, pattern="[^0-9]",
    description="Not digits only, not one character repeated, not one of the most common passwords, "
                "not the e-mail address or the name")]
Locale = Literal["ru", "en"]
TimeZoneName = Annotated[str, Field(max_length=64, description="IANA time zone name",
                                    json_schema_extra={"enum": list(domain.time_zones())})]
Role = Literal["admin", "teacher", "student", "parent"]


class UserRegister(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "email": "maria@example.org", "password": "violet kettle 42", "full_name": "Maria Petrova",
        "role": "teacher", "timezone": "Europe/Moscow", "locale": "ru"}]})

    email: EmailStr = Field(max_length=320)
    password: Password
    full_name: FullName
    role: Literal["student", "teacher", "parent"] = Field(
        description="Admins are not registered: an operator creates them with a command")
    timezone: TimeZoneName = domain.DEFAULT_TIMEZONE
    locale: Locale = "ru"

    @field_validator("email")
    @classmethod
    def _one_spelling(cls, email: str) -> str:
        return domain.check_email(email)

    @field_validator("role", mode="before")
    @classmethod
    def _registrable(cls, role: object) -> object:
        if role == "admin":  # a clearer reason than the enum's own
            raise ValueError("admins cannot register; an operator creates them with a command")
        return role

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return domain.check_timezone(value)


class UserUpdate(BaseModel):
    """Only the fields sent are changed; `phone: null` removes the phone."""

    model_config = ConfigDict(json_schema_extra={"example": {"timezone": "Asia/Yekaterinburg"}})

    # None is only the "not sent" default: these may be changed but not removed (null is refused).
    full_name: FullName = None  # type: ignore[assignment]
    timezone: TimeZoneName = None  # type: ignore[assignment]
    locale: Locale = None  # type: ignore[assignment]
    phone: str | None = Field(None, max_length=domain.PHONE_MAX_LENGTH, pattern=domain.PHONE_PATTERN,
                              description="At least five digits; `+`, spaces, dashes and brackets allowed")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return domain.check_timezone(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else domain.check_phone(value)


class UserPublic(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    timezone: str
    locale: str
    phone: str | None
    avatar_url: str | None
    telegram_linked: bool
    created_at: datetime
    active: bool = Field(True, description="false once an admin deactivated the account")


class AccountDeletion(BaseModel):
    password: Password = Field(description="the account's password, asked again before it is deleted")


class LoginRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "maria@example.org",
                                                               "password": "violet kettle 42"}]})

    email: str = Field(max_length=320, pattern=NO_NUL)
    password: str = Field(min_length=1, max_length=domain.MAX_PASSWORD_LENGTH)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(BaseModel):
    refresh_token: str | None = Field(None, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_expires_in: int = Field(description="seconds the refresh token is valid")


class InvitePublic(BaseModel):
    code: str
    kind: Literal["teacher", "parent"] = Field(
        description="teacher: a teacher invites a student; parent: a student invites a parent")
    url: str
    telegram_url: str
    expires_at: datetime
    multi_use: bool = Field(False, description="a teacher's class code, for many students until withdrawn; "
                                               "every other invite is spent by its first acceptance")


class InviteCreate(BaseModel):
    class_code: bool = Field(False, description="true: a code for a whole class, accepted by many students "
                                                "until it expires or is withdrawn; false: a personal invite")


class InviteUsePublic(BaseModel):
    student_id: uuid.UUID
    used_at: datetime


class InviteWithUses(InvitePublic):
    revoked: bool
    uses: list[InviteUsePublic]


class InviteList(BaseModel):
    items: list[InviteWithUses]


class LinkedPerson(BaseModel):
    id: uuid.UUID
    full_name: str
    linked_at: datetime


class StudentLinks(BaseModel):
    teachers: list[LinkedPerson]
    parents: list[LinkedPerson]


class InviteInfo(BaseModel):
    code: str
    kind: Literal["teacher", "parent"]
    inviter_id: uuid.UUID
    inviter_name: str
    expires_at: datetime
    expired: bool


class LinkPublic(BaseModel):
    kind: Literal["teacher", "parent"]
    teacher_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    student_id: uuid.UUID
    created: bool = Field(description="false when the link existed already")


class TelegramLinkPublic(BaseModel):
    token: str
    telegram_url: str
    expires_at: datetime


class TelegramLinkRequest(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    telegram_chat_id: int = Field(ge=-(2**63), lt=2**63)


class TelegramLinked(BaseModel):
    user_id: uuid.UUID
    full_name: str
    role: Role
    telegram_chat_id: int
    chat_key: str = Field(description="the bot keeps it: with the bot's secret it buys access tokens for "
                                      "this chat (POST /api/v1/telegram/token); shown once")


class TelegramChat(BaseModel):
    """A linked chat as the bot proves it: its id and the key it got when the chat was linked."""

    telegram_chat_id: int = Field(ge=-(2**63), lt=2**63)
    chat_key: str = Field(min_length=1, max_length=200)


class BotSession(BaseModel):
    """A short-lived access token for the user of a linked chat, and what the bot shows them by."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user_id: uuid.UUID
    full_name: str
    role: Role
    locale: str
    timezone: str


class JWKS(BaseModel):
    keys: list[dict]


def problems(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses` entries for the problem statuses a route may answer."""
    return {status: {"model": Problem, "content": {"application/problem+json": {}}} for status in statuses}


def user_public(user: User) -> UserPublic:
    return UserPublic(id=user.id, email=user.email, full_name=user.full_name, role=user.role,  # type: ignore[arg-type]
                      timezone=user.timezone, locale=user.locale, phone=user.phone,
                      avatar_url=f"/api/v1/users/{user.id}/avatar" if user.avatar_key else None,
                      telegram_linked=user.telegram_chat_id is not None, created_at=user.created_at,
                      active=user.deactivated_at is None)
