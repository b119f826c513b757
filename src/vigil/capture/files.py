"""Local files and folders as evidence: walking, opening safely, describing.

`walk` turns the paths a user gave into regular files to store, and a `Skipped`
note for everything else (FIFOs, devices, sockets, unreadable entries, symlinks
leading out of the given trees), so one bad entry never stops the others.

Symlinks: a link whose target lies inside one of the given trees is stored
(under the link's own path, with its target recorded as claimed metadata); a
link leading out of the trees is skipped unless ``follow_symlinks`` is set.
Directory links are only descended with ``follow_symlinks``, with loop detection.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vigil.errors import InputError

__all__ = [
    "FileCandidate",
    "Skipped",
    "claimed_file_metadata",
    "describe_path",
    "open_regular",
    "walk",
]


@dataclass(frozen=True)
class FileCandidate:
    """A regular file to store."""

    path: Path
    link_target: str | None = None


@dataclass(frozen=True)
class Skipped:
    """An entry not stored, and why (``error`` when the user should act on it)."""

    path: str
    reason: str
    error: bool = False


def _show(path: Path | str) -> str:
    """A printable form of a path, escaping bytes that are not UTF-8."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _kind(mode: int) -> str | None:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        return "not a regular file"
    return None


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def walk(
    paths: Iterable[Path], *, follow_symlinks: bool = False, exclude: Path | None = None
) -> Iterator[FileCandidate | Skipped]:
    """Yield every regular file under *paths* (recursively), or why an entry was skipped."""
    given = [Path(os.path.abspath(p)) for p in paths]
    roots = [p.resolve() for p in given if p.exists()]
    excluded = exclude.resolve() if exclude is not None else None
    seen_dirs: set[tuple[int, int]] = set()

    def visit(path: Path, top: bool) -> Iterator[FileCandidate | Skipped]:
        try:
            lst = path.lstat()
        except FileNotFoundError:
            yield Skipped(_show(path), "no such file or directory", error=True)
            return
        except OSError as exc:
            yield Skipped(_show(path), f"cannot read: {exc.strerror}", error=True)
            return
        link_target = None
        st = lst
        if stat.S_ISLNK(lst.st_mode):
            link_target = _show(os.readlink(path))
            try:
                target = path.resolve(strict=True)
                st = target.stat()
            except (OSError, RuntimeError):
                yield Skipped(_show(path), f"broken symlink (to {link_target})", error=True)
                return
            if not follow_symlinks and not _inside(target, roots):
                yield Skipped(
                    _show(path),
                    f"symlink leads out of the tree (to {link_target}); "
                    "not followed without --follow-symlinks",
                )
                return
        if excluded is not None and _inside(path.resolve(), [excluded]):
            yield Skipped(_show(path), "inside the archive itself")
            return
        if stat.S_ISDIR(st.st_mode):
            if link_target is not None and not follow_symlinks:
                yield Skipped(
                    _show(path), "directory symlink not followed without --follow-symlinks"
                )
                return
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                yield Skipped(_show(path), "directory already visited (symlink loop)")
                return
            seen_dirs.add(key)
            try:
                children = sorted(os.scandir(path), key=lambda e: os.fsencode(e.name))
            except OSError as exc:
                yield Skipped(_show(path), f"cannot list directory: {exc.strerror}", error=True)
                return
            for child in children:
                yield from visit(Path(child.path), top=False)
            return
        kind = _kind(st.st_mode)
        if kind is not None:
            yield Skipped(_show(path), f"{kind}, not stored", error=top)
            return
        yield FileCandidate(path, link_target)

    for path in given:
        yield from visit(path, top=True)


def open_regular(candidate: FileCandidate) -> tuple[BinaryIO, os.stat_result]:
    """Open a candidate for reading without blocking on a FIFO swapped in meanwhile."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if candidate.link_target is None:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(candidate.path, flags)
    except OSError as exc:
        raise InputError(f"{_show(candidate.path)}: cannot open: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise InputError(f"{_show(candidate.path)}: changed into {_kind(st.st_mode)} while adding")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb", buffering=0), st


def describe_path(path: Path) -> dict[str, str]:
    """Name and absolute path as text, plus the exact bytes (base64) when not valid UTF-8."""
    raw_path = os.fsencode(path)
    raw_name = os.fsencode(path.name)
    described = {"name": _show(path.name), "path": _show(path)}
    try:
        raw_path.decode("utf-8")
    except UnicodeDecodeError:
        described["name_b64"] = base64.b64encode(raw_name).decode("ascii")
        described["path_b64"] = base64.b64encode(raw_path).decode("ascii")
    return described


def _time(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def claimed_file_metadata(st: os.stat_result, link_target: str | None) -> dict[str, str]:
    """What the filesystem claims about the file (times can be set by anyone: claims, not facts)."""
    claimed = {"mtime": _time(st.st_mtime), "ctime": _time(st.st_ctime)}
    birth = getattr(st, "st_birthtime", None)
    if birth is not None:
        claimed["birthtime"] = _time(birth)
    if link_target is not None:
        claimed["symlink_target"] = link_target
    return claimed
