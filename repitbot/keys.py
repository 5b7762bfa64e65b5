"""`repitbot keys generate|rotate|list`: the user service's token signing keys.

Without JWT_PRIVATE_KEY the user service keeps its keys in its database, and `rotate` makes a
new one there: it is in the JWKS at once, every user service instance signs with it within
SIGNING_KEY_CACHE_SECONDS, and the old key stays published until the last token it signed
has expired (`Tokens.retirement_delay`). With JWT_PRIVATE_KEY set, `rotate` publishes the
public half of a new key at once and prints the key: put it in JWT_PRIVATE_KEY and restart
the user service; the old key is then retired the same way.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.user import keys, service
from services.user.app import SPEC
from services.user.settings import UserSettings
from shared.db import UnitOfWork, make_engine
from shared.events import utcnow
from shared.migrations import alembic_config, ensure_database, upgrade


def generate_command() -> None:
    """Print a new Ed25519 key: the PEM, then the one-line form for `.env`."""
    pem = keys.KeyMaterial.generate("EdDSA").private_pem()
    print(pem, end="")
    print(keys.one_line_env(pem))


@contextlib.asynccontextmanager
async def _keyring(settings: UserSettings) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], keys.Tokens]]:
    url = settings.database_url_for("user")
    if url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    await ensure_database(url)
    engine = make_engine(url, pool_size=2)
    try:
        await upgrade(engine, alembic_config("user", SPEC.versions_dir, SPEC.metadata))
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        configured = None
        if settings.jwt_private_key is not None and settings.jwt_private_key.get_secret_value():
            configured = keys.KeyMaterial.from_private_pem(settings.jwt_private_key.get_secret_value(),
                                                           expected_algorithm=settings.jwt_algorithm)
        keyring = keys.Keyring(sessions, configured=configured)
        yield sessions, keys.Tokens.from_settings(keyring, settings)
    finally:
        await engine.dispose()


async def rotate_command(settings: UserSettings) -> None:
    async with _keyring(settings) as (sessions, tokens):
        if tokens.keyring.configured_key is None:
            kid = await service.rotate_signing_key(UnitOfWork(sessions, producer="user"), tokens,
                                                   algorithm=settings.jwt_algorithm)
            print(f"new signing key {kid}: published now, signing within {settings.signing_key_cache_seconds:g} s; "
                  f"the previous key stays published for {tokens.retirement_delay}")
            return
        new = keys.KeyMaterial.generate(settings.jwt_algorithm)
        async with sessions() as session:
            await keys.publish_key(session, new)
            await session.commit()
        print(f"new key {new.kid} published (not signing yet). Set it and restart the user service;", file=sys.stderr)
        print(f"the current key {tokens.keyring.configured_key.kid} stays published for "
              f"{tokens.retirement_delay} after that:", file=sys.stderr)
        print(keys.one_line_env(new.private_pem()))


async def list_command(settings: UserSettings) -> None:
    async with _keyring(settings) as (sessions, tokens):
        async with sessions() as session:
            rows = await keys.stored_keys(session)
        configured = tokens.keyring.configured_key
        signer = configured.kid if configured else next(
            (r.kid for r in rows if r.retired_at is None and r.private_pem), None)
        now = utcnow()
        for row in rows:
            if row.kid == signer:
                state = "signing" + (" (JWT_PRIVATE_KEY)" if configured else "")
            elif row.retired_at is None:
                state = "published, waiting to be set in JWT_PRIVATE_KEY"
            elif row.retired_at > now:
                state = f"published until {row.retired_at:%Y-%m-%d %H:%M:%S} UTC"
            else:
                state = f"retired {row.retired_at:%Y-%m-%d %H:%M:%S} UTC"
            print(f"{row.kid}  {row.algorithm}  created {row.created_at:%Y-%m-%d %H:%M:%S} UTC  {state}")
