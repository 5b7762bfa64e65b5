"""The dispatcher: turns due reminders into notifications and sends due deliveries.

One round (`dispatch_due`) claims due deliveries with `SELECT ... FOR UPDATE SKIP LOCKED`
(on SQLite the whole transaction is `BEGIN IMMEDIATE`), marks them `sending` under a lease,
commits, sends outside any transaction, then records each outcome: `sent` (with a
`notification.sent` event), another attempt later with back-off, or `failed` with the reason.
Quiet hours are applied when a delivery comes due, with the person's preferences and time
zone of that moment. Sending is at most once per (notification, channel) while instances
live; an instance that dies mid-send leaves its lease to expire, and the delivery is then
claimed again: in that crash case delivery is at-least-once on the channel.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import FastAPI
from jinja2 import TemplateError
from sqlalchemy import and_, or_, select

from services.notification import homework_reminders, metrics, reminders
from services.notification.channels import DeliveryError, OutgoingMessage, Recipient
from services.notification.deps import NotificationDeps
from services.notification.domain import Preferences, hold_until, next_attempt_at, zone
from services.notification.models import Delivery, Notification
from services.notification.readmodel import recipients
from services.notification.service import preferences_of
from shared.app import ServiceContext
from shared.db import UnitOfWork
from shared.events import NotificationSent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    delivery_id: uuid.UUID
    attempt: int
    channel: str
    address: str
    message: OutgoingMessage


@dataclass
class DispatchReport:
    reminders: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    held: int = 0


class Dispatcher:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], deps: NotificationDeps) -> None:
        self._uow_factory = uow_factory
        self._channels = deps.channels
        self._deps = deps
        self._settings = deps.settings
        self._slots = asyncio.Semaphore(deps.settings.dispatch_concurrency)

    async def dispatch_due(self, now: datetime) -> DispatchReport:
        report = DispatchReport()
        async with self._uow_factory() as uow:
            report.reminders = await reminders.send_due_reminders(
                uow, self._deps, now, limit=self._settings.dispatch_batch_size)
            report.reminders += await homework_reminders.send_due_homework_reminders(
                uow, self._deps, now, limit=self._settings.dispatch_batch_size)
            await uow.commit()
        jobs = await self._claim(now, report)
        errors = await asyncio.gather(*(self._send(job) for job in jobs))
        for job, error in zip(jobs, errors):
            await self._record(job, error, now, report)
        return report

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()

    async def _claim(self, now: datetime, report: DispatchReport) -> list[Job]:
        async with self._uow_factory() as uow:
            due = list(await uow.session.scalars(
                select(Delivery).where(or_(
                    and_(Delivery.status == "pending", Delivery.due_at <= now),
                    and_(Delivery.status == "sending", Delivery.lease_until < now)))
                .order_by(Delivery.due_at).limit(self._settings.dispatch_batch_size)
                .with_for_update(skip_locked=True)))
            users = {d.user_id for d in due}
            known = await recipients(uow.session, users)
            preferences = await preferences_of(uow.session, users)
            notifications = {n.id: n for n in await uow.session.scalars(
                select(Notification).where(Notification.id.in_({d.notification_id for d in due})))}
            jobs = [job for d in due if (job := self._prepare(
                d, known.get(d.user_id), preferences[d.user_id], notifications[d.notification_id], now, report))]
            await uow.commit()
        return jobs

    def _prepare(self, delivery: Delivery, recipient: Recipient | None, preferences: Preferences,
                 notification: Notification, now: datetime, report: DispatchReport) -> Job | None:
        """Decide about one due delivery: skip it, hold it, fail it, or send it now (a Job)."""
        channel = self._channels.get(delivery.channel)
        if channel is None:
            return _skip(delivery, f"the {delivery.channel} channel is not configured", report)
        if not preferences.allows(delivery.kind, delivery.channel):
            return _skip(delivery, "switched off by the recipient", report)
        if delivery.deliver_by is not None and now >= delivery.deliver_by:
            return _skip(delivery, "too late: the moment it was about has passed", report)
        if recipient is None:
            delivery.attempts += 1
            return self._failed(delivery, DeliveryError("the recipient is not known yet"), now, report)
        address = channel.address(recipient)
        if address is None:
            return _skip(delivery, f"no {delivery.channel} address known for the recipient", report)
        release = hold_until(now, preferences.quiet_hours, zone(recipient.timezone), delivery.deliver_by)
        if release > now:
            delivery.status, delivery.due_at, delivery.lease_until = "pending", release, None
            report.held += 1
            metrics.HELD.labels(delivery.channel, delivery.kind).inc()
            return None
        delivery.attempts += 1
        try:
            rendered = self._deps.renderer.render(delivery.kind, notification.data, locale=recipient.locale,
                                                  timezone=recipient.timezone, recipient_id=recipient.user_id)
        except TemplateError as exc:
            return self._failed(delivery, DeliveryError(f"template error: {exc}", permanent=True), now, report)
        delivery.status = "sending"
        delivery.lease_until = now + timedelta(seconds=self._settings.delivery_lease_seconds)
        return Job(delivery.id, delivery.attempts, delivery.channel, address,
                   OutgoingMessage(rendered.title, rendered.text, rendered.html, rendered.button))

    async def _send(self, job: Job) -> DeliveryError | None:
        timeout = self._settings.delivery_lease_seconds / 2
        async with self._slots:
            try:
                await asyncio.wait_for(self._channels[job.channel].send(job.address, job.message), timeout)
            except DeliveryError as exc:
                return exc
            except TimeoutError:
                return DeliveryError(f"no answer within {timeout:g} s")
            except Exception as exc:  # boundary: one channel's fault must not stop the others
                log.exception("unexpected error sending delivery %s on %s", job.delivery_id, job.channel)
                return DeliveryError(f"{type(exc).__name__}: {exc}")
        return None

    async def _record(self, job: Job, error: DeliveryError | None, now: datetime, report: DispatchReport) -> None:
        async with self._uow_factory() as uow:
            delivery = await uow.session.get(Delivery, job.delivery_id, with_for_update=True)
            if delivery is None or delivery.status != "sending" or delivery.attempts != job.attempt:
                return  # our lease ran out and another instance took the delivery over
            delivery.lease_until = None
            if error is None:
                _sent(uow, delivery, now, report)
            else:
                self._failed(delivery, error, now, report)
            await uow.commit()

    def _failed(self, delivery: Delivery, error: DeliveryError, now: datetime, report: DispatchReport) -> None:
        s = self._settings
        again = next_attempt_at(attempt=delivery.attempts, max_attempts=s.delivery_max_attempts,
                                permanent=error.permanent, now=now, base=s.delivery_backoff_seconds,
                                cap=s.delivery_backoff_max_seconds, retry_after=error.retry_after)
        delivery.last_error = error.reason
        delivery.lease_until = None
        if again is None:
            delivery.status = "failed"
            report.failed += 1
            metrics.FAILED.labels(delivery.channel, delivery.kind).inc()
            log.warning("delivery %s on %s failed after %d attempt(s): %s", delivery.id, delivery.channel,
                        delivery.attempts, error.reason)
        else:
            delivery.status, delivery.due_at = "pending", again
            report.retried += 1
            metrics.RETRIED.labels(delivery.channel, delivery.kind).inc()


def _sent(uow: UnitOfWork, delivery: Delivery, now: datetime, report: DispatchReport) -> None:
    delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
    uow.emit(NotificationSent(notification_id=delivery.notification_id, user_id=delivery.user_id,
                              channel=delivery.channel, kind=delivery.kind))
    report.sent += 1
    metrics.SENT.labels(delivery.channel, delivery.kind).inc()


def _skip(delivery: Delivery, reason: str, report: DispatchReport) -> None:
    delivery.status, delivery.last_error, delivery.lease_until = "skipped", reason, None
    report.skipped += 1
    metrics.SKIPPED.labels(delivery.channel, delivery.kind).inc()


async def dispatch_due(app: FastAPI, now: datetime) -> DispatchReport:
    """One round of dispatching in a running app, as if the time were `now` (tests, commands)."""
    return await Dispatcher(app.state.uow_factory, app.state.deps).dispatch_due(now)


async def run_dispatcher(ctx: ServiceContext, deps: NotificationDeps) -> None:
    """The background loop: a round every `DISPATCH_INTERVAL_SECONDS`, on the service's clock."""
    dispatcher = Dispatcher(ctx.uow_factory, deps)
    try:
        while True:
            await asyncio.sleep(deps.settings.dispatch_interval_seconds)
            try:
                await dispatcher.dispatch_due(deps.clock())
            except asyncio.CancelledError:
                raise
            except Exception:  # boundary: the loop outlives a failed round
                metrics.DISPATCH_ERRORS.inc()
                log.exception("dispatcher round failed; trying again")
    finally:
        await dispatcher.close()
