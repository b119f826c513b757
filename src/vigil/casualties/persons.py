"""Persons: scored record pairs and clerical decisions turned into groups of records
that name the same person.

Pairs are taken strongest first (greedy, like single linkage but refusing merges):

* a pair a reviewer **rejected** never ends in one person, nor does any merge that
  would put both of its records together through others;
* a pair a reviewer **accepted** is merged first, whatever its score;
* otherwise a pair at or above the link threshold merges the two persons, unless
  the merge would put a second record of one list into a person through a link
  from *another* list: a list names each person once, so a person gets a second
  record of a list only through a link between those two records themselves (a
  duplicate within the list). This keeps a brother, linked at 0.99 to his sister's
  record on another list, out of her person once her own record is there at 1.0;
* two records of one list need a score of at least the *within* threshold, which
  can be set higher than the link threshold: a list seldom names one person twice,
  and the pairs within a list that score highest are mostly twins and siblings;
* a pair between the review threshold and the link threshold, whose records are
  not in one person, waits in the review queue.

A **split** takes a record out of its person: it is recorded as rejections of the
record's pairs with the others in the person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["Linked", "group_persons"]


@dataclass
class Linked:
    persons: list[list[str]]  # each person: record uids, sorted; persons sorted by first uid
    queue: list[tuple[str, str, float]] = field(default_factory=list)  # strongest first

    def person_of(self) -> dict[str, int]:
        return {uid: i for i, person in enumerate(self.persons) for uid in person}


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def group_persons(
    uids: Iterable[str], source_of: Mapping[str, str], pairs: Iterable[tuple[str, str, float]],
    *, link: float, review: float, within: float | None = None,
    decisions: Mapping[tuple[str, str], str] | None = None,
) -> Linked:  # fmt: skip
    """Persons from scored *pairs* (uid, uid, probability) and *decisions* ((uid, uid)
    sorted -> "accept" | "reject"). *within*: the threshold for two records of one list
    (default: *link*)."""
    decisions = decisions or {}
    within = link if within is None else within
    parent: dict[str, str] = {u: u for u in uids}
    members: dict[str, set[str]] = {u: {u} for u in parent}
    sources: dict[str, dict[str, int]] = {u: {source_of[u]: 1} for u in parent}
    rejects: dict[str, set[str]] = defaultdict(set)  # root -> roots it must not join
    for (a, b), decision in decisions.items():
        if decision == "reject" and a in parent and b in parent:
            rejects[a].add(b)
            rejects[b].add(a)

    def find(u: str) -> str:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    def union(ra: str, rb: str) -> None:
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
        parent[rb] = ra
        members[ra] |= members.pop(rb)
        for name, n in sources.pop(rb).items():
            sources[ra][name] = sources[ra].get(name, 0) + n
        moved = rejects.pop(rb, set())
        for other in moved:
            rejects[other].discard(rb)
            rejects[other].add(ra)
        rejects[ra] |= moved

    def blocked(ra: str, rb: str) -> bool:
        return rb in {find(x) for x in rejects.get(ra, ())}

    accepted = [(a, b) for (a, b), d in decisions.items()
                if d == "accept" and a in parent and b in parent]  # fmt: skip
    for a, b in accepted:
        ra, rb = find(a), find(b)
        if ra != rb and not blocked(ra, rb):
            union(ra, rb)
    waiting: list[tuple[str, str, float]] = []
    for a, b, p in sorted(pairs, key=lambda x: -x[2]):
        if a not in parent or b not in parent or _key(a, b) in decisions:
            continue
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        bar = within if source_of[a] == source_of[b] else link
        if p < bar:
            if p >= review:
                waiting.append((a, b, p))
            continue
        if blocked(ra, rb):
            continue
        if source_of[a] != source_of[b] and set(sources[ra]) & set(sources[rb]):
            continue  # would bring a second record of a list in through another list
        union(ra, rb)
    queue = [(a, b, p) for a, b, p in waiting if find(a) != find(b)]
    persons = sorted(sorted(m) for m in members.values())
    return Linked(persons, queue)
