"""warcio, set up before any part of Vigil reads a WARC.

* **Brotli.** warcio 1.8 decodes ``Content-Encoding: br`` through an API that
  brotli 1.2 no longer has (``Decompressor.decompress``, a settable
  ``unused_data``), so reading the body of any br response in a WARC failed. Its
  decoder table gets an adapter for either API.
"""

from __future__ import annotations

from typing import Any

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
