"""One playable file from a recording's segments, by ffmpeg, **without re-encoding**.

The segments stay the evidence; the assembled file is a ``remux`` derivative whose
ledger event lists, in order, the SHA-256 of every segment (and key and init
section) it was made from and the exact ffmpeg command line.

A local playlist is written beside links to the stored blobs, repeating what the
live playlists said: each segment's duration, ``EXT-X-KEY`` with the explicit IV
(AES-128 is decrypted by ffmpeg's HLS reader), ``EXT-X-MAP``, and a
``EXT-X-DISCONTINUITY`` where the stream was discontinuous, where a segment is
missing, and where the variant changed. ffmpeg's HLS demuxer then copies the
streams into MP4 (Matroska if MP4 cannot hold them).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vigil.db.index import ItemRow
from vigil.errors import CaptureError

__all__ = ["Assembled", "assemble", "ffmpeg_version"]


@dataclass(frozen=True)
class Assembled:
    path: Path  # in a temporary folder the caller removes (`Assembled.cleanup`)
    media_type: str
    made_from: list[str]  # SHA-256s in playlist order (segments, and keys/inits they use)
    command: list[str]
    tool: str

    def cleanup(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


def ffmpeg_version() -> str | None:
    """``ffmpeg 5.1.9-0+deb12u1``, or None when ffmpeg is not installed."""
    if shutil.which("ffmpeg") is None:
        return None
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-version"], capture_output=True, text=True, check=False
    ).stdout
    words = out.split()
    return f"ffmpeg {words[2]}" if len(words) > 2 and words[0] == "ffmpeg" else "ffmpeg"


def _suffix(row: ItemRow) -> str:
    name = (row.url or row.name).split("?", 1)[0].rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return ext if ext.isalnum() and len(ext) <= 5 else "ts"


def _playlist(
    segments: list[ItemRow],
    keys: dict[str, ItemRow],
    inits: dict[str, ItemRow],
    folder: Path,
    blob_path: Callable[[str], Path],
) -> tuple[str, list[str]]:
    """The local playlist's text and the SHA-256s it uses, in order."""
    longest = max((float(s.claimed.get("duration") or 0) for s in segments), default=1.0)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{max(1, math.ceil(longest))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    used: list[str] = []
    linked: dict[str, str] = {}

    def link(row: ItemRow, suffix: str) -> str:
        if row.sha256 not in linked:
            name = f"{len(linked):06d}.{suffix}"
            os.symlink(blob_path(row.sha256), folder / name)
            linked[row.sha256] = name
        used.append(row.sha256)
        return linked[row.sha256]

    previous: ItemRow | None = None
    current_map = None
    for seg in segments:
        claim = seg.claimed
        if previous is not None and (
            claim.get("discontinuity")
            or int(claim["sequence"]) != int(previous.claimed["sequence"]) + 1
            or claim.get("playlist") != previous.claimed.get("playlist")
        ):
            lines.append("#EXT-X-DISCONTINUITY")
        init_uri = claim.get("init")
        if init_uri and init_uri != current_map:
            if init_uri not in inits:
                raise CaptureError(f"segment {seg.id}: its init section {init_uri} is not stored")
            lines.append(f'#EXT-X-MAP:URI="{link(inits[init_uri], "mp4")}"')
            current_map = init_uri
        key = claim.get("key")
        if key:
            if key["uri"] not in keys:
                raise CaptureError(f"segment {seg.id}: its key {key['uri']} is not stored")
            name = link(keys[key["uri"]], "key")
            lines.append(f'#EXT-X-KEY:METHOD={key["method"]},URI="{name}",IV={key["iv"]}')
        elif previous is not None and previous.claimed.get("key"):
            lines.append("#EXT-X-KEY:METHOD=NONE")
        lines.append(f"#EXTINF:{float(claim.get('duration') or 0):.6f},")
        lines.append(link(seg, _suffix(seg)))
        previous = seg
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n", used


def assemble(
    segments: list[ItemRow],
    keys: dict[str, ItemRow],
    inits: dict[str, ItemRow],
    blob_path: Callable[[str], Path],
    scratch: Path,
) -> Assembled:
    """Remux *segments* (in order) into one file; `CaptureError` if ffmpeg cannot."""
    tool = ffmpeg_version()
    if tool is None:
        raise CaptureError("ffmpeg is not installed: segments kept, no assembled file")
    if not segments:
        raise CaptureError("no segments to assemble")
    folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-assemble-", dir=scratch))
    try:
        text, used = _playlist(segments, keys, inits, folder, blob_path)
        (folder / "local.m3u8").write_text(text)
        errors = []
        for suffix, media_type, extra in (
            ("mp4", "video/mp4", ["-movflags", "+faststart"]),
            ("mkv", "video/x-matroska", []),
        ):
            out = folder / f"recording.{suffix}"
            command = [
                "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
                "-allowed_extensions", "ALL",
                "-i", "local.m3u8",
                "-map", "0:v?", "-map", "0:a?", "-c", "copy", *extra,
                out.name,
            ]  # fmt: skip
            run = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
            if run.returncode == 0 and out.exists() and out.stat().st_size > 0:
                return Assembled(out, media_type, used, command, tool)
            errors.append(f"{suffix}: {' '.join(run.stderr.split())[-300:]}")
            out.unlink(missing_ok=True)
        raise CaptureError("ffmpeg could not remux the segments: " + "; ".join(errors))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
