"""The dictionary service's event handlers: each translates one event into a use case call. The
shared app subscribes the queue `dictionary.events` to the types registered here (none yet)."""
from __future__ import annotations

from services.dictionary.deps import DictionaryDeps
from shared.inbox import Handlers


def dictionary_handlers(deps: DictionaryDeps) -> Handlers:
    """Every handler of the service, by event type."""
    return Handlers()
