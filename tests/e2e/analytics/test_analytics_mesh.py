"""The same month in mesh mode, on the shared mesh: the services and a gateway as processes on
the real PostgreSQL, RabbitMQ and Redis; then `repitbot analytics rebuild` as an operator runs
it, and the same answers."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.analytics.flow import (
    answers,
    assert_exact_numbers,
    assert_pictures_and_reports,
    counted,
    seed_month,
    without_today,
)
from tests.support import eventually

REPITBOT = str(Path(sys.executable).with_name("repitbot"))


async def test_a_month_in_mesh_mode_shows_exact_numbers_and_the_same_after_the_rebuild_command(shared_mesh):
    async with shared_mesh.client() as client:
        month = await seed_month(client)

        async def profile_xp() -> dict[str, int]:
            found = {}
            for s in month.students:
                answer = await client.get(f"/api/v1/students/{s.id}/profile", headers=s.headers)
                found[s.id] = answer.json()["xp"]
            return found

        async def all_in() -> dict | None:   # every lesson counted, and the XP the student service gave
            found, xp = await answers(client, month), await profile_xp()
            done = counted(found, month) and all(found[s.id]["xp"]["total"] == xp[s.id] > 0
                                                 for s in month.students)
            return (found, xp) if done else None
        live, xp = await eventually(all_in, timeout=90, interval=0.5)
        assert_exact_numbers(live, month, xp)
        await assert_pictures_and_reports(client, month)

        analytics = shared_mesh.mesh.instances["analytics"][0]
        rebuilt = subprocess.run([REPITBOT, "analytics", "rebuild"], env={**analytics.env}, capture_output=True,
                                 text=True, timeout=120)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "rebuilt the read models from" in rebuilt.stdout
        assert without_today(await answers(client, month)) == without_today(live)
