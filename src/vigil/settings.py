"""Settings, declared once: each drives a CLI option, its environment variable and the docs.

A test (`tests/test_docs.py`) fails when a setting is not documented in README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SETTINGS", "Setting"]


@dataclass(frozen=True)
class Setting:
    name: str
    option: str
    env: str
    default: str | None
    help: str


SETTINGS = (
    Setting(
        "archive",
        "--archive",
        "VIGIL_ARCHIVE",
        "./archive",
        "Archive folder (blobs, ledger, keys, and the SQLite index unless PostgreSQL is used).",
    ),
    Setting(
        "database_url",
        "--database-url",
        "VIGIL_DATABASE_URL",
        None,
        "Index database, e.g. postgresql://127.0.0.1/vigil. Default: SQLite inside the archive. "
        "Given to `init`, it is remembered in vigil.toml.",
    ),
)
