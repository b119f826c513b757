"""Near-duplicate videos by vPDQ: the share of frames that match.

A video's vPDQ hash is the PDQ hashes of one frame a second (`vigil.enrich.keyframes`),
consecutive repeats dropped and frames under quality 50 left out, as ThreatExchange
does. Comparing a query video Q with a video V: a frame matches when it is within the
PDQ radius (31) of some frame of the other; the *query match* is the share of Q's
frames that match V, the *compared match* the share of V's frames that match Q.
ThreatExchange reports V for Q when the query match reaches 80 % (whatever the
compared match: Q may be a clip of V). For clusters, which are symmetric, two videos
are joined when either share reaches the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vigil.db.index import ItemRow
from vigil.enrich.runner import derivatives_of
from vigil.errors import InputError
from vigil.search.pdqindex import PdqIndex

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = [
    "MATCH_PERCENT",
    "VideoMatch",
    "compare",
    "frame_index",
    "similar_videos",
    "video_groups",
    "video_hashes",
]

QUALITY = 50
MATCH_PERCENT = 80.0


@dataclass(frozen=True)
class VideoMatch:
    item: ItemRow
    query_percent: float
    compared_percent: float
    distance: int  # the smallest frame distance


def video_hashes(archive: Archive) -> dict[str, list[str]]:
    """Video id -> its vPDQ frame hashes (1 a second, repeats and low quality dropped)."""
    found: dict[str, list[str]] = {}
    for video, event in derivatives_of(archive, "keyframes"):
        hashes: list[str] = []
        for frame in event["result"]["frames"]:
            if frame["scene"] or frame["quality"] < QUALITY:
                continue
            if not hashes or hashes[-1] != frame["pdq"]:
                hashes.append(frame["pdq"])
        found[video] = hashes  # the latest derivation wins
    return {video: hashes for video, hashes in found.items() if hashes}


def frame_index(hashes: dict[str, list[str]]) -> PdqIndex:
    index = PdqIndex()
    for video, frames in hashes.items():
        for n, frame in enumerate(frames):
            index.add(f"{video}/{n}", frame)
    return index


def compare(
    video: str, hashes: dict[str, list[str]], index: PdqIndex, radius: int
) -> dict[str, tuple[float, float, int]]:
    """Other video -> (query %, compared %, smallest distance) against *video*."""
    query_hits: dict[str, set[int]] = {}
    target_hits: dict[str, set[int]] = {}
    best: dict[str, int] = {}
    for n, frame in enumerate(hashes[video]):
        for key, distance in index.within(frame, radius):
            other, _, number = key.rpartition("/")
            if other == video:
                continue
            query_hits.setdefault(other, set()).add(n)
            target_hits.setdefault(other, set()).add(int(number))
            best[other] = min(distance, best.get(other, distance))
    size = len(hashes[video])
    return {
        other: (100 * len(hits) / size, 100 * len(target_hits[other]) / len(hashes[other]),
                best[other])
        for other, hits in query_hits.items()
    }  # fmt: skip


def similar_videos(
    archive: Archive, item: str, *, radius: int = 31, threshold: float = MATCH_PERCENT
) -> list[VideoMatch]:
    """Videos that the video *item* matches (query match >= *threshold*), best first."""
    row = archive.item(item)
    hashes = video_hashes(archive)
    if row.id not in hashes:
        raise InputError(f"item {row.id} has no keyframes (run `vigil enrich` first)")
    found = compare(row.id, hashes, frame_index(hashes), radius)
    matches = [
        VideoMatch(archive.item(other), round(q, 1), round(c, 1), d)
        for other, (q, c, d) in found.items()
        if q >= threshold
    ]
    return sorted(matches, key=lambda m: (-m.query_percent, m.distance, m.item.added_index))


def video_groups(
    archive: Archive, *, radius: int = 31, threshold: float = MATCH_PERCENT
) -> list[set[str]]:
    """Groups of two or more videos joined when either match share reaches *threshold*."""
    hashes = video_hashes(archive)
    index = frame_index(hashes)
    parent = {video: video for video in hashes}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for video in hashes:
        for other, (q, c, _d) in compare(video, hashes, index, radius).items():
            if max(q, c) >= threshold:
                a, b = root(video), root(other)
                parent[max(a, b)] = min(a, b)
    groups: dict[str, set[str]] = {}
    for video in hashes:
        groups.setdefault(root(video), set()).add(video)
    return [g for g in groups.values() if len(g) > 1]
