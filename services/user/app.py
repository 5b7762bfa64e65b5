"""The user service: what it is made of (`SPEC`), its bootstrap hook and its app."""
from __future__ import annotations

import asyncio
import logging
from typing import cast

from services.user import account_routes, api, bot_routes, directory, link_routes, service
from services.user.deps import UserDeps
from services.user.keys import KeyMaterial, Keyring, Tokens
from services.user.models import UserBase
from services.user.passwords import Argon2Parameters, HashingPool, Passwords
from services.user.settings import UserSettings
from services.user.throttle import Limits, LoginThrottle
from shared.app import ServiceContext, ServiceSpec
from shared.auth import KeySource

log = logging.getLogger(__name__)


async def bootstrap(ctx: ServiceContext) -> UserDeps:
    """The keyring (with a signing key, created on first start), tokens, the login throttle and the
    process's one password hashing pool."""
    settings = cast(UserSettings, ctx.settings)
    configured = None
    if settings.jwt_private_key is not None and settings.jwt_private_key.get_secret_value():
        configured = KeyMaterial.from_private_pem(settings.jwt_private_key.get_secret_value(),
                                                  expected_algorithm=settings.jwt_algorithm)
    keyring = Keyring(ctx.session_factory, configured=configured, cache_seconds=settings.signing_key_cache_seconds)
    tokens = Tokens.from_settings(keyring, settings)
    kid = await service.ensure_signing_key(ctx.uow_factory(), tokens, configured=keyring.configured_key,
                                           algorithm=settings.jwt_algorithm)
    log.info("signing tokens with key %s", kid)
    throttle = LoginThrottle(ctx.runtime.redis, Limits(
        window=settings.login_window_seconds, per_account_address=settings.login_max_failures_per_account_address,
        per_address=settings.login_max_failures_per_ip, backoff_after=settings.login_backoff_after_failures,
        backoff_max=settings.login_backoff_max_seconds))
    passwords = await _start_password_hashing(settings)
    return UserDeps(settings=settings, keyring=keyring, tokens=tokens, revocations=ctx.revocations,
                    throttle=throttle, passwords=passwords)


async def _start_password_hashing(settings: UserSettings) -> Passwords:
    """The hashing pool at the configured Argon2id parameters, with the dummy hash of unknown
    accounts made up front."""
    parameters = Argon2Parameters(memory_kib=settings.password_hash_memory_kib,
                                  time_cost=settings.password_hash_time_cost,
                                  parallelism=settings.password_hash_parallelism)
    pool = HashingPool(concurrency=settings.password_hash_concurrency,
                       max_waiting=settings.password_hash_max_waiting,
                       niceness=settings.password_hash_niceness)
    passwords = Passwords(parameters, pool)
    try:
        await passwords.dummy_hash()
    except BaseException:
        passwords.close()
        raise
    return passwords


async def teardown(deps: UserDeps) -> None:
    """When the service stops: the hashing pool's threads go."""
    deps.passwords.close()


def own_keys(deps: UserDeps) -> KeySource:
    """The service verifies its own tokens with its own keys (no JWKS over HTTP)."""
    return deps.keyring


async def purge_expired(ctx: ServiceContext, deps: UserDeps) -> None:
    while True:
        try:
            await service.purge_expired(ctx.uow_factory())
        except asyncio.CancelledError:
            raise
        except Exception:  # boundary: a housekeeping loop logs and tries again later
            log.exception("purging expired tokens failed")
        await asyncio.sleep(3600)


SPEC = ServiceSpec(
    name="user",
    metadata=UserBase.metadata,
    settings_class=UserSettings,
    bootstrap=bootstrap,
    routers=[*api.routers, link_routes.router, account_routes.router, bot_routes.router, directory.router],
    background=[purge_expired],
    teardown=teardown,
    key_source=own_keys,
)


create_app = SPEC.create_app
