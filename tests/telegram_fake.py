"""A local fake of the Telegram Bot API (aiohttp on loopback) for driving the real bot in tests.

    async with FakeTelegram(TOKEN) as telegram:          # telegram.url goes into TELEGRAM_API_BASE
        telegram.say(chat_id, "/start <token>", language="ru")    # an update for getUpdates
        reply = await telegram.reply_to(chat_id, containing="Hello")
        await telegram.tap(chat_id, reply, "Start")          # a tap on the message's button "Start"

It answers the methods the bot calls (getMe, getUpdates, sendMessage, sendPhoto, sendVoice,
sendDocument, editMessageText, editMessageReplyMarkup, answerCallbackQuery, setMyCommands,
deleteMyCommands, deleteWebhook, getFile and file downloads), records every call in `calls`,
keeps each sent message's latest text and buttons in `messages`, and can refuse the next call
of a method (`refuse_next`: a 429 with retry_after, or a 403 for a blocked bot). `transcript()`
is the conversation as text, for reading a failed test (and for the README)."""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support import eventually

BOT_TOKEN = "123456:bot-token-for-tests"
BOT_USER = {"id": 777000, "is_bot": True, "first_name": "RepitBot", "username": "RepitTestBot"}
SENDING = {"sendMessage": "text", "sendPhoto": "photo", "sendVoice": "voice", "sendDocument": "document"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Sent:
    """A message the bot sent, as it is now (edits change it)."""

    message_id: int
    chat_id: int
    kind: str
    text: str
    buttons: list[list[dict[str, Any]]] = field(default_factory=list)

    def button(self, label: str) -> dict[str, Any]:
        for row in self.buttons:
            for button in row:
                if label in button["text"]:
                    return button
        raise AssertionError(f"no button {label!r} in {self.buttons}")


class FakeTelegram:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[int, Sent] = {}
        self.files: dict[str, bytes] = {}
        self.log: list[str] = []
        self.delivered: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._ids = itertools.count(1)
        self._refusals: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- server ------------------------------------------------------------------------------
    async def __aenter__(self) -> FakeTelegram:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, files = await _params(request)
        self.calls.append(Call(method, params, files))
        if self._refusals.get(method):
            status, extra = self._refusals[method].pop(0)
            return web.json_response({"ok": False, "error_code": status, "description": extra.pop("description"),
                                      **extra}, status=status)
        handler = getattr(self, f"_do_{method}", None)
        result = await handler(params, files) if handler else True
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        body = self.files.get(request.match_info["path"])
        return web.Response(body=body) if body is not None else web.Response(status=404)

    # --- methods -------------------------------------------------------------------------------
    async def _do_getMe(self, params: dict, files: dict) -> dict:
        return BOT_USER

    async def _do_getUpdates(self, params: dict, files: dict) -> list:
        if not self._updates:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=min(float(params.get("timeout") or 0), 1.0))
            except TimeoutError:
                return []
        updates, self._updates = self._updates, []
        return updates

    async def _send(self, params: dict, files: dict, kind: str) -> dict:
        chat_id = int(params["chat_id"])
        text = params.get("text") or params.get("caption") or ""
        sent = Sent(next(self._ids), chat_id, kind, text, _buttons(params.get("reply_markup")))
        self.messages[sent.message_id] = sent
        self.log.append(f"bot → {chat_id} [{kind}]: {text}" + _labels(sent.buttons))
        return self._message(sent)

    def _message(self, sent: Sent) -> dict:
        message: dict[str, Any] = {"message_id": sent.message_id, "date": int(time.time()), "from": BOT_USER,
                                   "chat": {"id": sent.chat_id, "type": "private"}}
        if sent.kind == "text":
            message["text"] = sent.text
        else:
            message["caption"] = sent.text
            file = {"file_id": f"f{sent.message_id}", "file_unique_id": f"u{sent.message_id}"}
            message[sent.kind] = [{**file, "width": 1, "height": 1}] if sent.kind == "photo" else (
                {**file, "duration": 1} if sent.kind == "voice" else file)
        if sent.buttons:
            message["reply_markup"] = {"inline_keyboard": sent.buttons}
        return message

    async def _do_sendMessage(self, params: dict, files: dict) -> dict:
        return await self._send(params, files, "text")

    async def _do_sendPhoto(self, params: dict, files: dict) -> dict:
        return await self._send(params, files, "photo")

    async def _do_sendVoice(self, params: dict, files: dict) -> dict:
        return await self._send(params, files, "voice")

    async def _do_sendDocument(self, params: dict, files: dict) -> dict:
        return await self._send(params, files, "document")

    async def _do_editMessageText(self, params: dict, files: dict) -> dict:
        sent = self.messages[int(params["message_id"])]
        sent.text, sent.buttons = params["text"], _buttons(params.get("reply_markup"))
        self.log.append(f"bot ✎ {sent.chat_id}: {sent.text}" + _labels(sent.buttons))
        return self._message(sent)

    async def _do_editMessageReplyMarkup(self, params: dict, files: dict) -> dict:
        sent = self.messages[int(params["message_id"])]
        sent.buttons = _buttons(params.get("reply_markup"))
        self.log.append(f"bot ✎ {sent.chat_id}: (buttons)" + _labels(sent.buttons))
        return self._message(sent)

    async def _do_answerCallbackQuery(self, params: dict, files: dict) -> bool:
        if params.get("text"):
            self.log.append(f"bot ⓘ {params['text']}")
        return True

    async def _do_getFile(self, params: dict, files: dict) -> dict:
        file_id = params["file_id"]
        return {"file_id": file_id, "file_unique_id": file_id, "file_path": f"files/{file_id}",
                "file_size": len(self.files.get(f"files/{file_id}", b""))}

    # --- the user's side -----------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Deliver an update (again, when it is one delivered before)."""
        self._updates.append(update)
        self.delivered.append(update)
        self._arrived.set()
        return update

    def _user(self, chat_id: int, language: str) -> dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": f"User{chat_id}", "language_code": language}

    def say(self, chat_id: int, text: str, *, language: str = "ru") -> dict[str, Any]:
        self.log.append(f"{chat_id} → bot: {text}")
        message = {"message_id": next(self._ids), "date": int(time.time()), "text": text,
                   "chat": {"id": chat_id, "type": "private"}, "from": self._user(chat_id, language)}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self.push({"update_id": next(self._ids), "message": message})

    def send_photo(self, chat_id: int, content: bytes, *, caption: str | None = None,
                   language: str = "ru") -> dict[str, Any]:
        file_id = f"photo{next(self._ids)}"
        self.files[f"files/{file_id}"] = content
        self.log.append(f"{chat_id} → bot: [photo]" + (f" {caption}" if caption else ""))
        message = {"message_id": next(self._ids), "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
                   "from": self._user(chat_id, language),
                   "photo": [{"file_id": file_id, "file_unique_id": file_id, "width": 10, "height": 10,
                              "file_size": len(content)}]}
        if caption:
            message["caption"] = caption
        return self.push({"update_id": next(self._ids), "message": message})

    def tap(self, chat_id: int, sent: Sent, label: str, *, language: str = "ru") -> dict[str, Any]:
        button = sent.button(label)
        self.log.append(f"{chat_id} ⊙ [{button['text']}]")
        return self.tap_data(chat_id, sent, button["callback_data"], language=language)

    def tap_data(self, chat_id: int, sent: Sent, data: str, *, language: str = "ru") -> dict[str, Any]:
        """A tap whose callback data is `data` (a button of an older message, or a forged one)."""
        return self.push({"update_id": next(self._ids), "callback_query": {
            "id": str(next(self._ids)), "from": self._user(chat_id, language), "chat_instance": str(chat_id),
            "message": self._message(sent), "data": data}})

    def answers(self) -> list[str]:
        """The texts of the bot's answers to taps (the toasts and alerts), in order."""
        return [c.params.get("text", "") for c in self.called("answerCallbackQuery")]

    # --- what the bot did --------------------------------------------------------------------
    def sent_to(self, chat_id: int) -> list[Sent]:
        return [m for m in self.messages.values() if m.chat_id == chat_id]

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def reply_to(self, chat_id: int, *, containing: str, after: int = 0, timeout: float = 15) -> Sent:
        """The first message to the chat, sent after message `after`, whose text contains `containing`."""
        def found() -> Sent | None:
            return next((m for m in self.sent_to(chat_id) if m.message_id > after and containing in m.text), None)
        try:
            return await eventually(found, timeout=timeout)
        except AssertionError:
            raise AssertionError(f"no message with {containing!r} to {chat_id}:\n" + self.transcript()) from None

    def last_id(self) -> int:
        return max(self.messages, default=0)

    def refuse_next(self, method: str, status: int, description: str, **extra: Any) -> None:
        self._refusals.setdefault(method, []).append((status, {"description": description, **extra}))

    def transcript(self) -> str:
        return "\n".join(self.log)


async def _params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    params: dict[str, Any] = dict(request.query)
    files: dict[str, bytes] = {}
    if request.content_type == "application/json":
        params.update(await request.json())
    elif request.can_read_body:
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files[name] = value.file.read()
            else:
                params[name] = value
    for name, value in list(params.items()):     # aiogram sends a file as `attach://<part name>`
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            files[name] = files.pop(value[9:])
    return params, files


def _buttons(markup: Any) -> list[list[dict[str, Any]]]:
    if not markup:
        return []
    data = json.loads(markup) if isinstance(markup, str) else markup
    return data.get("inline_keyboard", [])


def _labels(buttons: list[list[dict[str, Any]]]) -> str:
    labels = [b["text"] for row in buttons for b in row]
    return f"  [{' | '.join(labels)}]" if labels else ""
