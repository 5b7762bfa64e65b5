"""OpenTelemetry traces: off unless `OTEL_TRACES_EXPORTER` is `otlp` or `console`.

OpenTelemetry's variables configure it (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`, read
with the other settings; the SDK reads its own tuning, such as `OTEL_BSP_*`, from the environment).
Each service has a tracer provider of its own, so that in embedded mode, where the nine services
share one process, each still shows under its own name; in mesh mode `OTEL_SERVICE_NAME` names
the one service of a process. The official instrumentation sees HTTP (FastAPI, the gateway's
aiohttp client), SQL and Redis. The outbox it cannot see: the trace context of whatever wrote
an event travels in the event's envelope (`traceparent`, `tracestate`, as in CloudEvents'
distributed-tracing extension), so the outbox row keeps it, the relay's publish span continues it
and sends it on (in the envelope and the AMQP headers), and the consumer's span continues that —
on RabbitMQ and on the in-memory bus alike.

Off, nothing is instrumented and every function here returns at its first line.
"""
from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

FIELDS = ("traceparent", "tracestate")
_NO_METRICS = NoOpMeterProvider()

enabled = False
_providers: dict[str, TracerProvider] = {}
_processors: list[SpanProcessor] = []
_single_service: str | None = None
_service_name: str | None = None
_consuming: ContextVar[Mapping[uuid.UUID, Span] | None] = ContextVar("consuming", default=None)


def configure(settings: Any, *, single_service: str | None = None) -> None:
    """Trace when `settings.otel_traces_exporter` asks for it (`OTEL_TRACES_EXPORTER`);
    `single_service` is the one service of a mesh-mode process, which `OTEL_SERVICE_NAME` names."""
    global _single_service, _service_name
    _single_service, _service_name = single_service, settings.otel_service_name
    exporter = settings.otel_traces_exporter
    if exporter == "none" or _processors:
        return
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        add_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    else:
        add_processor(BatchSpanProcessor(ConsoleSpanExporter()))


def add_processor(processor: SpanProcessor) -> None:
    """Send every service's spans to `processor` too (an exporter; tests add an in-memory one)."""
    global enabled
    enabled = True
    _processors.append(processor)
    for provider in _providers.values():
        provider.add_span_processor(processor)


def shutdown() -> None:
    """Flush and stop: what a process does at exit."""
    for provider in _providers.values():
        provider.shutdown()


def tracer_provider(service: str) -> TracerProvider:
    provider = _providers.get(service)
    if provider is None:
        name = _service_name if service == _single_service else None
        resource = Resource.create({"service.name": name or f"repitbot-{service}",
                                    "service.namespace": "repitbot"})
        provider = _providers[service] = TracerProvider(resource=resource)
        for processor in _processors:
            provider.add_span_processor(processor)
    return provider


def tracer(service: str) -> trace.Tracer:
    return tracer_provider(service).get_tracer("repitbot")


# --- instrumentation ---------------------------------------------------------------------------
def instrument_app(app: Any, service: str) -> None:
    """Server spans for every request but health checks and metric scrapes."""
    if not enabled:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider(service),
                                       meter_provider=_NO_METRICS, excluded_urls="/health,/metrics")


def instrument_engine(engine: Any, service: str) -> None:
    """Spans for the SQL statements of one service's engine."""
    if not enabled:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    usage = _NO_METRICS.get_meter("repitbot").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer(service), engine.sync_engine, usage)


def instrument_redis(service: str) -> None:
    """Spans for Redis commands (the instrumentation patches the client class: once a process)."""
    if not enabled:
        return
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    instrumentor = RedisInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=tracer_provider(service))


def aiohttp_trace_configs(service: str) -> list[Any]:
    """The aiohttp client's trace configs: a client span per request, the context in its headers."""
    if not enabled:
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config
    return [create_trace_config(tracer_provider=tracer_provider(service), meter_provider=_NO_METRICS)]


# --- the trace context in headers and envelopes --------------------------------------------------
def current_fields() -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the current span, for an envelope; {} when none."""
    if not enabled:
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {key: carrier[key] for key in FIELDS if key in carrier}


def inject_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """ASGI headers with the current trace context instead of the client's own."""
    fields = current_fields()
    if not fields:
        return headers
    kept = [(k, v) for k, v in headers if k.decode("latin-1") not in FIELDS]
    return kept + [(k.encode(), v.encode("latin-1")) for k, v in fields.items()]


def _context_of(envelope: Mapping[str, Any]) -> otel_context.Context:
    return propagate.extract({key: envelope[key] for key in FIELDS if envelope.get(key)})


@contextlib.contextmanager
def client_span(service: str, name: str, **attributes: Any) -> Iterator[None]:
    """A client span around a call that no instrumentation sees (an in-process upstream)."""
    if not enabled:
        yield
        return
    with tracer(service).start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
        yield


@contextlib.contextmanager
def publishing(service: str, envelopes: Sequence[dict[str, Any]], destination: str
               ) -> Iterator[list[dict[str, Any]]]:
    """A producer span per envelope that carries a trace, child of the context it was written in;
    yields the envelopes with the span's context in their place, to be published."""
    if not enabled:
        yield list(envelopes)
        return
    spans: list[Span] = []
    sent: list[dict[str, Any]] = []
    for envelope in envelopes:
        if not envelope.get("traceparent"):
            sent.append(envelope)
            continue
        span = tracer(service).start_span(
            f"{envelope['type']} publish", context=_context_of(envelope), kind=SpanKind.PRODUCER,
            attributes=_messaging(envelope, destination, "publish"))
        spans.append(span)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        sent.append({**envelope, **{key: carrier[key] for key in FIELDS if key in carrier}})
    try:
        yield sent
    except BaseException as exc:
        for span in spans:
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        for span in spans:
            span.end()


@contextlib.contextmanager
def consuming(service: str, queue: str, envelopes: Sequence[Any]) -> Iterator[None]:
    """A consumer span per event of a batch, child of the event's publish span, open while the
    batch is handled; `enter_event` makes one of them current for its handler."""
    if not enabled:
        yield
        return
    spans = {}
    for event in envelopes:
        fields = {key: (event.model_extra or {}).get(key) for key in FIELDS}
        spans[event.id] = tracer(service).start_span(
            f"{event.type} process", context=_context_of(fields), kind=SpanKind.CONSUMER,
            attributes=_messaging({"id": str(event.id), "type": event.type}, queue, "process"))
    token = _consuming.set(spans)
    outer = otel_context.get_current()
    if spans:  # the batch's own statements (the inbox claim) go under its first event
        otel_context.attach(trace.set_span_in_context(next(iter(spans.values()))))
    try:
        yield
    except BaseException as exc:
        for span in spans.values():
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.record_exception(exc)
        raise
    finally:
        _consuming.reset(token)
        otel_context.attach(outer)  # what enter_event made current ends with the batch
        for span in spans.values():
            span.end()


def enter_event(event_id: uuid.UUID) -> None:
    """Make the consumer span of this event the current one (what its handler does is under it)."""
    if not enabled:
        return
    span = (_consuming.get() or {}).get(event_id)
    if span is not None:
        otel_context.attach(trace.set_span_in_context(span))


def _messaging(envelope: Mapping[str, Any], destination: str, operation: str) -> dict[str, str]:
    return {"messaging.system": "rabbitmq", "messaging.operation.type": operation,
            "messaging.destination.name": destination, "messaging.message.id": str(envelope["id"]),
            "messaging.rabbitmq.destination.routing_key": envelope["type"]}


def log_fields() -> dict[str, str]:
    """`trace_id` and `span_id` of the current span for a log line; {} when none."""
    if not enabled:
        return {}
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {"trace_id": format(span_context.trace_id, "032x"), "span_id": format(span_context.span_id, "016x")}


def reset() -> None:
    """Back to off, spans flushed (tests that trace, at their end)."""
    global enabled
    shutdown()
    _providers.clear()
    _processors.clear()
    enabled = False
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    if RedisInstrumentor().is_instrumented_by_opentelemetry:
        RedisInstrumentor().uninstrument()


def leave_trace() -> None:
    """Forget the current span in this context: an in-process service is then called as over the
    network, continuing the trace from the request's headers alone (a server span, not a child)."""
    if enabled:
        otel_context.attach(otel_context.Context())


def name_request(route: str, method: str) -> None:
    """Name the current server span after its route where the instrumentation cannot see one."""
    if enabled:
        span = trace.get_current_span()
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
