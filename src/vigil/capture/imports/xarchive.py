"""X/Twitter account archives ("Download an archive of your data").

The archive's ``data/`` folder holds JavaScript files, each ``window.YTD.<name>.partN
= `` followed by a JSON array of wrapped objects (``{"tweet": {...}}``,
``{"account": {...}}``): ``tweets.js`` (and ``tweets-part1.js``, …; archives made
before about 2019 name it ``tweet.js``), ``deleted-tweets.js``, ``account.js``,
``manifest.js``. Media the archive includes are in ``tweets_media/`` (older:
``tweet_media/``) and ``deleted_tweets_media/``, named ``<tweet id>-<media file
name>``; a retweet carries the original's media under the retweet's own id.

A tweet whose fields have the wrong types is skipped and named in ``problems``
(file and tweet id); an archive that yields no tweets at all is a problem too.

``note-tweet.js`` (the full text of posts longer than 280 characters) is not
read: its entries carry a ``noteTweetId``, not the id of the tweet they belong
to, and no archive at hand shows how the two are linked.
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

_TWEET_FILES = re.compile(r"(deleted-)?tweets?(-part\d+)?\.js")
_MEDIA_DIRS = {False: ("tweets_media", "tweet_media"), True: ("deleted_tweets_media",)}


def read_ytd(path: Path) -> Any:
    """Parse one ``window.YTD… = [...]`` file (`InputError` naming it if malformed)."""
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text[text.index("=") + 1 :])
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not an X archive data file ({exc})") from None


def _object(value: Any, what: str) -> dict[str, Any]:
    """*value* as an object (missing or empty: {}); `ValueError` naming *what* otherwise."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} is a {type(value).__name__}, not an object")
    return value


def _objects(value: Any, what: str) -> list[dict[str, Any]]:
    """*value* as a list of objects (missing: []); `ValueError` naming *what* otherwise."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{what} is not a list of objects")
    return value


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
        self.root = path  # the archive as given: with "Your archive.html" and assets/
        if not (self.data / "account.js").is_file() and not list(self._tweet_files()):
            raise InputError(
                f"{path}: no X archive here (no data/tweets.js, data/tweet.js or data/account.js)"
            )
        self.problems: list[str] = []
        self._media: dict[bool, dict[str, Path]] = {}

    def _tweet_files(self) -> Iterator[Path]:
        for path in sorted(self.data.glob("*.js")):
            if _TWEET_FILES.fullmatch(path.name):
                yield path

    def files(self) -> list[Path]:
        """data/, and beside it the archive's own viewer ("Your archive.html", assets/):
        the archive as it was received. An X archive unzips without a top folder, so
        only these names are taken (unzipped into ~/Downloads, nothing else comes)."""
        if self.root == self.data:
            return [self.data]
        extra = [self.root / "Your archive.html", self.root / "assets"]
        return [self.data, *(p for p in extra if p.exists())]

    def _account(self) -> dict[str, Any]:
        path = self.data / "account.js"
        if not path.is_file():
            return {}
        entries = read_ytd(path)
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            account = entries[0].get("account", {})
            return account if isinstance(account, dict) else {}
        return {}

    def _media_files(self, deleted: bool) -> dict[str, Path]:
        """The media files of (deleted) tweets by name, listed once for all tweets."""
        if deleted not in self._media:
            folders = [self.data / name for name in _MEDIA_DIRS[deleted]]
            try:
                self._media[deleted] = {
                    p.name: p for folder in folders if folder.is_dir() for p in folder.iterdir()
                }
            except OSError as exc:
                raise InputError(
                    f"{exc.filename}: media folder unreadable ({exc.strerror})"
                ) from None
        return self._media[deleted]

    def posts(self) -> Iterator[Post]:
        account = self._account()
        found = 0
        for path in self._tweet_files():
            deleted = path.name.startswith("deleted-")
            entries = read_ytd(path)
            if not isinstance(entries, list):
                raise InputError(f"{path}: expected a list of tweets")
            for number, entry in enumerate(entries):
                tweet = entry.get("tweet") if isinstance(entry, dict) else None
                if not isinstance(tweet, dict) or "id_str" not in tweet:
                    raise InputError(f"{path}: entry {number} is not a tweet")
                try:
                    post = self._post(path, tweet, account, deleted)
                except ValueError as exc:
                    self.problems.append(f"{path}: tweet {tweet['id_str']!r:.40}: {exc}: skipped")
                    continue
                found += 1
                yield post
        if not found:
            self.problems.append(
                f"{self.data}: no tweets found (data/tweets.js or data/tweet.js missing or empty)"
            )

    def _post(
        self, path: Path, tweet: dict[str, Any], account: dict[str, Any], deleted: bool
    ) -> Post:
        """The post of *tweet*; `ValueError` saying what is malformed."""
        if not isinstance(tweet["id_str"], str) or not tweet["id_str"]:
            raise ValueError("id_str is not a string")
        entities = _object(tweet.get("entities"), "entities")
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
                u.get("expanded_url")
                for u in _objects(entities.get("urls"), "entities.urls")
                if u.get("expanded_url")
            ],
            "hashtags": [
                h.get("text") for h in _objects(entities.get("hashtags"), "entities.hashtags")
            ],
            "mentions": [
                m.get("screen_name")
                for m in _objects(entities.get("user_mentions"), "entities.user_mentions")
            ],
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
        self._link_media(post, tweet, entities, deleted)
        return post

    def _link_media(
        self, post: Post, tweet: dict[str, Any], entities: dict[str, Any], deleted: bool
    ) -> None:
        """Each medium the tweet lists, linked to ``<id>-<file name>`` if the archive has it."""
        extended = _object(tweet.get("extended_entities"), "extended_entities")
        what = "extended_entities.media" if extended else "entities.media"
        files = self._media_files(deleted)
        for medium in _objects((extended or entities).get("media"), what):
            name = Path(urlsplit(str(medium.get("media_url_https", ""))).path).name
            video = _object(medium.get("video_info"), "video_info")
            variants = _objects(video.get("variants"), "video_info.variants")
            names = [name] + [Path(urlsplit(str(v.get("url", ""))).path).name for v in variants]
            found = next(
                (
                    files[f"{post.post_id}-{n}"]
                    for n in names
                    if n and f"{post.post_id}-{n}" in files
                ),
                None,
            )
            role = str(medium.get("type", "media"))
            why = "" if found else "not in the archive (X includes only some media)"
            post.media.append((role, found, why))
