"""Near-duplicate image clusters kept up to date as PDQ results arrive.

The table ``near_clusters`` gives every image with a usable PDQ hash (quality >= 50)
the id of its cluster: the smallest item id (ids grow with time: the first stored) of
its group under single linkage at the standard radius 31. Like the rest of the index it
is derived from the ledger (``derivative.added`` events of kind ``pdq``) and rebuilt by
``vigil reindex``.

`catch_up` reads the PDQ results logged since it last ran. A few new hashes are each
looked up in the exact index and joined to the clusters they touch (merging clusters a
new image bridges); many at once (a first run, a large import) regroup everything with
`group_rows`, which finds all pairs in one pass. `vigil enrich` calls it after logging.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

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
REGROUP_AT = 10_000  # new hashes from which regrouping everything is cheaper


def _new_hashes(conn: Connection, start: int) -> tuple[list[tuple[str, str]], int]:
    """(item, PDQ hex) of the PDQ results logged from ledger index *start*, and the end."""
    rows = conn.execute(
        select(events.c.idx, events.c.entry)
        .where(events.c.idx >= start, events.c.type == DERIVATIVE_ADDED)
        .order_by(events.c.idx)
    ).all()
    found = []
    for _idx, entry in rows:
        data = json.loads(entry)
        result = data.get("result") or {}
        if data.get("kind") == "pdq" and result.get("quality", 0) >= MIN_QUALITY:
            found.append((str(data["of"]), str(result["pdq"])))
    end = conn.execute(select(events.c.idx).order_by(events.c.idx.desc()).limit(1)).scalar()
    return found, (int(end) + 1 if end is not None else start)


def catch_up(archive: Archive) -> int:
    """Bring the clusters up to date with the ledger; return how many hashes were added."""
    from vigil.enrich.runner import pdq_results

    with archive.index.engine.begin() as conn:
        start = lock_progress(conn, SIZE_KEY)
        new, end = _new_hashes(conn, start)
        if not new:
            set_progress(conn, SIZE_KEY, end)
            return 0
        known = dict(conn.execute(select(near_clusters.c.item_id, near_clusters.c.cluster)).all())
        if len(new) >= REGROUP_AT or not known:
            _regroup(conn, archive)
        else:
            hashes = {
                item: result["pdq"]
                for item, result in pdq_results(archive).items()
                if item in known and result["quality"] >= MIN_QUALITY
            }
            index = PdqIndex()
            index.add_many(list(hashes), list(hashes.values()))
            for item, pdq in new:
                _join(conn, known, index, item, pdq)
        set_progress(conn, SIZE_KEY, end)
    return len(new)


def _join(conn: Connection, known: dict[str, str], index: PdqIndex, item: str, pdq: str) -> None:
    """Add one image: its cluster is the earliest of those it touches, which it merges."""
    touched = {known[key] for key, _ in index.within(pdq, RADIUS) if key in known}
    if item in known:  # a new hash for an item already clustered (a redo): keep it with its own
        touched.add(known[item])
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
        conn.execute(insert(near_clusters).values(item_id=item, cluster=cluster))
        index.add(item, pdq)
    known[item] = cluster


def _regroup(conn: Connection, archive: Archive) -> None:
    from vigil.enrich.runner import pdq_results

    found = pdq_results(archive).items()
    results = [(k, r["pdq"]) for k, r in found if r["quality"] >= MIN_QUALITY]
    conn.execute(delete(near_clusters))
    if not results:
        return
    labels = group_rows(pack([pdq for _, pdq in results]), RADIUS).tolist()
    smallest: dict[int, str] = {}
    for (item, _), label in zip(results, labels, strict=True):
        smallest[label] = min(item, smallest.get(label, item))
    rows = [{"item_id": item, "cluster": smallest[label]}
            for (item, _), label in zip(results, labels, strict=True)]  # fmt: skip
    conn.execute(insert(near_clusters), rows)


def stored_groups(archive: Archive) -> list[list[str]]:
    """The clusters of two or more images, each as item ids (after catching up)."""
    catch_up(archive)
    with archive.index.engine.connect() as conn:
        rows = conn.execute(select(near_clusters.c.cluster, near_clusters.c.item_id)).all()
    groups: dict[str, list[str]] = {}
    for cluster, item in rows:
        groups.setdefault(cluster, []).append(item)
    return [members for members in groups.values() if len(members) > 1]
