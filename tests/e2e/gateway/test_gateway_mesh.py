"""The gateway in mesh mode: real processes, real Redis, stand-in upstreams."""
import hashlib
import os
import threading
import time
import uuid

import httpx
import jwt
import psutil
import redis

from shared.auth import RedisRevocationList
from tests.support import TestKeys, eventually
from tests.upstream_app import BLOCK

MB = 1024 * 1024


def client(process) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=process.url, timeout=30.0, trust_env=False)


async def test_the_101st_request_in_a_minute_is_429_and_two_gateways_share_the_count(gateway_mesh):
    headers = gateway_mesh.keys.headers(uuid.uuid4(), "student")
    async with client(gateway_mesh.gateway) as first, client(gateway_mesh.second_gateway) as second:
        answers = [await (first if i % 2 else second).get("/api/v1/decks", headers=headers) for i in range(100)]
        refused = await first.get("/api/v1/decks", headers=headers)
        refused_too = await second.get("/api/v1/decks", headers=headers)
        someone_else = await second.get("/api/v1/decks", headers=gateway_mesh.keys.headers(uuid.uuid4(), "student"))
    assert {a.status_code for a in answers} == {200}
    assert answers[0].headers["ratelimit-limit"] == "100" and answers[-1].headers["ratelimit-remaining"] == "0"
    assert refused.status_code == 429 and refused_too.status_code == 429
    assert refused.headers["ratelimit-limit"] == "100" and refused.headers["ratelimit-remaining"] == "0"
    assert 0 < int(refused.headers["retry-after"]) <= 60 and 0 < int(refused.headers["ratelimit-reset"]) <= 60
    assert refused.headers["content-type"] == "application/problem+json"
    assert someone_else.status_code == 200


async def test_a_stopped_upstream_opens_the_breaker_everywhere_until_one_success_closes_it(gateway_mesh):
    mesh, keys = gateway_mesh.mesh, gateway_mesh.keys
    admin = keys.headers(uuid.uuid4(), "admin")
    material = mesh.instances["material"][0]
    async with client(gateway_mesh.gateway) as gw, client(gateway_mesh.second_gateway) as other:
        assert (await gw.get("/api/v1/materials", headers=admin)).status_code == 200
        mesh.stop("material")
        failures = [await gw.get("/api/v1/materials", headers=admin) for _ in range(5)]
        mesh.restart(material)                 # back, but the breaker does not know yet
        refused = await gw.get("/api/v1/materials", headers=admin)
        services = (await gw.get("/gateway/services", headers=admin)).json()

        async def other_refuses():
            return (await other.get("/api/v1/materials", headers=admin)).status_code == 503
        await eventually(other_refuses, timeout=8, interval=0.5)   # gently: the rate limit counts too
        async with httpx.AsyncClient(base_url=material.url, trust_env=False) as direct:
            untouched = (await direct.get("/_stats")).json()["requests"]

        async def trial_passes():               # refused until the recovery timeout, then the trial
            return (await gw.get("/api/v1/materials", headers=admin)).status_code == 200
        await eventually(trial_passes, timeout=30, interval=0.5)
        after = (await gw.get("/gateway/services", headers=admin)).json()["material"]["breaker"]

        async def other_closed():
            return (await other.get("/api/v1/materials", headers=admin)).status_code == 200
        await eventually(other_closed, timeout=3, interval=0.5)
    assert [f.status_code for f in failures] == [502] * 5
    assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
    assert refused.headers["content-type"] == "application/problem+json"
    assert services["material"]["breaker"]["state"] == "open"
    assert untouched == 0                       # the restarted upstream saw none of the refused calls
    assert after["state"] == "closed"


async def test_requests_keep_succeeding_when_one_of_two_instances_is_killed(gateway_mesh):
    mesh, keys = gateway_mesh.mesh, gateway_mesh.keys
    headers = keys.headers(uuid.uuid4(), "teacher")
    doomed, survivor = mesh.instances["notification"]
    async with client(gateway_mesh.gateway) as gw:
        before = {(await gw.get("/api/v1/notifications", headers=headers)).json()["instance"] for _ in range(4)}
        mesh.kill(doomed)
        after = [await gw.get("/api/v1/notifications", headers=headers) for _ in range(30)]
        services = (await gw.get("/gateway/services", headers=keys.headers(uuid.uuid4(), "admin"))).json()
    assert before == {f"notification-{doomed.port}", f"notification-{survivor.port}"}
    assert {a.status_code for a in after} == {200}
    assert {a.json()["instance"] for a in after} == {f"notification-{survivor.port}"}
    ejected = {i["url"]: i["ejected"] for i in services["notification"]["instances"]}
    assert ejected == {doomed.url: True, survivor.url: False}
    assert services["notification"]["breaker"]["state"] == "closed"


def _bad_tokens(keys: TestKeys) -> dict[str, str]:
    now = int(time.time())
    unsigned = {"sub": str(uuid.uuid4()), "role": "admin", "iss": "repitbot", "aud": "repitbot-api",
                "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}
    return {
        "forged": TestKeys(kid=keys.kid).token(uuid.uuid4(), "admin"),
        "expired": keys.token(uuid.uuid4(), "student", ttl=-5),
        "alg none": jwt.encode(unsigned, key=None, algorithm="none", headers={"kid": keys.kid}),
        "wrong audience": keys.token(uuid.uuid4(), "student", aud="another-api"),
    }


async def test_forged_expired_unsigned_foreign_and_revoked_tokens_are_401(gateway_mesh, servers):
    keys = gateway_mesh.keys
    revoked = keys.token(uuid.uuid4(), "student")
    claims = jwt.decode(revoked, options={"verify_signature": False})
    async with client(gateway_mesh.gateway) as gw:
        accepted = await gw.get("/api/v1/decks", headers={"Authorization": f"Bearer {revoked}"})
        store = redis.asyncio.from_url(servers.redis_url, decode_responses=True)
        await RedisRevocationList(store).revoke(claims["jti"], claims["exp"])
        await store.aclose()
        # the gateway learns of the revocation from Redis within milliseconds; it is asked last
        answers = {kind: await gw.get("/api/v1/decks", headers={"Authorization": f"Bearer {token}"})
                   for kind, token in {**_bad_tokens(keys), "revoked": revoked}.items()}
    assert accepted.status_code == 200
    for kind, answer in answers.items():
        assert answer.status_code == 401, kind
        assert answer.headers["www-authenticate"].startswith("Bearer"), kind
        assert answer.headers["content-type"] == "application/problem+json", kind


class PeakMemory:
    """Samples a process's resident memory in a thread; `peak - baseline` is the growth."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.baseline = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def _numbered_chunks(count: int) -> list[bytes]:
    block = os.urandom(MB)
    return [i.to_bytes(4, "big") + block[4:] for i in range(count)]


async def test_a_50_mb_upload_and_download_stream_through_with_flat_gateway_memory(gateway_mesh):
    headers = gateway_mesh.keys.headers(uuid.uuid4(), "student")
    chunks = _numbered_chunks(50)
    expected = hashlib.sha256(b"".join(chunks)).hexdigest()
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def body():
        yield head
        for chunk in chunks:
            yield chunk
        yield tail

    length = len(head) + 50 * MB + len(tail)
    async with client(gateway_mesh.gateway) as gw:
        await gw.get("/api/v1/homework/warm-up", headers=headers)
        with PeakMemory(gateway_mesh.gateway.pid) as upload_memory:
            uploaded = await gw.post("/api/v1/homework/1/upload", content=body(), headers={
                **headers, "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length)})
        digest, size = hashlib.sha256(), 0
        with PeakMemory(gateway_mesh.gateway.pid) as download_memory:
            async with gw.stream("GET", f"/api/v1/homework/1/download?size={50 * MB}", headers=headers) as down:
                async for piece in down.aiter_raw():
                    digest.update(piece)
                    size += len(piece)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["files"] == [{"filename": "big.bin", "size": 50 * MB, "sha256": expected}]
    assert upload_memory.growth < 15 * MB, f"gateway grew by {upload_memory.growth / MB:.1f} MB"
    pattern = hashlib.sha256(BLOCK * (50 * MB // len(BLOCK))).hexdigest()
    assert down.status_code == 200 and size == 50 * MB and digest.hexdigest() == pattern
    assert download_memory.growth < 15 * MB, f"gateway grew by {download_memory.growth / MB:.1f} MB"


async def test_a_stored_file_goes_up_and_comes_back_by_ranges_through_the_gateway(gateway_mesh):
    """The file kit behind the gateway: a 20 MB form part saved, then read back whole, by range,
    by ETag and by HEAD, with the conditional headers and the 206/304/416 answers passed through
    and the gateway's memory growing by a fraction of the file."""
    headers = gateway_mesh.keys.headers(uuid.uuid4(), "teacher")
    data = b"".join(_numbered_chunks(20))
    key = hashlib.sha256(data).hexdigest()
    url = f"/api/v1/materials/files/{key}"
    async with client(gateway_mesh.gateway) as gw:
        await gw.get("/api/v1/materials/warm-up", headers=headers)
        with PeakMemory(gateway_mesh.gateway.pid) as memory:
            stored = await gw.post("/api/v1/materials/store", headers=headers, data={"title": "Урок"},
                                   files={"file": ("Урок 1.pdf", data, "application/octet-stream")})
            async with gw.stream("GET", url, headers=headers, params={"name": "Урок 1.pdf"}) as whole:
                digest = hashlib.sha256()
                async for piece in whole.aiter_raw():
                    digest.update(piece)
        part = await gw.get(url, headers={**headers, "Range": "bytes=1048570-1048579", "If-Range": f'"{key}"'})
        cached = await gw.get(url, headers={**headers, "If-None-Match": f'"{key}"'})
        beyond = await gw.get(url, headers={**headers, "Range": f"bytes={len(data)}-"})
        head = await gw.head(url, headers=headers)
        await gw.delete(url, headers=headers)
    assert stored.status_code == 201, stored.text
    assert stored.json() == {"files": [{"filename": "Урок 1.pdf", "key": key, "size": 20 * MB}],
                             "fields": {"title": "Урок"}}
    assert whole.status_code == 200 and digest.hexdigest() == key
    assert whole.headers["content-length"] == str(20 * MB) and whole.headers["etag"] == f'"{key}"'
    assert whole.headers["content-disposition"].endswith("filename*=UTF-8''%D0%A3%D1%80%D0%BE%D0%BA%201.pdf")
    assert memory.growth < 20 * MB * 0.5, f"gateway grew by {memory.growth / MB:.1f} MB"
    assert part.status_code == 206 and part.content == data[1048570:1048580]
    assert part.headers["content-range"] == f"bytes 1048570-1048579/{20 * MB}"
    assert part.headers["accept-ranges"] == "bytes"
    assert cached.status_code == 304 and cached.content == b""
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{20 * MB}"
    assert head.status_code == 200 and head.headers["content-length"] == str(20 * MB) and head.content == b""


async def test_platform_health_shows_each_service_and_its_latency(gateway_mesh):
    async with client(gateway_mesh.gateway) as gw:
        health = await gw.get("/health")
        ready = await gw.get("/health/ready")
    services = health.json()["services"]
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert services["dictionary"]["status"] == "ok" and services["dictionary"]["latency_ms"] > 0
    assert services["lesson"]["status"] == "down"
    assert ready.status_code == 200 and ready.json()["checks"]["redis"]["status"] == "ok"
    assert health.headers["x-correlation-id"]


async def test_gateway_metrics_cover_routes_upstreams_breakers_and_limits(gateway_mesh):
    async with client(gateway_mesh.gateway) as gw:
        # one proxied request of its own, so that the test does not lean on the ones before it
        proxied = await gw.get("/api/v1/decks", headers=gateway_mesh.keys.headers(uuid.uuid4(), "student"))
        assert proxied.status_code == 200, proxied.text
        text = (await gw.get("/gateway/metrics")).text
    for name in ("repitbot_http_requests_total", "repitbot_gateway_upstream_duration_seconds_bucket",
                 "repitbot_gateway_upstream_errors_total", "repitbot_gateway_breaker_state",
                 "repitbot_gateway_rate_limited_total"):
        assert name in text, name
    assert 'route="/api/v1/decks"' in text
