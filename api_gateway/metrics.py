"""The gateway's own Prometheus metrics (request counts and latency per route are the shared
`repitbot_http_*` ones, labelled service="gateway" and the matched route prefix)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

UPSTREAM_REQUESTS = Counter(
    "repitbot_gateway_upstream_requests_total", "Requests answered by an upstream service",
    ["upstream", "route", "method", "status"])
UPSTREAM_LATENCY = Histogram(
    "repitbot_gateway_upstream_duration_seconds", "Time until an upstream's response headers",
    ["upstream", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
UPSTREAM_ERRORS = Counter(
    "repitbot_gateway_upstream_errors_total",
    "Upstream failures (connect, timeout, broken, status_5xx) and refusals (circuit_open, overloaded)",
    ["upstream", "kind"])
UPSTREAM_RETRIES = Counter(
    "repitbot_gateway_upstream_retries_total", "Idempotent requests retried on another instance",
    ["upstream"])
UPSTREAM_IN_FLIGHT = Gauge(
    "repitbot_gateway_upstream_in_flight", "Requests in flight per upstream", ["upstream"])
