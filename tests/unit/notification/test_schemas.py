import pytest
from pydantic import ValidationError

from services.notification.domain import Preferences, QuietHours
from services.notification.schemas import PreferencesPublic, PreferencesUpdate


def test_preferences_body_becomes_domain_preferences():
    body = PreferencesUpdate.model_validate({
        "channels": {"achievement_earned": {"email": False}, "level_up": {}},
        "quiet_hours": {"start": "22:00", "end": "08:00"}})
    preferences = body.to_domain()
    assert preferences.switched == {"achievement_earned": {"email": False}}
    assert preferences.quiet_hours == QuietHours.parse("22:00", "08:00")


def test_published_preferences_show_every_kind_and_channel():
    public = PreferencesPublic.of(Preferences(switched={"level_up": {"telegram": False}}))
    assert public.channels["level_up"] == {"email": True, "telegram": False}
    assert public.channels["lesson_reminder"] == {"email": True, "telegram": True}
    assert public.quiet_hours is None


@pytest.mark.parametrize("body", [
    {"channels": {"no_such_kind": {"email": False}}},
    {"channels": {"level_up": {"fax": False}}},
    {"channels": {"level_up": {"in_app": False}}},
    {"channels": {"level_up": {"email": "no"}}},
    {"channels": {"level_up": {"email": 0}}},
    {"channels": ["level_up"]},
    {"quiet_hours": {"start": "22:00"}},
    {"quiet_hours": {"start": "24:00", "end": "08:00"}},
    {"quiet_hours": {"start": "7:00", "end": "08:00"}},
    {"quiet_hours": {"start": "22:00", "end": "22:00"}},
    {"quiet_hours": "22:00-08:00"},
    {"unknown": True},
])
def test_nonsense_preferences_are_refused(body):
    with pytest.raises(ValidationError):
        PreferencesUpdate.model_validate(body)
