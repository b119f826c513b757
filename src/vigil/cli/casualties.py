"""`vigil casualties …`: counting the dead (today: estimates from a membership table)."""

from __future__ import annotations

from pathlib import Path

import click

from vigil.casualties.mse import estimate_loglinear, read_counts
from vigil.cli.main import cli, emit_json
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
              help="Membership table: one 0/1 column per list and a 'count' column.")  # fmt: skip
@click.option("--method", type=click.Choice(["loglinear"]), default="loglinear", show_default=True)
@click.option("--model", type=click.Choice(["best", "independence", "pairwise"]), default="best",
              show_default=True,
              help="independence, all pairwise interactions, or the best by BIC.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The estimate as JSON.")
def estimate(counts: Path | None, method: str, model: str, as_json: bool) -> None:
    """Multiple systems estimation: the total number of deaths, documented or not, with
    its 95 % profile-likelihood interval (log-linear Poisson models).

    \b
    Example:
      vigil casualties estimate --counts lists.csv --model best --json
    """
    if counts is None:
        raise InputError(
            "give --counts FILE.csv (estimates from the archive's linked lists need record "
            "linkage, which this release does not have yet)"
        )
    result = estimate_loglinear(read_counts(counts), model)
    if as_json:
        emit_json(result.as_json())
        return
    low, high = result.ci95
    click.echo(
        f"{result.total:,.0f} deaths in all (95 % interval {low:,.0f}-{high:,.0f}):"
        f" {result.observed:,} on the lists, about {result.unobserved:,.0f} on none"
    )
    click.echo(f"model: {result.model} (deviance {result.deviance:.2f} on {result.df} df)")
