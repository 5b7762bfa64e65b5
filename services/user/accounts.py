"""Use cases that end an account's access: an admin's deactivation (and reactivation), the
owner's deletion. Every token of the user dies at once through the shared revocation list."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, update

from services.user import keys
from services.user.models import RefreshToken, User
from services.user.service import find_user, password_matches
from shared.auth import Principal, RedisRevocationList
from shared.db import UnitOfWork
from shared.errors import Conflict, Forbidden, Unauthorized
from shared.events import UserDeactivated, UserDeleted, UserUpdated, utcnow


async def _revoke_everything(uow: UnitOfWork, revocations: RedisRevocationList, tokens: keys.Tokens,
                             user_id: uuid.UUID, now: datetime) -> None:
    """Refuse every access token issued so far (in Redis first: if that fails nothing changed)
    and spend every refresh token (in the caller's transaction)."""
    await revocations.revoke_user(str(user_id), revoked_at=now.timestamp(),
                                  kept_until=(now + tokens.access_ttl).timestamp())
    await uow.session.execute(update(RefreshToken).where(
        RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)).values(revoked_at=now))


async def deactivate_user(uow: UnitOfWork, revocations: RedisRevocationList, tokens: keys.Tokens,
                          admin: Principal, user_id: uuid.UUID) -> User:
    """Switch an account off: no login, no refresh, no token of it accepted anywhere (`user.deactivated`)."""
    if admin.role != "admin":
        raise Forbidden("Only admins deactivate accounts")
    if user_id == admin.id:
        raise Conflict("An admin cannot deactivate their own account")
    now = utcnow()
    async with uow:
        user = await find_user(uow.session, user_id)
        if user.deactivated_at is None:
            await _revoke_everything(uow, revocations, tokens, user_id, now)
            user.deactivated_at = now
            uow.emit(UserDeactivated(user_id=user_id))
            await uow.commit()
        uow.session.expunge(user)
        return user


async def reactivate_user(uow: UnitOfWork, admin: Principal, user_id: uuid.UUID) -> User:
    """Let the account log in again (its old tokens and calendar feed stay dead)."""
    if admin.role != "admin":
        raise Forbidden("Only admins reactivate accounts")
    async with uow:
        user = await find_user(uow.session, user_id)
        if user.deactivated_at is not None:
            user.deactivated_at = None
            uow.emit(UserUpdated(user_id=user_id, changed={"active": True}))
            await uow.commit()
        uow.session.expunge(user)
        return user


async def delete_own_account(uow: UnitOfWork, revocations: RedisRevocationList, tokens: keys.Tokens,
                             owner: Principal, *, password: str) -> None:
    """The owner deletes their account after giving its password again: the row and everything
    hanging off it go (`user.deleted`; docs/security.md says what other services do)."""
    if owner.role == "admin":
        raise Forbidden("Admin accounts are removed by an operator")
    async with uow:
        user = await uow.session.get(User, owner.id)
        if user is None:
            raise Unauthorized("The account of this token no longer exists")
        password_hash = user.password_hash
    if not await password_matches(password_hash, password):
        raise Unauthorized("Wrong password")
    now = utcnow()
    async with uow:
        await _revoke_everything(uow, revocations, tokens, owner.id, now)
        await uow.session.execute(delete(User).where(User.id == owner.id))
        uow.emit(UserDeleted(user_id=owner.id))
        await uow.commit()
