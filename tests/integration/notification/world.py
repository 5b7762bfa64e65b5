"""Helpers of the notification service's integration tests: a real SMTP server (aiosmtpd) and
a fake Telegram Bot API, both on loopback; a clock the test moves; the world of one test."""
from __future__ import annotations

import email
import email.policy
import ipaddress
import random
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.notification.models import Contact, Delivery, Notification
from shared.events import Event, Payload, TelegramLinked, UserCreated, make_event
from shared.rabbit import RabbitBus
from tests.support import FakeClock, TestKeys, eventually

BOT_TOKEN = "123456:TEST-TOKEN"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """A real SMTP server on loopback that keeps what it receives; with `tls` and `login`, it
    asks for STARTTLS and then for that login, as a production relay does."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, login: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.received: list[tuple[list[str], EmailMessage]] = []
        self._login = login
        secure = {"tls_context": tls, "require_starttls": True} if tls else {}
        auth = {"auth_required": True, "authenticator": self._authenticate} if login else {}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **secure, **auth)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        given = (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
        return AuthResult(success=given == self._login, handled=False)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpt, message in self.received if address in rcpt]


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own authority: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp.crt", folder / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class FakeBotApi:
    """The Bot API's `sendMessage` on loopback; `replies[chat_id]` makes it answer an error."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.replies: dict[int, tuple[int, dict[str, Any]]] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/sendMessage", self._send_message)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _send_message(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append({"token": request.match_info["token"], **body})
        status, reply = self.replies.get(body.get("chat_id"), (200, None))
        if reply is None:
            reply = {"ok": True, "result": {"message_id": len(self.calls), "chat": {"id": body.get("chat_id")},
                                            "text": body.get("text")}}
        return web.json_response(reply, status=status)

    def to(self, chat_id: int) -> list[dict[str, Any]]:
        return [call for call in self.calls if call.get("chat_id") == chat_id]


@dataclass
class Person:
    id: uuid.UUID
    role: str
    headers: dict[str, str]
    email: str
    chat_id: int


def counted(name: str, channel: str, kind: str) -> float:
    return REGISTRY.get_sample_value(f"repitbot_notifications_{name}_total",
                                     {"channel": channel, "kind": kind}) or 0.0


@dataclass
class World:
    client: httpx.AsyncClient
    app: FastAPI
    keys: TestKeys
    bus: RabbitBus
    smtp: SmtpServer
    bot: FakeBotApi
    clock: FakeClock
    people: list[Person] = field(default_factory=list)

    def person(self, role: str = "student") -> Person:
        user_id = uuid.uuid4()
        return Person(user_id, role, self.keys.headers(user_id, role), f"{user_id.hex[:12]}@example.org",
                      random.randint(10**9, 10**12))

    async def publish(self, *payloads: Payload, producer: str = "test") -> list[Event]:
        events = [make_event(p, producer=producer) for p in payloads]
        await self.bus.publish(events)
        return events

    async def known(self, role: str = "student", *, locale: str = "en", timezone: str = "Europe/Moscow",
                    telegram: bool = True, name: str = "Sasha") -> Person:
        """A person the service has learned about from `user.*` events."""
        person = self.person(role)
        payloads: list[Payload] = [UserCreated(user_id=person.id, role=role, full_name=name, email=person.email,
                                               timezone=timezone, locale=locale)]
        if telegram:
            payloads.append(TelegramLinked(user_id=person.id, telegram_chat_id=person.chat_id))
        await self.publish(*payloads, producer="user")
        await self.row(Contact, id=person.id, locale=locale,
                       telegram_chat_id=person.chat_id if telegram else None)
        return person

    async def row(self, model: type, **where: Any) -> Any:
        async def found() -> Any:
            return (await self.rows(model, **where)) or None
        return (await eventually(found))[0]

    async def rows(self, model: type, **where: Any) -> list[Any]:
        async with self.app.state.session_factory() as session:
            return list(await session.scalars(select(model).filter_by(**where)))

    async def notification(self, user: Person, kind: str) -> Notification:
        return await self.row(Notification, user_id=user.id, kind=kind)

    async def deliveries(self, user: Person, kind: str) -> dict[str, Delivery]:
        return {d.channel: d for d in await self.rows(Delivery, user_id=user.id, kind=kind)}

    async def inbox(self, user: Person, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get("/api/v1/notifications", headers=user.headers, params=params)
        assert response.status_code == 200, response.text
        return response.json()["items"]
