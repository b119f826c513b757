"""What a captured HTML page links to and says: media URLs, main text and metadata.

Media are found one hop deep: ``img`` (``src`` and ``srcset``), ``video``/``audio``
and their ``source``, ``og:image`` / ``og:video`` meta tags, and links whose path
ends like a media file. Text and metadata come from trafilatura; the language is
the one trafilatura finds, else the page's own ``lang`` attribute (a claim).
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import trafilatura
from trafilatura.settings import Document, Extractor, set_date_params
from trafilatura.utils import normalize_unicode
from trafilatura.xml import xmltotxt

__all__ = ["MEDIA_EXTENSIONS", "PageText", "declared_charset", "extract_text", "media_urls"]

logger = logging.getLogger(__name__)

MEDIA_EXTENSIONS = (
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".heic", ".svg",
    ".mp4", ".webm", ".mov", ".m4v", ".mkv", ".m3u8",
    ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".wav", ".pdf",
)  # fmt: skip
_META_MEDIA = {"og:image", "og:image:url", "og:image:secure_url", "og:video", "og:video:url",
               "og:video:secure_url", "twitter:image", "twitter:player:stream"}  # fmt: skip
MAX_MEDIA = 500


def _parse(html: bytes) -> Any:
    try:
        return lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return None


def media_urls(html: bytes, base_url: str) -> list[str]:
    """Absolute http(s) URLs of the media a page shows or links to, in page order, once each."""
    doc = _parse(html)
    if doc is None:
        return []
    base = _absolute(base_url, doc.xpath("string(//base/@href)") or base_url) or base_url
    found: list[str] = []
    for element in doc.iter("img", "video", "audio", "source", "meta", "a", "link"):
        tag = element.tag
        candidates: list[str] = []
        if tag in ("img", "video", "audio", "source"):
            candidates += [element.get("src") or "", element.get("poster") or ""]
            for part in (element.get("srcset") or "").split(","):
                candidates.append(part.strip().split(" ")[0])
        elif tag == "meta":
            key = element.get("property") or element.get("name") or ""
            if key.lower() in _META_MEDIA:
                candidates.append(element.get("content") or "")
        elif tag in ("a", "link"):
            href = element.get("href") or ""
            if href.split("#", 1)[0].split("?", 1)[0].lower().endswith(MEDIA_EXTENSIONS):
                candidates.append(href)
        for candidate in candidates:
            url = _absolute(base, candidate)
            if url is not None and url not in found:
                found.append(url)
    return found[:MAX_MEDIA]


def _absolute(base: str, reference: str) -> str | None:
    """*reference* made absolute against *base*, without its fragment, if it is an
    http(s) URL; None for anything else, malformed ones included (``http://[::1``:
    a page is written by anyone, and one bad URL must not cost the capture)."""
    reference = reference.strip()
    if not reference:
        return None
    try:
        url = urljoin(base, reference).split("#", 1)[0]
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


@dataclass(frozen=True)
class PageText:
    text: str
    title: str | None
    author: str | None
    published: str | None  # as the page claims it
    language: str | None
    tool: str

    def metadata(self) -> dict[str, str]:
        fields = {"title": self.title, "author": self.author, "published": self.published,
                  "language": self.language}  # fmt: skip
        return {k: v for k, v in fields.items() if v}


def declared_charset(content_type: str) -> str | None:
    """The charset an HTTP Content-Type header declares, if Python knows it."""
    match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    if match is None:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None


def extract_text(html: bytes, url: str, content_type: str = "") -> PageText | None:
    """Main text and metadata of a page, or None if it has no extractable text.

    The charset the server declared is used when it decodes the page; only without
    one is the encoding left to trafilatura's detection.
    """
    document: bytes | str = html
    charset = declared_charset(content_type)
    if charset is not None:
        try:
            document = html.decode(charset)
        except UnicodeDecodeError:
            document = html
    # What `trafilatura.extract(output_format="json", with_metadata=True)` returns, without
    # the parts it adds that are not kept here (a content fingerprint, the JSON): a third
    # of its time. The options are the ones `extract` builds for those arguments, but for
    # the date: found in the page's markup (meta tags, JSON-LD, <time>, the URL, dates
    # written as dates), not guessed from any date-like text anywhere in the HTML (a
    # copyright year, a date in a comment): the published time is a claim *the page*
    # makes. htmldate's "extensive" search did the guessing, at 40 % of the extraction.
    options = Extractor(output_format="json", with_metadata=True, url=url,
                        date_params=set_date_params(extensive=False))  # fmt: skip
    try:
        found = trafilatura.bare_extraction(document, options=options)
    except (ValueError, TypeError, lxml.etree.LxmlError) as exc:
        logger.warning("%s: text extraction failed: %s", url, exc)
        return None
    if not isinstance(found, Document):
        return None
    doc = _parse(html)
    lang = doc.get("lang") if doc is not None else None
    return PageText(  # NFC, as `extract` normalises what it returns
        text=normalize_unicode(xmltotxt(found.body, include_formatting=False) or ""),
        title=normalize_unicode(found.title) if found.title else None,
        author=normalize_unicode(found.author) if found.author else None,
        published=found.date,
        language=found.language or lang,
        tool=f"trafilatura {trafilatura.__version__}",
    )
