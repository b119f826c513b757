"""The capturing machine's address, as platforms write it into URLs, masked for the public.

Some platforms sign their media URLs with the address of the machine that asked:
YouTube's ``…googlevideo.com/videoplayback?…&ip=203.0.113.7&…``. yt-dlp's info.json
(a post's blob), the media items' URLs and the WARC of yt-dlp's exchanges all hold
such URLs, so a public package would publish where the documenters captured from.
Their public copies carry ``ip=0.0.0.0`` instead (the originals are untouched; the
signed URLs had expired anyway). The parameter is found as written, percent-encoded
(``ip%3D``) or after an escaped ``&`` (``\\u0026``, ``&amp;``).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MASK", "mask_client_ips", "mask_in"]

MASK = "0.0.0.0"  # noqa: S104  (an address written in a URL, not one bound to)
_PARAM = r"(?:[?&;]|%26|%3[Ff]|\\u0026|&amp;)(?:ip|client_?ip)(?:=|%3[Dd])"
_ADDRESS = (
    r"(?:\d{1,3}(?:\.|%2[Ee])){3}\d{1,3}|[0-9A-Fa-f]{0,4}(?:(?::|%3[Aa])[0-9A-Fa-f]{0,4}){2,7}"
)
_TEXT = re.compile(f"({_PARAM})({_ADDRESS})")
_BYTES = re.compile(f"({_PARAM})({_ADDRESS})".encode())


def mask_client_ips(text: bytes) -> tuple[bytes, int]:
    """*text* with every client address in a URL parameter masked, and how many."""
    return _BYTES.subn(lambda m: m[1] + MASK.encode(), text)


def mask_in(value: Any) -> Any:
    """*value* (JSON-like: strings inside dicts and lists) with client addresses masked."""
    if isinstance(value, str):
        return _TEXT.sub(lambda m: m[1] + MASK, value)
    if isinstance(value, list):
        return [mask_in(v) for v in value]
    if isinstance(value, dict):
        return {k: mask_in(v) for k, v in value.items()}
    return value
