"""Request and response models of the notifications API."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from services.notification.domain import DeliveryStatus, Kind, Preferences, QuietHours


class NotificationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None
    read: bool = False

    @model_validator(mode="after")
    def _read(self) -> NotificationPublic:
        self.read = self.read_at is not None
        return self


class NotificationPage(BaseModel):
    items: list[NotificationPublic]
    next_cursor: str | None = None


class ReadAllResult(BaseModel):
    marked: int


class ChannelSwitches(BaseModel):
    """Channels on (true) or off (false) for one kind; a channel left out stays on."""

    model_config = ConfigDict(extra="forbid")

    email: StrictBool | None = None
    telegram: StrictBool | None = None


class QuietHoursBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["22:00"])
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["08:00"])

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHoursBody:
        if self.start == self.end:
            raise ValueError("quiet hours must start and end at different times")
        return self


class PreferencesUpdate(BaseModel):
    """The whole of a person's preferences (PUT replaces them)."""

    model_config = ConfigDict(extra="forbid")

    channels: dict[Kind, ChannelSwitches] = Field(default_factory=dict)
    quiet_hours: QuietHoursBody | None = None

    def to_domain(self) -> Preferences:
        switched = {kind: switches.model_dump(exclude_none=True) for kind, switches in self.channels.items()}
        quiet = QuietHours.parse(self.quiet_hours.start, self.quiet_hours.end) if self.quiet_hours else None
        return Preferences(switched={k: v for k, v in switched.items() if v}, quiet_hours=quiet)


class PreferencesPublic(BaseModel):
    channels: dict[str, dict[str, bool]]
    quiet_hours: QuietHoursBody | None

    @classmethod
    def of(cls, preferences: Preferences) -> PreferencesPublic:
        quiet = None
        if preferences.quiet_hours:
            start, end = preferences.quiet_hours.as_strings()
            quiet = QuietHoursBody(start=start, end=end)
        return cls(channels=preferences.effective(), quiet_hours=quiet)


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    notification_id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    channel: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    due_at: datetime
    created_at: datetime
    sent_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None = None
