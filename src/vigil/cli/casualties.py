"""`vigil casualties …`: counting the dead (today: estimates from a membership table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vigil.casualties.chart import Bar, write_chart
from vigil.casualties.claims import store_claim
from vigil.casualties.estimates import ASSUMPTIONS, Options, estimate_strata, store_estimate
from vigil.casualties.linking import STRATA, current_run, linked_persons, membership
from vigil.casualties.lists import import_list
from vigil.casualties.mse import read_counts
from vigil.casualties.stats import casualty_stats
from vigil.cli.main import State, cli, emit_json, pass_state
from vigil.errors import InputError


@cli.group()
def casualties() -> None:
    """Victim records from many lists, and estimates of the deaths no list recorded.

    \b
    Example:
      vigil casualties estimate --counts kosovo.csv
    """


@casualties.command()
@click.option("--counts", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Membership table: one 0/1 column per list and a 'count' column "
                   "(default: the archive's linked lists).")  # fmt: skip
@click.option("--by", type=click.Choice(STRATA),
              help="Archive only: one estimate per month, year or place of death.")  # fmt: skip
@click.option("--method", type=click.Choice(["lcmcr", "loglinear"]), default="lcmcr",
              show_default=True)  # fmt: skip
@click.option("--model", type=click.Choice(["best", "independence", "pairwise"]), default="best",
              show_default=True,
              help="loglinear: independence, all pairwise, or the best by BIC.")  # fmt: skip
@click.option("--classes", type=click.IntRange(1, 50), default=10, show_default=True,
              help="lcmcr: latent classes K.")  # fmt: skip
@click.option("--samples", type=click.IntRange(100), default=1_000, show_default=True,
              help="lcmcr: posterior draws kept.")  # fmt: skip
@click.option("--burn-in", type=click.IntRange(0), default=10_000, show_default=True)
@click.option("--thinning", type=click.IntRange(1), default=50, show_default=True)
@click.option("--seed", type=int, default=123, show_default=True)
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path),
              help="Write an SVG chart of documented against estimated deaths.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The estimate as JSON.")
@pass_state
def estimate(
    state: State, counts: Path | None, by: str | None, method: str, model: str, classes: int,
    samples: int, burn_in: int, thinning: int, seed: int, chart: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """Multiple systems estimation: the total number of deaths, documented or not, with
    its 95 % interval: LCMCR (Bayesian latent classes; posterior median and credible
    interval) or log-linear Poisson models (profile-likelihood interval).

    Without --counts it estimates from the archive: the persons of the latest linkage
    (vigil casualties link; made first if lists changed) and the lists that name each,
    optionally per stratum (--by). Such an estimate is logged in the ledger as a
    casualty-estimate item, with its membership tables.

    \b
    Example:
      vigil casualties estimate --by year --chart deaths.svg
      vigil casualties estimate --counts lists.csv --json
      vigil casualties estimate --counts lists.csv --method loglinear --model best
    """
    options = Options(method, model, classes, samples, burn_in, thinning, seed)
    if counts is not None:
        if by is not None:
            raise InputError("--by works on the archive's lists, not with --counts")
        tables = {"all": read_counts(counts)}
        result = estimate_strata(tables, options)
    else:
        with state.open() as archive:
            run, records = current_run(archive, progress=None if as_json else _say)
            linked = linked_persons(archive, run, records)
            tables = membership(linked, records, by=by)
            result = estimate_strata(tables, options)
            result["linkage_run"], result["by"] = run.item, by
            result["item"] = store_estimate(archive, result, tables)
    if chart is not None:
        bars = [Bar(name, r["observed"], r["total"], *(r["ci95"] or (r["total"], r["total"])))
                for name, r in result["strata"].items()]  # fmt: skip
        write_chart(chart, f"Deaths: documented and estimated ({method})", bars)
        result["chart"] = str(chart)
    if as_json:
        emit_json(result)
        return
    for name, found in result["strata"].items():
        prefix = "" if name == "all" else f"{name}: "
        click.echo(prefix + _sentence(found))
    if len(result["strata"]) > 1:
        click.echo("all strata: " + _sentence(result))
    click.echo(result["diagnostics"])
    click.echo(ASSUMPTIONS)


def _say(message: str) -> None:
    click.echo(f"linkage: {message}", err=True)


def _sentence(found: dict[str, Any]) -> str:
    interval = (f"95 % interval {found['ci95'][0]:,.0f}-{found['ci95'][1]:,.0f}"
                if found.get("ci95") else "no combined interval")  # fmt: skip
    return (
        f"{found['total']:,.0f} deaths in all ({interval}): {found['observed']:,} on the"
        f" lists, about {found['total'] - found['observed']:,.0f} on none"
    )


@casualties.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", required=True, help="Who published the list (organisation, report).")
@click.option("--map", "maps", multiple=True, metavar="COLUMN=FIELD",
              help="Map a column to a record field (repeat). Columns named like a field map "
                   "themselves.")  # fmt: skip
@click.option("--encoding", help="The file's encoding when it is neither UTF-8 nor Windows-1256.")
@click.option("--unknown", multiple=True, metavar="VALUE",
              help="A value meaning 'not known' (e.g. -1), read as empty (repeat).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The import report as JSON.")
@pass_state
def import_list_(
    state: State, path: Path, source: str, maps: tuple[str, ...], encoding: str | None,
    unknown: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Import a list of the dead (CSV or XLSX): the file is kept as it is, every row is
    checked, and each rejected row is reported with its reasons.

    Fields: full_name, given_name, father_name, family_name, alias, name_latin, sex, age,
    age_group, date_of_birth, date_of_death, place_of_death, governorate, district,
    locality, latitude, longitude, status, cause, perpetrator, source_record_id,
    id_number (an identity document number, compared when linking), report_date.

    \\b
    Example:
      vigil casualties import moh-2024-08.csv --source "Gaza MoH, August 2024" \\
        --map name=full_name --map en_name=name_latin --map dob=date_of_birth \\
        --map id=source_record_id --unknown -1
    """
    mapping: dict[str, str] = {}
    for item in maps:
        column, sep, fld = item.partition("=")
        if not sep or not column or not fld:
            raise InputError(f"--map {item!r}: write COLUMN=FIELD")
        mapping[column] = fld
    with state.open() as archive:
        result = import_list(archive, path, source, mapping, encoding=encoding, unknown=unknown)
    if as_json:
        emit_json(result.as_json())
        return
    click.echo(f"{path.name}: {result.rows:,} rows, {result.accepted:,} records accepted,"
               f" {len(result.rejected):,} rejected ({result.encoding})")  # fmt: skip
    for rejection in result.rejected[:20]:
        click.echo(f"  row {rejection['row']}: {'; '.join(rejection['reasons'])}", err=True)
    if len(result.rejected) > 20:
        click.echo(f"  … and {len(result.rejected) - 20} more (--json lists them all)", err=True)


@casualties.command()
@click.option("--source", required=True, help="Who made the claim.")
@click.option("--killed", type=click.IntRange(0), required=True, help="How many, at least.")
@click.option("--women", type=click.IntRange(0), help="Of whom women.")
@click.option("--children", type=click.IntRange(0), help="Of whom children.")
@click.option("--date", "when", help="When (YYYY-MM-DD, or a range YYYY-MM-DD/YYYY-MM-DD).")
@click.option("--place", help="Where.")
@click.option("--quote", help="The words of the claim, verbatim.")
@click.option("--json", "as_json", is_flag=True, help="The stored claim as JSON.")
@pass_state
def claim(
    state: State, source: str, killed: int, women: int | None, children: int | None,
    when: str | None, place: str | None, quote: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Record an incident-level count without names, as its source stated it: a claim,
    kept beside the victim records and never added to them.

    \\b
    Example:
      vigil casualties claim --source "OHCHR, 13 Dec 2016" --killed 82 --women 11 \\
        --children 13 --date 2016-12-12 --place "eastern Aleppo" \\
        --quote "at least 82 civilians, including 11 women and 13 children"
    """
    if (women is not None and women > killed) or (children is not None and children > killed):
        raise InputError("--women and --children count people among --killed")
    with state.open() as archive:
        row = store_claim(archive, source=source, killed=killed, women=women,
                          children=children, when=when, place=place, quote=quote)  # fmt: skip
    if as_json:
        emit_json({"id": row.id, "sha256": row.sha256, **row.claimed})
    else:
        click.echo(f"claim {row.id}: {source}: at least {killed} killed")


@casualties.command()
@click.option("--json", "as_json", is_flag=True, help="The counts as JSON.")
@pass_state
def stats(state: State, as_json: bool) -> None:
    """The documented dead: records by source, sex, age group, status, month and place of
    death, and the claims beside them.

    \\b
    Example:
      vigil casualties stats --json
    """
    with state.open() as archive:
        found = casualty_stats(archive)
    if as_json:
        emit_json(found.as_json())
        return
    click.echo(f"{found.records:,} records accepted from {len(found.lists)} lists"
               f" ({found.rejected:,} rows rejected)")  # fmt: skip
    for name, counts in found.by.items():
        shown = ", ".join(f"{k}: {v:,}" for k, v in counts.most_common(8))
        click.echo(f"  by {name.replace('_', ' ')}: {shown}")
    if found.overlap is None:
        click.echo("  (records per list: one person on two lists counts twice until the lists"
                   " are linked: vigil casualties link)")  # fmt: skip
    else:
        click.echo(f"  {found.persons:,} persons after linkage; named by:")
        for entry in found.overlap[:12]:
            click.echo(f"    {' + '.join(entry['lists'])}: {entry['persons']:,}")
    for c in found.claims:
        click.echo(f"  claim: {c['source']}: at least {c['killed']} killed"
                   + (f" on {c['date']}" if c.get("date") else "")
                   + (f" in {c['place']}" if c.get("place") else ""))  # fmt: skip
