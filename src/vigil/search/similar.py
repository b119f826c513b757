"""Near-duplicates: `similar` (what is within a PDQ radius of an item or a photo) and
`clusters` (all items grouped by near-duplication, with the earliest known copy).

Rotated and mirrored copies are found by querying with all eight dihedral variants
of the query; the distance reported is the smallest. The earliest copy is given two
ways, never mixed: by the time a platform **claims** it was posted (the item's or
its post's ``posted`` claim), and by the time **we** captured it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vigil.db.index import ItemRow
from vigil.enrich.pdq import hamming
from vigil.enrich.runner import pdq_results
from vigil.errors import InputError
from vigil.search.clusterstore import RADIUS, stored_groups
from vigil.search.pdqindex import CHUNKS, PdqIndex, group_rows, pack
from vigil.search.videos import video_groups

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["Cluster", "clusters", "similar_to"]

MIN_QUALITY = 50  # ThreatExchange discards PDQ hashes below this quality


def _index(archive: Archive) -> tuple[PdqIndex, dict[str, dict[str, Any]]]:
    results = pdq_results(archive)
    index = PdqIndex()
    for item, result in results.items():
        if result["quality"] >= MIN_QUALITY:
            index.add(item, result["pdq"])
    return index, results


def _query(index: PdqIndex, variants: list[str], radius: int) -> dict[str, int]:
    best: dict[str, int] = {}
    for variant in variants:
        for key, distance in index.within(variant, radius):
            best[key] = min(distance, best.get(key, distance))
    return best


def similar_to(
    archive: Archive, *, item: str | None = None, variants: list[str] | None = None,
    radius: int = 31,
) -> list[tuple[ItemRow, int]]:  # fmt: skip
    """Items within *radius* of an item (by id) or of the given PDQ hashes, nearest first."""
    index, results = _index(archive)
    if item is not None:
        row = archive.item(item)
        if row.id not in results:
            raise InputError(f"item {row.id} has no PDQ hash (run `vigil enrich` first)")
        result = results[row.id]
        variants = [result["pdq"], *result["dihedral"].values()]
    hits = _query(index, variants or [], radius)
    if item is not None:
        hits.pop(archive.item(item).id, None)
    rows = [(archive.item(key), distance) for key, distance in hits.items()]
    return sorted(rows, key=lambda r: (r[1], r[0].added_index))


@dataclass
class Cluster:
    members: list[ItemRow]
    earliest_captured: ItemRow
    earliest_claimed: tuple[ItemRow, str] | None  # (item, the claimed post time)
    kind: str = "image"  # "image": by PDQ hash; "video": by the share of matching frames
    distances: dict[str, int] = field(default_factory=dict)  # image: PDQ distance to the first

    def as_json(self) -> dict[str, Any]:
        claimed = None
        if self.earliest_claimed is not None:
            claimed = {"id": self.earliest_claimed[0].id, "posted": self.earliest_claimed[1]}
        members = [
            {"id": m.id, "sha256": m.sha256, "name": m.name, "captured": m.added_at,
             "distance_to_earliest_captured": self.distances.get(m.id)}
            for m in self.members
        ]  # fmt: skip
        first = self.earliest_captured
        return {
            "kind": self.kind,
            "members": members,
            "earliest_by_our_capture_time": {"id": first.id, "captured": first.added_at},
            "earliest_by_claimed_post_time": claimed,
        }


def _posted(archive: Archive, row: ItemRow) -> str | None:
    """What the item, or the post it belongs to, claims as its posting time."""
    if row.claimed.get("posted"):
        return str(row.claimed["posted"])
    if row.parent_id:
        parent = archive.item(row.parent_id)
        if parent.claimed.get("posted"):
            return str(parent.claimed["posted"])
    return None


def clusters(archive: Archive, radius: int = 31, *, rotations: bool = False) -> list[Cluster]:
    """Every group of two or more images within *radius* of each other (single linkage),
    and of videos whose vPDQ frames match (`vigil.search.videos`).

    Images are grouped by their hashes as they are (`group_rows`: all pairs at once);
    with *rotations*, rotated and mirrored copies are joined too (seven more queries an
    image)."""
    index, results = _index(archive)
    keys = [k for k, r in results.items() if r["quality"] >= MIN_QUALITY]
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.get(key, key) != key:
            parent[key] = parent.get(parent[key], parent[key])
            key = parent[key]
        return key

    def join(a: str, b: str) -> None:
        a, b = root(a), root(b)
        if a != b:
            parent[max(a, b)] = min(a, b)

    if radius == RADIUS and not rotations:  # the standard radius: kept up to date
        for group in stored_groups(archive):
            for member in group:
                join(member, group[0])
    elif radius < 2 * CHUNKS and keys:
        labels = group_rows(pack([results[k]["pdq"] for k in keys]), radius)
        for key, label in zip(keys, labels.tolist(), strict=True):
            join(key, keys[label])
    else:
        rotations = True  # wide radii: every variant is queried, the original too
    if rotations:
        for key in keys:
            result = results[key]
            for other in _query(index, [result["pdq"], *result["dihedral"].values()], radius):
                join(key, other)
    groups: dict[str, list[ItemRow]] = {}
    for key in results:
        groups.setdefault(root(key), []).append(archive.item(key))
    kinds = [("image", members) for members in groups.values() if len(members) > 1]
    videos = (stored_groups(archive, "video") if radius == RADIUS
              else [sorted(g) for g in video_groups(archive, radius=radius)])  # fmt: skip
    kinds += [("video", [archive.item(v) for v in group]) for group in videos]
    out = []
    for kind, members in kinds:
        members.sort(key=lambda r: r.added_index)
        posted = [(m, p) for m in members if (p := _posted(archive, m))]
        earliest = min(posted, key=lambda mp: mp[1]) if posted else None
        first = results.get(members[0].id)
        distances = {
            m.id: min(hamming(first["pdq"], v) for v in [results[m.id]["pdq"],
                      *results[m.id]["dihedral"].values()])
            for m in members if first and m.id in results
        } if kind == "image" else {}  # fmt: skip
        out.append(Cluster(members, members[0], earliest, kind, distances))
    return sorted(out, key=lambda c: c.members[0].added_index)
