"""Near-duplicate clusters kept up to date as PDQ and vPDQ results arrive.

The table ``near_clusters`` gives every image with a usable PDQ hash (quality >= 50),
and every video with keyframes, the id of its cluster: the smallest item id (ids grow
with time: the first stored) of its group. Images are joined under single linkage at
the standard PDQ radius 31; videos when either holds 80 % of the other's frames
(`vigil.search.videos`). Like the rest of the index the table is derived from the
ledger (``derivative.added`` events of kind ``pdq`` and ``keyframes``) and rebuilt by
``vigil reindex``.

`catch_up` reads the results logged since it last ran. A new image is looked up in
the exact index and joins (and merges) the clusters it touches; many at once (a first
run, a large import) regroup every image with `group_rows`, which finds all pairs in
one pass. A new video is compared with every video by its frames. `vigil enrich`
calls it after logging; `vigil clusters` before reading.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update

from vigil.db.index import lock_progress, set_progress
from vigil.db.schema import events, near_clusters
from vigil.events import DERIVATIVE_ADDED
from vigil.search.pdqindex import PdqIndex, group_rows, pack

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["RADIUS", "catch_up", "stored_groups"]

RADIUS = 31
MIN_QUALITY = 50
SIZE_KEY = "clusters_size"
REGROUP_AT = 10_000  # new image hashes from which regrouping everything is cheaper


def _new_results(conn: Connection, start: int) -> tuple[list[tuple[str, str]], list[str], int]:
    """(image, PDQ hex) and the videos with keyframes logged from index *start*; the end."""
    rows = conn.execute(
        select(events.c.idx, events.c.entry)
        .where(events.c.idx >= start, events.c.type == DERIVATIVE_ADDED)
        .order_by(events.c.idx)
    ).all()
    images, videos = [], []
    for _idx, entry in rows:
        data: dict[str, Any] = json.loads(entry)
        result = data.get("result") or {}
        if data.get("kind") == "pdq" and result.get("quality", 0) >= MIN_QUALITY:
            images.append((str(data["of"]), str(result["pdq"])))
        elif data.get("kind") == "keyframes":
            videos.append(str(data["of"]))
    end = conn.execute(select(events.c.idx).order_by(events.c.idx.desc()).limit(1)).scalar()
    return images, videos, (int(end) + 1 if end is not None else start)


def _known(conn: Connection, kind: str) -> dict[str, str]:
    query = select(near_clusters.c.item_id, near_clusters.c.cluster)
    return {
        str(item): str(cluster)
        for item, cluster in conn.execute(query.where(near_clusters.c.kind == kind))
    }


def catch_up(archive: Archive) -> int:
    """Bring the clusters up to date with the ledger; return how many results were added."""
    with archive.index.engine.begin() as conn:
        start = lock_progress(conn, SIZE_KEY)
        images, videos, end = _new_results(conn, start)
        if images:
            _add_images(conn, archive, images)
        if videos:
            _add_videos(conn, archive, videos)
        set_progress(conn, SIZE_KEY, end)
    return len(images) + len(videos)


def _add_images(conn: Connection, archive: Archive, new: list[tuple[str, str]]) -> None:
    from vigil.enrich.runner import pdq_results

    known = _known(conn, "image")
    if len(new) >= REGROUP_AT or not known:
        _regroup(conn, archive)
        return
    results = pdq_results(archive)
    index = PdqIndex()
    index.add_many(list(known), [results[item]["pdq"] for item in known])
    for item, pdq in new:
        touched = {known[key] for key, _ in index.within(pdq, RADIUS) if key in known}
        _join(conn, known, item, touched, "image")
        index.add(item, pdq)


def _add_videos(conn: Connection, archive: Archive, new: list[str]) -> None:
    from vigil.search.videos import MATCH_PERCENT, compare, frame_index, video_hashes

    hashes = video_hashes(archive)
    index = frame_index(hashes)
    known = _known(conn, "video")
    for video in dict.fromkeys(new):
        if video not in hashes:
            continue  # no usable frames
        matches = compare(video, hashes, index, RADIUS)
        touched = {known[other] for other, (q, c, _d) in matches.items()
                   if other in known and max(q, c) >= MATCH_PERCENT}  # fmt: skip
        _join(conn, known, video, touched, "video")


def _join(conn: Connection, known: dict[str, str], item: str, touched: set[str], kind: str) -> None:
    """Put *item* in the earliest of the *touched* clusters, merging the others into it."""
    if item in known:  # a newer result for an item already clustered: it stays with its own
        touched = touched | {known[item]}
    cluster = min(touched | {item})
    for other in touched - {cluster}:
        conn.execute(
            update(near_clusters).where(near_clusters.c.cluster == other).values(cluster=cluster)
        )
        for key, value in list(known.items()):
            if value == other:
                known[key] = cluster
    if item in known:
        conn.execute(
            update(near_clusters).where(near_clusters.c.item_id == item).values(cluster=cluster)
        )
    else:
        conn.execute(insert(near_clusters).values(item_id=item, cluster=cluster, kind=kind))
    known[item] = cluster


def _regroup(conn: Connection, archive: Archive) -> None:
    """Every image again, all pairs at once."""
    from vigil.enrich.runner import pdq_results

    found = pdq_results(archive).items()
    results = [(k, r["pdq"]) for k, r in found if r["quality"] >= MIN_QUALITY]
    conn.execute(delete(near_clusters).where(near_clusters.c.kind == "image"))
    if not results:
        return
    labels = group_rows(pack([pdq for _, pdq in results]), RADIUS).tolist()
    smallest: dict[int, str] = {}
    for (item, _), label in zip(results, labels, strict=True):
        smallest[label] = min(item, smallest.get(label, item))
    rows = [{"item_id": item, "cluster": smallest[label], "kind": "image"}
            for (item, _), label in zip(results, labels, strict=True)]  # fmt: skip
    conn.execute(insert(near_clusters), rows)


def stored_groups(archive: Archive, kind: str = "image") -> list[list[str]]:
    """The clusters of two or more items of *kind*, each as item ids (after catching up)."""
    catch_up(archive)
    with archive.index.engine.connect() as conn:
        query = select(near_clusters.c.cluster, near_clusters.c.item_id)
        rows = conn.execute(query.where(near_clusters.c.kind == kind)).all()
    groups: dict[str, list[str]] = {}
    for cluster, item in rows:
        groups.setdefault(cluster, []).append(item)
    return [members for members in groups.values() if len(members) > 1]
