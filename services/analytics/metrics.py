"""Business metrics of the analytics service for operators (Prometheus)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_STORED = Counter("repitbot_analytics_events_stored_total", "Events written to the event store, by type",
                        ["type"])
STORE_LAG = Histogram("repitbot_analytics_store_lag_seconds",
                      "Time from an event's occurred_at to its commit in the event store",
                      buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600))
UNPROJECTED = Counter("repitbot_analytics_unprojected_events_total",
                      "Stored events whose payload did not fit its model, left out of the read models", ["type"])
REBUILDS = Counter("repitbot_analytics_rebuilds_total", "Read models rebuilt from the event store")
ACTIVE_USERS = Gauge("repitbot_analytics_active_users",
                     "Students with any activity in the last period, by period", ["period"])
CHARTS_RENDERED = Counter("repitbot_analytics_charts_rendered_total", "Charts drawn (cache misses), by chart",
                          ["chart"])
CHART_CACHE_HITS = Counter("repitbot_analytics_chart_cache_hits_total",
                           "Charts served from the cache or answered 304, by chart", ["chart"])
REPORTS_EXPORTED = Counter("repitbot_analytics_reports_exported_total", "CSV reports streamed, by report",
                           ["report"])
