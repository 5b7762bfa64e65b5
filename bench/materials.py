"""What the material service's heavy parts cost, in embedded mode (SQLite, in-process):

    python -m bench.materials [--materials 500] [--upload-mb 20]

- previews: rendering a 12-megapixel JPEG photo and an A4 PDF page to a 320 px WebP
  (`previews.render`, the work of one preview thread), median of 10;
- upload: one file of `--upload-mb` MB through the service's route in-process (the multipart
  parser, hashing, type sniffing and the write to storage; the ASGI transport hands the body over
  at once, so memory is not measured here: the file kit's gateway test does that);
- search: `q` over `--materials` materials of one teacher (FTS5 with Snowball stems), median of 50.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from services.material.app import create_app
from services.material.previews import render
from services.material.settings import MaterialSettings
from shared.bus import InMemoryBus
from shared.redis_factory import make_redis
from shared.runtime import Runtime
from tests.material_files import jpeg, pdf
from tests.support import TestKeys, running

WORDS = ["дроби", "проценты", "уравнения", "геометрия", "present simple", "past perfect", "vocabulary",
         "reading", "функции", "периметр", "phrasal verbs", "listening"]


def bench_previews(tmp: Path) -> dict[str, float]:
    photo, page = tmp / "photo.jpg", tmp / "page.pdf"
    photo.write_bytes(jpeg(4000, 3000))
    page.write_bytes(pdf(595, 842))
    timings = {}
    for kind, path in (("image", photo), ("pdf", page)):
        runs = []
        for _ in range(10):
            started = time.perf_counter()
            render(kind, path, long_side=320, max_pixels=50_000_000)
            runs.append(time.perf_counter() - started)
        timings[kind] = statistics.median(runs) * 1000
    return timings


async def bench_service(tmp: Path, materials: int, upload_mb: int) -> dict[str, float]:
    keys = TestKeys()
    settings = MaterialSettings(environment="test", var_dir=tmp, material_max_bytes=(upload_mb + 1) * 2**20)
    app = create_app(settings, Runtime(bus=InMemoryBus(), redis=make_redis(None), key_source=keys))
    teacher = keys.headers(uuid.uuid4(), "teacher")
    async with running(app) as client:
        big = b"x" * (upload_mb * 2**20)
        started = time.perf_counter()
        uploaded = await client.post("/api/v1/materials", headers=teacher, timeout=120,
                                     data={"title": "Recording", "subject": "English"},
                                     files={"file": ("big.txt", big)})
        upload_s = time.perf_counter() - started
        assert uploaded.status_code == 201, uploaded.text
        for i in range(materials):
            title = f"{WORDS[i % len(WORDS)]} {i}"
            response = await client.post("/api/v1/materials", headers=teacher, files={"file": ("n.txt", title.encode())},
                                         data={"title": title, "subject": "Maths", "tags": WORDS[(i + 3) % len(WORDS)],
                                               "description": " ".join(WORDS[(i + 5) % len(WORDS):])})
            assert response.status_code == 201, response.text
        await app.state.background.settle()
        runs = []
        for i in range(50):
            started = time.perf_counter()
            found = await client.get("/api/v1/materials", headers=teacher, params={"q": WORDS[i % len(WORDS)]})
            runs.append(time.perf_counter() - started)
            assert found.status_code == 200 and found.json()["items"]
    return {"upload_mb_s": upload_mb / upload_s, "search_ms": statistics.median(runs) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--materials", type=int, default=500)
    parser.add_argument("--upload-mb", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        previews = bench_previews(Path(tmp))
        service = asyncio.run(bench_service(Path(tmp), args.materials, args.upload_mb))
    print(f"preview of a 12 MP JPEG: {previews['image']:.0f} ms; of an A4 PDF page: {previews['pdf']:.0f} ms")
    print(f"upload of {args.upload_mb} MB: {service['upload_mb_s']:.0f} MB/s")
    print(f"search over {args.materials} materials (SQLite FTS5): median {service['search_ms']:.1f} ms")


if __name__ == "__main__":
    main()
