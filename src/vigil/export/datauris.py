"""Media embedded in text as ``data:`` URIs (RFC 2397), made safe for a public copy.

A page can carry a photo inside its HTML (``<img src="data:image/jpeg;base64,…">``),
its CSS (``url(data:…)``), its JSON or an SVG; copied as text, the photo would be
published with its faces and its EXIF (GPS, camera, owner). `scrub` finds every
``data:`` URI in a text and replaces it:

* an image, video or audio by its **bytes** (libmagic, whatever the label says) becomes
  its redacted copy (`vigil.redact.redact_file`: faces blurred, metadata stripped),
  base64-encoded, with its new media type;
* an SVG or a text, base64 or percent-encoded, is scrubbed in turn (an SVG can hold a
  photo) and re-encoded the way it was, if anything in it changed;
* anything else (fonts, PDFs, archives, what will not decode or redact) becomes
  ``data:,`` (an empty text), and the result says what was removed and why.

A URI's end is where its characters stop (a quote, a parenthesis, ``<``, ``>``);
base64 may be wrapped over lines, escaped for JSON (``\\/``) or hold HTML character
references. Raw, unescaped markup after a comma (``data:image/svg+xml;utf8,<svg…``)
ends the URI at its ``<``: the markup stays as text, and any URI inside it is found
on its own.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import subprocess
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

from vigil.blobs.base import HEAD_SIZE
from vigil.errors import InputError
from vigil.redact import redact_file, redactable
from vigil.sniff import sniff_media_type

__all__ = ["embeds_data_uris", "redact_text_file", "scrub"]

_TYPE = rb"[A-Za-z0-9!#$&^_.+-]+(?:/|\\/)[A-Za-z0-9!#$&^_.+-]+"
_PARAMETER = rb";(?!base64[,\s])[A-Za-z0-9!#$&^_.+-]+=[^;,\"'\s<>()]*"
_BASE64_CHAR = rb"(?:[A-Za-z0-9+/=_-]|\\/|%[0-9A-Fa-f]{2}|&#[xX]?[0-9A-Fa-f]+;|\\[rn])"
_BASE64_TEXT = rb"(?:" + _BASE64_CHAR + rb"|\s+(?=" + _BASE64_CHAR + rb"))*"  # wrapped lines
_DATA_URI = re.compile(
    rb"(?<![A-Za-z])data:(?P<type>" + _TYPE + rb")?(?P<params>(?:" + _PARAMETER + rb")*)"
    rb"(?:(?P<base64>;base64),(?P<encoded>" + _BASE64_TEXT + rb")"
    rb"|,(?P<text>[^\"'\s<>()]*))",
    re.IGNORECASE,
)
_EMPTY = b"data:,"
_DEPTH = 4  # texts inside texts: deeper than this is removed, not followed
_TEXT_TYPES = ("text/", "image/svg+xml", "application/xhtml+xml", "application/xml",
               "application/json", "application/javascript", "application/ecmascript")  # fmt: skip


def embeds_data_uris(text: bytes) -> bool:
    """Whether *text* holds a ``data:`` URI with something in it."""
    return any(_payload_text(m) for m in _DATA_URI.finditer(text))


def _payload_text(match: re.Match[bytes]) -> bytes:
    return (match["encoded"] if match["base64"] else match["text"]) or b""


def _decode(match: re.Match[bytes]) -> bytes:
    """The bytes a URI holds; `ValueError` if they do not decode."""
    raw = _payload_text(match)
    if match["base64"]:
        text = html.unescape(raw.decode("ascii")).replace("\\/", "/")
        text = re.sub(r"\\[rn]|\s", "", urllib.parse.unquote(text))
        text = text.rstrip("=").replace("-", "+").replace("_", "/")  # (URL-safe too)
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"its base64 does not decode ({exc})") from None
    return urllib.parse.unquote_to_bytes(raw)


class _Scrubber:
    """One text's scrubbing: the redactions made, in a scratch folder."""

    def __init__(self, scratch: Path, detect: bool) -> None:
        self.scratch = scratch
        self.detect = detect
        self.found: list[dict[str, Any]] = []
        self._count = 0

    def text(self, text: bytes, depth: int = 0) -> bytes:
        return _DATA_URI.sub(lambda m: self._replace(m, depth), text)

    def _replace(self, match: re.Match[bytes], depth: int) -> bytes:
        if not _payload_text(match):
            return match[0]  # nothing in it (``data:,`` itself)
        label = (match["type"] or b"text/plain").decode("ascii").replace("\\/", "/").lower()
        try:
            payload = _decode(match)
        except ValueError as exc:
            return self._removed(label, str(exc))
        sniffed = sniff_media_type(payload[:HEAD_SIZE])
        if redactable(sniffed) and sniffed != "image/svg+xml":
            return self._redacted(label, sniffed, payload)
        if sniffed.startswith(_TEXT_TYPES) or sniffed == "application/x-empty":
            if depth >= _DEPTH:
                return self._removed(label, f"texts nested more than {_DEPTH} deep")
            inner = self.text(payload, depth + 1)
            if inner == payload:
                return match[0]
            head = b"data:" + (match["type"] or b"") + (match["params"] or b"")
            if match["base64"]:
                return head + b";base64," + base64.b64encode(inner)
            return head + b"," + urllib.parse.quote_from_bytes(inner, safe="/:=;,+").encode()
        return self._removed(label, f"no public copy of {sniffed}")

    def _redacted(self, label: str, sniffed: str, payload: bytes) -> bytes:
        self._count += 1
        src = self.scratch / f"embedded-{self._count}"
        dst = self.scratch / f"embedded-{self._count}.redacted"
        src.write_bytes(payload)
        try:
            done = redact_file(src, dst, sniffed, [], detect=self.detect)
        except (InputError, OSError, subprocess.SubprocessError) as exc:
            return self._removed(label, f"{sniffed} could not be redacted ({exc})")
        finally:
            src.unlink(missing_ok=True)
        body = dst.read_bytes()
        dst.unlink()
        faces = len(done.get("faces", [])) + int(done.get("frames_with_faces", 0))
        now = str(done["media_type"])
        self.found.append({"declared": label, "media_type": sniffed, "action": "redacted",
                           "now": now, "faces": faces})  # fmt: skip
        return b"data:" + now.encode("ascii") + b";base64," + base64.b64encode(body)

    def _removed(self, label: str, why: str) -> bytes:
        self.found.append({"declared": label, "action": "removed", "why": why})
        return _EMPTY


def scrub(text: bytes, *, detect: bool = True) -> tuple[bytes, list[dict[str, Any]]]:
    """*text* with every ``data:`` URI made safe, and what was done to each."""
    with tempfile.TemporaryDirectory(prefix="vigil-datauri-") as scratch:
        scrubber = _Scrubber(Path(scratch), detect)
        return scrubber.text(text), scrubber.found


def redact_text_file(
    src: Path, dst: Path, media_type: str, *, detect: bool = True
) -> dict[str, Any]:
    """A public copy of the text *src* at *dst*: its ``data:`` URIs scrubbed; the result
    in the shape of `vigil.redact.redact_file`'s."""
    text = src.read_bytes()
    if not embeds_data_uris(text):
        raise InputError(f"{src.name}: a {media_type} text with no data: URI has nothing to "
                         "redact (it is public as it is)")  # fmt: skip
    scrubbed, found = scrub(text, detect=detect)
    dst.write_bytes(scrubbed)
    return {"media_type": media_type, "data_uris": found, "boxes": [], "detected": detect}
