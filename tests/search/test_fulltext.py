"""Full-text search (`vigil search`): Arabic-aware matching, filters, snippets, on both
backends; real names from ../shared/fixtures/linkage/ (used for matching tests only)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.capture.webserver import serve
from tests.conftest import FIXTURES, run_vigil
from vigil.archive import Archive
from vigil.capture.imports import import_export
from vigil.capture.imports.telegram import TelegramImporter
from vigil.capture.web import WebCapturer
from vigil.errors import InputError
from vigil.search.arabic import normalise, tokens
from vigil.search.facets import range_tokens
from vigil.search.fulltext import Filters, catch_up, search

GAZA = FIXTURES / "linkage" / "palestine-datasets"
ALEPPO = {"latitude": 36.2021, "longitude": 37.1343}
DAMASCUS = {"latitude": 33.5138, "longitude": 36.2765}


@pytest.mark.parametrize(
    ("variant", "plain"),
    [
        ("أحمد", "احمد"), ("إبراهيم", "ابراهيم"), ("آمنة", "امنه"), ("ٱلله", "الله"),
        ("مُحَمَّد", "محمد"), ("مـــحمد", "محمد"), ("مصطفى", "مصطفي"), ("مؤمن", "مومن"),
        ("هانئ", "هاني"), ("رحمٰن", "رحمن"), ("ﻻ", "لا"), ("ی ک", "ي ك"),
        ("٢٠١٦", "2016"), ("Ṣāliḥ AL-HALABI", "salih al halabi"), ("حلب،الشرقية", "حلب الشرقيه"),
    ],
)  # fmt: skip
def test_normalise_unifies_the_variants_the_issue_names(variant: str, plain: str) -> None:
    assert normalise(variant) == plain
    assert normalise(normalise(variant)) == plain  # idempotent


def _messages_export(
    folder: Path, texts: Sequence[tuple[str, int, dict[str, float] | None]]
) -> Path:
    """A Telegram Desktop export (result.json) of one channel with these messages."""
    folder.mkdir(parents=True, exist_ok=True)
    messages = []
    for n, (text, unixtime, place) in enumerate(texts, 1):
        message: dict[str, object] = {
            "id": n, "type": "message", "date_unixtime": str(unixtime),
            "from": "Aleppo Media Center", "from_id": "channel1001", "text": text,
        }  # fmt: skip
        if place:
            message["location_information"] = place
        messages.append(message)
    chat = {"name": "Aleppo Today", "type": "public_channel", "id": 1001, "messages": messages}
    (folder / "result.json").write_text(
        json.dumps({"chats": {"list": [chat]}}, ensure_ascii=False), encoding="utf-8"
    )
    return folder


def _name_pairs(limit: int = 120) -> list[tuple[str, str]]:
    """(April spelling, August spelling) of the same person where the two differ only by
    the variants normalisation unifies (the same id in both releases)."""
    with (GAZA / "20240413killed-in-gaza.csv").open(encoding="utf-8") as f:
        april = {row["id"]: row["name"] for row in csv.DictReader(f)}
    pairs = []
    with (GAZA / "20240808killed-in-gaza.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            before = april.get(row["id"])
            differ = before is not None and before.split() != row["name"].split()
            if differ and normalise(before or "") == normalise(row["name"]):
                pairs.append((before or "", row["name"]))
    return pairs[:limit]


def test_a_name_and_its_variant_spellings_find_each_other(archive: Archive, tmp_path: Path) -> None:
    pairs = _name_pairs()
    assert len(pairs) >= 100  # hamza, ى/ي, ة/ه drift between the releases
    export = _messages_export(tmp_path / "export", [(a, 1481623200 + n, None)
                                                    for n, (a, _) in enumerate(pairs)])  # fmt: skip
    import_export(archive, TelegramImporter(export))
    posts = {i.claimed.get("text"): i.id for i in archive.items() if i.kind == "post"}
    for before, after in pairs:
        found = [h.item.id for h in search(archive, after, limit=50)]
        assert posts[before] in found, "a variant spelling did not find its name"
        reverse = [h.item.id for h in search(archive, before, limit=50)]
        assert posts[before] in reverse


def _expected(texts: dict[str, str], query_tokens: list[str]) -> set[str]:
    return {item for item, text in texts.items() if set(query_tokens) <= set(tokens(text))}


def test_same_matches_on_both_backends_as_brute_force(archive: Archive, tmp_path: Path) -> None:
    texts = [
        ("قصف على مشفى القدس في حي السكري", 1481500000, ALEPPO),
        ("قَصْف على مستشفى القدس", 1481600000, ALEPPO),
        ("إذا متنا جميعاً، تذكرونا", 1481623200, ALEPPO),
        ("اذا متنا جميعا تذكرونا — remember us", 1481709600, None),
        ("Shelling near al-Quds hospital in Aleppo", 1481800000, ALEPPO),
        ("Evacuation buses reach Damascus", 1481900000, DAMASCUS),
        ("الحافلات تصل إلى دمشق", 1481950000, DAMASCUS),
    ]
    import_export(archive, TelegramImporter(_messages_export(tmp_path / "e", texts)))
    by_text = {  # what is indexed of a post: its text, author, chat, file name
        i.id: " ".join([str(i.claimed[k]) for k in ("text", "author", "chat")] + [i.name])
        for i in archive.items()
        if i.kind == "post"
    }
    for query in ["القدس", "قصف القدس", "اذا", "إذا متنا", "aleppo", "AL-QUDS", "remember",
                  "دمشق", "مشفي", "تذكرونا جميعا"]:  # fmt: skip
        found = {h.item.id for h in search(archive, query, limit=100)}
        assert found == _expected(by_text, tokens(query)), query


def test_filters_phrases_prefixes_and_snippets(archive: Archive, tmp_path: Path) -> None:
    texts = [
        ("قصف على مشفى القدس في حلب", 1481500000, ALEPPO),  # 2016-12-11
        ("قصف على مشفى في دمشق", 1481700000, DAMASCUS),  # 2016-12-14
        ("Report: the hospital in Aleppo was hit", 1481800000, ALEPPO),  # 2016-12-15
    ]
    import_export(archive, TelegramImporter(_messages_export(tmp_path / "e", texts)))

    def ids(query: str, **filters: object) -> set[str]:
        hits = search(archive, query, Filters(**filters))  # type: ignore[arg-type]
        return {str(h.item.claimed["text"]) for h in hits}

    assert ids("قصف") == {texts[0][0], texts[1][0]}
    assert ids("قصف", since="2016-12-12") == {texts[1][0]}
    assert ids("قصف", until="2016-12-11") == {texts[0][0]}
    assert ids("قصف", box=(35.0, 36.0, 37.0, 38.0)) == {texts[0][0]}
    assert ids("قصف", since="2016-12-12", by="captured") == {texts[0][0], texts[1][0]}
    assert ids("قصف", since="2999-01-01", by="captured") == set()
    assert ids("hospital", language="en") == {texts[2][0]}
    assert ids("hospital", language="ar") == set()
    assert ids("قصف", platform="telegram", source="aleppo today", kind="post") == {
        texts[0][0], texts[1][0]
    }  # fmt: skip
    assert ids("قصف", platform="x") == set()
    assert ids("قصف", media_type="image/") == set()
    assert ids('"مشفى القدس"') == {texts[0][0]}
    assert ids('"القدس مشفى"') == set()  # a phrase keeps its order
    assert ids("hosp*") == {texts[2][0]}
    newest = [h.item.claimed["text"] for h in search(archive, "قصف", order="newest")]
    oldest = [h.item.claimed["text"] for h in search(archive, "قصف", order="oldest")]
    assert newest == [texts[1][0], texts[0][0]] and oldest == newest[::-1]
    best = [h.item.claimed["text"] for h in search(archive, "قصف القدس", order="relevance")]
    assert best == [texts[0][0]]
    with pytest.raises(InputError, match="order"):
        search(archive, "قصف", order="random")
    [hit] = search(archive, "مشفي القدس")
    assert "[مشفى]" in hit.snippet and hit.language == "ar"
    assert hit.as_json()["sha256"] == hit.item.sha256
    with pytest.raises(InputError, match="no words"):
        search(archive, " ، ... ")


def test_page_text_is_found_and_reindex_rebuilds(archive: Archive) -> None:
    with serve() as base:
        WebCapturer(archive, screenshot=False).capture(f"{base}/page.html")
    hits = search(archive, "تذكرونا")
    assert [h.item.kind for h in hits] == ["page"] and hits[0].field == "text"
    assert hits[0].facets["platform"] == "web" and hits[0].facets["source"] == "127.0.0.1"
    before = [(h.item.id, h.snippet) for h in search(archive, "farewell")]
    archive.reindex()
    assert catch_up(archive) > 0
    assert [(h.item.id, h.snippet) for h in search(archive, "farewell")] == before


def test_cli_search_json_and_errors(tmp_path: Path) -> None:
    archive_path = tmp_path / "archive"
    run_vigil("init", archive_path=archive_path, check=True)
    export = _messages_export(tmp_path / "e", [("قصف على مشفى القدس", 1481500000, ALEPPO)])
    run_vigil("import", "telegram", export, archive_path=archive_path, check=True)
    out = run_vigil("search", "مشفي", "--json", archive_path=archive_path, check=True).stdout
    [hit] = json.loads(out)
    assert len(hit["sha256"]) == 64 and "[مشفى]" in hit["snippet"]
    assert hit["platform"] == "telegram" and hit["posted_claimed"] == "2016-12-11T23:46:40Z"
    text = run_vigil("search", "nothing-here", archive_path=archive_path, check=True).stdout
    assert "no matches" in text
    bad = run_vigil("search", "x", "--box", "1,2,3", archive_path=archive_path)
    assert bad.returncode == 1 and "--box" in bad.stderr
    assert "Example" in run_vigil("search", "--help", archive_path=archive_path).stdout


def test_range_tokens_cover_exactly_the_days() -> None:
    rng = random.Random(7)
    for _ in range(300):
        first = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(1500))
        last = first + dt.timedelta(days=rng.randrange(900))
        found = range_tokens("p", first, last)
        assert found is not None
        covered = set()
        for token in found:
            digits = token[2:]
            if token[1] == "y":
                start, end = dt.date(int(digits), 1, 1), dt.date(int(digits), 12, 31)
            elif token[1] == "m":
                start = dt.date(int(digits[:4]), int(digits[4:]), 1)
                end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            else:
                start = end = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
            covered |= {start + dt.timedelta(days=n) for n in range((end - start).days + 1)}
        assert covered == {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}
    assert range_tokens("p", dt.date(1000, 1, 1), dt.date(2900, 1, 1)) is None  # too many


def test_filtered_search_equals_brute_force(archive: Archive, tmp_path: Path) -> None:
    rng = random.Random(2016)
    words = ["قصف", "مشفى", "حلب", "دمشق", "hospital", "evacuation", "buses"]
    texts = [
        (" ".join(rng.choices(words, k=4)), 1480550400 + rng.randrange(40 * 86400),
         rng.choice([ALEPPO, DAMASCUS, None]))
        for _ in range(80)
    ]  # fmt: skip
    import_export(archive, TelegramImporter(_messages_export(tmp_path / "e", texts)))
    posts = [i for i in archive.items() if i.kind == "post"]
    for _ in range(40):
        word = rng.choice(words)
        day = rng.randint(1, 28)
        since, until = f"2016-12-{day:02d}", f"2016-12-{min(day + rng.randint(0, 9), 31):02d}"
        if rng.random() < 0.3:
            since += "T12:00:00Z"  # within a day: only the exact SQL filter can tell
        expected = {
            p.id for p in posts
            if tokens(word)[0] in tokens(str(p.claimed["text"])) and since <= p.claimed["posted"]
            and p.claimed["posted"] <= until + "\uffff"
        }  # fmt: skip
        found = search(archive, word, Filters(since=since, until=until), limit=1000)
        assert {h.item.id for h in found} == expected, (word, since, until)
    with pytest.raises(InputError, match="--since 'yesterday'"):
        search(archive, "قصف", Filters(since="yesterday"))
