"""`vigil incident …`: incidents and the evidence tied to them."""

from __future__ import annotations

import click

from vigil.cli.main import State, cli, emit_json, pass_state
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
