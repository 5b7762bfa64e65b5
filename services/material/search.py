"""Full-text search over a material's title, tags and description, in Russian and English,
behind one small interface with one implementation per database:

- PostgreSQL: the generated `tsvector` column `materials.search_vector` (made by the migration:
  title weighted A, tags B, description C, each under the `russian` and the `english`
  configuration) and its GIN index; a query is `websearch_to_tsquery` under both
  configurations, ranked by `ts_rank`.
- SQLite (embedded mode): the FTS5 table `material_search`, which the service fills with the
  Snowball stems of each word (the same stemmers PostgreSQL's configurations use: Russian for
  Cyrillic words, English for the rest); a query matches each stem as a prefix, ranked by
  `bm25` with the same weights.

`matches(q)` is a subquery of `(material_id, rank)`, higher rank first; `index` and `forget` keep
the index in step with the table, inside the caller's transaction (a no-op on PostgreSQL, where
the database computes the column itself).
"""
from __future__ import annotations

import re
import uuid
from functools import lru_cache
from typing import Protocol

import snowballstemmer
from sqlalchemy import Float, Subquery, column, delete, func, insert, literal_column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from services.material.models import SEARCH_COLUMN, SEARCH_TABLE, Material

QUERY_WORDS_MAX = 16
WORD = re.compile(r"\w+", re.UNICODE)
CYRILLIC = re.compile(r"[\u0400-\u04ff]")


class Search(Protocol):
    def matches(self, q: str) -> Subquery | None:
        """Materials matching `q` as `(material_id, rank)`; None when `q` has no words."""

    async def index(self, session: AsyncSession, material: Material) -> None:
        """Make the material findable by its current title, tags and description."""

    async def forget(self, session: AsyncSession, material_id: uuid.UUID) -> None:
        """The material is gone: no search finds it."""


def search_for(dialect: str) -> Search:
    return PostgresSearch() if dialect == "postgresql" else SqliteSearch()


def words(text: str) -> list[str]:
    return WORD.findall(text.lower().replace("ё", "е"))


@lru_cache(maxsize=2)
def _stemmer(language: str) -> snowballstemmer.Stemmer:
    return snowballstemmer.stemmer(language)


def stem(word: str) -> str:
    return _stemmer("russian" if CYRILLIC.search(word) else "english").stemWord(word)


def stems(text: str | None) -> str:
    return " ".join(stem(word) for word in words(text or ""))


class PostgresSearch:
    document = literal_column(f"materials.{SEARCH_COLUMN}")

    def matches(self, q: str) -> Subquery | None:
        if not words(q):
            return None
        query = func.websearch_to_tsquery(literal_column("'russian'::regconfig"), q).op("||")(
            func.websearch_to_tsquery(literal_column("'english'::regconfig"), q))
        return (select(Material.id.label("material_id"),
                       func.ts_rank(self.document, query, type_=Float).label("rank"))
                .where(self.document.op("@@")(query)).subquery("found"))

    async def index(self, session: AsyncSession, material: Material) -> None:
        return None   # a generated column: PostgreSQL keeps it

    async def forget(self, session: AsyncSession, material_id: uuid.UUID) -> None:
        return None


fts = table(SEARCH_TABLE, column("title"), column("keywords"), column("description"), column("material_id"))


class SqliteSearch:
    # bm25 is lower for a better match; the weights follow the columns: title, tags, description
    rank = -func.bm25(literal_column(SEARCH_TABLE), 10.0, 5.0, 1.0, 0.0, type_=Float)

    def matches(self, q: str) -> Subquery | None:
        found = words(q)[:QUERY_WORDS_MAX]
        if not found:
            return None
        expression = " ".join(f'"{stem(word)}"*' for word in found)   # \w+ words hold no quote
        return (select(fts.c.material_id.label("material_id"), self.rank.label("rank"))
                .where(literal_column(SEARCH_TABLE).op("MATCH")(expression)).subquery("found"))

    async def index(self, session: AsyncSession, material: Material) -> None:
        await self.forget(session, material.id)
        await session.execute(insert(fts).values(
            material_id=str(material.id.hex), title=stems(material.title), keywords=stems(material.keywords),
            description=stems(material.description)))

    async def forget(self, session: AsyncSession, material_id: uuid.UUID) -> None:
        await session.execute(delete(fts).where(fts.c.material_id == material_id.hex))
