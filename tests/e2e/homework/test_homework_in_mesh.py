"""Homework in mesh mode, on the shared mesh: the gateway and the services as separate processes
on PostgreSQL and RabbitMQ. The main flow, then a 50 MB submission that streams through the
gateway and the homework service (their memory measured), one byte more (413, no new blob) and
an executable named .pdf (415)."""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import httpx

from tests.e2e.conftest import link, register_and_login
from tests.e2e.gateway.test_gateway_mesh import PeakMemory
from tests.e2e.homework.helpers import ELF, assign, main_flow, submit, xp_by_rule
from tests.support import eventually

MB = 1024 * 1024
LIMIT = 50 * MB   # HOMEWORK_MAX_UPLOAD_BYTES


def blobs(folder: Path) -> set[str]:
    return {p.name for p in folder.rglob("*") if p.is_file() and p.parent.name != "tmp"}


class BigPdf:
    """A multipart body of one `size`-byte file that starts like a PDF, made as it is sent."""

    def __init__(self, size: int) -> None:
        self.boundary = uuid.uuid4().hex
        self.head = (f'--{self.boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.pdf"\r\n'
                     "Content-Type: application/pdf\r\n\r\n").encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.size, self.block = size, os.urandom(MB)
        self.sha256 = hashlib.sha256()

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": f"multipart/form-data; boundary={self.boundary}",
                "Content-Length": str(len(self.head) + self.size + len(self.tail))}

    async def body(self):
        yield self.head
        sent = 0
        while sent < self.size:
            chunk = (b"%PDF-1.7\n" + self.block[9:] if sent == 0 else self.block)[: self.size - sent]
            self.sha256.update(chunk)
            sent += len(chunk)
            yield chunk
        yield self.tail


async def test_homework_flow_and_a_50_mb_submission_streaming_through_the_mesh(shared_mesh):
    gateway = shared_mesh.gateway
    homework_process = shared_mesh.mesh.instances["homework"][0]
    storage = Path(homework_process.env["STORAGE_DIR"])
    async with shared_mesh.client(timeout=60.0) as client:
        teacher = await register_and_login(client, "teacher")
        student = await register_and_login(client, "student")
        stranger = await register_and_login(client, "teacher")
        await link(client, teacher, student)

        graded = await main_flow(client, teacher, student)
        assert (await client.get(f"/api/v1/homework/{graded['id']}", headers=stranger.headers)).status_code == 404

        async def xp_and_diligent() -> bool:
            history = await client.get(f"/api/v1/students/{student.id}/xp-history", headers=student.headers)
            achievements = await client.get(f"/api/v1/students/{student.id}/achievements",
                                            headers=student.headers)
            diligent = next(a for a in achievements.json()["items"] if a["code"] == "diligent")
            return (xp_by_rule(history.json()) == {"homework_submitted": 50, "homework_graded": 50,
                                                   "achievement:diligent": 50}
                    and diligent["earned_at"] is not None)
        await eventually(xp_and_diligent, timeout=30)
        await eventually(lambda: _told(client, teacher, "homework_submitted"), timeout=30)
        await eventually(lambda: _told(client, student, "homework_graded"), timeout=30)

        # 50 MB streams: neither the gateway nor the homework service holds it
        homework = (await assign(client, teacher, student.id)).json()
        url = f"/api/v1/homework/{homework['id']}/submissions"
        big = BigPdf(LIMIT)
        with PeakMemory(gateway.pid) as gateway_memory, PeakMemory(homework_process.pid) as service_memory:
            uploaded = await client.post(url, content=big.body(), headers={**student.headers, **big.headers})
        assert uploaded.status_code == 201, uploaded.text
        stored = uploaded.json()["submissions"][-1]["files"][0]
        assert (stored["size"], stored["sha256"], stored["content_type"]) == (
            LIMIT, big.sha256.hexdigest(), "application/pdf")
        assert gateway_memory.growth < 15 * MB, f"gateway grew by {gateway_memory.growth / MB:.1f} MB"
        assert service_memory.growth < 15 * MB, f"homework grew by {service_memory.growth / MB:.1f} MB"

        file_url = f"/api/v1/homework/{homework['id']}/files/{stored['id']}"
        digest = hashlib.sha256()
        with PeakMemory(gateway.pid) as download_memory:
            async with client.stream("GET", file_url, headers=teacher.headers) as download:
                async for piece in download.aiter_raw():
                    digest.update(piece)
        assert download.status_code == 200 and digest.hexdigest() == stored["sha256"]
        assert download_memory.growth < 15 * MB, f"gateway grew by {download_memory.growth / MB:.1f} MB"
        tail = await client.get(file_url, headers={**teacher.headers, "Range": "bytes=-10"})
        assert (tail.status_code, tail.headers["content-range"], len(tail.content)) == (
            206, f"bytes {LIMIT - 10}-{LIMIT - 1}/{LIMIT}", 10)

        before = blobs(storage)
        too_big = BigPdf(LIMIT + 1)
        refused = await client.post(url, content=too_big.body(), headers={**student.headers, **too_big.headers})
        assert refused.status_code == 413, refused.text
        renamed = await submit(client, student, homework["id"], [("task.pdf", ELF)])
        assert renamed.status_code == 415, renamed.text
        assert blobs(storage) == before
        after = (await client.get(f"/api/v1/homework/{homework['id']}", headers=student.headers)).json()
        assert len(after["submissions"]) == 1


async def _told(client: httpx.AsyncClient, person, kind: str) -> bool:
    inbox = await client.get("/api/v1/notifications", headers=person.headers)
    return kind in {n["kind"] for n in inbox.json()["items"]}
