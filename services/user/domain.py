"""Rules of accounts, sessions and links, in plain code without I/O."""
from __future__ import annotations

import enum
import hashlib
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import available_timezones

import idna

REGISTRABLE_ROLES = ("student", "teacher", "parent")
DEFAULT_TIMEZONE = "Europe/Moscow"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password123", "passw0rd", "qwerty123", "qwertyuiop", "iloveyou",
    "admin123", "welcome1", "letmein1", "abc12345", "abcd1234", "qwerty12", "1q2w3e4r",
    "1qaz2wsx", "zaq12wsx", "sunshine", "football", "baseball", "princess", "trustno1",
    "superman", "starwars", "whatever", "monkey123", "dragon123", "qwertyui", "asdfghjk",
    "zxcvbnm1", "parol123", "privet123", "11111111a", "aaaaaaaa1",
})
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{4,30}$")


# --- accounts -----------------------------------------------------------------------------
def normalize_email(email: str) -> str:
    """One spelling per address: NFKC (fullwidth and other compatibility forms folded), lower
    case, and the domain in its ASCII (IDNA) form. An address that cannot be encoded is
    returned folded but otherwise as it is, so that it simply matches no account."""
    folded = unicodedata.normalize("NFKC", email).strip().lower()
    local, at, domain = folded.rpartition("@")
    if not at:
        return folded
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return folded
    return f"{local}@{domain}"


def _script(char: str) -> str:
    """The script of a letter as the first word of its Unicode name (LATIN, CYRILLIC, ...)."""
    return unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]


def check_email(email: str) -> str:
    """The normalised address of a new account, or ValueError for a look-alike: a local part
    whose letters come from more than one script (a Cyrillic а among Latin letters)."""
    normalized = normalize_email(email)
    local, _, domain = normalized.rpartition("@")
    scripts = {_script(c) for c in local if c.isalpha()}
    if len(scripts) > 1:
        raise ValueError("the part before @ mixes letters of several scripts: " + ", ".join(sorted(scripts)))
    try:
        idna.decode(domain)
    except idna.IDNAError as exc:
        raise ValueError(f"the domain is not a valid internationalised domain name: {exc}") from exc
    return normalized


def password_problems(password: str, *, email: str = "", full_name: str = "") -> list[str]:
    """Why a password is too weak (an empty list when it is acceptable)."""
    lowered = password.lower()
    local_part = normalize_email(email).split("@", 1)[0]
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    if password.isdigit():
        problems.append("must not consist of digits only")
    if password and len(set(password)) == 1:
        problems.append("must not repeat a single character")
    if lowered in COMMON_PASSWORDS:
        problems.append("is one of the most common passwords")
    if email and lowered in {normalize_email(email), local_part}:
        problems.append("must not be your e-mail address")
    if full_name and lowered.replace(" ", "") == full_name.lower().replace(" ", ""):
        problems.append("must not be your name")
    return problems


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    """The IANA time zone name, or ValueError."""
    if name not in _time_zones():
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as 'Europe/Moscow'")
    return name


def check_phone(phone: str) -> str:
    phone = phone.strip()
    if not PHONE.match(phone) or sum(c.isdigit() for c in phone) < 5:
        raise ValueError("phone must be digits, optionally with a leading + and spaces, dashes, brackets")
    return phone


def changed_fields(current: dict[str, object], requested: dict[str, object]) -> dict[str, object]:
    """The requested values that differ from the current ones."""
    return {name: value for name, value in requested.items() if current.get(name) != value}


# --- who sees whom ---------------------------------------------------------------------------
def can_view_user(viewer_id: uuid.UUID, viewer_role: str, target_id: uuid.UUID, *, linked: bool) -> bool:
    """Admins see everyone; others see themselves and the users linked to them
    (a teacher and their students, a parent and their children, both ways)."""
    return viewer_role == "admin" or viewer_id == target_id or linked


def can_edit_user(viewer_id: uuid.UUID, viewer_role: str, target_id: uuid.UUID) -> bool:
    return viewer_role == "admin" or viewer_id == target_id


# --- secrets ---------------------------------------------------------------------------------
def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- refresh tokens ----------------------------------------------------------------------------
class RefreshVerdict(enum.Enum):
    ROTATE = "rotated"
    REUSED = "reused"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class RefreshState:
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def judge_refresh(token: RefreshState, now: datetime) -> RefreshVerdict:
    """What presenting this refresh token means: a rotation, or why it is refused.

    A revoked family stays dead; a spent token presented again is a reuse (a stolen copy),
    which revokes its family; an expired one is simply refused.
    """
    if token.revoked_at is not None:
        return RefreshVerdict.REVOKED
    if token.used_at is not None:
        return RefreshVerdict.REUSED
    if token.expires_at <= now:
        return RefreshVerdict.EXPIRED
    return RefreshVerdict.ROTATE


# --- invites -----------------------------------------------------------------------------------
class InviteKind(str, enum.Enum):
    TEACHER = "teacher"   # made by a teacher, accepted by a student
    PARENT = "parent"     # made by a student, accepted by a parent

    @property
    def inviter_role(self) -> str:
        return "teacher" if self is InviteKind.TEACHER else "student"

    @property
    def acceptor_role(self) -> str:
        return "student" if self is InviteKind.TEACHER else "parent"


class InviteProblem(enum.Enum):
    WRONG_ROLE = "wrong_role"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SPENT = "spent"


@dataclass(frozen=True)
class InviteState:
    kind: InviteKind
    expires_at: datetime
    multi_use: bool = False
    used_at: datetime | None = None
    revoked_at: datetime | None = None


def judge_acceptance(invite: InviteState, acceptor_role: str, now: datetime) -> InviteProblem | None:
    """Why this acceptor cannot take this invite now, or None. A personal invite (every parent
    invite, a teacher's unless it is a class code) is spent by its first acceptance."""
    if acceptor_role != invite.kind.acceptor_role:
        return InviteProblem.WRONG_ROLE
    if invite.revoked_at is not None:
        return InviteProblem.REVOKED
    if invite.expires_at <= now:
        return InviteProblem.EXPIRED
    if not invite.multi_use and invite.used_at is not None:
        return InviteProblem.SPENT
    return None


def can_unlink(viewer_id: uuid.UUID, viewer_role: str, student_id: uuid.UUID, other_id: uuid.UUID, *,
               teaches_student: bool) -> bool:
    """Who may remove a link of a student: the student, the other side of the link, a teacher
    of the student, an admin."""
    return viewer_role == "admin" or viewer_id in (student_id, other_id) or teaches_student


def can_see_links(viewer_id: uuid.UUID, viewer_role: str, student_id: uuid.UUID, *, teaches_student: bool) -> bool:
    return viewer_role == "admin" or viewer_id == student_id or teaches_student
