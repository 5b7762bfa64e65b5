"""What the dictionary service's bootstrap hook (`app.bootstrap`) builds once, and the route dependency
that hands it over."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.dictionary.settings import DictionarySettings
from services.dictionary.speech import Synthesiser
from shared.app import get_deps, get_settings
from shared.people import Directory


@dataclass(frozen=True)
class DictionaryDeps:
    settings: DictionarySettings
    directory: Directory          # asks the user service about a link not heard of yet
    synthesiser: Synthesiser      # espeak-ng and opusenc, for pronunciations nobody uploaded


DepsDep = Annotated[DictionaryDeps, Depends(get_deps)]
SettingsDep = Annotated[DictionarySettings, Depends(get_settings)]
