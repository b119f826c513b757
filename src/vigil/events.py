"""Ledger events: what happened to which item, serialised as RFC 8785 canonical JSON.

An event is a JSON object with at least::

    {"v": 1, "type": "item.added", "at": "2026-11-25T14:55:12.123456Z",
     "item": "<item id>", "sha256": "<blob SHA-256>", "actor": {...}, ...}

* ``at`` and ``actor`` are what *we* observed (UTC, RFC 3339; host, user, tool
  and version). What a file or platform *claims* lives under ``claimed`` and is
  never mixed in (design invariant 5).
* The bytes logged are ``rfc8785.dumps(event)``: one line, no insignificant
  whitespace, sorted keys, so anyone can re-derive them and their leaf hash.

Event types so far:

* ``item.added``: a new item. Its blob, size, media type, name; ``kind`` (``file``
  when absent; ``warc``, ``page``, ``media`` for web captures); for files the
  original ``path`` and claimed file times, for web items the ``url`` and the
  ``parent`` item (the WARC capture they came from) and HTTP details.
* ``derivative.added``: something computed from item ``of`` (extracted text, …),
  stored as a new item with the ``tool`` and version that made it.
* ``item.gone``: the item's URL no longer serves it (HTTP 404/410/451, or the
  platform's message): evidence of a takedown, with when we saw it.
* ``stream.ended``: a live recording (item ``kind`` ``stream``; its ``playlist``,
  ``segment``, ``key`` and ``init`` children were each logged as they arrived) is
  over: why (``ended``, ``stalled``, ``vanished``, ``stopped``), and what was kept
  and what is missing.
* ``stream.missing``: a segment of a live recording we will never have (it left the
  playlist before we got it, or kept failing), logged as soon as we know.
* ``derivation.failed``: a derivation (``derivation``, by ``tool``) could not be
  computed for item ``item`` (``error``); `vigil enrich` does not retry it with the
  same tool version unless asked to.
* ``item.sealed`` / ``item.unsealed``: the item is withheld from packages (or no longer),
  with the ``reason``; ``sealed.read``: a sealed item was handed out (``purpose``)
  (`vigil.access`).
* ``incident.linked`` / ``incident.unlinked``: item ``member`` tied to (untied from) the
  incident ``item``, with a ``note`` (`vigil.incidents`).
* ``casualty.reviewed``: a reviewer's ``decision`` (accept/reject) on a ``pair`` of victim
  records, with the ``reviewer`` and ``reason``; ``item`` is the linkage run
  (`vigil.casualties.linking`).
* ``checkpoint.timestamped``: an RFC 3161 authority stamped checkpoint ``checkpoint``;
  ``sha256`` is the token (DER response) blob (`vigil.ledger.stamping`).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
from dataclasses import dataclass
from typing import Any

import rfc8785

from vigil import __version__
from vigil.errors import LedgerCorrupt

__all__ = [
    "DERIVATIVE_ADDED",
    "EVENT_VERSION",
    "ITEM_ADDED",
    "ITEM_GONE",
    "STREAM_ENDED",
    "STREAM_MISSING",
    "Actor",
    "Event",
    "canonical_json",
    "decode_event",
    "encode_event",
    "rfc3339",
    "utc_now",
]

EVENT_VERSION = 1
ITEM_ADDED = "item.added"
DERIVATIVE_ADDED = "derivative.added"
ITEM_GONE = "item.gone"
STREAM_ENDED = "stream.ended"
STREAM_MISSING = "stream.missing"
_REQUIRED = {"v": int, "type": str, "at": str, "sha256": str, "actor": dict}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(moment: dt.datetime) -> str:
    """UTC RFC 3339 with microseconds and a ``Z`` suffix."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Actor:
    """Who and what did it, as we observed: host, user, tool and version."""

    host: str
    user: str
    tool: str = "vigil"
    version: str = __version__

    @classmethod
    def current(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid())
        return cls(host=socket.gethostname(), user=user)

    def as_json(self) -> dict[str, str]:
        return {"host": self.host, "user": self.user, "tool": self.tool, "version": self.version}


@dataclass(frozen=True)
class Event:
    """A decoded ledger entry and where it sits in the log."""

    index: int
    data: dict[str, Any]
    raw: bytes

    @property
    def type(self) -> str:
        return str(self.data["type"])

    @property
    def item(self) -> str | None:
        item = self.data.get("item")
        return None if item is None else str(item)

    @property
    def sha256(self) -> str:
        return str(self.data["sha256"])

    @property
    def at(self) -> str:
        return str(self.data["at"])


_MAX_SAFE_INT = 2**53 - 1


def _plain(value: Any) -> bool:
    """True if *value* holds only what `json.dumps` already writes the RFC 8785 way.

    That is: strings without lone surrogates, integers within ±(2**53 - 1), booleans,
    null, lists, and objects whose keys have no character beyond U+FFFF (so sorting
    by code point equals RFC 8785's sorting by UTF-16 code unit). Floats are not
    plain: RFC 8785 formats them the ECMAScript way.
    """
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.isascii() or not any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, int):
        return -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and (k.isascii() or max(k) <= "\uffff") and _plain(k) and _plain(v)
            for k, v in value.items()
        )
    return False


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON of *value*, fast for plain values (see `_plain`)."""
    if _plain(value):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    encoded: bytes = rfc8785.dumps(value)
    return encoded


def encode_event(data: dict[str, Any]) -> bytes:
    """The canonical bytes of an event (RFC 8785)."""
    for key, kind in _REQUIRED.items():
        if not isinstance(data.get(key), kind):
            raise ValueError(f"event lacks {key!r} ({kind.__name__}): {data!r}")
    return canonical_json(data)


def decode_event(index: int, raw: bytes) -> Event:
    """Parse entry *index*; `LedgerCorrupt` naming the entry if it is not a canonical event."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LedgerCorrupt(f"entry {index}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise LedgerCorrupt(f"entry {index}: not a JSON object")
    for key, kind in _REQUIRED.items():
        if not isinstance(data.get(key), kind):
            raise LedgerCorrupt(f"entry {index}: field {key!r} missing or not {kind.__name__}")
    try:
        canonical = canonical_json(data)
    except (rfc8785.CanonicalizationError, ValueError) as exc:
        raise LedgerCorrupt(f"entry {index}: cannot be canonicalised ({exc})") from None
    if canonical != raw:
        raise LedgerCorrupt(f"entry {index}: not in RFC 8785 canonical form")
    return Event(index, data, raw)
