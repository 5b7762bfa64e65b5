"""Prometheus metrics shared by every process, and the /metrics route."""
from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

from shared.auth import BEARER_CHALLENGE, bearer_token
from shared.errors import Unauthorized

HTTP_REQUESTS = Counter(
    "repitbot_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "repitbot_http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
EVENTS_PUBLISHED = Counter(
    "repitbot_events_published_total", "Events published to the bus", ["service", "type"])
EVENTS_CONSUMED = Counter(
    "repitbot_events_consumed_total", "Events handled, by outcome (processed, duplicate)",
    ["service", "type", "outcome"])
EVENTS_FAILED = Counter(
    "repitbot_events_failed_total", "Handler failures (each attempt)", ["service", "type"])
EVENTS_DEAD_LETTERED = Counter(
    "repitbot_events_dead_lettered_total", "Events parked in a dead-letter queue", ["service", "type"])
HANDLER_LATENCY = Histogram(
    "repitbot_event_handler_duration_seconds", "Event handler latency", ["service", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
CONSUMER_BATCH_SIZE = Histogram(
    "repitbot_consumer_batch_size", "Events handled in one consumer transaction", ["service"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500))
OUTBOX_BACKLOG = Gauge(
    "repitbot_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "repitbot_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["service"])
FILES_STORED = Counter(
    "repitbot_files_stored_total", "Files offered to storage, by outcome (created, existing, too_large, "
    "refused_type, removed)", ["outcome"])
FILE_BYTES_STORED = Counter("repitbot_file_bytes_stored_total", "Bytes of the files newly stored")
FILE_DOWNLOADS = Counter(
    "repitbot_file_downloads_total", "Stored files served, by status (200, 206, 304, 416)", ["status"])

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text; with METRICS_TOKEN set, only for `Authorization: Bearer <METRICS_TOKEN>`."""
    token = getattr(request.app.state.settings, "metrics_token", None)
    if token is not None and token.get_secret_value():
        given = bearer_token(request) or ""
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise Unauthorized("Metrics need the scrape token", headers=BEARER_CHALLENGE)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
