"""Derivations of `vigil enrich`: metadata (EXIF/GPS, container tags), C2PA (the real
fixtures of c2pa-python, offline), OCR (Tesseract ara+eng), and bad media."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import FIXTURES, run_vigil
from vigil.archive import Archive
from vigil.enrich.c2pa import read_c2pa
from vigil.enrich.metadata import image_metadata, media_metadata
from vigil.enrich.ocr import ocr_image
from vigil.enrich.runner import Runner
from vigil.errors import InputError
from vigil.search.fulltext import search

C2PA = FIXTURES / "c2pa"
EXPECTED = json.loads((C2PA / "expected.json").read_text())["observed"]
TRUST = (C2PA / "trust_config_test_settings.json").read_text()
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="no tesseract")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_c2pa_matches_the_reference_offline(name: str) -> None:
    expected = EXPECTED[name]
    for trust, settings in ((None, "default_settings"), (TRUST, "with_trust_config")):
        result = read_c2pa(C2PA / name, "image/jpeg", trust)
        reference = expected[settings]
        if "error" in reference:
            if "ManifestNotFound" in reference["error"]:
                assert result == {"present": False}
            else:  # the remote manifest: recorded with its URL, never fetched
                assert result["remote_url"].startswith("https://cai-manifests.adobe.com/")
                assert result["validation_state"] is None
            continue
        assert result["validation_state"] == reference["validation_state"], (name, settings)
        assert result["failure_codes"] == sorted(reference["failure_codes"]), (name, settings)
        for key in ("active_manifest", "manifest_count", "signature_issuer", "title"):
            if key in expected:
                assert result[key] == expected[key], (name, key)
        assert result["embedded"] is expected.get("is_embedded", True)


def _jpeg_with_exif(path: Path, description: str = "Aleppo") -> Path:
    image = Image.new("RGB", (64, 48), "navy")
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "EOS 5D"  # Model
    exif[0x010E] = description  # ImageDescription
    exif.get_ifd(0x8769)[0x9003] = "2016:12:13 10:15:00"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (36.0, 12.0, 7.56), 3: "E", 4: (37.0, 8.0, 3.48), 6: 390.0})
    image.save(path, "JPEG", exif=exif)
    return path


def test_image_metadata_is_claimed_exif_and_gps(tmp_path: Path) -> None:
    found = image_metadata(_jpeg_with_exif(tmp_path / "photo.jpg"))
    claimed = found["claimed"]
    assert claimed["camera"] == "Canon EOS 5D" and claimed["taken"] == "2016:12:13 10:15:00"
    assert claimed["gps"]["latitude"] == pytest.approx(36.2021, abs=1e-4)
    assert claimed["gps"]["longitude"] == pytest.approx(37.1343, abs=1e-4)
    assert found["raw"]["width"] == 64 and "exif" in found["raw"]
    absurd = image_metadata(_jpeg_with_exif(tmp_path / "absurd.jpg", "x" * 60_000))
    assert len(absurd["claimed"]["description"]) == 2_000  # bounded
    json.dumps(absurd)  # JSON-safe


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="no ffmpeg")
def test_video_metadata_creation_time_and_location(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1",
         "-metadata", "creation_time=2016-12-13T10:15:00Z", "-metadata",
         "location=+36.2021+037.1343/", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    found = media_metadata(video)
    assert found["claimed"]["created"].startswith("2016-12-13T10:15:00")
    assert found["claimed"]["location"]["latitude"] == pytest.approx(36.2021)
    assert found["raw"]["streams"][0]["codec_type"] == "video"
    (tmp_path / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 10)
    with pytest.raises(InputError, match=r"bad\.mp4: ffprobe cannot read it"):
        media_metadata(tmp_path / "bad.mp4")


def _text_image(path: Path) -> Path:
    font = ImageFont.truetype(FONT, 40)
    image = Image.new("RGB", (1000, 260), "white")
    draw = ImageDraw.Draw(image)
    draw.text((960, 30), "إذا متنا جميعاً تذكرونا", font=font, fill="black",
              direction="rtl", anchor="ra", language="ar")  # fmt: skip
    draw.text((40, 150), "Remember us. Aleppo, 13 December 2016", font=font, fill="black")
    image.save(path)
    return path


@needs_tesseract
def test_ocr_reads_arabic_and_english(tmp_path: Path) -> None:
    found = ocr_image(_text_image(tmp_path / "sign.png"))
    assert "تذكرونا" in found["text"] and "Remember us" in found["text"]
    assert found["language"] == "ar" and found["confidence"] > 60


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares width x height pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))  # fmt: skip
    return path


@needs_tesseract
def test_runner_derives_all_records_bad_media_and_search_finds_ocr(
    archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    _text_image(folder / "sign.png")
    _jpeg_with_exif(folder / "photo.jpg")
    shutil.copy(C2PA / "C.jpg", folder / "C.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes((folder / "photo.jpg").read_bytes()[:200])
    _png_header_only(folder / "bomb.png", 60_000, 60_000)
    archive.add_paths([folder])
    report = Runner(archive, c2pa_trust=TRUST).run(workers=2)
    by_name = {i.name: i for i in archive.items()}
    failed = {(f["derivation"], next(n for n, i in by_name.items() if i.id == f["item"]))
              for f in report.failed}  # fmt: skip
    assert ("pdq", "bomb.png") in failed and ("ocr", "bomb.png") in failed
    assert ("pdq", "truncated.jpg") in failed
    assert report.done["ocr"] >= 2 and report.done["c2pa"] >= 3 and report.done["metadata"] >= 3

    def result(name: str, kind: str) -> dict[str, object]:
        [child] = [c for c in archive.index.children(by_name[name].id) if c.kind == kind]
        return dict(json.loads(archive.custody(child.id)[0].raw)["result"])

    assert result("C.jpg", "c2pa")["validation_state"] == "Trusted"
    assert result("photo.jpg", "c2pa") == {"present": False}
    assert result("photo.jpg", "metadata")["claimed"]["camera"] == "Canon EOS 5D"  # type: ignore[index]
    [hit] = search(archive, "تذكرونا")
    assert hit.item.name == "sign.png" and hit.field == "ocr" and "[تذكرونا]" in hit.snippet
    again = Runner(archive, c2pa_trust=TRUST).run(workers=1)
    assert again.done == {} and again.failed == []  # failures are records too
    assert archive.verify().ok


def test_cli_enrich_names_missing_programs_and_bad_trust(tmp_path: Path) -> None:
    archive_path = tmp_path / "archive"
    run_vigil("init", archive_path=archive_path, check=True)
    bad = tmp_path / "trust.json"
    bad.write_text("{not json")
    result = run_vigil("enrich", "--c2pa-trust", bad, archive_path=archive_path)
    assert result.returncode == 1 and "not JSON" in result.stderr
    image = io.BytesIO()
    Image.new("RGB", (8, 8)).save(image, "PNG")
    assert "Example" in run_vigil("enrich", "--help", archive_path=archive_path).stdout


@needs_tesseract
def test_import_enriches_what_it_stored(tmp_path: Path) -> None:
    export = tmp_path / "export"
    (export / "photos").mkdir(parents=True)
    _text_image(export / "photos" / "photo_1.png")
    message = {"id": 1, "type": "message", "date_unixtime": "1481623200", "from": "Halab",
               "text": "صورة", "photo": "photos/photo_1.png"}  # fmt: skip
    chat = {"name": "Aleppo", "type": "public_channel", "id": 7, "messages": [message]}
    (export / "result.json").write_text(json.dumps({"chats": {"list": [chat]}}), "utf-8")
    archive_path = tmp_path / "archive"
    run_vigil("init", archive_path=archive_path, check=True)
    done = run_vigil("import", "telegram", export, "--json", archive_path=archive_path,
                     check=True, enrich=True)  # fmt: skip
    json.loads(done.stdout)  # stdout stays JSON; the enrichment summary goes to stderr
    assert "enriched:" in done.stderr and "ocr 1" in done.stderr
    found = run_vigil("search", "تذكرونا", "--json", archive_path=archive_path, check=True)
    [hit] = json.loads(found.stdout)
    assert hit["name"] == "photo_1.png" and hit["field"] == "ocr"
    skipped = run_vigil("import", "telegram", export, "--no-enrich", archive_path=archive_path,
                        check=True, enrich=True)  # fmt: skip
    assert "enriched:" not in skipped.stderr
