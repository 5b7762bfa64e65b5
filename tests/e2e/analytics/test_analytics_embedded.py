"""Analytics through the gateway of the embedded platform: a month of a teacher with four
students, the exact numbers of progress and overview, the charts, the CSV, who may see what, and
a rebuild from the event store that gives the same answers as live consumption."""
from __future__ import annotations

from services.analytics.projection import rebuild
from tests.e2e.analytics.flow import (
    answers,
    assert_exact_numbers,
    assert_pictures_and_reports,
    assert_who_sees_what,
    seed_month,
    without_today,
)
from tests.e2e.conftest import settle


async def test_a_seeded_month_shows_exact_numbers_charts_csv_and_the_same_after_rebuild(embedded):
    client = embedded
    month = await seed_month(client)
    await settle(client)
    published = client.app.state.runtime.bus.published
    xp = {s.id: max(e.payload["total_xp"] for e in published
                    if e.type == "xp.earned" and e.payload["student_id"] == s.id) for s in month.students}

    live = await answers(client, month)
    assert_exact_numbers(live, month, xp)
    await assert_who_sees_what(client, month)
    await assert_pictures_and_reports(client, month)

    assert await rebuild(client.app.state.service_apps["analytics"].state.session_factory) > 0
    assert without_today(await answers(client, month)) == without_today(live)
