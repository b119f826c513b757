"""Small WARCs of responses, as a capture would have written them, for the export tests."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

Response = tuple[str, str, bytes] | tuple[str, str, bytes, list[tuple[str, str]]]


def write_responses(out: BinaryIO, responses: Iterable[Response], *, gzip: bool = True) -> None:
    """A ``response`` record for each (URI, Content-Type, body[, more headers]); the
    body is written as given (already encoded if a Content-Encoding header says so)."""
    writer = WARCWriter(out, gzip=gzip, warc_version="1.1")
    for uri, content_type, body, *more in responses:
        fields = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        headers = StatusAndHeaders("200 OK", fields + (more[0] if more else []),
                                   protocol="HTTP/1.1")  # fmt: skip
        writer.write_record(writer.create_warc_record(
            uri, "response", payload=io.BytesIO(body), length=len(body), http_headers=headers
        ))  # fmt: skip
