"""The stored files of materials: one blob per distinct content (content-addressed), shared by
every material made of the same bytes, removed when no material refers to it any more."""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable

from prometheus_client import Counter
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.material.models import Material
from shared.storage import LocalStorage

log = logging.getLogger(__name__)

BLOBS_REMOVED = Counter("repitbot_material_blobs_removed_total",
                        "Stored files (originals and previews) removed once no material referred to them")


async def referenced(session: AsyncSession, key: str) -> bool:
    count = await session.scalar(select(func.count()).select_from(Material)
                                 .where(or_(Material.file_key == key, Material.thumbnail_key == key)))
    return bool(count)


async def release(session: AsyncSession, storage: LocalStorage, keys: Iterable[str | None]) -> None:
    """Remove the blobs of `keys` that no material refers to (after the commit that dropped the last one)."""
    for key in {k for k in keys if k}:
        if not await referenced(session, key) and storage.delete(key):
            BLOBS_REMOVED.inc()
            log.info("material blob %s removed: no material refers to it", key)


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data
