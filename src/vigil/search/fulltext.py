"""Full-text search: `catch_up` indexes new ledger events, `search` answers queries.

The same on both databases: texts are normalised by Vigil (`vigil.search.arabic`)
before either engine sees them, so SQLite FTS5 (``unicode61``) and PostgreSQL
(``to_tsvector('simple', …)``) split them into the same tokens, and a query matches
the same texts on both. Only the ranking differs (bm25 and ts_rank).

Query language: words must all occur in one text (``قصف حلب``); ``"a phrase"``;
``word*`` for a prefix. Every word is normalised like the texts, so أحمد finds
احمد and Ahmed finds AHMED.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, insert, select, text

from vigil.db.index import ItemRow, lock_progress, set_progress
from vigil.db.schema import events, search_items, search_texts
from vigil.errors import InputError
from vigil.events import DERIVATIVE_ADDED, ITEM_ADDED
from vigil.search.arabic import spans, tokens
from vigil.search.documents import Facets, facets_of, text_of
from vigil.search.facets import date_range, facet, facet_tokens, range_tokens

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["Filters", "Hit", "catch_up", "search"]

SIZE_KEY = "search_size"
BATCH = 2_000
SNIPPET = 80  # characters each side of the first match


@dataclass(frozen=True)
class Filters:
    since: str | None = None  # RFC 3339 or a date prefix, inclusive
    until: str | None = None  # inclusive (a date covers the whole day)
    by: str = "posted"  # "posted" (claimed by the platform) or "captured" (observed)
    platform: str | None = None
    source: str | None = None  # substring of the chat, author or host, any case
    language: str | None = None  # detected language (ISO 639-1)
    kind: str | None = None  # item kind: post, page, media, file, ...
    media_type: str | None = None  # prefix: "image/", "video/mp4"
    box: tuple[float, float, float, float] | None = None  # south, west, north, east
    items: frozenset[str] | None = None  # only these items (a near-duplicate cluster)


@dataclass
class Hit:
    item: ItemRow
    field: str
    snippet: str
    language: str | None
    rank: float
    facets: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "sha256": self.item.sha256,
            "kind": self.item.kind,
            "url": self.item.url,
            "name": self.item.name,
            "field": self.field,
            "language": self.language,
            "snippet": self.snippet,
            "posted_claimed": self.facets.get("posted"),
            "captured": self.facets.get("captured"),
            "platform": self.facets.get("platform"),
            "source": self.facets.get("source"),
        }


# -- indexing -----------------------------------------------------------------------


def _facets(conn: Connection, ids: Iterable[str]) -> dict[str, Facets]:
    """The filter fields of these items (parents, while indexing; hits, when answering)."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(
        select(search_items).where(search_items.c.item_id.in_(bindparam("ids", expanding=True))),
        {"ids": wanted},
    )
    return {r.item_id: Facets(**r._mapping) for r in rows}


def catch_up(archive: Archive, progress: Callable[[int, int], None] | None = None) -> int:
    """Index every ledger event the search index has not seen; return how many were read."""
    engine = archive.index.engine
    total = archive.index.ledger_size()
    read = 0

    def read_text(sha256: str, limit: int) -> str:
        with archive.blobs.open(sha256) as f:
            return f.read(limit * 4).decode("utf-8", errors="replace")[:limit]

    while True:
        with engine.begin() as conn:
            start = lock_progress(conn, SIZE_KEY)
            rows = conn.execute(
                select(events.c.idx, events.c.entry)
                .where(events.c.idx >= start)
                .order_by(events.c.idx)
                .limit(BATCH)
            ).all()
            if not rows:
                return read
            datas = [(int(idx), json.loads(entry)) for idx, entry in rows]
            parents = _facets(conn, (d.get("parent") or d.get("of") or "" for _, d in datas))
            new_items, texts = [], []
            for idx, data in datas:
                if data.get("type") in (ITEM_ADDED, DERIVATIVE_ADDED):
                    parent = parents.get(str(data.get("parent") or data.get("of") or ""))
                    facets = facets_of(data, parent)
                    parents[facets.item_id] = facets
                    new_items.append(facets.row())
                found = text_of(idx, data, read_text)
                if found is not None:
                    row = found.row()
                    item = parents.get(found.item_id)
                    if item is not None:
                        row["facets"] = facet_tokens(
                            posted=item.posted, captured=item.captured, platform=item.platform,
                            kind=item.kind, language=found.language, media_type=item.media_type,
                        )  # fmt: skip
                    texts.append(row)
            if new_items:
                conn.execute(insert(search_items), new_items)
            if texts:
                first = conn.execute(select(func.max(search_texts.c.id))).scalar() or 0
                conn.execute(insert(search_texts), texts)
                if conn.dialect.name == "sqlite":
                    conn.execute(
                        text(
                            "INSERT INTO search_fts(rowid, norm, facets)"
                            " SELECT id, norm, facets FROM search_texts WHERE id > :first"
                        ),
                        {"first": first},
                    )
            end = int(rows[-1][0]) + 1
            set_progress(conn, SIZE_KEY, end)
        read += len(rows)
        if progress is not None:
            progress(end, total)


# -- querying -----------------------------------------------------------------------

_PART = re.compile(r'"([^"]*)"|(\S+)')


def _terms(query: str) -> list[tuple[list[str], bool]]:
    """The query as terms: (tokens of a phrase or word, prefix?)."""
    terms: list[tuple[list[str], bool]] = []
    for phrase, word in _PART.findall(query):
        prefix = bool(word) and word.endswith("*")
        found = tokens(phrase or word.rstrip("*"))
        if found:
            terms.append((found, prefix))
    if not terms:
        raise InputError(f"search: {query!r} has no words to look for")
    return terms


def _fts5(
    terms: list[tuple[list[str], bool]], f: Filters, first: dt.date | None, last: dt.date | None
) -> str:
    """The FTS5 query: the words in ``norm``, and what the filters allow in ``facets``
    (*first* and *last*: the days the date filter covers)."""
    words = " ".join('"' + " ".join(t) + '"' + (" *" if prefix else "") for t, prefix in terms)
    clauses = [f"norm : ({words})"]
    top = f.media_type.split("/")[0] if f.media_type and "/" in f.media_type else None
    for prefix, value in (("pl", f.platform), ("k", f.kind), ("lg", f.language), ("mt", top)):
        token = facet(prefix, value)
        if token:
            clauses.append(f"facets : {token}")
    if first is not None and last is not None:
        days = range_tokens("p" if f.by == "posted" else "c", first, last)
        if days is not None:
            clauses.append("facets : (" + (" OR ".join(days) or "nothing") + ")")
    return " AND ".join(clauses)


def _tsquery(terms: list[tuple[list[str], bool]]) -> str:
    parts = []
    for toks, prefix in terms:
        quoted = [f"'{t}'" for t in toks]
        if prefix:
            quoted[-1] += ":*"
        parts.append("(" + " <-> ".join(quoted) + ")")
    return " & ".join(parts)


def _filters(f: Filters) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    column = "s.posted" if f.by == "posted" else "s.captured"
    if f.since:
        where.append(f"{column} >= :since")
        params["since"] = f.since
    if f.until:
        where.append(f"{column} <= :until")
        params["until"] = f.until + ("\uffff" if len(f.until) <= 10 else "")
    for name in ("platform", "language", "kind"):
        value = getattr(f, name)
        if value:
            column_name = "t.language" if name == "language" else f"s.{name}"
            where.append(f"lower({column_name}) = :{name}")
            params[name] = value.lower()
    if f.source:
        where.append("lower(s.source) LIKE :source")
        params["source"] = "%" + f.source.lower().replace("%", "") + "%"
    if f.media_type:
        where.append("s.media_type LIKE :media_type")
        params["media_type"] = f.media_type.replace("%", "") + "%"
    if f.box:
        south, west, north, east = f.box
        where.append("s.lat BETWEEN :south AND :north AND s.lon BETWEEN :west AND :east")
        params.update(south=south, west=west, north=north, east=east)
    if f.items is not None:
        where.append("t.item_id IN :ids")
        params["ids"] = sorted(f.items) or [""]
    return where, params


def _snippet(body: str, terms: list[tuple[list[str], bool]]) -> str:
    wanted = {t for toks, _ in terms for t in toks}
    prefixes = tuple(toks[-1] for toks, prefix in terms if prefix)
    head = body[:200_000]
    for token, start, end in spans(head):
        if token in wanted or (prefixes and token.startswith(prefixes)):
            left, right = max(0, start - SNIPPET), min(len(head), end + SNIPPET)
            snippet = head[left:start] + "[" + head[start:end] + "]" + head[end:right]
            snippet = " ".join(snippet.split())
            return ("…" if left else "") + snippet + ("…" if right < len(body) else "")
    return " ".join(head[: 2 * SNIPPET].split())


ORDERS = ("newest", "oldest", "relevance")


def search(
    archive: Archive,
    query: str,
    filters: Filters | None = None,
    limit: int = 20,
    order: str = "newest",
) -> list[Hit]:
    """Items whose texts match *query*, after indexing anything new.

    *order*: ``newest`` / ``oldest`` by when the text entered the ledger, or
    ``relevance`` (bm25 / ts_rank; slower for words in many texts: every match is scored).
    """
    if order not in ORDERS:
        raise InputError(f"search: order {order!r} is not one of {', '.join(ORDERS)}")
    catch_up(archive)
    terms = _terms(query)
    filters = filters or Filters()
    first, last = date_range(filters.since, filters.until)  # also checks them
    where, params = _filters(filters)
    params["limit"] = limit * 4
    postgres = archive.index.engine.dialect.name == "postgresql"
    if postgres:
        sql = (
            "SELECT t.item_id, t.field, t.body, t.language, -ts_rank(t.tsv, q) AS rank"
            " FROM search_texts t JOIN search_items s ON s.item_id = t.item_id,"
            " to_tsquery('simple', :query) q WHERE t.tsv @@ q"
        )
        params["query"] = _tsquery(terms)
    else:
        sql = (
            "SELECT t.item_id, t.field, t.body, t.language, bm25(search_fts) AS rank"
            " FROM search_fts JOIN search_texts t ON t.id = search_fts.rowid"
            " JOIN search_items s ON s.item_id = t.item_id WHERE search_fts MATCH :query"
        )
        params["query"] = _fts5(terms, filters, first, last)
    key = "t.id" if postgres else "search_fts.rowid"  # the same; FTS5 streams in rowid order
    by = {"relevance": f"rank, {key}", "newest": f"{key} DESC", "oldest": key}[order]
    sql += "".join(f" AND {w}" for w in where) + f" ORDER BY {by} LIMIT :limit"
    statement = text(sql)
    if "ids" in params:
        statement = statement.bindparams(bindparam("ids", expanding=True))
    with archive.index.engine.connect() as conn:
        rows = conn.execute(statement, params).all()
        seen: dict[str, Any] = {}
        for row in rows:
            seen.setdefault(row.item_id, row)
        chosen = list(seen.values())[:limit]
        facets = _facets(conn, (r.item_id for r in chosen))
    return [
        Hit(
            item=archive.item(row.item_id),
            field=row.field,
            snippet=_snippet(row.body, terms),
            language=row.language,
            rank=float(row.rank),
            facets=facets[row.item_id].row() if row.item_id in facets else {},
        )
        for row in chosen
    ]
