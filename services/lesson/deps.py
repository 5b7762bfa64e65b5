"""What the lesson service's bootstrap hook (`app.bootstrap`) builds once, and the route dependency
that hands it over."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.lesson.settings import LessonSettings
from shared.app import get_deps, get_settings
from shared.people import Directory


@dataclass(frozen=True)
class LessonDeps:
    settings: LessonSettings
    directory: Directory   # asks the user service about a link not heard of yet


DepsDep = Annotated[LessonDeps, Depends(get_deps)]
SettingsDep = Annotated[LessonSettings, Depends(get_settings)]
