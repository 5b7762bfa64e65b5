"""Alembic migrations per service: one shared env, each service's versions in its own folder."""
from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text
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
