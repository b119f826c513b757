"""The fail-closed check of a scrubbed text: is any media left in it that was not rewritten?

`vigil.export.datauris` rewrites the ``data:`` URIs it finds; pages escape in more ways
than any scanner knows, so what it wrote is read again as a browser would read it
(`view`: HTML references, JSON/JS and CSS escapes and percent-encoding undone) and:

* every ``data:`` URI in that view must hold no media, or exactly a copy the scrub
  made (`leftover_media`'s *made*);
* every long base64 run must hold no media: runs are joined across line breaks and
  across ``", "`` between long runs (MIME lines, JSON arrays of chunks), read as
  standard and URL-safe base64 at each of the four alignments (a cut payload's tail
  is not aligned), and refused if they hold a media signature anywhere (a JPEG
  marker, EXIF, XMP, PNG chunks, ``ftyp``, EBML, ...), or if they are long
  (`BINARY_RUN`) and decode to binary at every alignment (text encoded in base64
  decodes to text at one of them).

Everything here is linear in the text's length.
"""

from __future__ import annotations

import base64
import html
import re
import urllib.parse

from vigil.blobs.base import HEAD_SIZE
from vigil.redact import redactable
from vigil.sniff import sniff_media_type

__all__ = ["DEPTH", "is_media_type", "is_text", "leftover_media", "unescape"]

DEPTH = 4  # texts inside texts followed this deep; deeper is refused
LONG_RUN = 1024  # base64 characters: shorter runs are tokens, hashes, keys
BINARY_RUN = 8192  # a run this long that is binary at every alignment is refused
_SCAN = 1 << 18  # characters of a run read for signatures
_VIEW_URI = re.compile(  # a media type or ";base64" (or nothing) before the comma: not prose
    r"(?<![A-Za-z0-9])data\s{0,4}:(\s{0,4}(?:[\w.+-]{1,127}/[\w.+-]{1,127})?(?:;[^,;]{0,64}){0,8}),",
    re.IGNORECASE,
)
_VIEW_PAYLOAD = re.compile(r"[A-Za-z0-9+/=_\s-]*")
_VIEW_RAW = re.compile(r"[^\s\"'<>()]*")
_RUN = re.compile(r"[A-Za-z0-9+/=_-]+")
_JOINS = re.compile(  # a line break or '", "' between two long base64 runs
    r"(?<=[A-Za-z0-9+/=_-]{60})(?:\s+|\s*[\"']\s*,\s*[\"']\s*)(?=[A-Za-z0-9+/=_-]{60})"
)
_SIGNATURES = (b"\xff\xd8\xff", b"Exif\x00\x00", b"<x:xmpmeta", b"ns.adobe.com/xap",
               b"\x89PNG\r\n", b"IHDR", b"IDAT", b"ftypisom", b"ftypmp4", b"ftypheic",
               b"ftypavif", b"ftypqt", b"\x1a\x45\xdf\xa3", b"WEBPVP8", b"GIF87a", b"GIF89a",
               b"OggS", b"ID3\x03", b"ID3\x04", b"RIFF")  # fmt: skip


def unescape(text: str) -> str:
    """*text* with HTML references, JSON/JS and CSS escapes and line continuations undone."""
    text = html.unescape(text)
    text = re.sub(r"\\[uU]([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)
    text = re.sub(r"\\[xX]([0-9a-fA-F]{2})", lambda m: chr(int(m[1], 16)), text)
    text = re.sub(r"\\([0-9a-fA-F]{1,6}) ?", lambda m: _css_char(m[1]), text)
    text = re.sub(r"\\\r?\n", "", text)
    return text.replace("\\", "")


def _css_char(hex_digits: str) -> str:
    code = int(hex_digits, 16)
    return chr(code) if 0 < code < 0x110000 else "\ufffd"


def view(text: bytes) -> str:
    """The whole text as a browser reads its URIs: escapes and percent-encoding undone."""
    return urllib.parse.unquote(unescape(text.decode("utf-8", "surrogateescape")))


def decode_base64(text: str, offset: int = 0) -> bytes:
    """What *text* decodes to as (URL-safe or standard) base64 from its *offset*-th
    character, stray characters dropped and a partial last quantum cut."""
    digits = re.sub(r"[^A-Za-z0-9+/_-]", "", text)[offset:]
    digits = digits.replace("-", "+").replace("_", "/")
    digits = digits[: len(digits) - len(digits) % 4]
    return base64.b64decode(digits) if digits else b""


def is_text(data: bytes) -> bool:
    """UTF-8 text without NULs (no image, video or audio format is); a character cut
    at the end (of a head read) does not count against it."""
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data" and exc.start >= len(data) - 3
    return True


def is_media_type(media_type: str) -> bool:
    """An image (not SVG: a text), a video or audio: what only a redacted copy may show."""
    return redactable(media_type) and media_type != "image/svg+xml"


def media_in(head: bytes) -> str:
    """The media type of *head* if it is an image (not SVG), a video or audio; else ''."""
    if not head or is_text(head[:HEAD_SIZE]):
        return ""
    sniffed = sniff_media_type(head[:HEAD_SIZE])
    return sniffed if is_media_type(sniffed) else ""


def leftover_media(text: bytes, made: set[str], depth: int = 0) -> str | None:
    """Why *text* still holds media that is not one of the base64 copies in *made*."""
    seen = view(text)
    for copy in made:  # (so that a run joined to its neighbours is not taken for another)
        seen = seen.replace(copy, " ")
    pos = 0
    while (found := _VIEW_URI.search(seen, pos)) is not None:
        header = found[1].replace(" ", "").lower()
        pattern = _VIEW_PAYLOAD if header.endswith(";base64") else _VIEW_RAW
        payload = pattern.match(seen, found.end())
        assert payload is not None  # (both patterns match the empty string)
        pos = payload.end()
        why = _in_payload(header, payload[0], made, depth)
        if why is not None:
            return why
    return _in_runs(_JOINS.sub("", seen))


def _in_payload(header: str, payload: str, made: set[str], depth: int) -> str | None:
    data = (
        decode_base64(payload)
        if header.endswith(";base64")
        else payload.encode("utf-8", "surrogateescape")
    )
    if not data or is_text(data):
        if depth >= DEPTH and data:
            return f"texts nested more than {DEPTH} deep"
        return leftover_media(data, made, depth + 1) if data else None
    kind = media_in(data)
    if kind:
        return f"a data: URI still holds {kind} in an encoding not rewritten"
    return None


def _in_runs(seen: str) -> str | None:
    for match in _RUN.finditer(seen):
        run = match[0]
        if len(run) < LONG_RUN:
            continue
        decoded = [decode_base64(run[:_SCAN], offset) for offset in range(4)]
        for data in decoded:
            if any(signature in data for signature in _SIGNATURES):
                return f"{len(run):,} characters of base64 hold media (outside any data: URI)"
        if len(run) >= BINARY_RUN and not any(is_text(d[: HEAD_SIZE * 4]) for d in decoded):
            return f"{len(run):,} characters of base64 decode to binary data"
    return None
