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
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vigil.capture.imports.base import Post, inside
from vigil.errors import InputError

__all__ = ["TelegramImporter", "message_text"]

_MEDIA_FIELDS = ("photo", "file", "thumbnail")


def message_text(text: Any) -> str:
    """The message text: the string, or the entity fragments concatenated as they are."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in text)
    return ""


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
        if not self.result.is_file():
            raise InputError(f"{self.result}: no Telegram export (result.json) here")
        self._media: list[Path] = []

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
            for chat in chats.get("list", []) if isinstance(chats, dict) else []:
                if isinstance(chat, dict):
                    yield chat

    def files(self) -> list[Path]:
        return [self.result, *self._media]

    def posts(self) -> Iterator[Post]:
        data = self._load()
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
                yield self._post(chat, chat_key, number, message)

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
            "links": _links(message.get("text")),
            "reply_to": message.get("reply_to_message_id"),
            "forwarded_from": message.get("forwarded_from"),
            "date_local": message.get("date"),
        }
        if str(message.get("date_unixtime", "")).isdigit():
            moment = dt.datetime.fromtimestamp(int(message["date_unixtime"]), dt.UTC)
            claimed["posted"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
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
            if value.startswith("("):
                post.media.append((role, None, value.strip("()")))
                continue
            path = inside(self.root, value)
            if path is None:
                post.media.append(
                    (role, None, f"path {value!r} leads outside the export: not read")
                )
            elif not path.is_file():
                post.media.append((role, None, f"{value} is not in the export"))
            else:
                post.media.append((role, path, ""))
                if path not in self._media:
                    self._media.append(path)
        return post
