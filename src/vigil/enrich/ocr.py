"""OCR of Arabic and English text in images (Tesseract, ``ara+eng``, from Debian).

Tesseract runs as a subprocess on the stored blob (never a copy we changed), with
TSV output: the words, their confidence and layout give the text (one line per
line, a blank line between paragraphs) and a mean confidence. The language of the
text found is identified (py3langid) and kept with it. `vigil search` indexes the
text for the image it was read from.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

from vigil.errors import InputError

__all__ = ["OcrDerivation", "ocr_image"]

LANGUAGES = "ara+eng"
TIMEOUT = 300  # seconds for one image
MAX_PIXELS = 50_000_000  # larger images are refused, not OCRed (memory)


def _tesseract() -> str:
    found = shutil.which("tesseract")
    if found is None:
        raise InputError(
            "tesseract is not installed (Debian: apt-get install tesseract-ocr tesseract-ocr-ara)"
        )
    return found


def ocr_image(path: Path, languages: str = LANGUAGES) -> dict[str, Any]:
    """Text, mean word confidence, word count and detected language of an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{path.name}: not an image Tesseract can read ({exc})") from None
    if width * height > MAX_PIXELS:
        raise InputError(f"{path.name}: {width}x{height} pixels is over the OCR limit")
    command = [_tesseract(), str(path), "stdout", "-l", languages, "tsv"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False,
                              env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    except subprocess.TimeoutExpired:
        raise InputError(f"{path.name}: tesseract took over {TIMEOUT} s") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise InputError(f"{path.name}: tesseract failed ({reason[0][:300]})")
    rows = csv.DictReader(io.StringIO(done.stdout.decode("utf-8", "replace")), delimiter="\t",
                          quoting=csv.QUOTE_NONE)  # fmt: skip
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences = []
    for row in rows:
        word = (row.get("text") or "").strip()
        if row.get("level") != "5" or not word:
            continue
        key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        lines.setdefault(key, []).append(word)
        confidences.append(float(row["conf"]))
    parts: list[str] = []
    previous: tuple[int, int] | None = None
    for (block, par, _line), words in lines.items():
        if previous is not None and previous != (block, par):
            parts.append("")
        parts.append(" ".join(words))
        previous = (block, par)
    text = "\n".join(parts)
    language = None
    if sum(c.isalpha() for c in text) >= 12:
        import py3langid

        language = str(py3langid.classify(text)[0])
    mean = round(sum(confidences) / len(confidences), 1) if confidences else None
    return {"text": text, "words": len(confidences), "confidence": mean, "language": language,
            "languages_asked": languages}  # fmt: skip


class OcrDerivation:
    """Arabic and English text in images and scene keyframes (not in screenshots)."""

    name = "ocr"

    def tool(self) -> str:
        done = subprocess.run([_tesseract(), "--version"], capture_output=True, text=True,
                              check=False)  # fmt: skip
        version = (done.stdout or done.stderr).split("\n", 1)[0].strip()
        return f"{version} ({LANGUAGES})"

    def applies(self, item: Any) -> bool:
        """Images, and the keyframes of videos that start a scene (not every second)."""
        if item.kind == "keyframe":
            return str(item.name).startswith("scene-")
        return str(item.media_type).startswith("image/") and item.kind != "screenshot"

    def derive(self, path: Path) -> dict[str, Any]:
        return ocr_image(path)
