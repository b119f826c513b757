"""Estimates of the undocumented dead, stratum by stratum, with their assumptions and
diagnostics beside each, and logged as evidence when made from the archive.

Strata are estimated apart (deaths in one month are not the same population as in
another: capture probabilities differ). The total over strata is the sum; for LCMCR
its interval comes from summing the strata's posterior draws draw by draw (the strata
are independent, so this is a draw from the total's posterior). Log-linear intervals
do not add up that way, so a stratified log-linear total has no interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vigil import __version__
from vigil.casualties.lcmcr import estimate_lcmcr
from vigil.casualties.mse import CaptureTable, estimate_loglinear
from vigil.errors import InputError

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["ASSUMPTIONS", "Options", "estimate_strata", "store_estimate"]

ASSUMPTIONS = (
    "Assumptions: one closed population (every death counted happened in the period and "
    "place studied); records linked correctly (no duplicates left, no false merges); every "
    "person had some chance of being on a list. Log-linear models also assume the dependence "
    "between lists is captured by the interactions fitted; LCMCR allows for heterogeneous "
    "capture through latent classes."
)
MIN_PEOPLE = 10  # a stratum with fewer documented deaths is reported, not estimated


@dataclass(frozen=True)
class Options:
    method: str = "lcmcr"
    model: str = "best"
    classes: int = 10
    samples: int = 1_000
    burn_in: int = 10_000
    thinning: int = 50
    seed: int = 123


def _one(table: CaptureTable, o: Options) -> tuple[dict[str, Any], Any]:
    if o.method == "lcmcr":
        found = estimate_lcmcr(table, classes=o.classes, burn_in=o.burn_in, draws=o.samples,
                               thinning=o.thinning, seed=o.seed)  # fmt: skip
        result: dict[str, Any] = found.as_json()
        steps = o.burn_in + o.samples * o.thinning
        result["diagnostics"] = (
            f"LCMCR, K = {o.classes}, {o.samples} draws kept of {steps} (burn-in {o.burn_in},"
            f" every {o.thinning}th), seed {o.seed}; classes holding >= 1 % of the people:"
            f" {found.effective_classes:.1f} on average")  # fmt: skip
        return result, found.samples
    fitted = estimate_loglinear(table, o.model)
    result = fitted.as_json()
    result["diagnostics"] = (f"log-linear model {fitted.model}: deviance {fitted.deviance:.2f}"
                             f" on {fitted.df} df, BIC {fitted.bic:.2f}")  # fmt: skip
    return result, None


def estimate_strata(tables: dict[str, CaptureTable], options: Options) -> dict[str, Any]:
    """One estimate per stratum and their total (see the module text)."""
    strata: dict[str, dict[str, Any]] = {}
    draws = []
    skipped: dict[str, int] = {}
    for name, table in tables.items():
        if len(tables) > 1 and table.observed < MIN_PEOPLE:
            skipped[name] = table.observed
            continue
        try:
            result, samples = _one(table, options)
        except InputError as exc:
            raise InputError(f"stratum {name}: {exc}") from None
        result["assumptions"] = ASSUMPTIONS
        result["lists"], result["table"] = table.lists, _table_json(table)
        strata[name] = result
        draws.append(samples)
    if not strata:
        raise InputError(f"no stratum has {MIN_PEOPLE} or more documented deaths to estimate")
    observed = sum(r["observed"] for r in strata.values())
    if len(strata) == 1:
        [only] = strata.values()
        total, ci95, diagnostics = only["total"], only["ci95"], only["diagnostics"]
    elif options.method == "lcmcr":
        summed = np.sum(np.vstack(draws), axis=0)
        low, high = np.quantile(summed, [0.025, 0.975])
        total, ci95 = float(np.median(summed)), [float(low), float(high)]
        diagnostics = f"{len(strata)} strata estimated apart; total = sum of their draws"
    else:
        total, ci95 = float(sum(r["total"] for r in strata.values())), None
        diagnostics = f"{len(strata)} strata estimated apart; log-linear intervals do not add"
    return {"method": options.method, "observed": observed, "total": total, "ci95": ci95,
            "strata": strata, "too_small": skipped, "diagnostics": diagnostics,
            "assumptions": ASSUMPTIONS}  # fmt: skip


def _table_json(table: CaptureTable) -> list[dict[str, int]]:
    return [{**dict(zip(table.lists, pattern, strict=True)), "count": n}
            for pattern, n in sorted(table.counts.items())]  # fmt: skip


def store_estimate(
    archive: Archive, result: dict[str, Any], tables: dict[str, CaptureTable]
) -> str:
    """Log *result* (with the membership tables it came from) as a casualty-estimate item."""
    summary = {
        "method": result["method"],
        "observed": result["observed"],
        "total": round(result["total"], 1),
        "strata": len(tables),
        "by": result.get("by"),
    }
    row = archive.add_record("casualty-estimate", "estimate.json", _json_safe(result),
                             tool=f"vigil {__version__}", estimate=summary,
                             linkage_run=result.get("linkage_run"))  # fmt: skip
    return row.id


def _json_safe(value: Any) -> Any:
    """Floats rounded (RFC 8785 needs finite numbers), tuples as lists."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float):
        return round(value, 3) if np.isfinite(value) else None
    if isinstance(value, np.integer | np.floating):
        return _json_safe(value.item())
    return value
