"""An operator follows one lesson completion through the platform: by its correlation ID in the
logs of every service it touched, and as one trace from the gateway across the outbox."""
import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from repitbot.embedded import create_embedded_app
from shared import tracing
from shared.logs import log_handler
from shared.settings import Settings
from tests.e2e.conftest import link, register_and_login, settle
from tests.e2e.lesson.test_lesson_flow import book, in_days
from tests.support import running

CORRELATION_ID = "follow-me-4711"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.add_processor(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.reset()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if getattr(h, "stream", None) is not stream]


async def test_a_lesson_completion_can_be_followed_in_the_logs_and_as_one_trace(tmp_path, spans, log_lines):
    app = create_embedded_app(Settings(var_dir=tmp_path, log_json=True, log_level="INFO"), seed=False)
    logging.getLogger().addHandler(log_handler(log_lines))   # after the app set up the process's logging
    async with running(app) as client:
        client.app = app
        teacher = await register_and_login(client, "teacher")
        student = await register_and_login(client, "student")
        await link(client, teacher, student)
        await settle(client)
        lesson = (await book(client, teacher, student.id, in_days(2, 9))).json()
        url = f"/api/v1/lessons/{lesson['id']}"
        assert (await client.post(f"{url}/start", headers=teacher.headers)).status_code == 200
        completed = await client.post(f"{url}/complete", json={"attendance": "present", "score": 90},
                                      headers={**teacher.headers, "X-Correlation-ID": CORRELATION_ID})
        assert completed.status_code == 200, completed.text
        await settle(client)

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    followed = [line for line in lines if line.get("correlation_id") == CORRELATION_ID]
    assert {"gateway", "lesson", "student", "notification"} <= {line["service"] for line in followed}
    requests = {line["service"]: line for line in followed if line.get("logger") == "repitbot.access"}
    assert requests["gateway"]["route"] == "/api/v1/lessons"
    assert requests["lesson"]["route"] == "/api/v1/lessons/{lesson_id:uuid}/complete"
    assert (requests["lesson"]["status"], requests["lesson"]["caller_id"], requests["lesson"]["caller_role"]) == (
        200, teacher.id, "teacher")
    assert requests["gateway"]["upstream"] == "http://lesson"
    handled = {(line["service"], line["event_type"], line["outcome"]) for line in followed if "outcome" in line}
    assert {("student", "lesson.completed", "processed"), ("notification", "lesson.completed", "processed")} <= handled
    assert all("trace_id" in line for line in followed if line.get("logger") == "repitbot.access")
    secrets = (teacher.email, teacher.headers["Authorization"].split()[1], student.email)
    assert not [line for line in log_lines.getvalue().splitlines() if any(s in line for s in secrets)]
    assert not [line for line in lines if line.get("route", "").startswith("/health")]

    finished = spans.get_finished_spans()
    by_id = {span.context.span_id: span for span in finished}

    def service(span: ReadableSpan) -> str:
        return span.resource.attributes["service.name"]

    def ancestors(span: ReadableSpan) -> list[ReadableSpan]:
        chain = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            chain.append(span)
        return chain

    consumed = [s for s in finished if s.kind == SpanKind.CONSUMER and s.name == "lesson.completed process"]
    student_consumer = next(s for s in consumed if service(s) == "repitbot-student")
    chain = ancestors(student_consumer)
    publish = chain[0]
    assert (service(publish), publish.kind, publish.name) == ("repitbot-lesson", SpanKind.PRODUCER,
                                                              "lesson.completed publish")
    lesson_server = chain[1]
    assert (service(lesson_server), lesson_server.kind) == ("repitbot-lesson", SpanKind.SERVER)
    assert lesson_server.attributes["http.route"] == "/api/v1/lessons/{lesson_id:uuid}/complete"
    gateway_server = next(s for s in chain if service(s) == "repitbot-gateway" and s.kind == SpanKind.SERVER)
    assert gateway_server.parent is None                                  # the root: where the request came in
    assert {s.context.trace_id for s in chain} == {student_consumer.context.trace_id}
    notification_consumer = next(s for s in consumed if service(s) == "repitbot-notification")
    assert notification_consumer.parent.span_id == publish.context.span_id
    rewarded = [s for s in finished if s.kind == SpanKind.PRODUCER and service(s) == "repitbot-student"
                and s.context.trace_id == student_consumer.context.trace_id]
    assert rewarded and all(by_id[s.parent.span_id] is student_consumer for s in rewarded)
