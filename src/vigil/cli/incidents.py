"""`vigil incident …`, `vigil finding`, `vigil findings`: incidents, the evidence tied to
them, and what verification found."""

from __future__ import annotations

from typing import Any

import click

from vigil.cli.main import State, cli, emit_json, pass_state
from vigil.findings import ASPECTS, RESULTS, findings, record_finding, summary
from vigil.incidents import add_incident, incident, incidents, tie


@cli.group(name="incident")
def incident_group() -> None:
    """Incidents (what happened, when, where) and the items that document them.

    \b
    Example:
      vigil incident add "Shelling of al-Quds hospital" --date 2016-12-12 --place "eastern Aleppo"
      vigil incident link 01JF4A2 01JF3Q8 01JF3QA --note "filmed at the entrance"
      vigil export --incident 01JF4A2 -o al-quds.wacz
    """


@incident_group.command(name="add")
@click.argument("title")
@click.option("--date", help="YYYY-MM-DD, or a range YYYY-MM-DD/YYYY-MM-DD.")
@click.option("--place", help="Where (as precise as is safe to record).")
@click.option("--description", help="What happened, in a few sentences.")
@click.option("--json", "as_json", is_flag=True, help="The incident as JSON.")
@pass_state
def add(state: State, title: str, date: str | None, place: str | None,
        description: str | None, as_json: bool) -> None:  # fmt: skip
    """Record an incident: an item of its own, with a ledger entry and custody.

    \b
    Example:
      vigil incident add "Executions in al-Fardous" --date 2016-12-12/2016-12-13 --json
    """
    with state.open() as archive:
        row = add_incident(archive, title, date=date, place=place, description=description)
    if as_json:
        emit_json({"id": row.id, "sha256": row.sha256, **row.claimed})
    else:
        click.echo(f"incident {row.id}: {title}")


def _tie(state: State, incident_ref: str, refs: tuple[str, ...], note: str, untie: bool,
         as_json: bool) -> None:  # fmt: skip
    with state.open() as archive:
        changed = tie(archive, incident_ref, refs, note=note, untie=untie)
    if as_json:
        emit_json({"unlinked" if untie else "linked": changed})
    else:
        click.echo(f"{'untied' if untie else 'tied'} {len(changed)} item(s)")


@incident_group.command()
@click.argument("incident_ref", metavar="INCIDENT")
@click.argument("refs", nargs=-1, required=True)
@click.option("--note", default="", help="Why these items document it.")
@click.option("--json", "as_json", is_flag=True, help="The items tied now, as JSON.")
@pass_state
def link(state: State, incident_ref: str, refs: tuple[str, ...], note: str, as_json: bool) -> None:
    """Tie items to an incident (logged, with the note).

    \b
    Example:
      vigil incident link 01JF4A2 01JF3Q8 --note "the same minaret, seen from the north"
    """
    _tie(state, incident_ref, refs, note, False, as_json)


@incident_group.command()
@click.argument("incident_ref", metavar="INCIDENT")
@click.argument("refs", nargs=-1, required=True)
@click.option("--note", default="", help="Why they no longer belong.")
@click.option("--json", "as_json", is_flag=True, help="The items untied now, as JSON.")
@pass_state
def unlink(
    state: State, incident_ref: str, refs: tuple[str, ...], note: str, as_json: bool
) -> None:
    """Untie items from an incident (both decisions stay in the ledger).

    \b
    Example:
      vigil incident unlink 01JF4A2 01JF3QA --note "filmed in Idlib, not Aleppo"
    """
    _tie(state, incident_ref, refs, note, True, as_json)


@incident_group.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Every incident with its items, as JSON.")
@pass_state
def list_(state: State, as_json: bool) -> None:
    """List the incidents.

    \b
    Example:
      vigil incident ls --json
    """
    with state.open() as archive:
        found = incidents(archive)
    if as_json:
        emit_json([i.as_json() for i in found])
        return
    for i in found:
        when = f"  {i.description['date']}" if "date" in i.description else ""
        click.echo(f"{i.row.id}  {i.description['title']}{when}  ({len(i.members)} items)")


@incident_group.command()
@click.argument("incident_ref", metavar="INCIDENT")
@click.option("--json", "as_json", is_flag=True, help="The incident and its items, as JSON.")
@pass_state
def show(state: State, incident_ref: str, as_json: bool) -> None:
    """An incident and the items tied to it.

    \b
    Example:
      vigil incident show 01JF4A2
    """
    with state.open() as archive:
        found = incident(archive, incident_ref)
        rows = [archive.item(m) for m in found.members]
    if as_json:
        emit_json(found.as_json())
        return
    click.echo(f"{found.row.id}  {found.description['title']}")
    for key in ("date", "place", "description"):
        if key in found.description:
            click.echo(f"  {key}: {found.description[key]}")
    for row in rows:
        click.echo(f"  {row.kind:8} {row.id}  {row.sha256[:16]}  {row.url or row.name}")


@cli.command()
@click.argument("ref")
@click.option("--aspect", type=click.Choice(ASPECTS), required=True,
              help="What was checked (Berkeley Protocol: technical, source and content "
              "analysis; location and time are parts of content).")  # fmt: skip
@click.option("--result", type=click.Choice(RESULTS), required=True,
              help="What the check found about the item's claim.")  # fmt: skip
@click.option("--method", required=True, help="What was done, so another analyst can repeat it.")
@click.option(
    "--value", help='What was established, e.g. "36.2021,37.1343" or "2016-12-12 ~15:00".'
)
@click.option(
    "--evidence",
    multiple=True,
    metavar="ITEM",
    help="Another item the finding relies on (e.g. a satellite image); repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="The finding as logged, as JSON.")
@pass_state
def finding(
    state: State, ref: str, aspect: str, result: str, method: str, value: str | None,
    evidence: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Record a verification finding about an item (a ledger event: never edited; a
    later finding on the same aspect supersedes it in the summary). Packages carry the
    findings of their items in custody and in the report.

    \b
    Example:
      vigil finding 01JF3Q8 --aspect location --result confirmed --value "36.2021,37.1343" \\
        --method "minaret and water tower matched to Maxar imagery of 2016-11-30" --evidence 01JF9Z1
    """
    with state.open() as archive:
        logged = record_finding(archive, ref, aspect=aspect, result=result, method=method,
                                value=value, evidence=evidence)  # fmt: skip
    if as_json:
        emit_json(logged)
    else:
        click.echo(f"entry {logged['entry']}: {logged['item']} {aspect} {result}")


@cli.command(name="findings")
@click.argument("ref", required=False)
@click.option("--json", "as_json", is_flag=True, help="The findings, oldest first, as JSON.")
@pass_state
def findings_command(state: State, ref: str | None, as_json: bool) -> None:
    """List verification findings (of one item, or of all), with a summary per item.

    \b
    Example:
      vigil findings 01JF3Q8
    """
    with state.open() as archive:
        found = findings(archive, ref)
    if as_json:
        emit_json(found)
        return
    by_item: dict[str, list[dict[str, Any]]] = {}
    for each in found:
        by_item.setdefault(each["item"], []).append(each)
    click.echo(f"{len(found)} finding(s) about {len(by_item)} item(s)")
    for item_id, theirs in by_item.items():
        latest = ", ".join(f"{a}: {r}" for a, r in summary(theirs).items())
        click.echo(f"{item_id}  {latest}")
        for each in theirs:
            who = each.get("actor", {}).get("user", "?")
            shown = f" = {each['value']}" if each.get("value") else ""
            click.echo(f"  entry {each['entry']} {each['at']} {who}: {each['aspect']} "
                       f"{each['result']}{shown}: {each['method']}")  # fmt: skip
