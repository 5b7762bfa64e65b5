"""What the material service's bootstrap hook (`app.bootstrap`) builds once, and the route
dependencies that hand it over."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.material.preview_jobs import Previewer
from services.material.search import Search
from services.material.settings import MaterialSettings
from shared.app import get_deps, get_settings
from shared.db import UnitOfWork
from shared.people import Directory
from shared.storage import LocalStorage


@dataclass(frozen=True)
class MaterialDeps:
    settings: MaterialSettings
    directory: Directory    # asks the user service about a link not heard of yet
    search: Search          # full-text search of the service's database (PostgreSQL or SQLite)
    previewer: Previewer    # makes previews after uploads' commits
    storage: LocalStorage   # the service's files (for work outside a request)
    uows: Callable[[], UnitOfWork]


DepsDep = Annotated[MaterialDeps, Depends(get_deps)]
SettingsDep = Annotated[MaterialSettings, Depends(get_settings)]
