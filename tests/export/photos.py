"""The real face photo the redaction tests use, and how they measure a blur.

It is from the X archive fixture: two men, their faces at known places (1200 x 800)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import FIXTURES
from vigil.redact import Box

PHOTO = (FIXTURES / "social" / "twitter-archive-milahu104" / "data" / "deleted_tweets_media"
         / "2027737443122769985-HCP4VPIWkAADmOs.jpg")  # fmt: skip
FACES = [Box(315, 61, 132, 194), Box(923, 128, 123, 156)]  # the two men (1200 x 800)
CALM = Box(20, 560, 200, 200)  # the desk, far from any face


def sharpness(pixels: np.ndarray, box: Box) -> float:
    """Variance of horizontal differences inside *box*: high for detail, near 0 if blurred."""
    region = pixels[box.y : box.y + box.h, box.x : box.x + box.w].astype(float).mean(axis=2)
    return float(np.diff(region, axis=1).var())


def pixels_of(path: Path | bytes) -> np.ndarray:
    with Image.open(io.BytesIO(path) if isinstance(path, bytes) else path) as image:
        return np.array(image.convert("RGB"))


def tag_photo(folder: Path) -> Path:
    """The photo with GPS, a camera owner and a comment in its EXIF, and XMP."""
    with Image.open(PHOTO) as image:
        exif = image.getexif()
        exif[0x013B] = "Witness Name"  # Artist
        exif[0x010F] = "PhoneMaker"
        gps = exif.get_ifd(0x8825)
        gps.update({1: "N", 2: (36.0, 12.0, 0.0), 3: "E", 4: (37.0, 9.0, 0.0)})
        out = folder / "witness.jpg"
        image.save(out, exif=exif, xmp=b"<x:xmpmeta>Witness Name, Aleppo</x:xmpmeta>")
    assert b"Witness Name" in out.read_bytes()
    return out
