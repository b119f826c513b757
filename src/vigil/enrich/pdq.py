"""PDQ perceptual hashes (Meta's PDQ, through the ``pdqhash`` binding of the reference C++).

A PDQ hash is 256 bits with a quality from 0 to 100; two images whose hashes are
within Hamming distance 31 are the same picture for ThreatExchange (re-encoded,
resized, slightly cropped or filtered). Pixels are decoded with Pillow and fed as
RGB, as python-threatexchange does: palette, grey+alpha and 16-bit grey images are
converted to RGB first, and so is CMYK (its raw channels would give a near-inverted
hash). A JPEG larger than twice `DECODE_AT` on both sides is decoded at a reduced
scale by the JPEG decoder (DCT scaling), as Meta's hashers downsample large photos
first: a 12-megapixel photo decodes and hashes about ten times faster, and its hash
moves by a few bits at most (PDQ itself reduces every image to 64x64). The eight
dihedral variants (rotations and flips) let a rotated or mirrored copy be found too.

`vigil.enrich.runner` hashes every image with it; video frames (vPDQ) are not hashed yet.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from vigil.errors import InputError

DECODE_AT = 512  # PDQ reduces every image to 64x64; decoding more pixels changes little

__all__ = ["DIHEDRAL", "PdqHash", "hamming", "pdq_dihedral", "pdq_hash", "tool_version"]

# The eight variants, named as ThreatExchange names them.
DIHEDRAL = (
    "ORIGINAL", "ROTATE90", "ROTATE180", "ROTATE270",
    "FLIPX", "FLIPY", "FLIPPLUS1", "FLIPMINUS1",
)  # fmt: skip


@dataclass(frozen=True)
class PdqHash:
    hex: str  # 64 lowercase hex digits, most significant bit first
    quality: int

    def as_json(self) -> dict[str, Any]:
        return {"pdq": self.hex, "quality": self.quality}


def tool_version() -> str:
    from importlib.metadata import version

    return f"pdqhash {version('pdqhash')}; JPEG decoded at >= {DECODE_AT} px"


def _pixels(source: Path | bytes) -> NDArray[np.uint8]:
    """RGB pixels; a large JPEG is decoded at a reduced scale (1/2, 1/4 or 1/8, by the
    JPEG decoder itself) that keeps both sides at least `DECODE_AT` pixels."""
    name = str(source) if isinstance(source, Path) else "image"
    try:
        with Image.open(source if isinstance(source, Path) else io.BytesIO(source)) as image:
            if image.format == "JPEG":
                image.draft("RGB", (DECODE_AT, DECODE_AT))
            image.load()
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            return np.asarray(rgb)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{name}: not an image PDQ can read ({exc})") from None


def _hex(bits: NDArray[Any]) -> str:
    return bytes(np.packbits(bits.astype(np.uint8))).hex()


def pdq_hash(source: Path | bytes) -> PdqHash:
    """The PDQ hash of an image file (or its bytes)."""
    bits, quality = pdqhash.compute(_pixels(source))
    return PdqHash(_hex(bits), int(quality))


def pdq_dihedral(source: Path | bytes) -> dict[str, PdqHash]:
    """The hashes of the image and of its seven rotations and flips, by ThreatExchange's
    names. Each is the hash of the transformed pixels, which is what reproduces the
    reference values (the DCT-domain shortcut of ``compute_dihedral`` does not)."""
    pixels = _pixels(source)
    variants = {
        "ORIGINAL": pixels,
        "ROTATE90": np.rot90(pixels, 1),  # counter-clockwise
        "ROTATE180": np.rot90(pixels, 2),
        "ROTATE270": np.rot90(pixels, 3),
        "FLIPX": pixels[::-1],  # about the x axis: upside down
        "FLIPY": pixels[:, ::-1],  # about the y axis: mirrored
        "FLIPPLUS1": pixels.transpose(1, 0, 2),  # about the main diagonal
        "FLIPMINUS1": np.rot90(pixels, 2).transpose(1, 0, 2),  # about the other diagonal
    }
    out = {}
    for name, variant in variants.items():
        bits, quality = pdqhash.compute(np.ascontiguousarray(variant))
        out[name] = PdqHash(_hex(bits), int(quality))
    return out


def hamming(a: str, b: str) -> int:
    """Bits that differ between two PDQ hashes (hex)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
