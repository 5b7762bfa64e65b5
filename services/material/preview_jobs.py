"""The preview worker: after an upload's commit, the material's preview is made in the
service's background (`shared.background`), rendering in threads (`previews.render`), at most
`material_preview_concurrency` at once; at start, previews left pending by a stop are resumed."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
from prometheus_client import Counter
from sqlalchemy import select, update

from services.material import blobs
from services.material.domain import PreviewStatus, preview_kind
from services.material.models import Material
from services.material.previews import THUMBNAIL_TYPE, Thumbnail, Unpreviewable, render
from services.material.settings import MaterialSettings
from shared.db import UnitOfWork
from shared.storage import LocalStorage

if TYPE_CHECKING:
    from services.material.deps import MaterialDeps
    from shared.app import ServiceContext

log = logging.getLogger(__name__)

PREVIEWS = Counter("repitbot_material_previews_total",
                   "Previews attempted, by outcome (ready, reused, unavailable, failed)", ["outcome"])


class Previewer:
    def __init__(self, settings: MaterialSettings, storage: LocalStorage, uows: Callable[[], UnitOfWork]) -> None:
        self.settings = settings
        self.storage = storage
        self.uows = uows
        self.limiter = anyio.CapacityLimiter(settings.material_preview_concurrency)

    def after_commit(self, uow: UnitOfWork, material_id: uuid.UUID) -> None:
        """Make the material's preview once `uow` has committed, without the request waiting."""
        uow.after_commit(lambda: self.make(material_id))

    async def make(self, material_id: uuid.UUID) -> None:
        async with self.uows().read_only() as uow:
            material = await uow.session.get(Material, material_id)
            if material is None or material.preview_status != PreviewStatus.PENDING:
                return
            file_key, content_type = material.file_key, material.content_type
            twin = await uow.session.scalar(select(Material).where(
                Material.file_key == file_key, Material.preview_status == PreviewStatus.READY).limit(1))
        if twin is not None:   # the same bytes were previewed for another material
            await self._finish(material_id, PreviewStatus.READY, twin.thumbnail_key,
                               twin.thumbnail_width, twin.thumbnail_height, outcome="reused")
            return
        kind = preview_kind(content_type)
        if kind is None:
            await self._finish(material_id, PreviewStatus.UNAVAILABLE, outcome="unavailable")
            return
        await self._render(material_id, kind, file_key)

    async def _render(self, material_id: uuid.UUID, kind: str, file_key: str) -> None:
        try:
            with anyio.fail_after(self.settings.material_preview_timeout_seconds):
                thumb: Thumbnail = await anyio.to_thread.run_sync(
                    self._render_file, kind, file_key, limiter=self.limiter, abandon_on_cancel=True)
            stored = await self.storage.save(blobs.one_chunk(thumb.data), max_bytes=len(thumb.data) + 1)
        except Unpreviewable as exc:
            log.info("no preview for material %s: %s", material_id, exc)
            await self._finish(material_id, PreviewStatus.UNAVAILABLE, outcome="unavailable")
            return
        except Exception:  # boundary: a preview never breaks the worker, nor the material
            log.exception("preview of material %s failed", material_id)
            await self._finish(material_id, PreviewStatus.UNAVAILABLE, outcome="failed")
            return
        await self._finish(material_id, PreviewStatus.READY, stored.key, thumb.width, thumb.height,
                           outcome="ready")

    def _render_file(self, kind: str, file_key: str) -> Thumbnail:
        return render(kind, self.storage.local_path(file_key), long_side=self.settings.material_thumbnail_px,
                      max_pixels=self.settings.material_preview_max_pixels)

    async def _finish(self, material_id: uuid.UUID, status: PreviewStatus, key: str | None = None,
                      width: int | None = None, height: int | None = None, *, outcome: str) -> None:
        uow = self.uows()
        async with uow:
            done = await uow.session.execute(
                update(Material).where(Material.id == material_id, Material.preview_status == PreviewStatus.PENDING)
                .values(preview_status=status, thumbnail_key=key, thumbnail_width=width, thumbnail_height=height))
            await uow.commit()
        if done.rowcount == 0 and key:   # deleted meanwhile: the new preview may be nobody's
            async with self.uows().read_only() as uow:
                await blobs.release(uow.session, self.storage, [key])
        PREVIEWS.labels(outcome).inc()


async def resume_previews(ctx: ServiceContext, deps: MaterialDeps) -> None:
    """At start: the previews a stop interrupted are made again (a background loop that ends)."""
    previewer = deps.previewer
    async with ctx.uow_factory().read_only() as uow:
        pending = list(await uow.session.scalars(
            select(Material.id).where(Material.preview_status == PreviewStatus.PENDING)))
    for material_id in pending:
        ctx.background.start(previewer.make(material_id))


__all__ = ["THUMBNAIL_TYPE", "Previewer", "resume_previews"]
