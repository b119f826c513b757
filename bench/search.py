"""Search benchmark: p50/p95 of `vigil.search.fulltext.search` over N synthetic posts.

The posts are made here from a small vocabulary of report words in Arabic (with
diacritics, hamza and tatweel variants mixed in) and English, Zipf-distributed, and
logged as real `item.added` events; the search index is built by `catch_up` from the
ledger like in use. Reference in the same run: a brute-force scan of the same
normalised texts (`LIKE '%word%'`) for one query.
"""

from __future__ import annotations

import io
import random
import shutil
import statistics
import time
from pathlib import Path

from sqlalchemy import text

from vigil.archive import Archive
from vigil.events import ITEM_ADDED, Actor
from vigil.ids import new_item_id
from vigil.search.fulltext import Filters, catch_up, search

ARABIC = [
    "قصف",
    "غارة",
    "جوية",
    "مشفى",
    "مستشفى",
    "القدس",
    "حلب",
    "الشرقية",
    "حي",
    "السكري",
    "الشعار",
    "بستان",
    "القصر",
    "صاروخ",
    "برميل",
    "متفجر",
    "طيران",
    "مدنيين",
    "أطفال",
    "نساء",
    "شهداء",
    "جرحى",
    "إسعاف",
    "الدفاع",
    "المدني",
    "الخوذ",
    "البيضاء",
    "حصار",
    "تهجير",
    "حافلات",
    "إخلاء",
    "معبر",
    "الراموسة",
    "الكاستيلو",
    "دمشق",
    "إدلب",
    "مجزرة",
    "إعدام",
    "ميداني",
    "اعتقال",
    "مفقود",
    "جثث",
    "أنقاض",
    "بناء",
    "سكني",
    "مدرسة",
    "مسجد",
    "سوق",
    "فرن",
    "خبز",
    "ماء",
    "كهرباء",
    "دواء",
    "طبيب",
    "ممرض",
    "مراسل",
    "ناشط",
    "بث",
    "مباشر",
    "فيديو",
    "صورة",
    "شهادة",
    "عائلة",
    "أم",
    "أب",
    "ابن",
    "ابنة",
    "جد",
    "جدة",
    "مساء",
    "صباح",
    "ليلة",
    "يوم",
    "الاثنين",
    "الثلاثاء",
    "الأربعاء",
    "الخميس",
    "ديسمبر",
    "كانون",
    "تذكرونا",
    "متنا",
    "جميعاً",
    "وداع",
    "رسالة",
    "أخيرة",
    "نداء",
    "استغاثة",
    "الأمم",
    "المتحدة",
    "هدنة",
    "وقف",
    "إطلاق",
    "النار",
    "قوات",
    "النظام",
    "الميليشيات",
]
ENGLISH = [
    "airstrike",
    "shelling",
    "hospital",
    "civilians",
    "children",
    "women",
    "killed",
    "wounded",
    "rescue",
    "siege",
    "evacuation",
    "buses",
    "crossing",
    "aleppo",
    "eastern",
    "district",
    "school",
    "mosque",
    "market",
    "bakery",
    "water",
    "electricity",
    "medicine",
    "doctor",
    "nurse",
    "journalist",
    "activist",
    "live",
    "stream",
    "video",
    "photo",
    "testimony",
    "family",
    "mother",
    "father",
    "son",
    "daughter",
    "evening",
    "morning",
    "night",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "december",
    "farewell",
    "message",
    "last",
    "appeal",
    "help",
    "united",
    "nations",
    "ceasefire",
    "government",
    "forces",
    "militia",
    "executed",
    "missing",
    "rubble",
]
VARIANTS = {"مشفى": ["مشفي", "مَشفى"], "أطفال": ["اطفال", "أطفـال"], "جميعاً": ["جميعا"],
            "إعدام": ["اعدام"], "مدنيين": ["مدنيّين"], "شهداء": ["شهدا", "شهداء"]}  # fmt: skip


def _post_text(rng: random.Random, weights: list[float]) -> str:
    vocab = ARABIC + ENGLISH
    english = rng.random() < 0.3
    pool = range(len(ARABIC), len(vocab)) if english else range(len(ARABIC))
    words = rng.choices([vocab[i] for i in pool], [weights[i] for i in pool], k=rng.randint(8, 40))
    return " ".join(rng.choice(VARIANTS.get(w, [w])) for w in words)


def _build(work: Path, posts: int) -> Archive:
    path = work / f"archive-search-{posts}"
    marker = path / "search-built"
    if marker.exists():
        return Archive.open(path)
    shutil.rmtree(path, ignore_errors=True)
    archive = Archive.init(path)
    rng = random.Random(2016)
    weights = [1 / (rank + 1) for rank in range(len(ARABIC) + len(ENGLISH))]
    rng.shuffle(weights)
    blob = archive.blobs.put(io.BytesIO(b"{}"))
    actor = Actor.current().as_json()
    started = time.perf_counter()
    for start in range(0, posts, 20_000):
        datas = []
        for n in range(start, min(start + 20_000, posts)):
            day = 1 + n * 30 // posts
            datas.append({
                "v": 1, "type": ITEM_ADDED, "kind": "post", "at": "2026-11-25T00:00:00Z",
                "item": new_item_id(), "sha256": blob.sha256, "size": blob.size,
                "media_type": "application/json", "name": f"post-{n}.json",
                "claimed": {"platform": rng.choice(["telegram", "x", "youtube"]),
                            "chat": f"channel {n % 50}", "text": _post_text(rng, weights),
                            "posted": f"2016-12-{day:02d}T12:00:00Z"},
                "actor": actor,
            })  # fmt: skip
        archive.append_events(datas)
    logged = time.perf_counter() - started
    started = time.perf_counter()
    catch_up(archive)
    indexed = time.perf_counter() - started
    print(f"  {posts:,} posts logged in {logged:.0f} s; search index built in {indexed:.0f} s"
          f" ({posts / indexed:,.0f} posts/s)")  # fmt: skip
    marker.write_text("ok\n")
    return archive


def _queries(rng: random.Random) -> list[tuple[str, Filters]]:
    words = ARABIC + ENGLISH
    queries: list[tuple[str, Filters]] = []
    for _ in range(60):
        queries.append((rng.choice(words), Filters()))
    for _ in range(40):
        queries.append((f"{rng.choice(words)} {rng.choice(words)}", Filters()))
    for _ in range(20):
        a = rng.randrange(len(ARABIC) - 1)
        queries.append((f'"{ARABIC[a]} {ARABIC[a + 1]}"', Filters()))
    for _ in range(20):
        queries.append((rng.choice(words)[:3] + "*", Filters()))
    for _ in range(60):
        day = rng.randint(1, 28)
        queries.append((rng.choice(words), Filters(
            since=f"2016-12-{day:02d}", until=f"2016-12-{day + 2:02d}",
            platform=rng.choice(["telegram", "x", None]),
        )))  # fmt: skip
    return queries


def bench_search(work: Path, posts: int = 1_000_000) -> dict[str, tuple[float, float]]:
    """{order: (p50, p95)} for relevance and newest-first, and "scan": one LIKE scan."""
    archive = _build(work, posts)
    queries = _queries(random.Random(12))
    search(archive, "حلب")  # warm the caches
    results: dict[str, tuple[float, float]] = {}
    for order in ("relevance", "newest"):
        times = []
        for query, filters in queries:
            started = time.perf_counter()
            search(archive, query, filters, limit=20, order=order)
            times.append(time.perf_counter() - started)
        times.sort()
        results[order] = (statistics.median(times), times[int(len(times) * 0.95) - 1])
    with archive.index.engine.connect() as conn:
        started = time.perf_counter()
        conn.execute(text("SELECT count(*) FROM search_texts WHERE norm LIKE '%مشفي%'")).scalar()
        scan = time.perf_counter() - started
    results["scan"] = (scan, scan)
    archive.close()
    return results
