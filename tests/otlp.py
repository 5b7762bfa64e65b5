"""A trace collector on loopback that keeps the spans processes export to it over OTLP/HTTP.

    with Collector() as collector:          # env: what makes a process export its spans here
        start_processes(env=collector.env)
        spans = list(collector.spans)
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    route: str | None
    target: str | None   # the request's path, for a server span


class Collector:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def env(self) -> dict[str, str]:
        assert self._server is not None, "the collector is not running"
        return {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_BSP_SCHEDULE_DELAY": "100",
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{self._server.server_address[1]}"}

    def keep(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            service = next(a.value.string_value for a in resource_spans.resource.attributes
                           if a.key == "service.name")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: a.value.string_value for a in span.attributes}
                    self.spans.append(Span(service, span.name, span.kind, span.trace_id, span.span_id,
                                           span.parent_span_id, attributes.get("http.route"),
                                           attributes.get("http.target") or attributes.get("url.path")))

    def __enter__(self) -> Collector:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.keep(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="otlp-collector").start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
