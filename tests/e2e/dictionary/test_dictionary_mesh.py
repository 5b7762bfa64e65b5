"""The dictionary flow in mesh mode: user, dictionary and student services and a gateway as
processes on the real PostgreSQL, RabbitMQ and Redis (see `flow.py`)."""
import httpx

from tests.e2e.dictionary import flow
from tests.mesh import Mesh
from tests.support import eventually


async def test_a_teachers_word_list_studied_by_a_student_across_the_mesh(servers):
    with Mesh(servers) as mesh:
        mesh.start_services("user", "dictionary", "student", env={"DICTIONARY_FSRS_FUZZING": "false"})
        gateway = mesh.start_gateway(env={"RATE_LIMIT_PER_MINUTE": "1000"})
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30.0, trust_env=False) as client:
            async def settled() -> None:   # a share confirms an unheard-of link with the user service
                return None

            async def until(check) -> None:
                await eventually(check, timeout=30)

            await flow.run(client, settle=settled, until=until)
