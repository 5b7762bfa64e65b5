"""Use cases of profiles: read and change a user, avatars, the lists of users."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select

from services.user import domain
from services.user.models import ParentLink, TeacherLink, User
from services.user.schemas import user_public
from services.user.service import find_user
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import Forbidden, NotFound
from shared.events import UserUpdated
from shared.pagination import Page, PageParams, make_page
from shared.storage import LocalStorage

AVATAR_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


async def get_user(uow: UnitOfWork, viewer: Principal, user_id: uuid.UUID) -> User:
    """The user, if the viewer may see them; 404 otherwise (not 403: their existence is private)."""
    async with uow.read_only():
        linked = await uow.session.scalar(select(_linked(viewer.id, user_id)))
        if not domain.can_view_user(viewer.id, viewer.role, user_id, linked=bool(linked)):
            raise NotFound("No such user")
        return await find_user(uow.session, user_id)


async def update_user(uow: UnitOfWork, editor: Principal, user_id: uuid.UUID,
                      requested: dict[str, Any]) -> User:
    """Change the requested profile fields; `user.updated` lists those that really changed."""
    async with uow:
        user = await _editable(uow, editor, user_id)
        current = {name: getattr(user, name) for name in requested}
        changed = domain.changed_fields(current, requested)
        for name, value in changed.items():
            setattr(user, name, value)
        if changed:
            uow.emit(UserUpdated(user_id=user.id, changed=changed))
        await uow.commit()
        return user


async def set_avatar(uow: UnitOfWork, storage: LocalStorage, editor: Principal, user_id: uuid.UUID,
                     chunks: AsyncIterator[bytes], *, max_bytes: int) -> User:
    async with uow:
        await _editable(uow, editor, user_id)  # refuse before reading the upload
    stored = await storage.save(chunks, max_bytes=max_bytes, allowed_types=AVATAR_TYPES)
    async with uow:
        user = await find_user(uow.session, user_id)
        user.avatar_key, user.avatar_content_type = stored.key, stored.content_type
        uow.emit(UserUpdated(user_id=user.id, changed={"avatar_url": user_public(user).avatar_url}))
        await uow.commit()
        return user


async def open_avatar(uow: UnitOfWork, storage: LocalStorage, viewer: Principal,
                      user_id: uuid.UUID) -> tuple[AsyncIterator[bytes], str]:
    user = await get_user(uow, viewer, user_id)
    if user.avatar_key is None:
        raise NotFound("This user has no avatar")
    return await storage.open(user.avatar_key), user.avatar_content_type or "application/octet-stream"


async def list_users(uow: UnitOfWork, viewer: Principal, page: PageParams, *, role: str | None = None,
                     q: str | None = None) -> Page[User]:
    """Admins list everyone, teachers their students, parents their children."""
    query = _visible_to(viewer)
    if role:
        query = query.where(User.role == role)
    if q:
        needle = q.lower()
        query = query.where(or_(func.lower(User.full_name).contains(needle, autoescape=True),
                                User.email.contains(needle, autoescape=True)))
    return await _page(uow, query, page)


async def list_students(uow: UnitOfWork, teacher: Principal, page: PageParams) -> Page[User]:
    return await _page(uow, _visible_to(teacher), page)


def _visible_to(viewer: Principal) -> Select:
    query = select(User)
    if viewer.role == "teacher":
        return query.join(TeacherLink, and_(TeacherLink.student_id == User.id, TeacherLink.teacher_id == viewer.id))
    if viewer.role == "parent":
        return query.join(ParentLink, and_(ParentLink.student_id == User.id, ParentLink.parent_id == viewer.id))
    if viewer.role != "admin":
        raise Forbidden("Only admins, teachers and parents list users")
    return query


async def _page(uow: UnitOfWork, query: Select, page: PageParams) -> Page[User]:
    if (after := page.after(str)) is not None:
        query = query.where(User.email > after[0])
    async with uow.read_only():
        rows = list((await uow.session.scalars(query.order_by(User.email).limit(page.limit + 1))).all())
    return make_page(rows, page.limit, lambda user: [user.email])


async def _editable(uow: UnitOfWork, editor: Principal, user_id: uuid.UUID) -> User:
    if not domain.can_edit_user(editor.id, editor.role, user_id):
        linked = await uow.session.scalar(select(_linked(editor.id, user_id)))
        if linked:
            raise Forbidden("Only the user and admins change a profile")
        raise NotFound("No such user")
    return await find_user(uow.session, user_id)


def _linked(a: uuid.UUID, b: uuid.UUID):
    """An SQL condition: `a` and `b` are linked as teacher and student or parent and child."""
    pairs = [(TeacherLink.teacher_id, TeacherLink.student_id), (ParentLink.parent_id, ParentLink.student_id)]
    return or_(*(exists().where(or_(and_(x == a, y == b), and_(x == b, y == a))) for x, y in pairs))
