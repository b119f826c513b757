"""yt-dlp ``.info.json`` files, with the media yt-dlp wrote beside them."""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from pathlib import Path

from vigil.capture.imports.base import Post
from vigil.capture.ytdlp import post_claims
from vigil.errors import InputError

__all__ = ["YtDlpInfoImporter"]

_MEDIA_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".m4a", ".mp3", ".opus", ".ogg", ".flac",
                   ".wav", ".jpg", ".jpeg", ".png", ".webp", ".vtt", ".srt", ".ass")  # fmt: skip


class YtDlpInfoImporter:
    """``vigil import yt-dlp FILE.info.json`` (or a folder of them), with the media beside them.

    yt-dlp writes ``NAME.info.json`` beside ``NAME.<ext>`` (media, thumbnails,
    subtitles such as ``NAME.en.vtt``); those files are linked to the post.
    """

    kind = "yt-dlp"

    def __init__(self, path: Path) -> None:
        self.infos = sorted(path.glob("*.info.json")) if path.is_dir() else [path]
        self.infos = [p for p in self.infos if p.name.endswith(".json")]
        if not self.infos or not all(p.is_file() for p in self.infos):
            raise InputError(f"{path}: no yt-dlp .info.json file here")
        self._media: list[Path] = []
        self.problems: list[str] = []

    def files(self) -> list[Path]:
        return [*self.infos, *self._media]

    def posts(self) -> Iterator[Post]:
        for path in self.infos:
            try:
                info = json.loads(path.read_bytes())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(f"{path}: not a yt-dlp info.json ({exc})") from None
            if not isinstance(info, dict) or "id" not in info:
                raise InputError(f"{path}: not a yt-dlp info.json (no 'id')")
            claims = post_claims(info)
            post = Post(
                platform=claims.pop("platform"),
                post_id=str(claims.pop("post_id")),
                source_file=path,
                original=info,
                claimed=claims,
            )
            # yt-dlp names files "Title [id].ext": escaped, "[id]" is not a character class
            stem = glob.escape(path.name.removesuffix(".info.json"))
            beside = sorted(
                p for p in path.parent.glob(f"{stem}.*")
                if p != path and p.name.lower().endswith(_MEDIA_SUFFIXES)
            )  # fmt: skip
            for media in beside:
                post.media.append((media.suffix.lstrip("."), media, ""))
                self._media.append(media)
            if not beside:
                why = "no media file beside the info.json"
                if not info.get("formats"):
                    why = "the info.json lists no formats"
                post.media.append(("media", None, why))
            yield post
