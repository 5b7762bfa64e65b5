"""`.env` is read by pydantic-settings alone, in every process: `.env.example` copied as it is
works, JSON values keep their quotes and values keep their spaces."""
from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest

from api_gateway.settings import GatewaySettings
from shared.settings import SERVICE_NAMES, Settings
from telegram_bot.settings import BotSettings

EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"


@pytest.fixture
def in_dir_with_env(tmp_path, monkeypatch) -> Path:
    """A working directory holding `.env.example` as `.env`, with no variable of it in the environment."""
    shutil.copy(EXAMPLE, tmp_path / ".env")
    for line in EXAMPLE.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            monkeypatch.delenv(line.split("=", 1)[0].strip(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / ".env"


def _settings_classes() -> list[type[Settings]]:
    classes: list[type[Settings]] = [Settings, GatewaySettings, BotSettings]
    for service in SERVICE_NAMES:
        module = importlib.import_module(f"services.{service}.settings")
        classes += [c for c in vars(module).values()
                    if isinstance(c, type) and issubclass(c, Settings) and c is not Settings]
    return classes


def test_the_example_copied_as_it_is_is_read_by_every_process(in_dir_with_env):
    for cls in _settings_classes():
        cls()                                   # no process refuses it
    assert GatewaySettings().cors_origins == ["http://localhost:3000"]
    from services.user.settings import UserSettings
    assert UserSettings().trusted_proxies == []   # no proxy believed unless configured
    from services.notification.settings import NotificationSettings
    assert NotificationSettings().smtp_from == "RepitBot <noreply@repitbot.local>"
    assert NotificationSettings().reminder_offsets_minutes == [1440, 60]
    assert Settings().postgres_password is None  # empty, with a comment after it


def test_json_values_keep_their_quotes_and_values_their_spaces(in_dir_with_env):
    with in_dir_with_env.open("a") as env:
        env.write('CORS_ORIGINS=["https://a.example", "https://b.example"]\n'
                  "SMTP_FROM=Tutor Desk <desk@example.org>   # the sender\n"
                  'SERVICE_URLS={"lesson": ["http://10.0.0.5:8002", "http://10.0.0.6:8002"]}\n')
    assert GatewaySettings().cors_origins == ["https://a.example", "https://b.example"]
    from services.notification.settings import NotificationSettings
    assert NotificationSettings().smtp_from == "Tutor Desk <desk@example.org>"
    assert Settings().urls_of("lesson") == ["http://10.0.0.5:8002", "http://10.0.0.6:8002"]
