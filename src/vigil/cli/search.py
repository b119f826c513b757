"""`vigil search`: full-text search over everything the archive holds, Arabic-aware."""

from __future__ import annotations

import click

from vigil.cli.main import State, cli, emit_json, pass_state
from vigil.errors import InputError
from vigil.search.fulltext import ORDERS, Filters, search
from vigil.search.similar import clusters as find_clusters


def _box(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        south, west, north, east = (float(v) for v in value.split(","))
    except ValueError:
        raise InputError(f"--box {value!r}: give SOUTH,WEST,NORTH,EAST in degrees") from None
    if not (-90 <= south <= north <= 90 and -180 <= west <= east <= 180):
        raise InputError(
            f"--box {value!r}: need -90 <= south <= north <= 90 and -180 <= west <= east <= 180"
        )
    return south, west, north, east


@cli.command("search")
@click.argument("query")
@click.option("--since", help="From this date or time (RFC 3339 prefix, e.g. 2016-12-12).")
@click.option("--until", help="Up to this date or time, inclusive.")
@click.option("--by", type=click.Choice(["posted", "captured"]), default="posted",
              show_default=True,
              help="Which clock --since/--until use: the claimed post time, or ours.")  # fmt: skip
@click.option("--platform", help="e.g. telegram, x, youtube, web.")
@click.option("--source", help="Chat, author or web host containing this text.")
@click.option("--lang", "language", help="Detected language of the text (ISO 639-1: ar, en).")
@click.option("--kind", help="Item kind: post, page, media, file, ...")
@click.option("--media-type", help="Media type or its prefix: image/, video/mp4.")
@click.option("--box", help="Only items placed in SOUTH,WEST,NORTH,EAST (claimed location).")
@click.option("--cluster", "cluster_of", metavar="ITEM",
              help="Only items in ITEM's near-duplicate cluster.")  # fmt: skip
@click.option("--order", type=click.Choice(ORDERS), default="newest", show_default=True,
              help="By when the text entered the archive, or best match first.")  # fmt: skip
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The matches as JSON (id, SHA-256, snippet).")
@pass_state
def search_command(
    state: State, query: str, since: str | None, until: str | None, by: str,
    platform: str | None, source: str | None, language: str | None, kind: str | None,
    media_type: str | None, box: str | None, cluster_of: str | None, order: str, limit: int,
    as_json: bool,
) -> None:  # fmt: skip
    """Find items by their text: post text, page text, OCR text, titles, authors, file
    names and URLs. Arabic spelling variants match each other (hamza forms, ى/ي, ة/ه,
    diacritics, tatweel); "quoted phrases" and prefix* are understood.

    \b
    Example:
      vigil search "مشفى القدس" --since 2016-12-12 --until 2016-12-16
      vigil search 'Aleppo "al-Quds hospital"' --platform telegram --json
    """
    with state.open() as archive:
        members = None
        if cluster_of is not None:
            wanted = archive.item(cluster_of).id
            groups = [c for c in find_clusters(archive) if wanted in {m.id for m in c.members}]
            members = frozenset(m.id for m in groups[0].members) if groups else frozenset({wanted})
        filters = Filters(
            since=since, until=until, by=by, platform=platform, source=source,
            language=language, kind=kind, media_type=media_type, box=_box(box), items=members,
        )  # fmt: skip
        hits = search(archive, query, filters, limit, order)
    if as_json:
        emit_json([h.as_json() for h in hits])
        return
    for hit in hits:
        when = hit.facets.get("posted") or hit.facets.get("captured") or ""
        click.echo(f"{hit.item.id}  {hit.item.kind:6} {hit.item.name}  {when}")
        click.echo(f"    {hit.snippet}")
    if not hits:
        click.echo("no matches")
