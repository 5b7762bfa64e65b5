"""In mesh mode a lesson completion is one trace across processes and RabbitMQ: each process of
the shared mesh exports its spans over OTLP/HTTP (to a collector on loopback that keeps them)."""
import httpx
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from tests.e2e.conftest import link, register_and_login
from tests.e2e.student.flow import complete_a_lesson
from tests.otlp import Span
from tests.support import eventually


def _chain(spans: list[Span], span: Span) -> list[Span]:
    by_id = {s.span_id: s for s in spans}
    chain = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


async def test_a_lesson_completion_is_one_trace_across_the_mesh(shared_mesh):
    async with shared_mesh.client() as client:
        teacher = await register_and_login(client, "teacher")
        student = await register_and_login(client, "student")
        await link(client, teacher, student)
        lesson_id = await eventually(lambda: _completed(client, teacher.headers, student.id), timeout=20)

        def consumed_in_one_trace() -> list[Span] | None:
            spans = list(shared_mesh.collector.spans)
            for consumer in spans:
                if (consumer.service, consumer.name) != ("repitbot-student", "lesson.completed process"):
                    continue
                chain = _chain(spans, consumer)
                if any(s.service == "repitbot-gateway" and s.kind == SpanProto.SPAN_KIND_SERVER
                       for s in chain) and any(lesson_id in (s.target or "") for s in chain):   # this test's
                    return [consumer, *chain]
            return None

        chain = await eventually(consumed_in_one_trace, timeout=30)

    assert [(s.service, s.kind) for s in chain[:3]] == [
        ("repitbot-student", SpanProto.SPAN_KIND_CONSUMER),
        ("repitbot-lesson", SpanProto.SPAN_KIND_PRODUCER),
        ("repitbot-lesson", SpanProto.SPAN_KIND_SERVER)]
    assert chain[2].route == "/api/v1/lessons/{lesson_id:uuid}/complete"
    assert (chain[-1].service, chain[-1].kind, chain[-1].parent_id) == ("repitbot-gateway",
                                                                        SpanProto.SPAN_KIND_SERVER, b"")
    assert len({s.trace_id for s in chain}) == 1


async def _completed(client: httpx.AsyncClient, headers: dict[str, str], student_id: str) -> str | None:
    """The completed lesson's id."""
    try:
        completed = await complete_a_lesson(client, headers, student_id, score=90)
    except AssertionError:  # the lesson service has not seen the link yet: 422
        return None
    return completed.json()["id"]
