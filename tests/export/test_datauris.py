"""Photos inlined in texts as ``data:`` URIs never reach a public copy unredacted.

The photo is the real face photo (`tests.export.photos`) with a witness's name and GPS in
its EXIF; it is embedded the ways pages, CSS, JSON and SVG embed images."""

from __future__ import annotations

import base64
import codecs
import gzip
import html
import io
import json
import re
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import db_url, run_vigil
from tests.export.photos import FACES, pixels_of, sharpness
from tests.export.warcs import write_responses
from vigil.archive import Archive
from vigil.errors import InputError
from vigil.export.datauris import embeds_media, scrub
from vigil.export.package import export_package
from vigil.export.public import redaction_of
from vigil.export.verify import verify_package
from vigil.export.warcredact import redact_warc

_URI = re.compile(rb"data:([a-z/+]+);base64,([A-Za-z0-9+/=]+)")


def page_with(photo: bytes) -> bytes:
    """A page holding *photo* five ways, a font, a broken URI, and prose about data."""
    b64 = base64.b64encode(photo)
    wrapped = b"\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/jpeg;base64,%s"/></svg>'
    svg_inside = svg % b64
    font = base64.b64encode(b"wOF2" + bytes(range(256)))
    return b"".join([
        b"<html><body><p>metadata: none. Data: 82 civilians.</p>",
        b'<img src="data:image/jpeg;base64,%s" alt="one">' % wrapped,
        b'<div style="background:url(data:image/svg+xml;base64,%s)"></div>'
        % base64.b64encode(svg_inside),
        b"<img src='data:image/svg+xml,%s'>" % urllib.parse.quote_from_bytes(svg_inside).encode(),
        b'<script>var post = {"photo": "data:image\\/jpeg;base64,%s"};</script>'
        % b64.replace(b"/", b"\\/"),
        b"<img src='data:application/octet-stream;base64,%s'>" % b64,  # mislabelled
        b"<style>@font-face{src:url(data:font/woff2;base64,%s)}</style>" % font,
        b'<a href="data:text/plain,if%20we%20all%20die">note</a><a href="data:,">empty</a>',
        b'<img src="data:image/png;base64,AAAA&&&">',  # the start of a PNG, cut
        b"</body></html>",
    ])  # fmt: skip


def images_in(text: bytes) -> list[bytes]:
    return [base64.b64decode(m[2]) for m in _URI.finditer(text) if m[1].startswith(b"image/j")]


def test_every_embedded_photo_is_redacted_and_the_rest_removed(tagged_photo: Path) -> None:
    original = tagged_photo.read_bytes()
    page = page_with(original)
    assert embeds_media(page)
    assert not embeds_media(b"<p>metadata: none. Data: 5, data:, data:text/plain,</p>")
    out, found = scrub(page)
    actions = [(f["declared"], f["action"]) for f in found]
    assert actions == [
        ("image/jpeg", "redacted"),  # the wrapped one
        ("image/jpeg", "redacted"),  # inside the base64 SVG (the SVG itself is re-encoded)
        ("image/jpeg", "redacted"),  # inside the percent-encoded SVG
        ("image/jpeg", "redacted"),  # escaped for JSON
        ("application/octet-stream", "redacted"),  # judged by its bytes, not its label
        ("font/woff2", "removed"),
        ("image/png", "removed"),
    ]
    assert all(f["faces"] >= 2 for f in found if f["action"] == "redacted")
    for b64 in (base64.b64encode(original), urllib.parse.quote_from_bytes(original).encode()):
        assert b64[1000:1100] not in out  # nothing of the original photo's bytes is left
    for text in (b"metadata: none. Data: 82 civilians.", b"data:text/plain,if%20we%20all%20die",
                 b'href="data:,"'):  # fmt: skip
        assert text in out
    # The SVGs now hold the redacted photo: decode them as a browser would.
    svgs = [base64.b64decode(m[2]) for m in _URI.finditer(out) if m[1] == b"image/svg+xml"]
    quoted = re.search(rb"data:image/svg\+xml,([^']*)", out)
    assert quoted is not None and len(svgs) == 1
    svgs.append(urllib.parse.unquote_to_bytes(quoted[1]))
    photos = images_in(out.replace(quoted[0], b"")) + [p for s in svgs for p in images_in(s)]
    assert len(photos) == 5  # wrapped, JSON, mislabelled, and one in each SVG
    before = pixels_of(original)
    for photo in photos:
        assert_clean(photo)
        after = pixels_of(photo)
        for face in FACES:
            assert sharpness(after, face) < 0.1 * sharpness(before, face)


def assert_clean(photo: bytes) -> None:
    """A redacted copy: no EXIF (GPS, owner, camera), no XMP, nothing of the witness."""
    with Image.open(io.BytesIO(photo)) as image:
        assert not image.getexif() and "xmp" not in image.info
    for secret in (b"Witness Name", b"PhoneMaker", b"xmpmeta"):
        assert secret not in photo


def _escape_json_plus(b64: bytes) -> bytes:
    return b64.replace(b"+", b"\\u002B")


ENCODINGS = {  # how pages, scripts and styles write a data: URI in the wild
    "upper case": lambda b: b'<img src="DATA:IMAGE/JPEG;BASE64,%s">' % b,
    "space before base64": lambda b: b'<img src="data:image/jpeg; base64,%s">' % b,
    "space in the base64": lambda b: b'<img src="data:image/jpeg;base64,%s %s">' % (b[:400], b[400:]),
    "css url with quotes": lambda b: b"<p style='background:url( \"data:image/jpeg;base64,%s\" )'>" % b,
    "css unquoted": lambda b: b"<style>p{background:url(data:image/jpeg;base64,%s)}</style>" % b,
    "css line continuation": lambda b: b'<style>p{background:url("data:image/jpeg;base64,%s\\\n%s")}'
    b"</style>" % (b[:100], b[100:]),
    "html entity colon": lambda b: b'<img src="data&#x3a;image/jpeg;base64,%s">' % b,
    "html named colon": lambda b: b'<img src="data&colon;image/jpeg;base64,%s">' % b,
    "html entity in type": lambda b: b'<img src="data:image&#x2f;jpeg;base64,%s">' % b,
    "html entity plus": lambda b: b'<img src="data:image/jpeg;base64,%s">' % b.replace(b"+", b"&plus;"),
    "json unicode slash": lambda b: b'{"p":"data:image\\u002Fjpeg;base64,%s"}' % b.replace(b"/", b"\\u002F"),
    "json unicode plus": lambda b: b'{"p":"data:image/jpeg;base64,%s"}' % _escape_json_plus(b),
    "json unicode colon": lambda b: b'{"p":"data\\u003aimage/jpeg;base64,%s"}' % b,
    "json in json": lambda b: b'{"state":"{\\"p\\":\\"data:image\\\\\\/jpeg;base64,%s\\"}"}'
    % b.replace(b"/", b"\\\\\\/"),
    "quoted parameter": lambda b: b"<img src='data:image/jpeg;name=\"a b.jpg\";base64,%s'>" % b,
    "srcset": lambda b: b'<img srcset="data:image/jpeg;base64,%s 1x, data:image/jpeg;base64,%s 2x">'
    % (b, b),
    "percent-encoded in a query": lambda b: b'<a href="/go?u=data%%3Aimage%%2Fjpeg%%3Bbase64%%2C%s">'
    % urllib.parse.quote_from_bytes(b, safe="").encode(),
    "bare base64 in json": lambda b: b'{"thumb":"%s"}' % b,
    "base64 of base64": lambda b: b'<a href="data:text/plain;base64,%s">' % base64.b64encode(b),
}  # fmt: skip


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_however_a_photo_is_written_it_is_redacted_or_the_text_refused(
    tagged_photo: Path, name: str
) -> None:
    """Fail closed: each embedding is found and redacted, or `scrub` refuses the text
    (a public package then leaves it out); the photo's own bytes never come out."""
    original = tagged_photo.read_bytes()
    page = ENCODINGS[name](base64.b64encode(original))
    assert embeds_media(page)
    try:
        out, found = scrub(page)
    except InputError as exc:
        assert "cannot be made public" in str(exc)
        return
    assert found and all(f["action"] == "redacted" for f in found), found
    for photo in images_in(_view_of(out)):
        assert_clean(photo)
    probe = base64.b64encode(original)[3000:3040]
    assert probe not in out and probe not in _view_of(out)


def _view_of(text: bytes) -> bytes:
    """*text* with JSON/HTML/CSS escapes undone (as the browser sees its URIs)."""
    return urllib.parse.unquote(
        html.unescape(text.decode()).replace("\\\\", "").replace("\\", "")
    ).encode()


def page_warc(path: Path, page: bytes) -> None:
    """A capture's WARC of *page*, sent gzip-encoded (the record holds it as sent)."""
    more = [("Content-Encoding", "gzip"), ("Set-Cookie", "session=witness")]
    with path.open("wb") as f:
        write_responses(f, [("https://example.org/post/1", "text/html; charset=utf-8",
                             gzip.compress(page), more)])  # fmt: skip


def test_a_warc_page_with_an_inlined_photo_is_rebuilt(tmp_path: Path, tagged_photo: Path) -> None:
    src, dst = tmp_path / "capture.warc.gz", tmp_path / "public.warc.gz"
    page_warc(src, page_with(tagged_photo.read_bytes()))
    done = redact_warc(src, dst)
    assert done["redacted"] == [] and done["left_out"] == []
    [note] = done["scrubbed"]
    assert note["uri"] == "https://example.org/post/1" and len(note["data_uris"]) == 7
    with src.open("rb") as f:
        [original_id] = [r.rec_headers.get_header("WARC-Record-ID") for r in ArchiveIterator(f)]
    with dst.open("rb") as f:
        records = [(r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read())
                   for r in ArchiveIterator(f, check_digests="raise")]  # fmt: skip
    [(kind, warc_headers, http_headers, body)] = records[1:]
    assert kind == "response"
    assert warc_headers.get_header("WARC-Vigil-Redacted-From") == original_id
    assert http_headers.get_header("Content-Type") == "text/html; charset=utf-8"
    assert http_headers.get_header("Content-Encoding") is None  # the body is decoded now
    assert http_headers.get_header("Content-Length") == str(len(body))
    assert len(images_in(body)) >= 3  # (wrapped, JSON, mislabelled; more inside the SVGs)
    data = gzip.decompress(dst.read_bytes())
    for secret in (b"Witness Name", b"PhoneMaker", b"session=witness"):
        assert secret not in data, secret


def test_a_public_package_holds_a_page_with_its_photos_redacted(
    archive: Archive, tmp_path: Path, tagged_photo: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "post.html").write_bytes(page_with(tagged_photo.read_bytes()))
    (folder / "statement.txt").write_text("If we all die, remember us.\n")
    archive.add_paths([folder])
    by_name = {r.name.rsplit("/", 1)[-1]: r for r in archive.items()}
    page, statement = by_name["post.html"], by_name["statement.txt"]
    refused = run_vigil("redact", statement.id, archive_path=archive.root,
                        database_url=db_url(archive))  # fmt: skip
    assert refused.returncode != 0 and "nothing to redact" in refused.stderr
    package = tmp_path / "public.wacz"
    exported = export_package(archive, [page.id, statement.id], package, public=True)
    assert exported.left_out == []
    copy = redaction_of(archive, page.id)
    assert copy is not None and copy.media_type == page.media_type
    with zipfile.ZipFile(package) as zf:
        everything = b"".join(zf.read(n) for n in zf.namelist())
        held = zf.read(f"files/{page.id}.html")
        described = json.loads(zf.read(f"items/{page.id}.item"))
        kept = zf.read(f"files/{statement.id}.txt")
    assert b"Witness Name" not in everything and b"PhoneMaker" not in everything
    assert held == archive.blobs.path(copy.sha256).read_bytes()
    assert described["redacted"]["item"] == copy.id
    assert len(described["redacted"]["result"]["data_uris"]) == 7
    assert kept == b"If we all die, remember us.\n"  # no data: URI: public as it is
    problems, _ = verify_package(package, archive.verifier.vkey)
    assert problems == []


@pytest.mark.parametrize("given", [["--box", "1,2,3,4"], ["--no-detect"]])
def test_redacting_a_page_takes_no_boxes_and_always_detects(
    archive: Archive, tmp_path: Path, tagged_photo: Path, given: list[str]
) -> None:
    (tmp_path / "post.html").write_bytes(page_with(tagged_photo.read_bytes()))
    [added] = archive.add_paths([tmp_path / "post.html"])
    assert added.item is not None
    done = run_vigil("redact", added.item.id, *given, archive_path=archive.root,
                     database_url=db_url(archive))  # fmt: skip
    assert done.returncode != 0
    assert ("boxes need an image or a video" if given[0] == "--box" else "--box") in done.stderr
    assert redaction_of(archive, added.item.id) is None


def test_a_warc_text_that_cannot_be_made_safe_is_left_out(
    tmp_path: Path, tagged_photo: Path
) -> None:
    """A JSON response carrying a photo as bare base64 (no data: URI to rewrite): that
    record is left out of the public WARC, saying why; the rest is kept."""
    body = b'{"thumb":"%s"}' % base64.b64encode(tagged_photo.read_bytes())
    src, dst = tmp_path / "capture.warc.gz", tmp_path / "public.warc.gz"
    with src.open("wb") as f:
        write_responses(f, [("https://example.org/api", "application/json", body),
                            ("https://example.org/", "text/html", b"<p>hi</p>")])  # fmt: skip
    done = redact_warc(src, dst)
    [left] = done["left_out"]
    assert left["uri"] == "https://example.org/api" and "outside any data: URI" in left["why"]
    with dst.open("rb") as f:
        uris = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f)]
    assert uris == [None, "https://example.org/"]  # (the warcinfo, then the page)


def _photo_b64(tagged_photo: Path) -> bytes:
    return base64.b64encode(tagged_photo.read_bytes())


@pytest.mark.parametrize(
    "make",
    [  # base64 a scrub cannot rewrite in place: the text must be refused, never published
        lambda b: b'{"raw": "%s"}' % b.replace(b"+", b"-").replace(b"/", b"_"),  # URL-safe
        lambda b: b"\n".join(b[i : i + 76] for i in range(0, len(b), 76)),  # MIME lines
        lambda b: b'{"chunks": ["%s"]}' % b'", "'.join(b[i : i + 512] for i in range(0, len(b), 512)),
        lambda b: b'<img src="data:image/jpeg;base64,%s"+"%s">' % (b[:8], b[8:]),  # cut: its tail
        lambda b: b"<p>%s</p>" % b" ".join(b[i : i + 64] for i in range(0, len(b), 64)),
    ],
    ids=["base64url", "mime-lines", "json-chunks", "cut-tail", "spaced"],
)  # fmt: skip
def test_base64_media_outside_a_rewritable_uri_refuses_the_text(
    tagged_photo: Path, make: Any
) -> None:
    page = make(_photo_b64(tagged_photo))
    assert embeds_media(page)
    with pytest.raises(InputError, match="cannot be made public"):
        scrub(page, detect=False)


def test_one_redacted_copy_does_not_vouch_for_another_photo(
    tagged_photo: Path, tmp_path: Path
) -> None:
    """Copies are recognised whole, not by their first bytes: JPEGs saved alike share
    a header, so a prefix would let an unredacted one through beside a redacted one."""
    square = tmp_path / "square.jpg"
    Image.new("RGB", (64, 64), "red").save(square, "JPEG", quality=90)
    page = b'<img src="data:image/jpeg;base64,%s"><img src="&#x64;ata:image/jpeg;base64,%s">' % (
        base64.b64encode(square.read_bytes()), _photo_b64(tagged_photo))  # fmt: skip
    try:
        out, _found = scrub(page, detect=False)
    except InputError:
        return  # refused: fine
    for photo in images_in(_view_of(out)):
        assert_clean(photo)


def test_a_utf16_page_is_read_by_its_mark_and_written_back_as_it_came(
    tagged_photo: Path,
) -> None:
    page = page_with(tagged_photo.read_bytes()).decode("utf-8")
    wide = codecs.BOM_UTF16_LE + page.encode("utf-16-le")
    assert embeds_media(wide)
    out, found = scrub(wide, detect=False)
    assert (
        out.startswith(codecs.BOM_UTF16_LE) and [f["action"] for f in found].count("redacted") == 5
    )
    text = out[2:].decode("utf-16-le").encode("utf-8")
    for photo in images_in(_view_of(text)):
        assert_clean(photo)
    with pytest.raises(InputError, match="NUL bytes"):
        scrub(page.encode("utf-16-le"), detect=False)  # no mark: cannot be read safely


def test_texts_that_need_nothing_are_left_alone() -> None:
    for text in (b"<p>Data: 82 civilians, including 11 women and 13 children.</p>",
                 b'<a href="data:text/plain,a">a</a><link rel=icon href="data:,">',
                 b'{"note": "data:text/html,<b>x</b>"}', b"p{background:url(data:,)}",
                 b'<svg><path d="M0 0h24v24H0z"/></svg>',
                 b"-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(bytes(range(256)) * 3)
                 + b"\n-----END PUBLIC KEY-----"):  # fmt: skip
        assert not embeds_media(text), text[:40]
        assert scrub(text) == (text, [])
