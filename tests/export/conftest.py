"""Shared fixtures of the export tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.capture.webserver import serve
from tests.export.photos import tag_photo
from vigil.archive import Archive
from vigil.capture.web import WebCapturer


@pytest.fixture
def captured(archive: Archive, evidence: Path) -> Iterator[tuple[Archive, list[str]]]:
    """An archive with a web capture (WARC, page, media, text) and added files."""
    archive.add_paths([evidence])
    with serve() as base:
        result = WebCapturer(archive, screenshot=False).capture(base + "/page.html")
    page = next(i.id for i in result.items if i.kind == "page")
    files = [i.id for i in archive.items() if i.kind == "file"][:2]
    yield archive, [page, *files]


@pytest.fixture
def tagged_photo(tmp_path: Path) -> Path:
    """The face photo with GPS, a camera owner and a comment in its EXIF, and XMP."""
    return tag_photo(tmp_path)
