"""The list of watched sources: ``sources.toml`` in the archive folder.

Sources are configuration, not evidence: a person edits, exports and imports
them. Each has an ``id``, a ``url``, a ``kind`` (``feed``, ``page``, ``account``,
``stream``) and an interval ``every`` (``90s``, ``5m``, ``1h``, ``1d``). What was
captured from a source is in the ledger (each capture event names its source).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from vigil.errors import InputError

__all__ = ["KINDS", "Source", "SourceList", "format_interval", "parse_interval"]

KINDS = ("feed", "page", "account", "stream")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def parse_interval(text: str) -> int:
    """``"5m"`` -> 300 seconds; `InputError` for anything else (minimum 10 s)."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if match is None:
        raise InputError(f"{text!r} is not an interval like 90s, 5m, 1h or 1d")
    seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds < 10:
        raise InputError(f"{text!r}: sources are polled at most every 10 seconds")
    return seconds


def format_interval(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Source:
    id: str
    url: str
    kind: str
    every: int  # seconds

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "url": self.url,
            "kind": self.kind,
            "every": format_interval(self.every),
        }


def _check_url(name: str, url: str) -> str:
    """*url*'s host; `InputError` naming *name* if it is not an http(s) URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError as exc:
        raise InputError(f"{name}: {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{name}: {url!r} is not an http(s) URL")
    return parts.hostname


def _check(source: Source) -> Source:
    _check_url(f"source {source.id!r}", source.url)
    if source.kind not in KINDS:
        raise InputError(
            f"source {source.id!r}: kind {source.kind!r} is not one of {', '.join(KINDS)}"
        )
    if not _ID.fullmatch(source.id):
        raise InputError(f"source id {source.id!r}: use lowercase letters, digits, '.', '_', '-'")
    return source


class SourceList:
    """Load, change and save ``sources.toml`` (atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sources: dict[str, Source] = {}
        if path.exists():
            self.sources = {s.id: s for s in self._parse(path)}

    @staticmethod
    def _parse(path: Path) -> list[Source]:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"{path}: not a sources TOML file ({exc})") from None
        sources = []
        for number, entry in enumerate(data.get("source", [])):
            try:
                every = entry.get("every", "5m")
                sources.append(
                    _check(
                        Source(
                            id=str(entry["id"]),
                            url=str(entry["url"]),
                            kind=str(entry.get("kind", "page")),
                            every=every if isinstance(every, int) else parse_interval(str(every)),
                        )
                    )
                )
            except KeyError as exc:
                raise InputError(f"{path}: source {number} has no {exc.args[0]!r}") from None
        return sources

    def add(
        self, url: str, kind: str = "page", every: int = 300, source_id: str | None = None
    ) -> Source:
        if source_id is None:
            host = _check_url("new source", url)
            base = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")
            source_id, n = base or "source", 1
            while source_id in self.sources:
                n += 1
                source_id = f"{base}-{n}"
        if source_id in self.sources:
            raise InputError(f"a source with id {source_id!r} exists already")
        if any(s.url == url for s in self.sources.values()):
            raise InputError(f"{url} is watched already")
        source = _check(Source(source_id, url, kind, every))
        self.sources[source_id] = source
        return source

    def remove(self, source_id: str) -> Source:
        try:
            return self.sources.pop(source_id)
        except KeyError:
            raise InputError(f"no source with id {source_id!r}") from None

    def merge(self, path: Path) -> list[Source]:
        """Add the sources of another TOML file (those whose id or URL is new)."""
        added = []
        for source in self._parse(path):
            known = {s.url for s in self.sources.values()}
            if source.id not in self.sources and source.url not in known:
                self.sources[source.id] = source
                added.append(source)
        return added

    def to_toml(self) -> str:
        blocks = []
        for s in self.sources.values():
            blocks.append(
                "[[source]]\n"
                f"id = {json.dumps(s.id)}\nurl = {json.dumps(s.url)}\n"
                f"kind = {json.dumps(s.kind)}\nevery = {json.dumps(format_interval(s.every))}\n"
            )
        return "# Sources Vigil watches (vigil source add / vigil watch)\n\n" + "\n".join(blocks)

    def save(self) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(self.to_toml(), encoding="utf-8")
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        tmp.replace(self.path)
