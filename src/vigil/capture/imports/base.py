"""What every import shares: the Post record, safe paths, storing files and posts."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vigil.capture.adding import AddResult
from vigil.db.index import ItemRow
from vigil.errors import InputError
from vigil.events import ITEM_ADDED, Actor, canonical_json, rfc3339, utc_now
from vigil.ids import new_item_id

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["ImportResult", "Importer", "Post", "import_export", "inside"]


@dataclass
class Post:
    """One message or post, as the export states it (every field is a claim)."""

    platform: str
    post_id: str
    source_file: Path  # the export file it was read from
    original: dict[str, Any]  # the exact object from the export
    claimed: dict[str, Any]  # normalised: author, posted, text, reply_to, links, ...
    media: list[tuple[str, Path | None, str]] = field(default_factory=list)
    # (role, file inside the export or None, why missing)


class Importer(Protocol):
    kind: str
    # what `posts()` skipped or found odd, each naming the file (and message id)
    problems: list[str]

    def __init__(self, root: Path) -> None: ...

    def files(self) -> list[Path]:
        """The export's files to keep (all of them, as they are)."""
        ...

    def posts(self) -> Iterator[Post]:
        """Parse the export: a malformed message is skipped and named in `problems`;
        `InputError` naming the file if the file as a whole is unusable."""
        ...


@dataclass
class ImportResult:
    files: list[AddResult] = field(default_factory=list)
    posts: list[ItemRow] = field(default_factory=list)
    already_held: int = 0
    missing_media: int = 0
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "files": [r.as_json() for r in self.files],
            "posts": [
                {"id": p.id, "sha256": p.sha256, "post_id": p.claimed.get("post_id")}
                for p in self.posts
            ],
            "already_held": self.already_held,
            "missing_media": self.missing_media,
            "problems": self.problems,
        }


def inside(root: Path, relative: str) -> Path | None:
    """*relative* resolved under *root*, or None if it would lead outside (or is absolute).

    None too for a NUL byte, which no file name can hold (and `Path.resolve` rejects).
    """
    if not relative or "\x00" in relative or Path(relative).is_absolute():
        return None
    candidate = (root / relative).resolve()
    base = root.resolve()
    return candidate if candidate == base or base in candidate.parents else None


def import_export(archive: Archive, importer: Importer, batch: int = 1000) -> ImportResult:
    """Parse first (nothing is stored if the export is malformed), then store files and posts.

    Messages the importer skipped, and posts that cannot be stored as canonical
    JSON, are listed in `ImportResult.problems` (the CLI prints them), not stored.
    """
    result = ImportResult()
    posts = [p for p in importer.posts() if _storable(p, result.problems)]
    result.problems[:0] = importer.problems  # the importer's, in file order, first
    _store(archive, importer, posts, result, batch)
    archive.checkpoint()
    return result


def _storable(post: Post, problems: list[str]) -> bool:
    """False (and a problem noted) if *post* cannot be written as RFC 8785 JSON.

    ``json.loads`` accepts NaN, Infinity and integers beyond 2**53, which RFC 8785
    cannot write; found only while storing, they would stop an import halfway.
    """
    try:
        canonical_json(post.original)
        canonical_json(post.claimed)
    except ValueError as exc:  # rfc8785.CanonicalizationError is a ValueError
        problems.append(f"{post.source_file}: {post.post_id}: cannot be stored ({exc}): skipped")
        return False
    return True


def _store(
    archive: Archive, importer: Importer, posts: list[Post], result: ImportResult, batch: int
) -> None:
    """Store the export's files, then the posts (into *result*), in batches of events."""
    by_path: dict[Path, ItemRow] = {}
    for added in archive.add_paths(importer.files()):
        result.files.append(added)
        if added.item is not None:
            by_path[Path(added.path).resolve()] = added.item
    actor = Actor.current().as_json()
    events: list[dict[str, Any]] = []

    def commit() -> None:
        failed = archive.blobs.sync()  # the posts' blobs durable before their events
        if failed:
            raise next(iter(failed.values()))
        result.posts.extend(ItemRow.from_event(e) for e in archive.append_events(events))
        events.clear()

    with archive.blobs.deferred_sync():
        for post in posts:
            event = _post_event(archive, post, by_path, actor, result)
            if event is not None:
                events.append(event)
            if len(events) >= batch:
                commit()
        commit()


def _post_event(
    archive: Archive,
    post: Post,
    by_path: dict[Path, ItemRow],
    actor: dict[str, str],
    result: ImportResult,
) -> dict[str, Any] | None:
    source = by_path.get(post.source_file.resolve())
    if source is None:
        raise InputError(f"{post.source_file}: the export file was not stored")
    blob = archive.blobs.put(io.BytesIO(canonical_json(post.original)))
    if archive.index.find_child(source.id, blob.sha256) is not None:
        result.already_held += 1
        return None
    media = []
    for role, path, why in post.media:
        held = by_path.get(path.resolve()) if path is not None else None
        if held is None:
            result.missing_media += 1
            media.append({"role": role, "missing": why or "not in the export"})
        else:
            media.append({"role": role, "item": held.id, "sha256": held.sha256})
    return {
        "v": 1,
        "type": ITEM_ADDED,
        "kind": "post",
        "at": rfc3339(utc_now()),
        "item": new_item_id(),
        "parent": source.id,
        "sha256": blob.sha256,
        "size": blob.size,
        "media_type": "application/json",
        "name": f"{post.platform}-{post.post_id}.json",
        "claimed": {"platform": post.platform, "post_id": post.post_id, **post.claimed},
        "media": media,
        "actor": actor,
    }
