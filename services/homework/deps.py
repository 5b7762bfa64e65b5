"""What the homework service's bootstrap hook (`app.bootstrap`) builds once, and the route dependency
that hands it over."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.homework.settings import HomeworkSettings
from shared.app import get_deps, get_settings
from shared.people import Directory


@dataclass(frozen=True)
class HomeworkDeps:
    settings: HomeworkSettings
    directory: Directory   # asks the user service about a link not heard of yet


DepsDep = Annotated[HomeworkDeps, Depends(get_deps)]
SettingsDep = Annotated[HomeworkSettings, Depends(get_settings)]
