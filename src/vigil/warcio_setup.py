"""warcio, set up before any other part of Vigil imports urllib3 or reads a WARC.

* **The HTTP recorder.** warcio records HTTP by replacing
  ``http.client.HTTPConnection`` when it is first imported; urllib3 (under requests)
  subclasses whatever class it finds when *it* is imported. `vigil/__init__` imports
  this module first, so whichever Vigil module a program imports, captures record.
  `vigil.capture.fetch.WarcSession` still refuses to run if the order was broken
  anyway (requests imported before Vigil), rather than capture nothing.
* **Brotli.** warcio 1.8 decodes ``Content-Encoding: br`` through an API that
  brotli 1.2 no longer has (``Decompressor.decompress``, a settable
  ``unused_data``), so reading the body of any br response in a WARC failed. Its
  decoder table gets an adapter for either API.
"""

from __future__ import annotations

from typing import Any

import warcio.capture_http  # noqa: F401  (must precede any import of urllib3)
from warcio.bufferedreaders import BufferedReader

__all__: list[str] = []


class _BrotliDecoder:
    """What warcio asks of a decompressor, over brotli's old or new API."""

    unused_data = None  # brotli streams carry nothing after their end

    def __init__(self) -> None:
        import brotli

        self._decompressor: Any = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        if hasattr(self._decompressor, "process"):
            out: bytes = self._decompressor.process(data)
        else:  # brotli < 1.1
            out = self._decompressor.decompress(data)
        return out


try:
    import brotli  # noqa: F401
except ImportError:  # pragma: no cover  (then warcio has no br decoder either)
    pass
else:
    BufferedReader.DECOMPRESSORS["br"] = _BrotliDecoder
