"""Delivery channels beyond the in-app inbox: e-mail over SMTP and Telegram through the Bot API.

A channel knows how to reach a person (`address`) and how to send one message (`send`);
it raises `DeliveryError` saying whether trying again may help. Adding push means one more
class here, its name in `domain.EXTERNAL_CHANNELS` and its settings in `build_channels`.
"""
from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import aiosmtplib
import httpx

from services.notification.settings import NotificationSettings

TELEGRAM_MAX_TEXT = 4096


@dataclass(frozen=True)
class Recipient:
    user_id: object
    full_name: str = ""
    email: str | None = None
    telegram_chat_id: int | None = None
    locale: str = "ru"
    timezone: str = "Europe/Moscow"


@dataclass(frozen=True)
class OutgoingMessage:
    title: str
    text: str
    html: str
    button: tuple[str, str] | None = None   # (label, callback data) under a Telegram message


class DeliveryError(Exception):
    """A send that did not work; `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:1000]
        self.permanent = permanent
        self.retry_after = retry_after


class Channel(Protocol):
    name: str

    def address(self, recipient: Recipient) -> str | None:
        """Where this person is reached on this channel, or None when they cannot be."""

    async def send(self, address: str, message: OutgoingMessage) -> None: ...

    async def close(self) -> None: ...


class EmailChannel:
    name = "email"

    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings

    def address(self, recipient: Recipient) -> str | None:
        return recipient.email or None

    async def send(self, address: str, message: OutgoingMessage) -> None:
        s = self._settings
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = s.smtp_from, address, message.title
        email["Message-ID"] = make_msgid(domain="repitbot")
        email.set_content(message.text)
        email.add_alternative(message.html, subtype="html")
        try:
            await aiosmtplib.send(
                email, hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_use_tls, start_tls=False if s.smtp_use_tls else s.smtp_start_tls,
                cert_bundle=s.smtp_ca_file, timeout=s.smtp_timeout_seconds)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP refused the recipient: {exc}", permanent=True) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP authentication failed: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP error {exc.code}: {exc.message}", permanent=exc.code >= 500) from exc
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP server unreachable: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        return None


class TelegramChannel:
    """`sendMessage` of the Bot API at `TELEGRAM_API_BASE` (a local fake in tests)."""

    name = "telegram"

    def __init__(self, settings: NotificationSettings) -> None:
        token = settings.bot_token.get_secret_value() if settings.bot_token else ""
        self._token = token
        self._url = f"{settings.telegram_api_base.rstrip('/')}/bot{token}/sendMessage"
        self._client = httpx.AsyncClient(timeout=settings.telegram_timeout_seconds)

    def address(self, recipient: Recipient) -> str | None:
        return str(recipient.telegram_chat_id) if recipient.telegram_chat_id else None

    async def send(self, address: str, message: OutgoingMessage) -> None:
        text = f"{message.title}\n\n{message.text}"[:TELEGRAM_MAX_TEXT]
        payload: dict = {"chat_id": int(address), "text": text, "disable_web_page_preview": True}
        if message.button:
            label, data = message.button
            payload["reply_markup"] = {"inline_keyboard": [[{"text": label, "callback_data": data}]]}
        try:
            response = await self._client.post(self._url, json=payload)
        except httpx.HTTPError as exc:
            raise DeliveryError(self._scrub(f"Telegram unreachable: {type(exc).__name__}: {exc}")) from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and body.get("ok"):
            return
        raise self._error(response.status_code, body)

    def _error(self, status: int, body: dict) -> DeliveryError:
        reason = self._scrub(f"Telegram error {status}: {body.get('description') or 'no description'}")
        if status == 429:
            retry_after = (body.get("parameters") or {}).get("retry_after")
            return DeliveryError(reason, retry_after=float(retry_after) if retry_after else None)
        # 400 (chat not found), 403 (blocked by the user), 404 cannot get better by waiting;
        # 401 is a wrong token, which an operator can fix while we retry
        return DeliveryError(reason, permanent=status in (400, 403, 404))

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text

    async def close(self) -> None:
        await self._client.aclose()


def build_channels(settings: NotificationSettings) -> dict[str, Channel]:
    """The channels that have their settings, by name."""
    channels: dict[str, Channel] = {}
    if settings.email_configured():
        channels["email"] = EmailChannel(settings)
    if settings.telegram_configured():
        channels["telegram"] = TelegramChannel(settings)
    return channels
