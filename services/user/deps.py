"""What the user service's bootstrap hook (`app.bootstrap`) builds once, and the route dependency
that hands it over."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.user.keys import Keyring, Tokens
from services.user.settings import UserSettings
from services.user.throttle import LoginThrottle
from shared.app import get_deps, get_settings
from shared.auth import RedisRevocationList


@dataclass(frozen=True)
class UserDeps:
    settings: UserSettings
    keyring: Keyring             # the signing keys; the service verifies its own tokens with them
    tokens: Tokens               # issues access and refresh tokens
    revocations: RedisRevocationList
    throttle: LoginThrottle


DepsDep = Annotated[UserDeps, Depends(get_deps)]
SettingsDep = Annotated[UserSettings, Depends(get_settings)]
