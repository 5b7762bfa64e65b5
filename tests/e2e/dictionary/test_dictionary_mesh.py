"""The dictionary flow in mesh mode, on the shared mesh: the services and a gateway as processes
on the real PostgreSQL, RabbitMQ and Redis (see `flow.py`)."""
from tests.e2e.dictionary import flow
from tests.support import eventually


async def test_a_teachers_word_list_studied_by_a_student_across_the_mesh(shared_mesh):
    async with shared_mesh.client() as client:
        async def settled() -> None:   # a share confirms an unheard-of link with the user service
            return None

        async def until(check) -> None:
            await eventually(check, timeout=30)

        await flow.run(client, settle=settled, until=until)
