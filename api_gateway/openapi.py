"""One OpenAPI document for the whole platform: every service's paths and components, merged.

Each service's document is fetched through the gateway's own upstream transports (in parallel,
cached for a while; a service that is down keeps its last good copy, or is left out and listed
under `info.x-unavailable-services`). A service contributes only the paths the gateway routes to
it. Component names shared by services with identical definitions stay as they are; different
definitions under one name are renamed `<Service><Name>` and their `$ref`s rewritten.
"""
from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections import defaultdict
from typing import Any

from api_gateway import routes
from api_gateway.upstream import Upstream

log = logging.getLogger(__name__)
GATEWAY = "gateway"
GATEWAY_PUBLIC = ("/health", "/openapi.json", "/docs", "/gateway/metrics")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
          "description": "An access token from POST /auth/login"}


class OpenAPIMerger:
    def __init__(self, upstreams: dict[str, Upstream], *, cache_seconds: float, timeout: float = 3.0) -> None:
        self._upstreams = upstreams
        self._cache_seconds = cache_seconds
        self._timeout = timeout
        self._docs: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = asyncio.Lock()

    async def document(self, gateway_doc: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:
            stale = [n for n in self._upstreams
                     if time.monotonic() - self._docs.get(n, (float("-inf"), {}))[0] >= self._cache_seconds]
            fetched = await asyncio.gather(*(self._fetch(self._upstreams[n]) for n in stale))
            for name, doc in zip(stale, fetched):
                if doc is not None:
                    self._docs[name] = (time.monotonic(), doc)
        docs = {name: self._docs[name][1] for name in self._upstreams if name in self._docs}
        missing = [name for name in self._upstreams if name not in docs]
        return merge(gateway_doc, docs, missing=missing)

    async def _fetch(self, upstream: Upstream) -> dict[str, Any] | None:
        instance = upstream.pool.pick()
        try:
            async with asyncio.timeout(self._timeout):
                response = await upstream.transport.send("GET", instance.url, "/openapi.json", [], b"")
                try:
                    body = b"".join([chunk async for chunk in response.body])
                finally:
                    await response.close()
            if response.status != 200:
                raise ValueError(f"status {response.status}")
            return json.loads(body)
        except Exception as exc:  # boundary: one service down must not break the document
            log.warning("OpenAPI document of %s unavailable: %s", upstream.name, exc)
            return None


def merge(gateway_doc: dict[str, Any], service_docs: dict[str, dict[str, Any]], *,
          missing: list[str] = ()) -> dict[str, Any]:
    sources = {GATEWAY: gateway_doc, **service_docs}
    renames = _component_names(sources)
    info = {**gateway_doc.get("info", {}), "title": "RepitBot API"}
    if missing:
        info["x-unavailable-services"] = list(missing)
    merged: dict[str, Any] = {"openapi": gateway_doc.get("openapi", "3.1.0"), "info": info, "paths": {},
                              "components": {"securitySchemes": {"bearerAuth": BEARER}},
                              "security": [{"bearerAuth": []}]}
    tags: dict[str, dict[str, Any]] = {}
    for source, raw in sources.items():
        doc = _rewrite_refs(copy.deepcopy(raw), {k[1:]: v for k, v in renames.items() if k[0] == source})
        for path, item in doc.get("paths", {}).items():
            if _owner(path) == source:
                merged["paths"][path] = _with_security(path, item)
        for section, components in doc.get("components", {}).items():
            for name, value in components.items():
                merged["components"].setdefault(section, {})[renames[(source, section, name)]] = value
        tags.update({tag["name"]: tag for tag in doc.get("tags", [])})
    if tags:
        merged["tags"] = list(tags.values())
    return merged


def _owner(path: str) -> str:
    route = routes.resolve(path)
    return route.service if route else GATEWAY


def _component_names(sources: dict[str, dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    """(source, section, name) -> the name in the merged document."""
    found: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    for source, doc in sources.items():
        for section, components in doc.get("components", {}).items():
            for name, value in components.items():
                found[(section, name)][source] = value
    names = {}
    for (section, name), by_source in found.items():
        values = list(by_source.values())
        same = all(v == values[0] for v in values)
        for source in by_source:
            names[(source, section, name)] = name if same else f"{source.title()}{name}"
    return names


def _rewrite_refs(node: Any, renames: dict[tuple[str, str], str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            _, _, section, name = ref.split("/", 3)
            node["$ref"] = f"#/components/{section}/{renames.get((section, name), name)}"
        for value in node.values():
            _rewrite_refs(value, renames)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, renames)
    return node


def _with_security(path: str, item: dict[str, Any]) -> dict[str, Any]:
    for method in METHODS:
        operation = item.get(method)
        if operation is None:
            continue
        public = (path.startswith(GATEWAY_PUBLIC) if _owner(path) == GATEWAY
                  else routes.is_public(method.upper(), path))
        if public:
            operation["security"] = []
        elif "security" not in operation:
            operation["security"] = [{"bearerAuth": []}]
    return item
