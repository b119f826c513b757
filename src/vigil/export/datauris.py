"""Media embedded in text as ``data:`` URIs (RFC 2397), made safe for a public copy.

A page can carry a photo inside its HTML (``<img src="data:image/jpeg;base64,…">``),
its CSS (``url(data:…)``), its JSON or an SVG; copied as text, the photo would be
published with its faces and its EXIF (GPS, camera, owner). `scrub` replaces every
``data:`` URI in a text:

* an image, video or audio by its **bytes** (libmagic, whatever the label says) becomes
  its redacted copy (`vigil.redact.redact_file`: faces blurred, metadata stripped),
  base64-encoded, with its new media type;
* an SVG or a text is scrubbed in turn (an SVG can hold a photo) and re-encoded the
  way it was, if anything in it changed;
* anything else (fonts, PDFs, archives, what will not decode or redact) becomes
  ``data:,`` (an empty text), and the result says what was removed and why.

**Finding them.** The scheme is found however a page escapes its colon (``&#x3a;``,
``&colon;``, ``\\u003a``, ``%3A``, CSS ``\\3a``). A URI runs to the quote or parenthesis
that opened it (``"``, ``'``, ``\\"``, ``&quot;``, ``url(``), spaces and line breaks
included (browsers drop whitespace from base64), else to the first space, quote or
bracket; a ``srcset`` descriptor (`` 1x,``) ends it too. Inside it, HTML character
references, JSON/JS escapes (``\\/``, ``\\u002F``), CSS escapes and percent-encoding are
undone before it is read.

**Failing closed.** Pages escape in more ways than any scanner knows, so the result
is checked: with every escape above undone across the whole text, no ``data:`` URI
may still hold media that is not one of the redacted copies just made, and no long
base64 run may decode to an image, a video or audio (a JSON ``"thumb": "/9j/…"``).
If one does, `scrub` raises `InputError` and the text gets no public copy (a
public package then leaves it out, saying why).

Every scan is linear in the text's length (each region is consumed once).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import subprocess
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.blobs.base import HEAD_SIZE
from vigil.errors import InputError
from vigil.redact import redact_file, redactable
from vigil.sniff import sniff_media_type

__all__ = ["embeds_media", "redact_text_file", "scrub"]

_COLON = (  # ":" as written, or escaped for HTML, JSON/JS, CSS or a URL
    rb"(?::|&colon;|&#0{0,4}58;?|&#[xX]0{0,4}3[aA];?|\\[uU]003[aA]|\\[xX]3[aA]|%3[aA]"
    rb"|\\0{0,4}3[aA] ?)"
)
_ANCHOR = re.compile(rb"(?<![A-Za-z0-9])data[ \t]{0,4}" + _COLON, re.IGNORECASE)
_OPENERS = ((b'\\"', b'\\"'), (b"\\'", b"\\'"), (b"&quot;", b"&quot;"), (b"&#34;", b"&#34;"),
            (b"&#x22;", b"&#x22;"), (b"&apos;", b"&apos;"), (b"&#39;", b"&#39;"),
            (b'"', b'"'), (b"'", b"'"), (b"(", b")"))  # fmt: skip
_BARE_END = re.compile(rb"[\s\"'()<>]")
_SRCSET_END = re.compile(rb"\s{1,8}\d{1,6}(?:\.\d{1,6})?[wxWX]\s{0,8},")  # "<uri> 1x, <uri> 2x"
_EMPTY = b"data:,"
_DEPTH = 4  # texts inside texts: deeper than this is removed, not followed
_TEXT_TYPES = ("text/", "image/svg+xml", "application/xhtml+xml", "application/xml",
               "application/json", "application/javascript", "application/ecmascript",
               "application/x-empty")  # fmt: skip
_VIEW_URI = re.compile(  # a media type or ";base64" (or nothing) before the comma: not prose
    r"(?<![A-Za-z0-9])data\s{0,4}:(\s{0,4}(?:[\w.+-]{1,127}/[\w.+-]{1,127})?(?:;[^,;]{0,64}){0,8}),",
    re.IGNORECASE,
)
_VIEW_PAYLOAD = re.compile(r"[A-Za-z0-9+/=_\s-]*")
_VIEW_RAW = re.compile(r"[^\s\"'<>()]*")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]+")  # (each run found once; the long ones count)
_LONG_RUN = 1024


def _unescape(text: str) -> str:
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


def _view(text: bytes) -> str:
    """The whole text as a browser would read its URIs: escapes and percent-encoding undone."""
    return urllib.parse.unquote(_unescape(text.decode("utf-8", "surrogateescape")))


class _Unreadable(ValueError):
    """A ``data:`` URI whose content cannot be read (it is removed)."""

    def __init__(self, media_type: str, why: str) -> None:
        super().__init__(why)
        self.media_type, self.why = media_type, why


@dataclass
class _Uri:
    media_type: str
    header: str  # what stood between ``data:`` and the comma, unescaped
    base64: bool
    payload: bytes


def _parse(region: bytes) -> _Uri | None:
    """The URI in *region* (from its scheme to its end); None if it is no URI (no
    comma: prose such as "Data: 82"); `_Unreadable` if its base64 does not decode."""
    text = _unescape(region.decode("utf-8", "surrogateescape"))
    colon = text.find(":")
    comma = text.find(",", colon)
    if colon < 0 or comma < 0:
        return None
    header = urllib.parse.unquote(text[colon + 1 : comma]).strip()
    parts = [p.strip() for p in header.split(";")]
    is_base64 = len(parts) > 1 and parts[-1].lower() == "base64"
    raw = text[comma + 1 :]
    if is_base64:
        digits = re.sub(r"\s", "", urllib.parse.unquote(raw)).rstrip("=")
        digits = digits.replace("-", "+").replace("_", "/")  # (URL-safe base64 too)
        try:
            payload = base64.b64decode(digits + "=" * (-len(digits) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _Unreadable(parts[0].lower(), f"its base64 does not decode ({exc})") from None
    else:
        payload = urllib.parse.unquote_to_bytes(raw.encode("utf-8", "surrogateescape"))
    return _Uri(parts[0].lower() or "text/plain", header, is_base64, payload)


def _region_end(text: bytes, start: int, after: int) -> int:
    """Where the URI whose scheme starts at *start* (colon ending at *after*) ends."""
    before = text[max(0, start - 8) : start].rstrip(b" \t")
    for opener, closer in _OPENERS:
        if before.lower().endswith(opener):
            end = after
            while True:
                end = text.find(closer, end)
                if end < 0:
                    end = len(text)
                    break
                if closer not in (b'"', b"'") or _escaped_quote(text, end) is False:
                    break
                end += 1  # a quote escaped inside a JSON or JS string: not the end
            srcset = _SRCSET_END.search(text, after, end)
            return srcset.start() if srcset is not None else end
    found = _BARE_END.search(text, after)
    return found.start() if found is not None else len(text)


def _escaped_quote(text: bytes, at: int) -> bool:
    """Whether the quote at *at* is escaped by an odd number of backslashes."""
    slashes = 0
    while at - slashes - 1 >= 0 and text[at - slashes - 1] == 0x5C:
        slashes += 1
    return slashes % 2 == 1


@dataclass
class _Scrubber:
    """One text's scrubbing: what was done, and the redacted copies made."""

    scratch: Path
    detect: bool
    found: list[dict[str, Any]] = field(default_factory=list)
    made_base64: set[str] = field(default_factory=set)  # the first base64 characters of each

    def text(self, text: bytes, depth: int = 0) -> bytes:
        out, pos = [], 0
        while (anchor := _ANCHOR.search(text, pos)) is not None:
            end = _region_end(text, anchor.start(), anchor.end())
            out += [text[pos : anchor.start()], self._replace(text[anchor.start() : end], depth)]
            pos = end
        out.append(text[pos:])
        return b"".join(out)

    def _replace(self, region: bytes, depth: int) -> bytes:
        try:
            uri = _parse(region)
        except _Unreadable as exc:
            return self._removed(exc.media_type or "text/plain", exc.why)
        if uri is None:
            return region
        if not uri.payload:
            return region  # nothing in it (``data:,`` itself)
        sniffed = sniff_media_type(uri.payload[:HEAD_SIZE])
        if redactable(sniffed) and sniffed != "image/svg+xml":
            return self._redacted(uri.media_type, sniffed, uri.payload)
        if sniffed.startswith(_TEXT_TYPES):
            if depth >= _DEPTH:
                return self._removed(uri.media_type, f"texts nested more than {_DEPTH} deep")
            inner = self.text(uri.payload, depth + 1)
            if inner == uri.payload:
                return region
            head = f"data:{uri.header},".encode("utf-8", "surrogateescape")
            if uri.base64:
                return head + base64.b64encode(inner)
            return head + urllib.parse.quote_from_bytes(inner, safe="/:=;,+").encode()
        return self._removed(uri.media_type, f"no public copy of {sniffed}")

    def _redacted(self, label: str, sniffed: str, payload: bytes) -> bytes:
        n = len(self.found)
        src, dst = self.scratch / f"embedded-{n}", self.scratch / f"embedded-{n}.redacted"
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
        encoded = base64.b64encode(body)
        self.made_base64.add(encoded[:64].decode("ascii"))
        return b"data:" + now.encode("ascii") + b";base64," + encoded

    def _removed(self, label: str, why: str) -> bytes:
        self.found.append({"declared": label, "action": "removed", "why": why})
        return _EMPTY

    def unsafe(self, text: bytes, depth: int = 0) -> str | None:
        """Why *text* (already scrubbed) still holds media that is not a copy made here."""
        view = _view(text)
        pos = 0
        while (found := _VIEW_URI.search(view, pos)) is not None:
            header = found[1].replace(" ", "").lower()
            pattern = _VIEW_PAYLOAD if header.endswith(";base64") else _VIEW_RAW
            payload_match = pattern.match(view, found.end())
            assert payload_match is not None  # (both patterns match the empty string)
            pos = payload_match.end()
            why = self._unsafe_payload(header, payload_match[0], depth)
            if why is not None:
                return why
        for run in _long_runs(view):
            if run[:64] not in self.made_base64 and (kind := _media(_b64(run[:4096]))):
                return f"a base64 {kind} outside any data: URI"
        return None

    def _unsafe_payload(self, header: str, payload: str, depth: int) -> str | None:
        if header.endswith(";base64"):
            data = _b64(payload)
            ours = payload.lstrip()[:64] in self.made_base64
        else:
            data = payload.encode("utf-8", "surrogateescape")
            ours = False
        kind = _media(data[:HEAD_SIZE])
        if kind and not ours:
            return f"a data: URI still holds {kind} in an encoding not rewritten"
        if not kind and data and sniff_media_type(data[:HEAD_SIZE]).startswith(_TEXT_TYPES):
            if depth >= _DEPTH:
                return f"texts nested more than {_DEPTH} deep"
            return self.unsafe(data, depth + 1)
        return None


def _b64(text: str) -> bytes:
    """As much of *text* as decodes as base64 (whitespace and stray characters dropped)."""
    digits = re.sub(r"[^A-Za-z0-9+/_-]", "", text).replace("-", "+").replace("_", "/")
    digits = digits[: len(digits) - len(digits) % 4]
    return base64.b64decode(digits) if digits else b""


def _media(head: bytes) -> str:
    """The media type of *head* if it is an image (not SVG), a video or audio; else ''."""
    sniffed = sniff_media_type(head[:HEAD_SIZE]) if head else ""
    return sniffed if redactable(sniffed) and sniffed != "image/svg+xml" else ""


def embeds_media(text: bytes, depth: int = 0) -> bool:
    """Whether `scrub` would change or refuse *text*: a ``data:`` URI holding anything but
    plain text (in any escaping Vigil knows), or a long base64 run that is media."""
    pos = 0
    while (anchor := _ANCHOR.search(text, pos)) is not None:
        pos = _region_end(text, anchor.start(), anchor.end())
        try:
            uri = _parse(text[anchor.start() : pos])
        except _Unreadable:
            return True
        if uri is None or not uri.payload:
            continue
        sniffed = sniff_media_type(uri.payload[:HEAD_SIZE])
        if not sniffed.startswith(_TEXT_TYPES) or depth >= _DEPTH:
            return True
        if embeds_media(uri.payload, depth + 1):
            return True
    return _Scrubber(Path(), detect=False).unsafe(text) is not None


def _long_runs(view: str) -> list[str]:
    return [m[0] for m in _BASE64_RUN.finditer(view) if len(m[0]) >= _LONG_RUN]


def scrub(text: bytes, *, detect: bool = True) -> tuple[bytes, list[dict[str, Any]]]:
    """*text* with every ``data:`` URI made safe, and what was done to each;
    `InputError` if media is left that this could not rewrite (see the module note)."""
    with tempfile.TemporaryDirectory(prefix="vigil-datauri-") as scratch:
        scrubber = _Scrubber(Path(scratch), detect)
        out = scrubber.text(text)
        why = scrubber.unsafe(out)
    if why is not None:
        raise InputError(f"embedded media that cannot be made public: {why}")
    return out, scrubber.found


def redact_text_file(
    src: Path, dst: Path, media_type: str, *, detect: bool = True
) -> dict[str, Any]:
    """A public copy of the text *src* at *dst*: its ``data:`` URIs scrubbed; the result
    in the shape of `vigil.redact.redact_file`'s."""
    text = src.read_bytes()
    if not embeds_media(text):
        raise InputError(f"{src.name}: a {media_type} text with no data: URI has nothing to "
                         "redact (it is public as it is)")  # fmt: skip
    try:
        scrubbed, found = scrub(text, detect=detect)
    except InputError as exc:
        raise InputError(f"{src.name}: {exc}") from None
    dst.write_bytes(scrubbed)
    return {"media_type": media_type, "data_uris": found, "boxes": [], "detected": detect}
