"""`vigil casualties link` and `vigil casualties review`: which records name one person."""

from __future__ import annotations

from typing import Any

import click

from vigil.archive import Archive
from vigil.casualties.linkage import BACKENDS
from vigil.casualties.linking import (
    LINK,
    REVIEW,
    WITHIN,
    Records,
    Run,
    current_run,
    linked_persons,
    review,
    split,
)
from vigil.casualties.persons import Linked
from vigil.cli.casualties import casualties
from vigil.cli.main import State, emit_json, pass_state

_SHOWN = ("full_name", "name_latin", "sex", "age", "date_of_birth", "date_of_death",
          "place_of_death", "source_record_id")  # fmt: skip


def threshold_options(func: Any) -> Any:
    for option in reversed([
        click.option("--link", "link_at", type=click.FloatRange(0, 1), default=LINK,
                     show_default=True,
                     help="Link records of two lists at this match probability or above."),
        click.option("--within", type=click.FloatRange(0, 1.0001), default=WITHIN,
                     show_default=True,
                     help="Link two records of one list (a duplicate) at this or above."),
        click.option("--review-above", type=click.FloatRange(0, 1), default=REVIEW,
                     show_default=True,
                     help="Queue unlinked pairs scoring this or above for review."),
    ]):  # fmt: skip
        func = option(func)
    return func


def current(
    archive: Archive, *, rerun: bool = False, backend: str | None = None, quiet: bool = False
) -> tuple[Run, Records]:
    """The current linkage run (made anew if lists changed), saying what it does on stderr."""

    def say(message: str) -> None:
        if not quiet:
            click.echo(f"linkage: {message}", err=True)

    return current_run(archive, rerun=rerun, backend=backend, progress=say)


def _record_json(uid: str, source: str, record: dict[str, Any]) -> dict[str, Any]:
    return {"record": uid, "source": source, **{k: record[k] for k in _SHOWN if k in record}}


def persons_json(linked: Linked, records: Records) -> list[dict[str, Any]]:
    source_of, record_of = records.source_of(), records.by_uid()
    return [
        {"person": i + 1, "sources": sorted({source_of[u] for u in person}),
         "records": [_record_json(u, source_of[u], record_of[u]) for u in person]}
        for i, person in enumerate(linked.persons)
    ]  # fmt: skip


@casualties.command()
@threshold_options
@click.option("--rerun", is_flag=True, help="Score the pairs again even if no list changed.")
@click.option("--backend", type=click.Choice(BACKENDS), envvar="VIGIL_LINKAGE_BACKEND",
              help="Where Splink computes: duckdb (default, in process) or spark.")  # fmt: skip
@click.option("--all", "show_all", is_flag=True, help="Also list persons with one record.")
@click.option("--json", "as_json", is_flag=True, help="Every person with its records, as JSON.")
@pass_state
def link(
    state: State, link_at: float, within: float, review_above: float, rerun: bool,
    backend: str | None, show_all: bool, as_json: bool,
) -> None:  # fmt: skip
    """Link the records of every imported list that name the same person, within and
    across lists (Fellegi-Sunter with Splink: Arabic-aware names, age, sex, dates,
    place), and print the persons with the records each joins.

    Pairs are scored again only when a list was imported since the last run (or with
    --rerun); each run is stored as evidence. Pairs between --review-above and --link
    wait for a reviewer (vigil casualties review).

    \b
    Example:
      vigil casualties link
      vigil casualties link --json > persons.json
      vigil casualties link --link 0.9 --within 0.9999
    """
    with state.open() as archive:
        run, records = current(archive, rerun=rerun, backend=backend, quiet=as_json)
        linked = linked_persons(archive, run, records, link=link_at, within=within,
                                review_above=review_above)  # fmt: skip
    persons = persons_json(linked, records)
    if as_json:
        emit_json({"run": run.item, "records": run.records, "persons": persons,
                   "to_review": len(linked.queue),
                   "thresholds": {"link": link_at, "within": within,
                                  "review_above": review_above}})  # fmt: skip
        return
    multi = [p for p in persons if len(p["records"]) > 1]
    click.echo(
        f"{run.records:,} records, {len(persons):,} persons ({len(multi):,} on more than one"
        f" record); {len(linked.queue):,} pairs to review (run {run.item})"
    )
    for person in persons if show_all else multi:
        click.echo(f"person {person['person']}: {', '.join(person['sources'])}")
        for r in person["records"]:
            fields = " · ".join(str(r[k]) for k in _SHOWN if k in r)
            click.echo(f"  {r['record']}  [{r['source']}]  {fields}")


@casualties.group(name="review", invoke_without_command=True)
@threshold_options
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The queue as JSON.")
@click.pass_context
def review_(
    ctx: click.Context, link_at: float, within: float, review_above: float, limit: int,
    as_json: bool,
) -> None:  # fmt: skip
    """The clerical review queue: pairs the model is unsure of, strongest first, with
    both records side by side. Decide with `accept`, `reject` or `split`; every
    decision is logged with its reviewer and reason and applies at once.

    \b
    Example:
      vigil casualties review --limit 5
      vigil casualties review accept 01J…:12 01J…:40 --reviewer amal --reason "same father, dob"
      vigil casualties review reject 01J…:12 01J…:41 --reviewer amal --reason "twins"
      vigil casualties review split 01J…:40 --reviewer amal --reason "wrong family"
    """
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.find_object(State)
    assert state is not None
    with state.open() as archive:
        run, records = current(archive, quiet=as_json)
        linked = linked_persons(archive, run, records, link=link_at, within=within,
                                review_above=review_above)  # fmt: skip
    source_of, record_of = records.source_of(), records.by_uid()
    queue: list[dict[str, Any]] = [{"probability": round(p, 4),
              "pair": [_record_json(u, source_of[u], record_of[u]) for u in (a, b)]}
             for a, b, p in linked.queue[:limit]]  # fmt: skip
    if as_json:
        emit_json({"run": run.item, "waiting": len(linked.queue), "pairs": queue})
        return
    click.echo(f"{len(linked.queue):,} pairs waiting for review")
    for entry in queue:
        click.echo(f"p = {entry['probability']}:")
        for side in entry["pair"]:
            fields = " · ".join(str(side[k]) for k in _SHOWN if k in side)
            click.echo(f"  {side['record']}  [{side['source']}]  {fields}")


_who = click.option("--reviewer", required=True, help="Who decides (name or handle).")
_why = click.option("--reason", required=True, help="Why: what in the records decides it.")
_DECISIONS = {
    "accept": ("Decide that two records name the same person.", "same dob on both forms"),
    "reject": ("Decide that two records name different people (they never join one person).",
               "twins"),
}  # fmt: skip


def _decision_command(decision: str) -> None:
    text, reason_example = _DECISIONS[decision]

    @click.argument("record_a")
    @click.argument("record_b")
    @_who
    @_why
    @pass_state
    def decide(state: State, record_a: str, record_b: str, reviewer: str, reason: str) -> None:
        with state.open() as archive:
            review(archive, [(record_a, record_b)], decision, reviewer=reviewer, reason=reason)
        click.echo(f"{decision}ed: {record_a} and {record_b}")

    decide.__doc__ = (f"{text}\n\n\b\nExample:\n  vigil casualties review {decision} 01J…:12"
                      f' 01J…:40 --reviewer amal --reason "{reason_example}"')  # fmt: skip
    review_.command(name=decision)(decide)


for _decision in _DECISIONS:
    _decision_command(_decision)


@review_.command(name="split")
@click.argument("record")
@_who
@_why
@pass_state
def split_(state: State, record: str, reviewer: str, reason: str) -> None:
    """Take a record out of the person it was linked into.

    \b
    Example:
      vigil casualties review split 01J…:40 --reviewer amal --reason "another family"
    """
    with state.open() as archive:
        count = split(archive, record, reviewer=reviewer, reason=reason)
    click.echo(f"split: {record} from {count} record(s)")
