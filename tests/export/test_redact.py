"""Redacted public copies (design invariant 6): faces blurred, metadata stripped, for real.

The face photo is a real one from the X archive fixture (two men, faces at known places);
the video is made from it by ffmpeg, with tags that a public copy must not keep."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.conftest import db_url, run_vigil
from tests.export.photos import CALM, FACES, PHOTO, pixels_of, sharpness
from tests.export.warcs import write_responses
from vigil.archive import Archive
from vigil.enrich.runner import Runner
from vigil.errors import InputError
from vigil.export.package import export_package
from vigil.export.public import redaction_of
from vigil.export.verify import verify_package
from vigil.export.warcredact import redact_warc
from vigil.redact import Box, redact_file


def test_faces_are_blurred_and_the_metadata_is_gone(tagged_photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "public.jpg"
    done = redact_file(tagged_photo, out, "image/jpeg", [])
    assert done["media_type"] == "image/jpeg" and done["detected"]
    found = [Box(*b) for b in done["faces"]]
    for face in FACES:  # each real face lies inside a detected box
        cx, cy = face.x + face.w // 2, face.y + face.h // 2
        assert any(b.x <= cx <= b.x + b.w and b.y <= cy <= b.y + b.h for b in found), found
    data = out.read_bytes()
    assert b"Witness Name" not in data and b"PhoneMaker" not in data and b"xmpmeta" not in data
    with Image.open(out) as image:
        assert not image.getexif() and "icc_profile" not in image.info
    before, after = pixels_of(tagged_photo), pixels_of(out)
    for face in FACES:
        assert sharpness(after, face) < 0.1 * sharpness(before, face)
    calm_change = np.abs(before.astype(int) - after.astype(int))[CALM.y : CALM.y + CALM.h,
                                                                  CALM.x : CALM.x + CALM.w]  # fmt: skip
    assert calm_change.mean() < 3  # the rest is the same picture (JPEG noise only)


def test_given_boxes_alone_and_a_turned_photo(tmp_path: Path) -> None:
    """--no-detect blurs just the boxes; an EXIF-rotated photo is redacted upright."""
    out = tmp_path / "boxed.png"
    src = tmp_path / "photo.png"
    Image.open(PHOTO).save(src)
    done = redact_file(src, out, "image/png", [CALM], detect=False)
    assert done == {"media_type": "image/png", "size": [1200, 800], "faces": [],
                    "boxes": [CALM.as_json()], "detected": False}  # fmt: skip
    before, after = pixels_of(src), pixels_of(out)
    assert sharpness(after, CALM) < 0.1 * sharpness(before, CALM)
    assert np.array_equal(before[:, 300:], after[:, 300:])  # untouched outside the box
    turned = tmp_path / "turned.jpg"
    with Image.open(PHOTO) as image:  # stored on its side; EXIF: turn 90° clockwise to show
        exif = image.getexif()
        exif[0x0112] = 6
        image.transpose(Image.Transpose.ROTATE_90).save(turned, exif=exif)
    done = redact_file(turned, tmp_path / "upright.jpg", "image/jpeg", [])
    assert done["size"] == [1200, 800] and len(done["faces"]) >= 2  # found the right way up


def test_sixteen_bits_and_animations_keep_their_picture(tmp_path: Path) -> None:
    deep = tmp_path / "deep.png"
    grey = np.asarray(Image.open(PHOTO).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(deep)  # mode I;16
    done = redact_file(deep, tmp_path / "deep-out.png", "image/png", [], detect=False)
    assert done["size"] == [1200, 800]
    assert 40 < pixels_of(tmp_path / "deep-out.png").mean() < 215  # not clipped to white
    moving = tmp_path / "moving.gif"
    frames = [Image.open(PHOTO).convert("P"), Image.open(PHOTO).convert("L").convert("P")]
    frames[0].save(moving, save_all=True, append_images=frames[1:])
    done = redact_file(moving, tmp_path / "moving-out.png", "image/gif", [])
    assert done["frames_dropped"] == 1 and len(done["faces"]) >= 2


def test_bad_input_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(PHOTO.read_bytes()[:300])
    with pytest.raises(InputError, match=r"broken\.jpg: cannot read the image"):
        redact_file(broken, tmp_path / "x.jpg", "image/jpeg", [])
    assert not (tmp_path / "x.jpg").exists()
    for text in ("1,2,3", "a,b,c,d", "1,2,0,5", "-1,0,5,5"):
        with pytest.raises(InputError, match="box"):
            Box.parse(text)
    with pytest.raises(InputError, match="no redacted copy can be made of application/pdf"):
        redact_file(broken, tmp_path / "x.pdf", "application/pdf", [])


def test_a_wrong_face_model_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tagged_photo: Path
) -> None:
    fake = tmp_path / "centerface.onnx"
    fake.write_bytes(b"not the model")
    monkeypatch.setenv("VIGIL_FACE_MODEL", str(fake))
    with pytest.raises(InputError, match="not the CenterFace model"):
        redact_file(tagged_photo, tmp_path / "o.jpg", "image/jpeg", [])
    monkeypatch.setenv("VIGIL_FACE_MODEL", str(tmp_path / "missing.onnx"))
    with pytest.raises(InputError, match="scripts/setup"):
        redact_file(tagged_photo, tmp_path / "o.jpg", "image/jpeg", [])


def tagged_video(tmp_path: Path, turned: bool = False) -> Path:
    """Two seconds of the photo panning, with a tone, a location and a title. *turned*:
    stored on its side with a rotation to show it upright, as phones store portrait
    video."""
    tmp_path.mkdir(exist_ok=True)
    out = tmp_path / "clip.mp4"
    side = ",transpose=1" if turned else ""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", "10", "-i", str(PHOTO),
         "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-t", "2",
         "-vf", f"scale=600:400,crop=560:400:'t*20':0{side}", "-c:v", "libx264",
         "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-metadata", "title=Witness Name", "-metadata",
         "location=+36.2021+037.1343/", "-shortest", str(out)],
        check=True,
    )  # fmt: skip
    if turned:
        stored = out.with_name("turned.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(out), "-c", "copy",
                        "-metadata:s:v:0", "rotate=90", str(stored)], check=True)  # fmt: skip
        return stored
    return out


def probe(path: Path) -> dict[str, object]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize("turned", [False, True], ids=["landscape", "stored-on-its-side"])
def test_a_video_is_blurred_on_every_frame_and_loses_its_tags(tmp_path: Path, turned: bool) -> None:
    clip = tagged_video(tmp_path, turned)
    assert "Witness Name" in json.dumps(probe(clip))
    out = tmp_path / "public.mp4"
    done = redact_file(clip, out, "video/mp4", [])
    assert done["frames"] == 20 and done["frames_with_faces"] == 20
    assert done["size"] == [560, 400]  # as shown, not as stored
    info = json.dumps(probe(out))
    assert "Witness Name" not in info and "+36.2021" not in info
    assert '"codec_type": "audio"' in info  # the sound stays
    frames = tmp_path / "frames"
    frames.mkdir()
    shown = tagged_video(tmp_path / "upright", False) if turned else clip
    for name, video in (("a", shown), ("b", out)):
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-vf", "select=eq(n\\,13)",
                        "-frames:v", "1", str(frames / f"{name}.png")], check=True)  # fmt: skip
    # Frame 13 is not a detection frame (every 5th is): the boxes of frames 10 and 15
    # cover it. The left man's face (FACES[0] at half size, the crop 26 px to the right).
    face = Box(315 // 2 - 26, 61 // 2, 132 // 2, 194 // 2)
    assert sharpness(pixels_of(frames / "b.png"), face) < 0.2 * sharpness(
        pixels_of(frames / "a.png"), face
    )


def face_warc(path: Path, photo: Path, extra: bool = False) -> None:
    """A WARC with an HTML page, the tagged photo and a PDF, as a capture would have
    written it; *extra*: also a request with a cookie, a metadata record holding the
    photo, and the photo again served as text/plain with a telling file name."""
    with path.open("wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="1.1")
        if extra:
            writer.write_record(
                writer.create_warcinfo_record(
                    path.name, {"operator": "Witness Name", "hostname": "laptop-of-ahmad"}
                )
            )
            request = StatusAndHeaders("GET /p.jpg HTTP/1.1", [("Cookie", "session=witness")],
                                       protocol="HTTP/1.1")  # fmt: skip
            writer.write_record(
                writer.create_warc_record(
                    "https://example.org/p.jpg", "request", http_headers=request
                )
            )
            writer.write_record(
                writer.create_warc_record(
                    "https://example.org/p.jpg",
                    "metadata",
                    payload=io.BytesIO(photo.read_bytes()),
                    warc_content_type="image/jpeg",
                )
            )
            body = photo.read_bytes()
            headers = StatusAndHeaders(
                "200 OK",
                [
                    ("Content-Type", "text/plain"),
                    ("Content-Length", str(len(body))),
                    ("Content-Disposition", "inline; filename=ahmad-home-aleppo.jpg"),
                    ("ETag", '"5d41402abc4b2a76b9719d911017c592"'),
                ],
                protocol="HTTP/1.1",
            )
            writer.write_record(writer.create_warc_record(
                "https://example.org/q", "response", payload=io.BytesIO(body), length=len(body),
                http_headers=headers))  # fmt: skip
        for uri, media_type, body in (
            ("https://example.org/post", "text/html", b"<html><img src=/p.jpg></html>"),
            ("https://example.org/p.jpg", "image/jpeg", photo.read_bytes()),
            ("https://example.org/list.pdf", "application/pdf", b"%PDF-1.4 (Witness Name)"),
        ):
            headers = StatusAndHeaders("200 OK", [("Content-Type", media_type),
                                                  ("Content-Length", str(len(body)))],
                                       protocol="HTTP/1.1")  # fmt: skip
            writer.write_record(writer.create_warc_record(
                uri, "response", payload=io.BytesIO(body), length=len(body),
                http_headers=headers))  # fmt: skip


def test_a_warc_gets_its_images_redacted_and_keeps_the_rest(
    tmp_path: Path, tagged_photo: Path
) -> None:
    src, dst = tmp_path / "capture.warc.gz", tmp_path / "public.warc.gz"
    face_warc(src, tagged_photo)
    done = redact_warc(src, dst)
    assert [r["uri"] for r in done["redacted"]] == ["https://example.org/p.jpg"]
    assert done["records_dropped"] == {}
    assert done["redacted"][0]["faces"] >= 2
    assert done["left_out"] == [{"uri": "https://example.org/list.pdf",
                                 "why": "no public copy of application/pdf"}]  # fmt: skip
    with src.open("rb") as f:
        originals = {r.rec_headers.get_header("WARC-Record-ID"): r.content_stream().read()
                     for r in ArchiveIterator(f)}  # fmt: skip
    with dst.open("rb") as f:
        records = list(ArchiveIterator(f, check_digests=True))  # digests recomputed: no error
    with dst.open("rb") as f:
        bodies = [(r.rec_headers, r.http_headers, r.content_stream().read())
                  for r in ArchiveIterator(f, check_digests="raise")]  # fmt: skip
    assert [r.rec_type for r in records] == ["warcinfo", "response", "response"]
    page, photo = bodies[1:]
    assert page[2] == originals[page[0].get_header("WARC-Record-ID")]  # copied as it was
    assert photo[0].get_header("WARC-Vigil-Redacted-From") in originals
    assert b"Witness Name" not in photo[2] and b"Witness Name" not in dst.read_bytes()
    assert photo[1].get_header("Content-Length") == str(len(photo[2]))
    with Image.open(io.BytesIO(photo[2])) as image:
        assert image.size == (1200, 800) and not image.getexif()


def test_a_warc_is_judged_by_its_bytes_and_loses_requests_and_metadata(
    tmp_path: Path, tagged_photo: Path
) -> None:
    src, dst = tmp_path / "capture.warc.gz", tmp_path / "public.warc.gz"
    face_warc(src, tagged_photo, extra=True)
    done = redact_warc(src, dst)
    assert sorted(r["uri"] for r in done["redacted"]) == [
        "https://example.org/p.jpg",
        "https://example.org/q",
    ]  # labelled text, but a JPEG
    assert done["records_dropped"] == {"warcinfo": 1, "request": 1, "metadata": 1}
    assert b"laptop-of-ahmad" not in gzip.decompress(dst.read_bytes())
    data = gzip.decompress(dst.read_bytes())
    for secret in (b"Witness Name", b"session=witness", b"ahmad-home", b"5d41402abc"):
        assert secret not in data, secret


def test_a_public_package_holds_redacted_copies_only(
    archive: Archive, tmp_path: Path, tagged_photo: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "statement.txt").write_text("If we all die, remember us.\n")
    (folder / "witness.jpg").write_bytes(tagged_photo.read_bytes())
    (folder / "report.pdf").write_bytes(
        b"%PDF-1.4\n1 0 obj<</Author(Witness Name)>>endobj\n%%EOF\n"
    )
    face_warc(folder / "capture.warc.gz", tagged_photo)
    archive.add_paths([folder])
    Runner(archive, ["metadata"]).run(workers=1)  # a metadata.json with the photo's GPS
    by_name = {r.name.rsplit("/", 1)[-1]: r for r in archive.items() if r.kind != "metadata"}
    photo = by_name["witness.jpg"]
    gps = next(r for r in archive.index.children(photo.id) if r.kind == "metadata")
    assert b"latitude" in archive.blobs.path(gps.sha256).read_bytes()
    for refused in (["--no-detect"], ["--box", "1,2,3"]):
        bad = run_vigil("redact", photo.id, *refused, archive_path=archive.root,
                        database_url=db_url(archive))  # fmt: skip
        assert bad.returncode != 0 and ("--box" in bad.stderr or "box" in bad.stderr)
    # A reviewer's copy, with a box the detector could not know about (the desk).
    result = run_vigil("redact", photo.id, "--box", "20,560,200,200", "--reason", "reviewed",
                       "--json", archive_path=archive.root, database_url=db_url(archive),
                       check=True)  # fmt: skip
    made = json.loads(result.stdout)
    assert made["of"] == photo.id and made["result"]["boxes"] == [[20, 560, 200, 200]]
    refs = [r.id for r in by_name.values()]
    package = tmp_path / "public.wacz"
    reopened = Archive.open(archive.root, database_url=db_url(archive))
    exported = export_package(reopened, refs, package, public=True)
    pdf = by_name["report.pdf"].id
    assert sorted(exported.left_out) == sorted([pdf, gps.id])
    assert "application/pdf" in exported.why_left_out[pdf]
    assert "describes the original" in exported.why_left_out[gps.id]
    warc = by_name["capture.warc.gz"]
    made_now = redaction_of(reopened, warc.id)  # the WARC had none: made and logged now
    assert made_now is not None and made_now.kind == "redacted"
    with zipfile.ZipFile(package) as zf:
        everything = b"".join(zf.read(n) for n in zf.namelist())
        held = zf.read(f"files/{photo.id}.jpg")
        described = json.loads(zf.read(f"items/{photo.id}.item"))
    assert b"Witness Name" not in everything and b"PhoneMaker" not in everything
    assert b"latitude" not in everything and b"witness.jpg" not in everything
    assert held == reopened.blobs.path(made["sha256"]).read_bytes()  # the reviewer's copy
    assert described["redacted"]["item"] == made["id"] and "sha256" not in described
    assert described["exported"]["sha256"] == made["sha256"]
    problems, _ = verify_package(package, reopened.verifier.vkey)
    assert problems == []
    private = tmp_path / "court.wacz"
    export_package(reopened, [photo.id], private)
    with zipfile.ZipFile(private) as zf:
        assert zf.read(f"files/{photo.id}.jpg") == tagged_photo.read_bytes()  # the original
    copies = [c.id for c in reopened.index.children(photo.id) if c.kind == "redacted"]
    assert copies == [made["id"]]  # the reviewer's copy was used, not a new one made
    reopened.close()


def test_a_reviewers_boxes_add_up_and_sealed_items_are_refused(
    archive: Archive, tmp_path: Path
) -> None:
    from vigil.access import seal
    from vigil.export.public import redact_item

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(PHOTO.read_bytes())
    (folder / "other.jpg").write_bytes(PHOTO.read_bytes() + b"\0")
    archive.add_paths([folder])
    photo, other = sorted(archive.items(), key=lambda r: r.name)[::-1]
    first = redact_item(archive, photo.id, [CALM], detect=False)
    second = redact_item(archive, photo.id, [Box(0, 0, 40, 40)], detect=False)
    [(_, added)] = archive.index.item_events(second.id)[:1]
    assert json.loads(added)["result"]["boxes"] == [[0, 0, 40, 40], CALM.as_json()]
    assert redaction_of(archive, photo.id) == second and first != second
    seal(archive, [other.id], reason="the family asked")
    with pytest.raises(InputError, match="sealed items are never public"):
        redact_item(archive, other.id)


def test_a_photo_cut_short_in_its_gzip_is_never_copied(tmp_path: Path, tagged_photo: Path) -> None:
    """A response gzip-encoded and cut in half (as a dropped connection leaves it): what
    decodes is half a JPEG, still with its EXIF; the public copy must not hold it."""
    src, dst = tmp_path / "capture.warc.gz", tmp_path / "public.warc.gz"
    squeezed = gzip.compress(tagged_photo.read_bytes())
    body = squeezed[: len(squeezed) // 2]
    with src.open("wb") as f:
        write_responses(f, [("https://example.org/p.jpg", "image/jpeg", body,
                             [("Content-Encoding", "gzip")])])  # fmt: skip
    done = redact_warc(src, dst)
    judged = [r["uri"] for r in done["redacted"]] + [r["uri"] for r in done["left_out"]]
    assert judged == ["https://example.org/p.jpg"]
    assert b"Witness Name" not in gzip.decompress(dst.read_bytes())


def test_a_warc_gzipped_as_a_whole_is_refused_not_half_copied(
    tmp_path: Path, tagged_photo: Path
) -> None:
    """warcio cannot place records in one gzip stream: no public copy is made of it (a
    public package leaves it out, saying why), rather than a crash or a wrong copy."""
    plain = io.BytesIO()
    write_responses(plain, [("https://example.org/", "text/html", b"<p>hi</p>"),
                            ("https://example.org/p.jpg", "image/jpeg", tagged_photo.read_bytes())],
                    gzip=False)  # fmt: skip
    src = tmp_path / "whole.warc.gz"
    src.write_bytes(gzip.compress(plain.getvalue()))
    with pytest.raises(InputError, match="gzipped as a whole"):
        redact_warc(src, tmp_path / "public.warc.gz")
