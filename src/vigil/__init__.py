"""Vigil: an evidence archive whose every holding anyone can verify offline.

The front door is `Archive`: ``Archive.init(path)`` / ``Archive.open(path)``,
then ``add_paths``, ``items``, ``custody``, ``checkpoint``, ``write_proofs``,
``verify`` and ``reindex``. Errors all derive from `VigilError`.
"""

__version__ = "0.1.0"

from vigil.archive import AddResult, Archive, Item
from vigil.errors import VigilError
from vigil.verify import Finding, VerifyReport

__all__ = [
    "AddResult",
    "Archive",
    "Finding",
    "Item",
    "VerifyReport",
    "VigilError",
    "__version__",
]
