"""`vigil casualties …`: counting the dead (today: estimates from a membership table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vigil.casualties.chart import Bar, write_chart
from vigil.casualties.lcmcr import estimate_lcmcr
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


ASSUMPTIONS = (
    "Assumptions: one closed population (every death counted happened in the period and "
    "place studied); records linked correctly (no duplicates left, no false merges); every "
    "person had some chance of being on a list. Log-linear models also assume the dependence "
    "between lists is captured by the interactions fitted; LCMCR allows for heterogeneous "
    "capture through latent classes."
)


@casualties.command()
@click.option("--counts", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Membership table: one 0/1 column per list and a 'count' column.")  # fmt: skip
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
def estimate(
    counts: Path | None, method: str, model: str, classes: int, samples: int, burn_in: int,
    thinning: int, seed: int, chart: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """Multiple systems estimation: the total number of deaths, documented or not, with
    its 95 % interval: LCMCR (Bayesian latent classes; posterior median and credible
    interval) or log-linear Poisson models (profile-likelihood interval).

    \b
    Example:
      vigil casualties estimate --counts lists.csv --json
      vigil casualties estimate --counts lists.csv --method loglinear --model best
      vigil casualties estimate --counts kosovo.csv --chart kosovo.svg
    """
    if counts is None:
        raise InputError(
            "give --counts FILE.csv (estimates from the archive's linked lists need record "
            "linkage, which this release does not have yet)"
        )
    table = read_counts(counts)
    if method == "lcmcr":
        found = estimate_lcmcr(table, classes=classes, burn_in=burn_in, draws=samples,
                               thinning=thinning, seed=seed)  # fmt: skip
        result: dict[str, Any] = found.as_json()
        steps = burn_in + samples * thinning
        diagnostics = (f"LCMCR, K = {classes}, {samples} draws kept of {steps} (burn-in"
                       f" {burn_in}, every {thinning}th), seed {seed}; classes holding >= 1 %"
                       f" of the people: {found.effective_classes:.1f} on average")  # fmt: skip
    else:
        fitted = estimate_loglinear(table, model)
        result = fitted.as_json()
        diagnostics = (f"log-linear model {fitted.model}: deviance {fitted.deviance:.2f} on"
                       f" {fitted.df} df, BIC {fitted.bic:.2f}")  # fmt: skip
    result["assumptions"], result["diagnostics"] = ASSUMPTIONS, diagnostics
    if chart is not None:
        low, high = result["ci95"]
        write_chart(chart, f"Deaths: documented and estimated ({method})",
                    [Bar("all lists", table.observed, result["total"], low, high)])  # fmt: skip
        result["chart"] = str(chart)
    if as_json:
        emit_json(result)
        return
    low, high = result["ci95"]
    click.echo(
        f"{result['total']:,.0f} deaths in all (95 % interval {low:,.0f}-{high:,.0f}):"
        f" {result['observed']:,} on the lists, about {result['unobserved']:,.0f} on none"
    )
    click.echo(diagnostics)
    click.echo(ASSUMPTIONS)
