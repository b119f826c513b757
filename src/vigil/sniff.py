"""Media types sniffed from the bytes themselves (libmagic), never from names or headers."""

from __future__ import annotations

import threading

import magic

__all__ = ["sniff_media_type"]

_local = threading.local()


def sniff_media_type(head: bytes) -> str:
    """The media type of content starting with *head* (libmagic; one instance per thread)."""
    if not head:
        return "application/x-empty"
    if not hasattr(_local, "magic"):
        _local.magic = magic.Magic(mime=True)
    media_type: str = _local.magic.from_buffer(head)
    return media_type
