"""Telegram Desktop JSON exports (``result.json`` and its media folders).

Format as Telegram Desktop writes it ("Export chat history" / "Export Telegram
data", machine-readable JSON): a single chat is an object with ``messages``; a
full export holds chats under ``chats.list`` (and ``left_chats.list``). A message
has ``id``, ``type`` (``message`` or ``service``), ``date`` (local time) and
``date_unixtime``, ``from``/``from_id``, ``text`` (a string, or a list of plain
strings and entity objects ``{type, text, href?}`` whose texts concatenate to the
message), ``reply_to_message_id``, ``forwarded_from``, and media fields holding a
path relative to the export (``photo``, ``file``, ``thumbnail``) or, when the
media was not exported, a placeholder in parentheses, such as
"(File not included. Change data exporting settings to download.)".

A message whose fields have the wrong types (a text fragment that is neither a
string nor an entity, a date no calendar holds) is skipped and named in
``problems``, with the file and message id; the rest of the export goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vigil.capture.imports.base import Post, inside
from vigil.errors import InputError

__all__ = ["TelegramImporter", "message_text"]

_MEDIA_FIELDS = ("photo", "file", "thumbnail")
_TELEGRAM_NAMES = re.compile(  # what Telegram Desktop writes into an export's folder
    r"chats|left_chats|profile_pictures|photos|files|video_files|voice_messages"
    r"|round_video_messages|stickers|animations|contacts|lists|css|js|images|stories"
    r"|messages\d*\.html|export_results\.html|result\.json"
)


def message_text(text: Any) -> str:
    """The message text: the string, or the entity fragments concatenated as they are.

    `ValueError` if *text* is neither (nor missing), or a fragment is neither a
    string nor an entity object with a string ``text``: joining such a message
    would store a text the export does not hold.
    """
    if text is None or isinstance(text, str):
        return text or ""
    if not isinstance(text, list):
        raise ValueError(f"text is a {type(text).__name__}, not a string or a list of fragments")
    parts = []
    for part in text:
        if isinstance(part, dict) and isinstance(part.get("text", ""), str):
            part = part.get("text", "")
        if not isinstance(part, str):
            raise ValueError(f"text fragment {part!r:.60} is not a string or an entity")
        parts.append(part)
    return "".join(parts)


def _posted(unixtime: Any) -> str | None:
    """``date_unixtime`` as RFC 3339 UTC; None if absent; `ValueError` if not a date."""
    if unixtime is None or unixtime == "":
        return None
    if not str(unixtime).isdigit():
        raise ValueError(f"date_unixtime {unixtime!r:.40} is not a number of seconds")
    try:
        moment = dt.datetime.fromtimestamp(int(unixtime), dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"date_unixtime {unixtime!r:.40} is out of range") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _links(text: Any) -> list[str]:
    if not isinstance(text, list):
        return []
    found = []
    for part in text:
        if isinstance(part, dict) and part.get("type") in ("link", "text_link"):
            found.append(str(part.get("href") or part.get("text")))
    return found


class TelegramImporter:
    kind = "telegram"

    def __init__(self, path: Path) -> None:
        self.result = path / "result.json" if path.is_dir() else path
        self.root = self.result.parent
        self.folder = path if path.is_dir() else None  # given the export's folder: keep it all
        if not self.result.is_file():
            raise InputError(f"{self.result}: no Telegram export (result.json) here")
        self._media: list[Path] = []
        self.problems: list[str] = []

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.result.read_bytes())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{self.result}: not a Telegram JSON export ({exc})") from None
        if not isinstance(data, dict) or not ("messages" in data or "chats" in data):
            raise InputError(f"{self.result}: not a Telegram export (no 'messages' or 'chats')")
        return data

    def _chats(self, data: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if "messages" in data:
            yield data
        for section in ("chats", "left_chats"):
            chats = data.get(section, {})
            listed = chats.get("list", []) if isinstance(chats, dict) else []
            if not isinstance(listed, list):
                raise InputError(f"{self.result}: {section}.list is not a list of chats")
            for chat in listed:
                if isinstance(chat, dict):
                    yield chat

    def files(self) -> list[Path]:
        """result.json, the media its messages name, and the rest of what Telegram
        Desktop writes beside it (profile pictures, the HTML views, files no message
        names): the export as it was received. Only Telegram's own names are taken
        from the folder, so an export unpacked into ~/Downloads brings nothing else."""
        found = [self.result, *self._media]
        for entry in sorted(self.root.iterdir()) if self.folder is not None else []:
            if entry not in found and _TELEGRAM_NAMES.fullmatch(entry.name):
                found.append(entry)
        return found

    def posts(self) -> Iterator[Post]:
        data = self._load()
        found = 0
        for chat in self._chats(data):
            chat_key = str(chat.get("id") or chat.get("name") or "chat")
            messages = chat.get("messages")
            if not isinstance(messages, list):
                raise InputError(f"{self.result}: chat {chat_key!r} has no message list")
            for number, message in enumerate(messages):
                if not isinstance(message, dict):
                    raise InputError(
                        f"{self.result}: chat {chat_key!r} message {number} is not an object"
                    )
                try:
                    post = self._post(chat, chat_key, number, message)
                except ValueError as exc:
                    self.problems.append(
                        f"{self.result}: chat {chat_key!r} message "
                        f"{message.get('id', number)!r:.40}: {exc}: skipped"
                    )
                    continue
                found += 1
                yield post
        if not found:
            self.problems.append(f"{self.result}: the export holds no messages")

    def _post(
        self, chat: dict[str, Any], chat_key: str, number: int, message: dict[str, Any]
    ) -> Post:
        message_id = str(message.get("id", number))
        claimed: dict[str, Any] = {
            "chat": chat.get("name"),
            "chat_id": chat.get("id"),
            "chat_type": chat.get("type"),
            "message_type": message.get("type"),
            "author": message.get("from") or message.get("actor"),
            "author_id": message.get("from_id") or message.get("actor_id"),
            "text": message_text(message.get("text")),
            "posted": _posted(message.get("date_unixtime")),
            "links": _links(message.get("text")),
            "reply_to": message.get("reply_to_message_id"),
            "forwarded_from": message.get("forwarded_from"),
            "date_local": message.get("date"),
        }
        location = message.get("location_information")
        if isinstance(location, dict):
            claimed["geo"] = {
                "latitude": location.get("latitude"),
                "longitude": location.get("longitude"),
            }
        post = Post(
            platform="telegram",
            post_id=f"{chat_key}/{message_id}",
            source_file=self.result,
            original=message,
            claimed={k: v for k, v in claimed.items() if v not in (None, "", [])},
        )
        for field_name in _MEDIA_FIELDS:
            value = message.get(field_name)
            if not isinstance(value, str) or not value:
                continue
            role = (
                str(message.get("media_type") or field_name) if field_name == "file" else field_name
            )
            path, why = self._media_file(value)
            post.media.append((role, path, why))
            if path is not None and path not in self._media:
                self._media.append(path)
        return post

    def _media_file(self, value: str) -> tuple[Path | None, str]:
        """The media file a message names, or None and why it is not read."""
        if value.startswith("("):
            return None, value.strip("()")
        if "\x00" in value:
            return None, f"path {value!r:.80} holds a NUL byte: not read"
        path = inside(self.root, value)
        if path is None:
            return None, f"path {value!r} leads outside the export: not read"
        try:
            present = path.is_file()
        except OSError as exc:  # a name too long for the file system, say
            return None, f"path {value!r:.80} cannot be read ({exc.strerror}): not read"
        return (path, "") if present else (None, f"{value} is not in the export")
