"""Rendering a notification from its kind and data, in the recipient's language and time zone.

Per locale and kind, `templates/<locale>/<kind>.txt.j2` has the blocks `subject` and `body`
(the in-app title and text, the e-mail subject and plain text, the Telegram message);
`<kind>.html.j2` is the e-mail's HTML, or `_layout.html.j2` shows the text when there is none
(the layout gets them as `subject_line` and `plain_text`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context, select_autoescape
from jinja2.runtime import Context

from services.notification.domain import normalise_locale, zone

TEMPLATES_DIR = Path(__file__).parent / "templates"
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€"}


@dataclass(frozen=True)
class Rendered:
    title: str
    text: str
    html: str
    # a template's optional `button` block, "label|callback data": a button the bot answers
    button: tuple[str, str] | None = None


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@pass_context
def when(ctx: Context, value: datetime | str) -> str:
    """A moment in the recipient's time zone: `22.11.2026 в 13:00` / `22 Nov 2026 at 13:00`."""
    local = _as_datetime(value).astimezone(ctx["tz"])
    if ctx["locale"] == "ru":
        return f"{local:%d.%m.%Y} в {local:%H:%M}"
    return f"{local.day} {_EN_MONTHS[local.month - 1]} {local.year} at {local:%H:%M}"


@pass_context
def money(ctx: Context, minor: int, currency: str = "RUB") -> str:
    """Minor units as money: `1 500,00 ₽` / `1,500.00 RUB`."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(int(minor)), 100)
    if ctx["locale"] == "ru":
        grouped = f"{whole:,}".replace(",", "\u00a0")
        return f"{sign}{grouped},{cents:02d}\u00a0{_CURRENCY_SIGNS.get(currency, currency)}"
    return f"{sign}{whole:,}.{cents:02d} {currency}"


class Renderer:
    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self._env.filters.update(when=when, money=money)

    def render(self, kind: str, data: dict[str, Any], *, locale: str | None, timezone: str | None,
               recipient_id: object = None) -> Rendered:
        """Raises jinja2.TemplateError when the kind has no template or the data do not fit."""
        language = normalise_locale(locale)
        context = {**data, "locale": language, "tz": zone(timezone),
                   "recipient_id": str(recipient_id) if recipient_id else None}
        text = self._env.get_template(f"{language}/{kind}.txt.j2")
        title = re.sub(r"[ \t\r\n]+", " ", _block(text, "subject", context)).strip()  # one line, NBSPs kept
        body = _block(text, "body", context).strip()
        html = self._env.select_template([f"{language}/{kind}.html.j2", f"{language}/_layout.html.j2"])
        button = _block(text, "button", context).strip() if "button" in text.blocks else ""
        label, _, data = button.partition("|")
        return Rendered(title=title, text=body,
                        html=html.render({**context, "subject_line": title, "plain_text": body}),
                        button=(label.strip(), data.strip()) if label.strip() and data.strip() else None)


def _block(template: Template, name: str, context: dict[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(context)))
