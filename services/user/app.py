from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import FastAPI

from services.user import api, directory, service
from services.user.keys import KeyMaterial, Keyring, Tokens
from services.user.models import UserBase
from services.user.settings import UserSettings
from shared.app import ServiceSpec, create_service_app
from shared.runtime import Runtime

log = logging.getLogger(__name__)


def _keyring(app: FastAPI) -> Keyring:
    """The service verifies its own tokens with its own keys (no JWKS over HTTP)."""
    settings: UserSettings = app.state.settings
    configured = None
    if settings.jwt_private_key is not None and settings.jwt_private_key.get_secret_value():
        configured = KeyMaterial.from_private_pem(settings.jwt_private_key.get_secret_value(),
                                                  expected_algorithm=settings.jwt_algorithm)
    app.state.keyring = Keyring(app.state.session_factory, configured=configured,
                                cache_seconds=settings.signing_key_cache_seconds)
    app.state.tokens = Tokens.from_settings(app.state.keyring, settings)
    return app.state.keyring


async def _ensure_signing_key(app: FastAPI) -> None:
    keyring: Keyring = app.state.keyring
    kid = await service.ensure_signing_key(app.state.uow_factory(), app.state.tokens,
                                           configured=keyring.configured_key,
                                           algorithm=app.state.settings.jwt_algorithm)
    log.info("signing tokens with key %s", kid)


async def _purge_expired(app: FastAPI) -> None:
    while True:
        try:
            await service.purge_expired(app.state.uow_factory())
        except asyncio.CancelledError:
            raise
        except Exception:  # boundary: a housekeeping loop logs and tries again later
            log.exception("purging expired tokens failed")
        await asyncio.sleep(3600)


SPEC = ServiceSpec(
    name="user",
    metadata=UserBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=UserSettings,
    routers=[*api.routers, directory.router],
    on_startup=[_ensure_signing_key],
    background=[_purge_expired],
    key_source=_keyring,
)


def create_app(settings: UserSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or UserSettings(), runtime)
