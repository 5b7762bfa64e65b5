"""What the student service's bootstrap hook (`app.bootstrap`) builds once, and the route
dependency that hands it over."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.student.service import Gamification
from services.student.settings import StudentSettings
from shared.app import get_deps, get_settings


@dataclass(frozen=True)
class StudentDeps:
    settings: StudentSettings
    game: Gamification   # the rule book and the leaderboards


DepsDep = Annotated[StudentDeps, Depends(get_deps)]
SettingsDep = Annotated[StudentSettings, Depends(get_settings)]
