"""The dictionary through the gateway of the embedded platform (see `flow.py`)."""
from tests.e2e.conftest import settle
from tests.e2e.dictionary import flow


async def test_a_teachers_word_list_studied_by_a_student_with_fsrs_xp_audio_and_anki_export(embedded):
    async def until(check):
        await settle(embedded)
        assert await check()

    await flow.run(embedded, settle=lambda: settle(embedded), until=until)
