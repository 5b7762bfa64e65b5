"""Administrators and demo accounts, created by commands and by the embedded mode at start."""
from __future__ import annotations

import uuid
from collections.abc import Callable

from services.user.links import link_teacher
from services.user.models import User
from services.user.service import register_user, user_by_email
from shared.db import UnitOfWork
from shared.errors import Conflict

UowFactory = Callable[[], UnitOfWork]

DEMO_ACCOUNTS = (
    ("admin", "admin@demo.repitbot", "demo-admin-pass", "Demo Administrator"),
    ("teacher", "teacher@demo.repitbot", "demo-teacher-pass", "Мария Иванова"),
    ("student", "anna@demo.repitbot", "demo-anna-pass", "Анна Смирнова"),
    ("student", "boris@demo.repitbot", "demo-boris-pass", "Борис Петров"),
)


async def create_admin(uow_factory: UowFactory, *, email: str, password: str, full_name: str) -> uuid.UUID:
    """The admin with this e-mail, created when missing (`user.created` once)."""
    return (await _ensure_account(uow_factory, role="admin", email=email, password=password,
                                  full_name=full_name)).id


async def seed_demo(uow_factory: UowFactory) -> list[str]:
    """The demo accounts (both students linked to the teacher); lines "role  email  password"."""
    users = {}
    for role, email, password, full_name in DEMO_ACCOUNTS:
        users[email] = await _ensure_account(uow_factory, role=role, email=email, password=password,
                                             full_name=full_name)
    teacher = users["teacher@demo.repitbot"]
    for student in ("anna@demo.repitbot", "boris@demo.repitbot"):
        await link_teacher(uow_factory(), teacher.id, users[student].id)
    return [f"{role:<8} {email:<24} {password}" for role, email, password, _ in DEMO_ACCOUNTS]


async def _ensure_account(uow_factory: UowFactory, *, role: str, email: str, password: str,
                          full_name: str) -> User:
    async with uow_factory().read_only() as uow:
        existing = await user_by_email(uow.session, email)
    if existing is None:
        try:
            return await register_user(uow_factory(), email=email, password=password, full_name=full_name,
                                       role=role)
        except Conflict:  # created meanwhile by another instance
            async with uow_factory().read_only() as uow:
                existing = await user_by_email(uow.session, email)
    if existing.role != role:
        raise Conflict(f"{email} exists already as a {existing.role}, not a {role}")
    return existing
