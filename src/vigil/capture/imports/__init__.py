"""Offline imports (`vigil import KIND PATH`): exports people made of their own accounts.

Each importer parses an export and yields `Post`s; `vigil.capture.imports.base`
stores the export's files as they are (one item each), then one ``post`` item per
message, whose blob is the original object (RFC 8785 canonical JSON) and whose
normalised fields are the platform's claims, linked to its media items (or to
``missing`` with the reason, for media the export left out).
"""

from vigil.capture.imports.base import Importer, ImportResult, Post, import_export
from vigil.capture.imports.telegram import TelegramImporter
from vigil.capture.imports.xarchive import XArchiveImporter
from vigil.capture.imports.ytdlp_info import YtDlpInfoImporter

IMPORTERS: dict[str, type[Importer]] = {
    "telegram": TelegramImporter,
    "x-archive": XArchiveImporter,
    "yt-dlp": YtDlpInfoImporter,
}

__all__ = ["IMPORTERS", "ImportResult", "Importer", "Post", "import_export"]
