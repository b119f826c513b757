"""Technical metadata a file states about itself: EXIF/GPS/XMP/IPTC of images (Pillow),
container and stream tags of video and audio (ffprobe).

All of it is what the file *claims* (a camera clock, a GPS fix written by a phone,
an encoder's creation_time): kept under ``claimed``, never mixed with what Vigil
observed. The most used fields are lifted into ``claimed`` with stable names
(``taken``, ``camera``, ``gps``, ``created``, ``location``); everything read is kept
under ``raw``, made JSON-safe and bounded (absurd EXIF cannot blow up an event).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, IptcImagePlugin, UnidentifiedImageError

from vigil.errors import InputError

SKIP_KINDS = ("screenshot", "segment", "keyframe")  # ours, or parts of a recording

__all__ = ["MetadataDerivation", "image_metadata", "media_metadata"]

MAX_STRING = 2_000  # characters of one value kept
MAX_ITEMS = 200  # entries of one list or mapping kept
FFPROBE_TIMEOUT = 60


def _safe(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, bounded copy of a metadata value."""
    if depth > 6:
        return None
    if isinstance(value, bool | int | str) or value is None:
        return value[:MAX_STRING] if isinstance(value, str) else value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, Fraction) or (
        hasattr(value, "numerator") and hasattr(value, "denominator")
    ):
        try:
            return float(value) if value.denominator else None
        except (ZeroDivisionError, ValueError, OverflowError):
            return None
    if isinstance(value, bytes):
        text = value.rstrip(b"\x00")
        try:
            return text.decode("utf-8")[:MAX_STRING]
        except UnicodeDecodeError:
            return {"bytes": len(value), "hex": value[:64].hex()}
    if isinstance(value, dict):
        return {str(k)[:200]: _safe(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    if isinstance(value, list | tuple):
        return [_safe(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
    return str(value)[:MAX_STRING]


def _degrees(dms: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    return -value if str(ref).upper() in ("S", "W") else value


def image_metadata(path: Path) -> dict[str, Any]:
    """EXIF (with its GPS and Exif sub-IFDs), XMP and IPTC of an image, as claimed."""
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            named = {ExifTags.TAGS.get(k, str(k)): v for k, v in exif.items()}
            sub = exif.get_ifd(ExifTags.IFD.Exif)
            named.update({ExifTags.TAGS.get(k, str(k)): v for k, v in sub.items()})
            gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
            gps = {ExifTags.GPSTAGS.get(k, str(k)): v for k, v in gps_ifd.items()}
            xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
            iptc = IptcImagePlugin.getiptcinfo(image) or {}
            size, image_format = image.size, image.format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{path.name}: not an image whose metadata can be read ({exc})") from None
    named.pop("MakerNote", None)  # opaque vendor blob, often large
    claimed: dict[str, Any] = {}
    for key, name in (("DateTimeOriginal", "taken"), ("DateTime", "modified"),
                      ("OffsetTimeOriginal", "taken_offset"), ("Software", "software"),
                      ("Artist", "artist"), ("ImageDescription", "description")):  # fmt: skip
        if named.get(key):
            claimed[name] = _safe(named[key])
    camera = " ".join(str(_safe(named[k])) for k in ("Make", "Model") if named.get(k)).strip()
    if camera:
        claimed["camera"] = camera
    lat = _degrees(gps.get("GPSLatitude"), gps.get("GPSLatitudeRef"))
    lon = _degrees(gps.get("GPSLongitude"), gps.get("GPSLongitudeRef"))
    if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
        claimed["gps"] = {"latitude": round(lat, 7), "longitude": round(lon, 7)}
        if gps.get("GPSAltitude") is not None:
            claimed["gps"]["altitude"] = _safe(gps["GPSAltitude"])
    raw: dict[str, Any] = {"format": image_format, "width": size[0], "height": size[1]}
    raw["exif"] = _safe(named)
    if gps:
        raw["gps"] = _safe(gps)
    if xmp:
        raw["xmp"] = _safe(xmp if isinstance(xmp, str) else bytes(xmp))
    if iptc:
        raw["iptc"] = _safe({f"{k[0]}:{k[1]}": v for k, v in iptc.items()})
    return {"claimed": claimed, "raw": raw}


_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")


def media_metadata(path: Path) -> dict[str, Any]:
    """Container and stream metadata of a video or audio file (ffprobe), as claimed."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise InputError("ffprobe is not installed (Debian: apt-get install ffmpeg)")
    command = [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
               str(path)]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=FFPROBE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"{path.name}: ffprobe took over {FFPROBE_TIMEOUT} s") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise InputError(f"{path.name}: ffprobe cannot read it ({reason[0][:300]})")
    probe = json.loads(done.stdout or b"{}")
    fmt = probe.get("format", {})
    tags = {str(k).lower(): v for k, v in (fmt.get("tags") or {}).items()}
    claimed: dict[str, Any] = {}
    if tags.get("creation_time"):
        claimed["created"] = tags["creation_time"]
    for key in ("com.apple.quicktime.location.iso6709", "location", "location-eng"):
        match = _ISO6709.match(str(tags.get(key, "")))
        if match:
            claimed["location"] = {"latitude": float(match.group(1)),
                                   "longitude": float(match.group(2)), "tag": key}  # fmt: skip
            break
    for key, name in (("com.apple.quicktime.make", "make"), ("com.apple.quicktime.model", "model"),
                      ("encoder", "encoder"), ("title", "title")):  # fmt: skip
        if tags.get(key):
            claimed[name] = tags[key]
    streams = [
        {k: s.get(k) for k in ("codec_type", "codec_name", "width", "height", "duration",
                               "sample_rate", "channels", "tags") if s.get(k) is not None}
        for s in probe.get("streams", [])
    ]  # fmt: skip
    raw = {
        "format": {k: fmt.get(k) for k in ("format_name", "duration", "size", "bit_rate")},
        "tags": tags,
        "streams": streams,
    }
    return {"claimed": _safe(claimed), "raw": _safe(raw)}


class MetadataDerivation:
    """What images, videos and audio files state about themselves."""

    name = "metadata"

    def tool(self) -> str:
        import PIL

        ffprobe = shutil.which("ffprobe")
        version = "absent"
        if ffprobe:
            out = subprocess.run([ffprobe, "-version"], capture_output=True, text=True, check=False)
            version = (out.stdout.split() or ["?", "?", "?"])[2]
        return f"Pillow {PIL.__version__}; ffprobe {version}"

    def applies(self, item: Any) -> bool:
        top = str(item.media_type).split("/")[0]
        return top in ("image", "video", "audio") and item.kind not in SKIP_KINDS

    def derive(self, path: Path) -> dict[str, Any]:
        from vigil.sniff import sniff_media_type

        with path.open("rb") as f:
            head = f.read(8192)
        if not head:
            raise InputError(f"{path.name}: empty file")
        if sniff_media_type(head).startswith("image/"):
            return image_metadata(path)
        return media_metadata(path)
