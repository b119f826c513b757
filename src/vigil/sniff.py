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
    if media_type == "application/octet-stream" and _is_mpeg_ts(head):
        return "video/mp2t"  # libmagic has no rule for MPEG transport streams
    return media_type


def _is_mpeg_ts(head: bytes) -> bool:
    """188-byte packets, each starting with the sync byte 0x47 (ISO/IEC 13818-1)."""
    packets = len(head) // 188
    return packets >= 3 and all(head[n * 188] == 0x47 for n in range(min(packets, 8)))
