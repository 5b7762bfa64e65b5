"""Use cases of links: invites, teacher and parent links, Telegram linking."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from services.user import domain
from services.user.domain import InviteKind, InviteProblem
from services.user.metrics import LINKS
from services.user.models import Invite, InviteUse, ParentLink, TeacherLink, TelegramLinkToken, User
from services.user.service import find_user
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.events import ParentLinked, TeacherLinked, TelegramLinked, UserUpdated, utcnow


@dataclass(frozen=True)
class Link:
    kind: InviteKind
    inviter_id: uuid.UUID
    acceptor_id: uuid.UUID
    created: bool

    @property
    def student_id(self) -> uuid.UUID:
        return self.acceptor_id if self.kind is InviteKind.TEACHER else self.inviter_id

    @property
    def other_id(self) -> uuid.UUID:
        """The teacher (of a teacher link) or the parent (of a parent link)."""
        return self.inviter_id if self.kind is InviteKind.TEACHER else self.acceptor_id


# --- invites -----------------------------------------------------------------------------------
async def create_invite(uow: UnitOfWork, inviter: Principal, kind: InviteKind, *, ttl: timedelta,
                        multi_use: bool = False) -> Invite:
    """A personal invite (spent by its first acceptance) or, for a teacher, a class code."""
    if inviter.role != kind.inviter_role:
        raise Forbidden(f"Only a {kind.inviter_role} makes this invite")
    if multi_use and kind is not InviteKind.TEACHER:
        raise Unprocessable("Only teachers make class codes; a parent invite is always personal")
    now = utcnow()
    async with uow:
        await find_user(uow.session, inviter.id)
        invite = Invite(code=domain.new_secret(16), kind=kind.value, inviter_id=inviter.id,
                        created_at=now, expires_at=now + ttl, multi_use=multi_use)
        uow.session.add(invite)
        await uow.commit()
    return invite


async def describe_invite(uow: UnitOfWork, code: str) -> tuple[Invite, User]:
    async with uow.read_only():
        invite = await uow.session.get(Invite, code)
        if invite is None:
            raise NotFound("No such invite")
        inviter = await find_user(uow.session, invite.inviter_id)
        return invite, inviter


PROBLEM_TEXT = {
    InviteProblem.EXPIRED: "This invite has expired; ask for a new one",
    InviteProblem.REVOKED: "This invite was withdrawn; ask for a new one",
    InviteProblem.SPENT: "This invite was used already; ask for a new one",
}


async def accept_invite(uow: UnitOfWork, acceptor: Principal, code: str) -> Link:
    """Link the acceptor to the inviter; accepting again changes nothing and says so."""
    now = utcnow()
    async with uow:
        invite = await uow.session.get(Invite, code)
        if invite is None:
            raise NotFound("No such invite")
        kind = InviteKind(invite.kind)
        state = domain.InviteState(kind, invite.expires_at, invite.multi_use, invite.used_at, invite.revoked_at)
        problem = domain.judge_acceptance(state, acceptor.role, now)
        if problem is InviteProblem.WRONG_ROLE:
            raise Forbidden(f"This invite is for a {kind.acceptor_role}")
        link = Link(kind, invite.inviter_id, acceptor.id, created=False)
        if await _link_exists(uow, link):
            return link
        if problem is not None:
            raise Conflict(PROBLEM_TEXT[problem])
        await find_user(uow.session, acceptor.id)
        if not invite.multi_use and not await _spend(uow, code, now):
            raise Conflict(PROBLEM_TEXT[InviteProblem.SPENT])
        uow.session.add(InviteUse(code=code, acceptor_id=acceptor.id, used_at=now))
        return await _commit_link(uow, link)


async def _spend(uow: UnitOfWork, code: str, now: datetime) -> bool:
    """Mark a personal invite used, unless a concurrent acceptance did first."""
    spent = await uow.session.execute(update(Invite).where(Invite.code == code, Invite.used_at.is_(None))
                                      .values(used_at=now))
    return spent.rowcount == 1


async def list_invites(uow: UnitOfWork, teacher: Principal) -> list[tuple[Invite, list[InviteUse]]]:
    """The teacher's invites, newest first, each with who accepted it when."""
    async with uow:
        invites = list(await uow.session.scalars(select(Invite).where(Invite.inviter_id == teacher.id)
                                                 .order_by(Invite.created_at.desc()).limit(200)))
        uses = list(await uow.session.scalars(select(InviteUse).where(
            InviteUse.code.in_([i.code for i in invites])).order_by(InviteUse.used_at)))
        uow.session.expunge_all()
    by_code: dict[str, list[InviteUse]] = {}
    for use in uses:
        by_code.setdefault(use.code, []).append(use)
    return [(invite, by_code.get(invite.code, [])) for invite in invites]


async def revoke_invite(uow: UnitOfWork, inviter: Principal, code: str) -> None:
    """Withdraw an invite of one's own; the links it made stay (they are removed one by one)."""
    async with uow:
        invite = await uow.session.get(Invite, code)
        if invite is None or invite.inviter_id != inviter.id:
            raise NotFound("No such invite of yours")
        invite.revoked_at = invite.revoked_at or utcnow()
        await uow.commit()


async def link_teacher(uow: UnitOfWork, teacher_id: uuid.UUID, student_id: uuid.UUID) -> Link:
    """Link a student to a teacher directly (the demo data; operators)."""
    link = Link(InviteKind.TEACHER, teacher_id, student_id, created=False)
    async with uow:
        if await _link_exists(uow, link):
            return link
        return await _commit_link(uow, link)


async def _link_exists(uow: UnitOfWork, link: Link) -> bool:
    table = TeacherLink if link.kind is InviteKind.TEACHER else ParentLink
    return await uow.session.get(table, (link.other_id, link.student_id)) is not None


async def _commit_link(uow: UnitOfWork, link: Link) -> Link:
    now = utcnow()
    if link.kind is InviteKind.TEACHER:
        uow.session.add(TeacherLink(teacher_id=link.other_id, student_id=link.student_id, created_at=now))
        uow.emit(TeacherLinked(teacher_id=link.other_id, student_id=link.student_id))
    else:
        uow.session.add(ParentLink(parent_id=link.other_id, student_id=link.student_id, created_at=now))
        uow.emit(ParentLinked(parent_id=link.other_id, student_id=link.student_id))
    try:
        await uow.commit()
    except IntegrityError:  # the same link, made by a concurrent request that committed first
        return link
    LINKS.labels(link.kind.value).inc()
    return Link(link.kind, link.inviter_id, link.acceptor_id, created=True)


# --- Telegram ----------------------------------------------------------------------------------
async def create_telegram_link(uow: UnitOfWork, user: Principal, *, ttl: timedelta) -> tuple[str, datetime]:
    """A one-time token for the bot's deep link, and when it expires."""
    token, now = domain.new_secret(24), utcnow()
    async with uow:
        await find_user(uow.session, user.id)
        uow.session.add(TelegramLinkToken(token_hash=domain.secret_hash(token), user_id=user.id,
                                          created_at=now, expires_at=now + ttl))
        await uow.commit()
    return token, now + ttl


async def link_telegram(uow: UnitOfWork, *, token: str, chat_id: int) -> tuple[User, str]:
    """Link the token's user to a Telegram chat (moved from any other account); the token is spent.
    Returns the user and a new chat key, which only the bot learns (its hash is kept)."""
    now = utcnow()
    async with uow:
        row = await uow.session.get(TelegramLinkToken, domain.secret_hash(token))
        if row is None:
            raise NotFound("Unknown link token")
        spent = await uow.session.execute(update(TelegramLinkToken).where(
            TelegramLinkToken.token_hash == row.token_hash, TelegramLinkToken.used_at.is_(None),
            TelegramLinkToken.expires_at > now).values(used_at=now))
        if spent.rowcount != 1:
            raise Conflict("This link token was used already or has expired; make a new one")
        user = await find_user(uow.session, row.user_id)
        if user.telegram_chat_id != chat_id:
            await _release_chat(uow, chat_id)
            user.telegram_chat_id = chat_id
            uow.emit(TelegramLinked(user_id=user.id, telegram_chat_id=chat_id))
        chat_key = domain.new_secret(32)
        user.telegram_key_hash = domain.secret_hash(chat_key)
        try:
            await uow.commit()
        except IntegrityError as exc:
            raise Conflict("This chat was linked by another request at the same moment; try again") from exc
    LINKS.labels("telegram").inc()
    return user, chat_key


async def _release_chat(uow: UnitOfWork, chat_id: int) -> None:
    previous = await uow.session.scalar(select(User).where(User.telegram_chat_id == chat_id))
    if previous is not None:
        previous.telegram_chat_id = previous.telegram_key_hash = None
        uow.emit(UserUpdated(user_id=previous.id, changed={"telegram_linked": False}))
        await uow.session.flush()
