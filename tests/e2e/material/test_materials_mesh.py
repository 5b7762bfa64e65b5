"""The same flow in mesh mode, on the shared mesh: the services and a gateway as processes on
the real PostgreSQL (tsvector search), RabbitMQ and Redis; then a fuzzing pass over the material
routes as the teacher: no 5xx."""
import anyio

from tests.e2e.conftest import link, register_and_login
from tests.e2e.material import flow
from tests.support import eventually


async def test_materials_through_the_gateway_in_mesh_mode(shared_mesh):
    async with shared_mesh.client() as client:
        teacher = await register_and_login(client, "teacher", full_name="Anna Teacher")
        student = await register_and_login(client, "student", full_name="Ivan Student")
        stranger = await register_and_login(client, "student")
        await link(client, teacher, student)

        made = await flow.upload_both(client, teacher)
        await flow.previews_shown(client, teacher, made)

        async def link_heard() -> bool:   # the material service learns of the link from its event
            found = await client.get("/api/v1/materials", params={"q": "дробь"}, headers=student.headers)
            return len(found.json()["items"]) == 2
        await eventually(link_heard, timeout=30)
        await flow.student_finds_and_downloads(client, student, made)

        async def nothing_to_settle() -> None:
            return None
        await flow.studied_earns_curious(client, student, made["Дроби.pdf"]["id"], nothing_to_settle)
        await flow.stranger_sees_nothing(client, stranger, made)

        failures = await anyio.to_thread.run_sync(flow.fuzz_material_routes, shared_mesh.gateway.url, teacher.headers)
        assert not failures, "\n\n".join(failures)
