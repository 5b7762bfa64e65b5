"""In mesh mode a lesson completion is one trace across processes and RabbitMQ: each process
exports its spans over OTLP/HTTP (here to a collector on loopback that keeps what it is sent)."""
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from tests.e2e.conftest import link, register_and_login
from tests.e2e.student.flow import complete_a_lesson
from tests.mesh import Mesh
from tests.support import eventually


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    route: str | None


class Collector(BaseHTTPRequestHandler):
    spans: ClassVar[list[Span]] = []

    def do_POST(self) -> None:
        request = ExportTraceServiceRequest.FromString(self.rfile.read(int(self.headers["Content-Length"])))
        for resource_spans in request.resource_spans:
            service = next(a.value.string_value for a in resource_spans.resource.attributes
                           if a.key == "service.name")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    route = next((a.value.string_value for a in span.attributes if a.key == "http.route"), None)
                    self.spans.append(Span(service, span.name, span.kind, span.trace_id, span.span_id,
                                           span.parent_span_id, route))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


def _chain(spans: list[Span], span: Span) -> list[Span]:
    by_id = {s.span_id: s for s in spans}
    chain = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


async def test_a_lesson_completion_is_one_trace_across_the_mesh(servers):
    Collector.spans = []
    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    traced = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_BSP_SCHEDULE_DELAY": "100",
              "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_address[1]}"}
    try:
        with Mesh(servers, env=traced) as mesh:
            mesh.start_services("user", "lesson", "student", "notification")
            gateway = mesh.start_gateway(env={"RATE_LIMIT_PER_MINUTE": "1000"})
            async with httpx.AsyncClient(base_url=gateway.url, timeout=30.0, trust_env=False) as client:
                teacher = await register_and_login(client, "teacher")
                student = await register_and_login(client, "student")
                await link(client, teacher, student)
                await eventually(lambda: _completed(client, teacher.headers, student.id), timeout=20)

                def consumed_in_one_trace() -> list[Span] | None:
                    spans = list(Collector.spans)
                    for consumer in spans:
                        if (consumer.service, consumer.name) != ("repitbot-student", "lesson.completed process"):
                            continue
                        chain = _chain(spans, consumer)
                        if any(s.service == "repitbot-gateway" and s.kind == SpanProto.SPAN_KIND_SERVER
                               for s in chain):
                            return [consumer, *chain]
                    return None

                chain = await eventually(consumed_in_one_trace, timeout=30)
    finally:
        collector.shutdown()

    assert [(s.service, s.kind) for s in chain[:3]] == [
        ("repitbot-student", SpanProto.SPAN_KIND_CONSUMER),
        ("repitbot-lesson", SpanProto.SPAN_KIND_PRODUCER),
        ("repitbot-lesson", SpanProto.SPAN_KIND_SERVER)]
    assert chain[2].route == "/api/v1/lessons/{lesson_id:uuid}/complete"
    assert (chain[-1].service, chain[-1].kind, chain[-1].parent_id) == ("repitbot-gateway",
                                                                        SpanProto.SPAN_KIND_SERVER, b"")
    assert len({s.trace_id for s in chain}) == 1


async def _completed(client: httpx.AsyncClient, headers: dict[str, str], student_id: str) -> bool:
    try:
        await complete_a_lesson(client, headers, student_id, score=90)
    except AssertionError:  # the lesson service has not seen the link yet: 422
        return False
    return True
