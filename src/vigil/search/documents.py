"""What search knows of each ledger event: texts to index and fields to filter on.

Like the rest of the index, everything here is derived from ledger events (and the
blobs of text derivatives), so `vigil reindex` rebuilds it.

* ``item.added``: the item's filter fields (`Facets`: kind, media type, and what its
  platform claims: platform, source, posted time, place; a child item without such
  claims takes its parent's) and one text: the claimed title, text, authors, chat,
  hashtags, plus the file name and URL.
* ``derivative.added`` of kind ``text`` (a page's main text) or ``ocr``: the
  derivative's text, with its claimed title and author, indexed for the item it was
  derived from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import py3langid

from vigil.events import DERIVATIVE_ADDED, ITEM_ADDED
from vigil.search.arabic import normalise

__all__ = ["TEXT_DERIVATIVES", "Facets", "Text", "facets_of", "text_of"]

TEXT_DERIVATIVES = frozenset({"text", "ocr"})
NO_TEXT_KINDS = frozenset({"segment", "playlist", "key", "init"})  # parts of a recording
MAX_TEXT = 5_000_000  # characters of one derivative indexed
_LANGUAGE_MIN_LETTERS = 12


@dataclass(frozen=True)
class Facets:
    item_id: str
    kind: str
    media_type: str
    platform: str | None
    source: str | None
    posted: str | None
    captured: str
    lat: float | None
    lon: float | None

    def row(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Text:
    item_id: str
    origin_idx: int
    field: str
    body: str
    norm: str
    language: str | None

    def row(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _point(geo: Any) -> tuple[float | None, float | None]:
    """(lat, lon) from the shapes platforms use: {latitude, longitude} or GeoJSON Point."""
    try:
        if isinstance(geo, dict) and "latitude" in geo:
            return float(geo["latitude"]), float(geo["longitude"])
        if isinstance(geo, dict) and geo.get("type") == "Point":
            lon, lat = geo["coordinates"][:2]  # GeoJSON order
            return float(lat), float(lon)
    except (KeyError, TypeError, ValueError, IndexError):
        pass
    return None, None


def _source(claimed: dict[str, Any], url: str | None) -> str | None:
    for key in ("chat", "author_handle", "author", "author_name"):
        if isinstance(claimed.get(key), str) and claimed[key]:
            return str(claimed[key])
    return (urlsplit(url).hostname or None) if url else None


def facets_of(data: dict[str, Any], parent: Facets | None) -> Facets:
    """The filter fields of the item an ``item.added`` event adds (*parent*: its parent's)."""
    claimed = data.get("claimed") or {}
    lat, lon = _point(claimed.get("geo"))
    url = data.get("url")
    web = url if data.get("kind") in ("warc", "page", "media") else None
    if lat is None and parent is not None:
        lat, lon = parent.lat, parent.lon
    return Facets(
        item_id=str(data["item"]),
        kind=str(data.get("kind", "file")),
        media_type=str(data.get("media_type", "")),
        platform=claimed.get("platform")
        or (parent.platform if parent else None)
        or ("web" if web else None),
        source=_source(claimed, None) or (parent.source if parent else None) or _source({}, web),
        posted=claimed.get("posted") or (parent.posted if parent else None),
        captured=str(data["at"]),
        lat=lat,
        lon=lon,
    )


def _language(text: str) -> str | None:
    if sum(c.isalpha() for c in text[:2000]) < _LANGUAGE_MIN_LETTERS:
        return None
    language, _score = py3langid.classify(text[:20_000])
    return str(language)


def _strings(*values: Any) -> list[str]:
    out: list[str] = []
    for value in values:
        if isinstance(value, str) and value.strip():
            out.append(value.strip())
        elif isinstance(value, list):
            out += [str(v) for v in value if isinstance(v, str) and v.strip()]
    return out


def text_of(index: int, data: dict[str, Any], read_text: Callable[[str, int], str]) -> Text | None:
    """The text an event gives an item, if any. *read_text(sha256, limit)* reads a blob."""
    claimed = data.get("claimed") or {}
    if data.get("type") == ITEM_ADDED:
        if data.get("kind") in NO_TEXT_KINDS:
            return None
        prose = _strings(claimed.get("title"), claimed.get("text"))
        about = _strings(
            claimed.get("author_name"), claimed.get("author_handle"), claimed.get("author"),
            claimed.get("chat"), claimed.get("hashtags"), data.get("name"), data.get("url"),
        )  # fmt: skip
        item_id, field = str(data["item"]), "item"
    elif data.get("type") == DERIVATIVE_ADDED and data.get("kind") in TEXT_DERIVATIVES:
        result = data.get("result")
        if isinstance(result, dict):  # a runner derivation (OCR): its text is in the event
            found = str(result.get("text") or "")[:MAX_TEXT]
        else:  # a text derivative: its blob is the text
            found = read_text(str(data["sha256"]), MAX_TEXT)
        prose = _strings(claimed.get("title"), found)
        about = _strings(claimed.get("author"))
        item_id, field = str(data["of"]), str(data["kind"])
    else:
        return None
    body = "\n".join(prose + about)
    if not body:
        return None
    return Text(item_id, index, field, body, normalise(body), _language("\n".join(prose)))
