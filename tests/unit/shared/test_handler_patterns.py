"""Handlers registered under a topic pattern (`#`, `lesson.*`) are the handlers of every type the
pattern matches, besides those registered under the type itself."""
from shared.inbox import Handlers, handler_name


async def everything(uow, events):
    return None


async def lessons(uow, event):
    return None


async def completed(uow, event):
    return None


def test_a_pattern_handler_handles_every_type_it_matches_and_binds_the_pattern():
    handlers = Handlers()
    handlers.on_batch("#")(everything)
    handlers.on("lesson.*")(lessons)
    handlers.on("lesson.completed")(completed)
    assert handlers.routing_keys == ["#", "lesson.*", "lesson.completed"]
    assert handlers.handlers_of("lesson.completed") == [completed, lessons]
    assert handlers.handlers_of("homework.graded") == []
    assert handlers.batch_handlers_of("homework.graded") == [everything]
    assert handlers.names("lesson.scheduled") == [handler_name(lessons), handler_name(everything)]
    assert handlers.names("user.teacher_linked") == [handler_name(everything)]
