"""Vigil's one exception tree.

Every error Vigil raises on purpose derives from :class:`VigilError`, so a caller
(the CLI, a web handler, a script) can catch that one class. Each error carries
the context that caused it (a path, an item, an entry index) in its message.

::

    VigilError
    ├── ArchiveError                 the archive folder or its configuration
    │   ├── ArchiveNotFound          no archive at that path
    │   ├── ArchiveExists            `init` on a folder that already holds one
    │   └── ForeignFolder            a folder that is not (only) a Vigil archive
    ├── InputError                   a file or argument the user gave us is unusable
    ├── ItemNotFound                 no item matches an id or SHA-256 prefix
    │   └── AmbiguousItem            a prefix matches more than one item
    ├── BlobError                    the blob store
    │   ├── BlobNotFound             no blob with that SHA-256
    │   └── BlobCorrupt              a blob's bytes no longer hash to its name
    ├── LedgerError                  the append-only log
    │   ├── LedgerCorrupt            a stored entry or cache is damaged
    │   └── ProofError               an inclusion/consistency proof does not verify
    ├── NoteError                    C2SP signed notes and keys
    │   ├── MalformedNote            not a well-formed signed note
    │   ├── MalformedKey             not a well-formed vkey/skey
    │   ├── InvalidSignature         a signature by a known key does not verify
    │   ├── UnverifiedNote           no signature by any known key
    │   │   └── ledger.note.UnverifiedNoteError   the same, carrying the unverified signatures
    │   └── AmbiguousKey             two known keys share a name and key id
    ├── CaptureError                 a URL could not be fetched at all (nothing stored)
    ├── CheckpointError              not a well-formed tlog-checkpoint / tlog-proof
    ├── TimestampError               an RFC 3161 timestamp cannot be had or does not verify
    └── DatabaseError                the index database (connection, migration)
"""

from __future__ import annotations

__all__ = [
    "AmbiguousItem",
    "AmbiguousKey",
    "ArchiveError",
    "ArchiveExists",
    "ArchiveNotFound",
    "BlobCorrupt",
    "BlobError",
    "BlobNotFound",
    "CaptureError",
    "CheckpointError",
    "DatabaseError",
    "ForeignFolder",
    "InputError",
    "InvalidSignature",
    "ItemNotFound",
    "LedgerCorrupt",
    "LedgerError",
    "MalformedKey",
    "MalformedNote",
    "NoteError",
    "ProofError",
    "TimestampError",
    "UnverifiedNote",
    "VigilError",
]


class VigilError(Exception):
    """Base class of every error Vigil raises on purpose."""


class ArchiveError(VigilError):
    """The archive folder or its configuration is missing or unusable."""


class ArchiveNotFound(ArchiveError):
    """No archive exists at the given path."""


class ArchiveExists(ArchiveError):
    """`init` was asked to create an archive where one already exists."""


class ForeignFolder(ArchiveError):
    """The folder exists but is not a Vigil archive (and is not empty)."""


class InputError(VigilError):
    """A file or argument given by the user cannot be used."""


class ItemNotFound(VigilError):
    """No item matches the given id or SHA-256 prefix."""


class AmbiguousItem(ItemNotFound):
    """A SHA-256 prefix matches more than one item."""


class BlobError(VigilError):
    """The blob store failed."""


class BlobNotFound(BlobError):
    """No blob is stored under that SHA-256."""


class BlobCorrupt(BlobError):
    """A stored blob no longer hashes to its name."""


class LedgerError(VigilError):
    """The append-only ledger failed."""


class LedgerCorrupt(LedgerError):
    """A stored ledger entry, checkpoint or cache file is damaged."""


class ProofError(LedgerError):
    """A Merkle inclusion or consistency proof does not verify."""


class NoteError(VigilError):
    """A C2SP signed note or key is unusable."""


class MalformedNote(NoteError):
    """The text is not a well-formed signed note."""


class MalformedKey(NoteError):
    """The text is not a well-formed verifier (vkey) or signer (skey) key."""


class InvalidSignature(NoteError):
    """A signature made by a known key does not verify."""


class UnverifiedNote(NoteError):
    """The note carries no signature by any known key."""


class AmbiguousKey(NoteError):
    """More than one known key has the name and key id used by a signature."""


class CaptureError(VigilError):
    """A URL could not be fetched at all (no response), so nothing was stored."""


class CheckpointError(VigilError):
    """The text is not a well-formed tlog-checkpoint or tlog-proof."""


class TimestampError(VigilError):
    """An RFC 3161 timestamp could not be obtained, or does not verify (the reason is named)."""


class DatabaseError(VigilError):
    """The index database cannot be reached, migrated or used."""
