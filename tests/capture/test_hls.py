"""Playlist parsing against real playlists: yt-dlp's Apple masters and videojs's live ones."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from vigil.capture.hls import best_variant, parse_playlist

HLS = FIXTURES / "social" / "hls"
EXPECTED = json.loads((HLS / "expected.json").read_text()) if HLS.is_dir() else {}


def _parse(path: Path, base: str) -> object:
    return parse_playlist(path.read_bytes(), base + path.name)


@pytest.mark.parametrize("name", sorted(EXPECTED.get("videojs-m3u8-parser", {})))
def test_live_playlists_parse_as_videojs_reads_them(name: str) -> None:
    expected = EXPECTED["videojs-m3u8-parser"][name]
    base = "https://origin.example/live/"
    playlist = parse_playlist((HLS / "videojs-m3u8-parser" / name).read_bytes(), base + name)
    assert not playlist.ended and not playlist.is_master
    assert playlist.target_duration == expected["targetDuration"]
    # EXT-X-SKIP (a delta update) drops the first segments: numbering starts after them.
    skipped = expected.get("skip", {}).get("skippedSegments", 0)
    assert [s.sequence for s in playlist.segments] == [
        expected["mediaSequence"] + skipped + n for n in range(len(expected["segments"]))
    ]
    assert [s.uri for s in playlist.segments] == [
        seg["uri"] if "://" in seg["uri"] else base + seg["uri"] for seg in expected["segments"]
    ]
    assert [s.duration for s in playlist.segments] == [
        pytest.approx(seg["duration"]) for seg in expected["segments"]
    ]
    for seg, want in zip(playlist.segments, expected["segments"], strict=True):
        key = want.get("key")
        if key is None or key["method"] == "NONE":
            assert seg.key is None
        else:
            assert seg.key is not None and (seg.key.method, seg.key.uri) == (
                key["method"],
                key["uri"],
            )
        if "programDateTime" in want:
            moment = dt.datetime.fromtimestamp(want["programDateTime"] / 1000, dt.UTC)
            assert seg.program_date_time is not None
            assert abs((seg.program_date_time - moment).total_seconds()) < 0.001
        if "map" in want:
            assert seg.init_uri == base + want["map"]["uri"]


def test_encrypted_live_playlist_ivs() -> None:
    playlist = parse_playlist(
        (HLS / "videojs-m3u8-parser" / "encrypted.m3u8").read_bytes(),
        "http://media.example.com/live.m3u8",
    )
    described = [s.describe().get("key") for s in playlist.segments]
    assert described[0] == {
        "method": "AES-128",
        "uri": "https://priv.example.com/key.php?r=52",
        "iv": f"0x{7794:032x}",  # no IV given: the media sequence number (RFC 8216 5.2)
    }
    assert described[4]["iv"] == "0x00000000000000000000014BB69D61E4"
    assert described[5] is None  # METHOD=NONE


@pytest.mark.parametrize("name", sorted(EXPECTED.get("yt-dlp", {})))
def test_master_playlists_list_the_variants_yt_dlp_finds(name: str) -> None:
    expected = EXPECTED["yt-dlp"][name]
    playlist = parse_playlist((HLS / "yt-dlp" / name).read_bytes(), expected["manifest_url"])
    assert playlist.is_master and not playlist.segments
    video = [f for f in expected["expected_formats"] if f.get("vcodec") not in (None, "none")]
    assert {v.uri for v in playlist.variants} >= {f["url"] for f in video}
    best = best_variant(playlist.variants)
    top = max(video, key=lambda f: f.get("tbr") or float(f["format_id"]))  # id: kbit/s
    assert best.uri == top["url"]
