"""X/Twitter account archives ("Download an archive of your data").

The archive's ``data/`` folder holds JavaScript files, each ``window.YTD.<name>.partN
= `` followed by a JSON array of wrapped objects (``{"tweet": {...}}``,
``{"account": {...}}``): ``tweets.js`` (and ``tweets-part1.js``, …),
``deleted-tweets.js``, ``account.js``, ``manifest.js``. Media the archive includes
are in ``tweets_media/`` and ``deleted_tweets_media/``, named
``<tweet id>-<media file name>``; a retweet carries the original's media under the
retweet's own id.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vigil.capture.imports.base import Post
from vigil.errors import InputError

__all__ = ["XArchiveImporter", "read_ytd"]

_TWEET_FILES = re.compile(r"(deleted-)?tweets(-part\d+)?\.js")


def read_ytd(path: Path) -> Any:
    """Parse one ``window.YTD… = [...]`` file (`InputError` naming it if malformed)."""
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text[text.index("=") + 1 :])
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not an X archive data file ({exc})") from None


def _posted(created_at: str) -> str | None:
    try:
        moment = dt.datetime.strptime(created_at, "%a %b %d %H:%M:%S %z %Y")
    except (TypeError, ValueError):
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class XArchiveImporter:
    kind = "x-archive"

    def __init__(self, path: Path) -> None:
        self.data = path / "data" if (path / "data").is_dir() else path
        if not (self.data / "account.js").is_file() and not list(self._tweet_files()):
            raise InputError(f"{path}: no X archive here (no data/tweets.js or data/account.js)")

    def _tweet_files(self) -> Iterator[Path]:
        for path in sorted(self.data.glob("*.js")):
            if _TWEET_FILES.fullmatch(path.name):
                yield path

    def files(self) -> list[Path]:
        return [self.data]  # the whole archive, as it is

    def _account(self) -> dict[str, Any]:
        path = self.data / "account.js"
        if not path.is_file():
            return {}
        entries = read_ytd(path)
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            account = entries[0].get("account", {})
            return account if isinstance(account, dict) else {}
        return {}

    def posts(self) -> Iterator[Post]:
        account = self._account()
        for path in self._tweet_files():
            deleted = path.name.startswith("deleted-")
            media_dir = self.data / ("deleted_tweets_media" if deleted else "tweets_media")
            entries = read_ytd(path)
            if not isinstance(entries, list):
                raise InputError(f"{path}: expected a list of tweets")
            for number, entry in enumerate(entries):
                tweet = entry.get("tweet") if isinstance(entry, dict) else None
                if not isinstance(tweet, dict) or "id_str" not in tweet:
                    raise InputError(f"{path}: entry {number} is not a tweet")
                yield self._post(path, tweet, account, deleted, media_dir)

    def _post(
        self,
        path: Path,
        tweet: dict[str, Any],
        account: dict[str, Any],
        deleted: bool,
        media_dir: Path,
    ) -> Post:
        entities = tweet.get("entities", {}) or {}
        text = str(tweet.get("full_text", ""))
        claimed: dict[str, Any] = {
            "author_id": account.get("accountId"),
            "author_handle": account.get("username"),
            "author_name": account.get("accountDisplayName"),
            "posted": _posted(str(tweet.get("created_at", ""))),
            "text": text,
            "language": tweet.get("lang"),
            "reply_to": tweet.get("in_reply_to_status_id_str"),
            "reply_to_handle": tweet.get("in_reply_to_screen_name"),
            "repost": text.startswith("RT @") or None,
            "links": [
                u.get("expanded_url") for u in entities.get("urls", []) if u.get("expanded_url")
            ],
            "hashtags": [h.get("text") for h in entities.get("hashtags", [])],
            "mentions": [m.get("screen_name") for m in entities.get("user_mentions", [])],
            "engagement": {
                "likes": tweet.get("favorite_count"),
                "reposts": tweet.get("retweet_count"),
            },
            "client": tweet.get("source"),
            "deleted": deleted or None,
            "deleted_at": tweet.get("deleted_at"),
            "geo": tweet.get("coordinates") or tweet.get("geo"),
        }
        post = Post(
            platform="x",
            post_id=str(tweet["id_str"]),
            source_file=path,
            original=tweet,
            claimed={k: v for k, v in claimed.items() if v not in (None, "", [])},
        )
        media = (tweet.get("extended_entities") or entities).get("media", [])
        present = sorted(media_dir.glob(f"{tweet['id_str']}-*")) if media_dir.is_dir() else []
        for medium in media:
            name = Path(urlsplit(str(medium.get("media_url_https", ""))).path).name
            variants = (medium.get("video_info") or {}).get("variants", [])
            names = [name] + [Path(urlsplit(str(v.get("url", ""))).path).name for v in variants]
            found = next(
                (p for p in present for n in names if n and p.name == f"{tweet['id_str']}-{n}"),
                None,
            )
            role = str(medium.get("type", "media"))
            why = "" if found else "not in the archive (X includes only some media)"
            post.media.append((role, found, why))
        return post
