"""Keyframes and vPDQ: Meta's reference hashes (../shared/fixtures/pdq), re-encoded and
cut copies found by the share of matching frames, bad videos recorded as failures."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, db_url, run_vigil
from vigil.archive import Archive
from vigil.enrich.keyframes import extract_keyframes
from vigil.enrich.pdq import hamming, pdq_hash
from vigil.enrich.runner import Runner
from vigil.search.similar import clusters
from vigil.search.videos import similar_videos

PDQ = FIXTURES / "pdq"
VIDEOS = json.loads((PDQ / "expected.json").read_text())["videos"]
CHAIR = PDQ / "tmk-sample-videos" / "chair-20-sd-bar.mp4"
pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="no ffmpeg")


def _samples(video: Path) -> list[dict[str, object]]:
    folder = Path(tempfile.mkdtemp())
    try:
        return [f for f in extract_keyframes(video, folder) if not f["scene"]]
    finally:
        shutil.rmtree(folder)


def test_one_a_second_matches_the_vpdq_reference() -> None:
    reference = VIDEOS["tmk-sample-videos/chair-20-sd-bar.mp4"]["one_hash_per_second_expected"]
    samples = _samples(CHAIR)
    assert [f["t"] for f in samples] == [float(n) for n in range(21)]
    distances = [hamming(str(f["pdq"]), h) for f, h in zip(samples, reference["pdq"], strict=True)]
    assert max(distances) <= 31  # upstream: 100 % / 100 % at distance 31 (observed 0-2)


@pytest.mark.parametrize("name", ["doorknob-hd-no-bar", "pattern-sd-grey-bar"])
def test_sampled_frames_match_the_every_frame_reference(name: str) -> None:
    lines = (PDQ / "vpdq-sample-hashes" / f"{name}.txt").read_text().split()
    reference = [(float(t), int(q), h) for _, q, h, t in (ln.split(",") for ln in lines)]
    checked = 0
    for frame in _samples(PDQ / "tmk-sample-videos" / f"{name}.mp4"):
        t = float(str(frame["t"]))
        _, quality, expected = min(reference, key=lambda line: abs(line[0] - t))
        if quality >= 50:  # upstream skips low-quality frames
            assert hamming(str(frame["pdq"]), expected) <= 31, t
            checked += 1
    assert checked >= 2


def _ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


def test_copies_are_found_by_their_frames_and_bad_videos_fail(
    archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(CHAIR, folder / "original.mp4")
    _ffmpeg("-i", CHAIR, "-vf", "scale=240:360", "-crf", "32", folder / "reencoded.mp4")
    _ffmpeg("-i", CHAIR, "-t", "8", "-c:v", "libx264", folder / "clip.mp4")
    shutil.copy(PDQ / "tmk-sample-videos" / "doorknob-hd-no-bar.mp4", folder / "other.mp4")
    (folder / "broken.mp4").write_bytes(CHAIR.read_bytes()[:4000])
    archive.add_paths([folder])
    report = Runner(archive, ["keyframes"]).run(workers=2)
    items = {i.name: i for i in archive.items()}
    assert report.done == {"keyframes": 4}
    [failure] = report.failed
    assert failure["item"] == items["broken.mp4"].id and "broken.mp4" not in failure["error"]
    frames = [c for c in archive.index.children(items["original.mp4"].id) if c.kind == "keyframe"]
    assert len([f for f in frames if f.name.startswith("second-")]) == 21
    first = json.loads(archive.custody(frames[0].id)[0].raw)
    assert first["result"]["t"] == 0.0 and first["media_type"] == "image/jpeg"
    assert pdq_hash(archive.blobs.path(frames[0].sha256)).hex == first["result"]["pdq"]

    found = {m.item.name: m for m in similar_videos(archive, items["original.mp4"].id)}
    assert set(found) == {"reencoded.mp4"}  # the clip holds under 80 % of the original
    assert found["reencoded.mp4"].query_percent >= 80
    back = {m.item.name: m for m in similar_videos(archive, items["clip.mp4"].id)}
    assert set(back) == {"original.mp4", "reencoded.mp4"}
    assert back["original.mp4"].query_percent == 100.0
    video_groups = [c for c in clusters(archive) if c.kind == "video"]
    assert [sorted(m.name for m in c.members) for c in video_groups] == [
        ["clip.mp4", "original.mp4", "reencoded.mp4"]
    ]
    assert video_groups[0].earliest_captured.name in {"clip.mp4", "original.mp4", "reencoded.mp4"}
    out = run_vigil("similar", items["clip.mp4"].id, "--json", archive_path=archive.root,
                    database_url=db_url(archive), check=True).stdout  # fmt: skip
    later = tmp_path / "later"
    later.mkdir()
    _ffmpeg("-i", CHAIR, "-vf", "scale=320:480", "-crf", "28", later / "repost.mp4")
    archive.add_paths([later])
    Runner(archive, ["keyframes"]).run(workers=1)  # the stored clusters follow
    [grown] = [c for c in clusters(archive) if c.kind == "video"]
    assert sorted(m.name for m in grown.members) == [
        "clip.mp4", "original.mp4", "reencoded.mp4", "repost.mp4"
    ]  # fmt: skip
    hit = next(h for h in json.loads(out) if h["name"] == "original.mp4")
    assert hit["query_match_percent"] == 100.0 and len(hit["sha256"]) == 64
    assert archive.verify().ok
