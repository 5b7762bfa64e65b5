"""Alembic migrations per service: one shared env, each service's versions in its own folder."""
from __future__ import annotations

import zlib
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

ENV_DIR = Path(__file__).parent / "alembic"


def alembic_config(service: str, versions_dir: Path, metadata: MetaData) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ENV_DIR))
    config.set_main_option("version_locations", str(versions_dir))
    config.set_main_option("path_separator", "os")
    config.attributes["target_metadata"] = metadata
    config.attributes["service"] = service
    return config


async def ensure_database(url: str) -> None:
    """Create the service's PostgreSQL database when it does not exist yet (needs CREATEDB)."""
    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        return
    server = dict(host=target.host, port=target.port or 5432, user=target.username,
                  password=target.password, database="postgres")
    conn = await asyncpg.connect(**server)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database):
            try:
                await conn.execute(f'CREATE DATABASE "{target.database}"')
            except asyncpg.DuplicateDatabaseError:
                pass                      # another instance created it at the same moment
    finally:
        await conn.close()


async def upgrade(engine: AsyncEngine, config: Config) -> None:
    """Bring the database to head; concurrent instances wait on an advisory lock."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            lock_id = zlib.crc32(config.attributes["service"].encode())
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})

        def _upgrade(sync_conn) -> None:
            config.attributes["connection"] = sync_conn
            command.upgrade(config, "head")

        await conn.run_sync(_upgrade)


async def make_revision(engine: AsyncEngine, config: Config, message: str) -> None:
    """Autogenerate a new revision against a database at head (a developer's command)."""
    await upgrade(engine, config)
    async with engine.begin() as conn:
        def _revision(sync_conn) -> None:
            config.attributes["connection"] = sync_conn
            command.revision(config, message=message, autogenerate=True)

        await conn.run_sync(_revision)
