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

**Failing closed.** Pages escape in more ways than any scanner knows, so what was
written is checked (`vigil.export.leftovers`): read as a browser would, it may hold no
media but the redacted copies just made, in a ``data:`` URI or in a long base64 run
(a JSON ``"thumb": "/9j/…"``, a cut payload's tail). If it does, `scrub` raises
`InputError` and the text gets no public copy (a public package leaves it out,
saying why). A UTF-16 or UTF-32 text is read by its byte-order mark (one without a
mark, holding NULs, is refused).

Every scan is linear in the text's length (each region is consumed once).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.blobs.base import HEAD_SIZE
from vigil.errors import InputError
from vigil.export.clientip import mask_client_ips
from vigil.export.leftovers import DEPTH, is_media_type, is_text, leftover_media, unescape
from vigil.redact import redact_file
from vigil.sniff import sniff_media_type

__all__ = ["embeds_media", "needs_public_copy", "public_text", "redact_text_file", "scrub"]

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
    text = unescape(region.decode("utf-8", "surrogateescape"))
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


def _region_end(text: bytes, start: int, after: int, closers: dict[bytes, tuple[int, int]]) -> int:
    """Where the URI whose scheme starts at *start* (colon ending at *after*) ends.
    *closers* remembers, per closer, where it was last looked for and found (-1: not
    at all), so many unclosed openers cost one search, not one each."""
    before = text[max(0, start - 8) : start].rstrip(b" \t")
    for opener, closer in _OPENERS:
        if before.lower().endswith(opener):
            end = _closer(text, closer, after, closers)
            srcset = _SRCSET_END.search(text, after, end)
            return srcset.start() if srcset is not None else end
    found = _BARE_END.search(text, after)
    return found.start() if found is not None else len(text)


def _closer(text: bytes, closer: bytes, after: int, closers: dict[bytes, tuple[int, int]]) -> int:
    """The first *closer* at or after *after* (an escaped quote does not close), or the end."""
    searched, found = closers.get(closer, (len(text) + 1, -1))
    if searched <= after and (found < 0 or after <= found):
        return len(text) if found < 0 else found
    end = after
    while True:
        end = text.find(closer, end)
        if end < 0 or closer not in (b'"', b"'") or not _escaped_quote(text, end):
            break
        end += 1  # a quote escaped inside a JSON or JS string: not the end
    closers[closer] = (after, end)
    return len(text) if end < 0 else end


def _regions(text: bytes) -> Iterator[tuple[int, int]]:
    """Where each ``data:`` URI of *text* starts and ends, in order (each region is
    consumed once: the scan is linear)."""
    pos, closers = 0, dict[bytes, tuple[int, int]]()
    while (anchor := _ANCHOR.search(text, pos)) is not None:
        pos = _region_end(text, anchor.start(), anchor.end(), closers)
        yield anchor.start(), pos


def _escaped_quote(text: bytes, at: int) -> bool:
    """Whether the quote at *at* is escaped by an odd number of backslashes."""
    slashes = 0
    while at - slashes - 1 >= 0 and text[at - slashes - 1] == 0x5C:
        slashes += 1
    return slashes % 2 == 1


@dataclass
class _Scrubber:
    """One text's scrubbing: what was done, and the base64 of each redacted copy made."""

    scratch: Path
    detect: bool
    found: list[dict[str, Any]] = field(default_factory=list)
    made: set[str] = field(default_factory=set)

    def text(self, text: bytes, depth: int = 0) -> bytes:
        out: list[bytes] = []
        pos = 0
        for start, end in _regions(text):
            out += [text[pos:start], self._replace(text[start:end], depth)]
            pos = end
        out.append(text[pos:])
        return b"".join(out)

    def _replace(self, region: bytes, depth: int) -> bytes:
        try:
            uri = _parse(region)
        except _Unreadable as exc:
            return self._removed(exc.media_type or "text/plain", exc.why)
        if uri is None or not uri.payload:
            return region  # prose ("Data: 82"), or nothing in it (``data:,`` itself)
        if is_text(uri.payload):  # (no image, video or audio is UTF-8 text: no libmagic)
            if depth >= DEPTH:
                return self._removed(uri.media_type, f"texts nested more than {DEPTH} deep")
            inner = self.text(uri.payload, depth + 1)
            if inner == uri.payload:
                return region
            head = f"data:{uri.header},".encode("utf-8", "surrogateescape")
            if uri.base64:
                return head + base64.b64encode(inner)
            return head + urllib.parse.quote_from_bytes(inner, safe="/:=;,+").encode()
        sniffed = sniff_media_type(uri.payload[:HEAD_SIZE])
        if is_media_type(sniffed):
            return self._redacted(uri.media_type, sniffed, uri.payload)
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
        self.made.add(encoded.decode("ascii"))
        return b"data:" + now.encode("ascii") + b";base64," + encoded

    def _removed(self, label: str, why: str) -> bytes:
        self.found.append({"declared": label, "action": "removed", "why": why})
        return _EMPTY


_MARKS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
          (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))  # fmt: skip
# (UTF-32's little-endian mark starts like UTF-16's: it is looked for first)


def _wide(text: bytes) -> tuple[bytes, str] | None:
    """The byte-order mark and codec of a UTF-32 or UTF-16 text; None for others."""
    return next(((bom, codec) for bom, codec in _MARKS if text.startswith(bom)), None)


def _as_utf8(text: bytes) -> tuple[bytes, tuple[bytes, str] | None]:
    """*text* as UTF-8 (read by its byte-order mark), and the mark and codec to write it
    back in; `InputError` for a text holding NULs without a mark (UTF-16/32 that
    cannot be read)."""
    wide = _wide(text)
    if wide is None:
        if b"\x00" in text:
            raise InputError("it holds NUL bytes: a UTF-16/32 text without a byte-order mark "
                             "cannot be checked for embedded media")  # fmt: skip
        return text, None
    bom, codec = wide
    try:
        return text[len(bom) :].decode(codec).encode("utf-8", "surrogatepass"), wide
    except UnicodeDecodeError as exc:
        raise InputError(f"it does not decode as {codec} ({exc.reason})") from None


def embeds_media(text: bytes, depth: int = 0) -> bool:
    """Whether `scrub` would change or refuse *text*: a ``data:`` URI holding anything but
    plain text (in any escaping Vigil knows), a long base64 run holding media, or a
    UTF-16/32 text (checked in UTF-8)."""
    if _wide(text) is not None or b"\x00" in text:
        return True
    for start, end in _regions(text):
        try:
            uri = _parse(text[start:end])
        except _Unreadable:
            return True
        if uri is None or not uri.payload:
            continue
        if not is_text(uri.payload) or depth >= DEPTH:
            return True
        if embeds_media(uri.payload, depth + 1):
            return True
    return depth == 0 and leftover_media(text, set()) is not None


def scrub(text: bytes, *, detect: bool = True) -> tuple[bytes, list[dict[str, Any]]]:
    """*text* with every ``data:`` URI made safe, and what was done to each;
    `InputError` if media is left that this could not rewrite (see the module note)."""
    utf8, wide = _as_utf8(text)
    with tempfile.TemporaryDirectory(prefix="vigil-datauri-") as scratch:
        scrubber = _Scrubber(Path(scratch), detect)
        out = scrubber.text(utf8)
        why = leftover_media(out, scrubber.made)
    if why is not None:
        raise InputError(f"embedded media that cannot be made public: {why}")
    if wide is not None:  # written back as it came, mark included
        bom, codec = wide
        out = bom + out.decode("utf-8", "surrogatepass").encode(codec, "surrogatepass")
    return out, scrubber.found


def public_text(text: bytes, *, detect: bool = True) -> tuple[bytes, dict[str, Any]]:
    """*text* made public: its ``data:`` URIs scrubbed (`scrub`: `InputError` if it cannot
    be) and the capturer's address masked in platform URLs (`vigil.export.clientip`);
    and what was done (``data_uris``, ``client_ips_masked``)."""
    found: list[dict[str, Any]] = []
    if embeds_media(text):
        text, found = scrub(text, detect=detect)
    text, masked = mask_client_ips(text)
    return text, {"data_uris": found, "client_ips_masked": masked}


def redact_text_file(
    src: Path, dst: Path, media_type: str, *, detect: bool = True
) -> dict[str, Any]:
    """A public copy of the text *src* at *dst* (`public_text`); the result in the shape
    of `vigil.redact.redact_file`'s."""
    text = src.read_bytes()
    if not needs_public_copy(text):
        raise InputError(f"{src.name}: a {media_type} text with no data: URI or client "
                         "address has nothing to redact (it is public as it is)")  # fmt: skip
    try:
        public, done = public_text(text, detect=detect)
    except InputError as exc:
        raise InputError(f"{src.name}: {exc}") from None
    dst.write_bytes(public)
    return {"media_type": media_type, **done, "boxes": [], "detected": detect}


def needs_public_copy(text: bytes) -> bool:
    """Whether a public text needs a redacted copy: embedded media, or the capturer's
    address in a platform URL."""
    return embeds_media(text) or mask_client_ips(text)[1] > 0
