"""HTTP routes of the user service: they parse, call a use case and shape the answer."""
from __future__ import annotations

import hmac
import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.user import links, profiles, service
from services.user.deps import DepsDep, SettingsDep
from services.user.domain import InviteKind
from services.user.schemas import (
    JWKS,
    NO_NUL,
    InviteCreate,
    InviteInfo,
    InvitePublic,
    LinkPublic,
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    TelegramLinked,
    TelegramLinkPublic,
    TelegramLinkRequest,
    TokenPair,
    UserPublic,
    UserRegister,
    UserUpdate,
    problems,
    user_public,
)
from services.user.settings import UserSettings
from shared.addresses import client_address
from shared.app import StorageDep, UowDep
from shared.auth import CurrentUser, Principal, require_roles
from shared.errors import Unauthorized
from shared.events import utcnow
from shared.pagination import Page, PageDep
from shared.uploads import MULTIPART_FILE_BODY, multipart_file

auth_router = APIRouter(tags=["auth"])
users_router = APIRouter(prefix="/api/v1", tags=["users"])
links_router = APIRouter(prefix="/api/v1", tags=["links"])
routers = [auth_router, users_router, links_router]


InviteCode = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def client_ip(request: Request, settings: UserSettings) -> str:
    """The client's address: the peer, or what a trusted proxy (the gateway) says it is."""
    peer = request.client.host if request.client else "unknown"
    return client_address(peer, request.headers.get("x-forwarded-for", ""), tuple(settings.trusted_proxies))

# --- auth ----------------------------------------------------------------------------------------


@auth_router.post("/auth/register", status_code=201, response_model=UserPublic,
                  responses=problems(400, 409, 413, 422, 503))
async def register(body: UserRegister, uow: UowDep, deps: DepsDep) -> UserPublic:
    """Create a student, teacher or parent account. Admins are created by a command.
    503 with Retry-After when too many passwords are being hashed at once."""
    user = await service.register_user(uow, deps.passwords, **body.model_dump())
    return user_public(user)


@auth_router.post("/auth/login", response_model=TokenPair, responses=problems(400, 401, 422, 429, 503))
async def login(body: LoginRequest, request: Request, uow: UowDep, deps: DepsDep) -> TokenPair:
    """Password login, throttled per account and per client address (429 with Retry-After);
    503 with Retry-After when too many passwords are being checked at once."""
    return await service.log_in(uow, deps.tokens, deps.throttle, deps.passwords, email=body.email,
                                password=body.password, ip=client_ip(request, deps.settings))


@auth_router.post("/auth/refresh", response_model=TokenPair, responses=problems(400, 401, 422))
async def refresh(body: RefreshRequest, uow: UowDep, deps: DepsDep) -> TokenPair:
    """A new pair; the refresh token sent is spent. Sending a spent one revokes its whole session."""
    return await service.refresh_session(uow, deps.tokens, deps.revocations, refresh_token=body.refresh_token)


@auth_router.post("/auth/logout", status_code=204, response_class=Response, responses=problems(401, 422))
async def logout(user: CurrentUser, uow: UowDep, deps: DepsDep,
                 body: LogoutRequest | None = None) -> Response:
    """Revoke this access token and its session's refresh tokens (or those of `refresh_token`)."""
    await service.log_out(uow, deps.revocations, user, refresh_token=body.refresh_token if body else None)
    return Response(status_code=204)


@auth_router.get("/auth/me", response_model=UserPublic, responses=problems(401))
async def me(user: CurrentUser, uow: UowDep) -> UserPublic:
    return user_public(await service.get_me(uow, user))


@auth_router.get("/.well-known/jwks.json", response_model=JWKS)
async def jwks(response: Response, deps: DepsDep) -> dict[str, Any]:
    """The public keys that verify access tokens (the signing key and those being retired)."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return await deps.keyring.jwks()

# --- users -----------------------------------------------------------------------------------------


@users_router.get("/users", response_model=Page[UserPublic], responses=problems(401, 403, 422))
async def list_users(user: CurrentUser, uow: UowDep, page: PageDep,
                     role: Literal["admin", "teacher", "student", "parent"] | None = None,
                     q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None) -> Page[UserPublic]:
    """Admins: every user; teachers: their students; parents: their children. Ordered by e-mail."""
    result = await profiles.list_users(uow, user, page, role=role, q=q)
    return result.map(user_public)


@users_router.get("/teachers/me/students", response_model=Page[UserPublic], responses=problems(401, 403))
async def my_students(user: Annotated[Principal, require_roles("teacher")], uow: UowDep,
                      page: PageDep) -> Page[UserPublic]:
    result = await profiles.list_students(uow, user, page)
    return result.map(user_public)


@users_router.get("/users/{user_id}", response_model=UserPublic, responses=problems(401, 404, 422))
async def get_user(user_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> UserPublic:
    """Self, admins, and users linked to them (teacher and student, parent and child)."""
    return user_public(await profiles.get_user(uow, user, user_id))


@users_router.patch("/users/{user_id}", response_model=UserPublic, responses=problems(400, 401, 403, 404, 422))
async def update_user(user_id: uuid.UUID, body: UserUpdate, user: CurrentUser, uow: UowDep) -> UserPublic:
    """Change `full_name`, `timezone` (IANA), `locale` (ru, en), `phone`: self and admins."""
    changes = body.model_dump(exclude_unset=True)
    return user_public(await profiles.update_user(uow, user, user_id, changes))


@users_router.put("/users/{user_id}/avatar", response_model=UserPublic, openapi_extra=MULTIPART_FILE_BODY,
                  responses=problems(400, 401, 403, 404, 413, 415, 422))
async def put_avatar(user_id: uuid.UUID, user: CurrentUser, uow: UowDep, storage: StorageDep,
                     settings: SettingsDep, request: Request) -> UserPublic:
    """Multipart `file`: a PNG, JPEG, GIF or WebP image (checked from its bytes) up to 5 MB. Who may
    write is checked before the body is read, and reading stops at the limit."""
    chunks = multipart_file(request, max_bytes=settings.avatar_max_bytes)
    updated = await profiles.set_avatar(uow, storage, user, user_id, chunks, max_bytes=settings.avatar_max_bytes)
    return user_public(updated)


@users_router.get("/users/{user_id}/avatar", response_class=StreamingResponse,
                  responses={200: {"content": {"image/*": {}}}, **problems(401, 404)})
async def get_avatar(user_id: uuid.UUID, user: CurrentUser, uow: UowDep, storage: StorageDep) -> StreamingResponse:
    chunks, content_type = await profiles.open_avatar(uow, storage, user, user_id)
    return StreamingResponse(chunks, media_type=content_type,
                             headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"})

# --- links -----------------------------------------------------------------------------------------


def invite_public(invite: Any, settings: UserSettings) -> InvitePublic:
    return InvitePublic(code=invite.code, kind=invite.kind, expires_at=invite.expires_at, multi_use=invite.multi_use,
                        url=f"{settings.public_base_url.rstrip('/')}/api/v1/invites/{invite.code}",
                        telegram_url=f"https://t.me/{settings.bot_username}?start=invite_{invite.code}")


@links_router.post("/teachers/me/invites", status_code=201, response_model=InvitePublic,
                   responses=problems(401, 403))
async def create_teacher_invite(user: Annotated[Principal, require_roles("teacher")], uow: UowDep,
                                settings: SettingsDep, body: InviteCreate | None = None) -> InvitePublic:
    """An invite for students: a student who accepts it is linked to the teacher (`user.teacher_linked`).
    Personal (spent by its first acceptance) unless `class_code` asks for a code for a class."""
    invite = await links.create_invite(uow, user, InviteKind.TEACHER, ttl=timedelta(hours=settings.invite_ttl_hours),
                                       multi_use=bool(body and body.class_code))
    return invite_public(invite, settings)


@links_router.post("/students/me/parent-invites", status_code=201, response_model=InvitePublic,
                   responses=problems(401, 403))
async def create_parent_invite(user: Annotated[Principal, require_roles("student")], uow: UowDep,
                               settings: SettingsDep) -> InvitePublic:
    """An invite for parents: a parent who accepts it is linked to the student (`user.parent_linked`)."""
    invite = await links.create_invite(uow, user, InviteKind.PARENT, ttl=timedelta(hours=settings.invite_ttl_hours))
    return invite_public(invite, settings)


@links_router.get("/invites/{code}", response_model=InviteInfo, responses=problems(404, 422))
async def describe_invite(code: InviteCode, uow: UowDep) -> InviteInfo:
    """Who invites, to what, until when: what a client shows before accepting. The invite's `url`
    points here; the code itself is the secret, so no token is needed."""
    invite, inviter = await links.describe_invite(uow, code)
    return InviteInfo(code=invite.code, kind=invite.kind, inviter_id=inviter.id, inviter_name=inviter.full_name,
                      expires_at=invite.expires_at, expired=invite.expires_at <= utcnow())


@links_router.post("/invites/{code}/accept", response_model=LinkPublic, responses=problems(401, 403, 404, 409))
async def accept_invite(code: InviteCode, user: CurrentUser, uow: UowDep) -> LinkPublic:
    """A student accepts a teacher's invite, a parent a student's. Accepting again changes nothing
    (`created: false`); an unknown code is 404, an expired, withdrawn or spent one 409."""
    link = await links.accept_invite(uow, user, code)
    other = {"teacher_id": link.other_id} if link.kind is InviteKind.TEACHER else {"parent_id": link.other_id}
    return LinkPublic(kind=link.kind.value, student_id=link.student_id, created=link.created, **other)


@links_router.post("/users/me/telegram-link", status_code=201, response_model=TelegramLinkPublic,
                   responses=problems(401))
async def create_telegram_link(user: CurrentUser, uow: UowDep, settings: SettingsDep) -> TelegramLinkPublic:
    """A one-time deep link: opening it in Telegram links the chat to this account."""
    ttl = timedelta(minutes=settings.telegram_link_ttl_minutes)
    token, expires_at = await links.create_telegram_link(uow, user, ttl=ttl)
    return TelegramLinkPublic(token=token, expires_at=expires_at,
                              telegram_url=f"https://t.me/{settings.bot_username}?start={token}")


async def bot_only(settings: SettingsDep, x_bot_token: Annotated[str | None, Header()] = None) -> None:
    expected = settings.bot_token.get_secret_value() if settings.bot_token else ""
    if not expected or not x_bot_token or not hmac.compare_digest(x_bot_token.encode(), expected.encode()):
        raise Unauthorized("This endpoint is for the Telegram bot (X-Bot-Token)")


@links_router.post("/telegram/link", response_model=TelegramLinked, dependencies=[Depends(bot_only)],
                   responses=problems(401, 404, 409, 422))
async def link_telegram(body: TelegramLinkRequest, uow: UowDep) -> TelegramLinked:
    """For the bot (header `X-Bot-Token`): link the chat to the account of a one-time link token.
    The answer's `chat_key` is what the bot shows, with its secret, for the chat's access tokens."""
    user, chat_key = await links.link_telegram(uow, token=body.token, chat_id=body.telegram_chat_id)
    return TelegramLinked(user_id=user.id, full_name=user.full_name, role=user.role,  # type: ignore[arg-type]
                          telegram_chat_id=body.telegram_chat_id, chat_key=chat_key)
