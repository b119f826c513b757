"""Vigil: an evidence archive whose every holding anyone can verify offline.

The front door is `Archive`: ``Archive.init(path)`` / ``Archive.open(path)``,
then ``add_paths``, ``items``, ``custody``, ``checkpoint``, ``write_proofs``,
``verify`` and ``reindex``. Errors all derive from `VigilError`.

The names below are loaded when first used (PEP 562): a program that needs one
module of Vigil (a capture worker process, the offline verifier) does not pay for
importing the database layer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import vigil.capture.wire  # (the HTTP recorder, under http.client)
import vigil.warcio_setup  # noqa: F401  (warcio reads brotli)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vigil.archive import AddResult, Archive, Item
    from vigil.errors import VigilError
    from vigil.verify import Finding, VerifyReport

_LAZY = {
    "AddResult": "vigil.archive",
    "Archive": "vigil.archive",
    "Item": "vigil.archive",
    "VigilError": "vigil.errors",
    "Finding": "vigil.verify",
    "VerifyReport": "vigil.verify",
}

__all__ = [
    "AddResult",
    "Archive",
    "Finding",
    "Item",
    "VerifyReport",
    "VigilError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vigil' has no attribute {name!r}")
