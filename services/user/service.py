"""Use cases of accounts and sessions: register, log in, refresh, log out, rotate the signing key."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.user import domain, keys
from services.user.domain import RefreshVerdict
from services.user.metrics import KEY_ROTATIONS, LOGINS, REFRESH_REUSES, REFRESHES, REGISTRATIONS
from services.user.models import Invite, RefreshToken, TelegramLinkToken, User
from services.user.schemas import TokenPair
from services.user.throttle import LoginThrottle
from shared.auth import Principal, RedisRevocationList
from shared.db import UnitOfWork
from shared.errors import Conflict, NotFound, RateLimited, Unauthorized, Unprocessable
from shared.events import UserCreated, utcnow

hasher = PasswordHasher()  # Argon2id with the library's (RFC 9106) parameters


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hasher.hash("a password nobody has")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)


async def password_matches(password_hash: str | None, password: str) -> bool:
    """Argon2 verification; an unknown account costs the same time as a known one."""
    try:
        matches = await asyncio.to_thread(hasher.verify, password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None


# --- accounts ----------------------------------------------------------------------------------
async def register_user(uow: UnitOfWork, *, email: str, password: str, full_name: str, role: str,
                        timezone: str = domain.DEFAULT_TIMEZONE, locale: str = "ru") -> User:
    """A new account (and `user.created`); 409 when the e-mail is taken, 422 for a weak password."""
    email = domain.normalize_email(email)
    problems = domain.password_problems(password, email=email, full_name=full_name)
    if problems:
        raise Unprocessable("The password is too weak: " + "; ".join(problems),
                            errors=[{"loc": ["body", "password"], "msg": p} for p in problems])
    password_hash = await hash_password(password)
    async with uow:
        if await user_by_email(uow.session, email) is not None:
            raise Conflict("An account with this e-mail already exists")
        user = User(id=uuid.uuid4(), email=email, password_hash=password_hash, full_name=full_name,
                    role=role, timezone=timezone, locale=locale, created_at=utcnow())
        uow.session.add(user)
        uow.emit(UserCreated(user_id=user.id, role=role, full_name=full_name, email=email,
                             timezone=timezone, locale=locale))
        try:
            await uow.commit()
        except IntegrityError as exc:  # a concurrent registration won the unique constraint
            raise Conflict("An account with this e-mail already exists") from exc
    REGISTRATIONS.labels(role).inc()
    return user


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == domain.normalize_email(email)))


async def find_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user")
    return user


async def get_me(uow: UnitOfWork, user: Principal) -> User:
    async with uow.read_only():
        found = await uow.session.get(User, user.id)
    if found is None:
        raise Unauthorized("The account of this token no longer exists")
    return found


# --- sessions ----------------------------------------------------------------------------------
async def log_in(uow: UnitOfWork, tokens: keys.Tokens, throttle: LoginThrottle, *, email: str,
                 password: str, ip: str) -> TokenPair:
    email = domain.normalize_email(email)
    try:
        await throttle.check(ip, email)
    except RateLimited:
        LOGINS.labels("throttled").inc()
        raise
    signer = await tokens.signer()
    async with uow.read_only():
        user = await user_by_email(uow.session, email)
    if user is None or not await password_matches(user.password_hash, password) or user.deactivated_at is not None:
        await throttle.record_failure(ip, email)
        LOGINS.labels("failed").inc()
        raise Unauthorized("Wrong e-mail or password")
    new_hash = await hash_password(password) if hasher.check_needs_rehash(user.password_hash) else None
    async with uow:
        user = await find_user(uow.session, user.id)
        user.password_hash = new_hash or user.password_hash
        pair = _start_session(uow.session, tokens, signer, user, family_id=uuid.uuid4(), now=utcnow())
        await uow.commit()
    await throttle.record_success(ip, email)
    LOGINS.labels("success").inc()
    return pair


async def refresh_session(uow: UnitOfWork, tokens: keys.Tokens, revocations: RedisRevocationList, *,
                          refresh_token: str) -> TokenPair:
    """A new pair for a live refresh token, which is spent; a spent one revokes its family."""
    now = utcnow()
    signer = await tokens.signer()
    async with uow:
        row = await uow.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == domain.secret_hash(refresh_token)))
        if row is None:
            REFRESHES.labels("unknown").inc()
            raise Unauthorized("Unknown refresh token")
        verdict = domain.judge_refresh(domain.RefreshState(row.expires_at, row.used_at, row.revoked_at), now)
        if verdict is RefreshVerdict.ROTATE and not await _spend(uow.session, row.id, now):
            verdict = RefreshVerdict.REUSED  # another request spent it a moment ago
        REFRESHES.labels(verdict.value).inc()
        if verdict is RefreshVerdict.REUSED:
            await _revoke_family(uow, revocations, row.family_id, now)
            REFRESH_REUSES.inc()
            raise Unauthorized("This refresh token was used already; the session has been revoked")
        if verdict is not RefreshVerdict.ROTATE:
            raise Unauthorized(f"The refresh token is {verdict.value}")
        user = await uow.session.get(User, row.user_id)
        if user is None or user.deactivated_at is not None:
            raise Unauthorized("The account of this session no longer exists or was deactivated")
        pair = _start_session(uow.session, tokens, signer, user, family_id=row.family_id, now=now)
        await uow.commit()
    return pair


async def log_out(uow: UnitOfWork, revocations: RedisRevocationList, user: Principal, *,
                  refresh_token: str | None = None) -> None:
    """Revoke the caller's access token and the refresh token family of this session."""
    now = utcnow()
    own = select(RefreshToken.family_id).where(RefreshToken.user_id == user.id)
    session_of = (RefreshToken.token_hash == domain.secret_hash(refresh_token) if refresh_token
                  else RefreshToken.access_jti == user.jti)
    async with uow:
        family_id = await uow.session.scalar(own.where(session_of))
        if family_id is not None:
            await _revoke_family(uow, revocations, family_id, now)
    await revocations.revoke(user.jti, user.expires_at)


def _start_session(session: AsyncSession, tokens: keys.Tokens, signer: keys.KeyMaterial, user: User, *,
                   family_id: uuid.UUID, now: datetime) -> TokenPair:
    access = tokens.access_token(signer, user.id, user.role, now)
    secret = domain.new_secret()
    session.add(RefreshToken(token_hash=domain.secret_hash(secret), family_id=family_id, user_id=user.id,
                             access_jti=access.jti, access_expires_at=access.expires_at,
                             created_at=now, expires_at=now + tokens.refresh_ttl))
    return TokenPair(access_token=access.token, refresh_token=secret, expires_in=access.expires_in,
                     refresh_expires_in=int(tokens.refresh_ttl.total_seconds()))


async def _spend(session: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
    """Mark the token used, unless a concurrent request did first."""
    result = await session.execute(update(RefreshToken).where(
        RefreshToken.id == token_id, RefreshToken.used_at.is_(None)).values(used_at=now))
    return result.rowcount == 1


async def _revoke_family(uow: UnitOfWork, revocations: RedisRevocationList, family_id: uuid.UUID,
                         now: datetime) -> None:
    """Revoke every refresh token of the family (committed) and the access tokens still alive."""
    live_access = (await uow.session.execute(
        select(RefreshToken.access_jti, RefreshToken.access_expires_at).where(
            RefreshToken.family_id == family_id, RefreshToken.access_expires_at > now))).all()
    await uow.session.execute(update(RefreshToken).where(
        RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None)).values(revoked_at=now))
    await uow.commit()
    for jti, expires_at in live_access:
        await revocations.revoke(jti, int(expires_at.timestamp()))


# --- signing keys ------------------------------------------------------------------------------
async def ensure_signing_key(uow: UnitOfWork, tokens: keys.Tokens, *, configured: keys.KeyMaterial | None,
                             algorithm: str) -> str:
    async with uow:
        kid = await keys.ensure_signing_key(uow.session, configured=configured, algorithm=algorithm,
                                            retire_at=utcnow() + tokens.retirement_delay)
        await uow.commit()
    tokens.keyring.forget()
    return kid


async def rotate_signing_key(uow: UnitOfWork, tokens: keys.Tokens, *, algorithm: str) -> str:
    """A new signing key; the old one stays in the JWKS until the tokens it signed have expired."""
    if tokens.keyring.configured_key is not None:
        raise Conflict("The signing key comes from JWT_PRIVATE_KEY: rotate it by changing that variable")
    async with uow:
        kid = await keys.rotate_key(uow.session, algorithm=algorithm,
                                    retire_at=utcnow() + tokens.retirement_delay)
        await uow.commit()
    tokens.keyring.forget()
    KEY_ROTATIONS.inc()
    return kid


async def purge_expired(uow: UnitOfWork) -> None:
    """Drop refresh tokens, Telegram link tokens and invites that expired long enough ago."""
    now = utcnow()
    async with uow:
        await uow.session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))
        await uow.session.execute(delete(TelegramLinkToken).where(TelegramLinkToken.expires_at < now))
        await uow.session.execute(delete(Invite).where(Invite.expires_at < now - timedelta(days=30)))
        await uow.commit()
