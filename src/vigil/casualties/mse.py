"""Multiple systems estimation with log-linear models (Fienberg 1972; Bishop, Fienberg &
Holland 1975): how many deaths no list recorded.

*k* lists each record some of the dead; the 2^k − 1 observed capture patterns (who
is on which lists) are counts of a contingency table whose all-absent cell is
unobserved. A Poisson log-linear model fitted to the observed cells (main effects,
optionally pairwise interactions to allow for lists that depend on each other)
predicts that cell: exp(intercept). The 95 % interval is the **profile likelihood**
interval for the total (Cormack 1992), as Rcapture gives it: for each candidate
count of the unobserved, the model is refitted to the completed table, and the
multinomial log-likelihood of the total is compared with its maximum.

The model is chosen by the caller or by BIC among the independence model and those
adding one or more pairwise interactions (a stepwise search). These models assume a
closed population and no heterogeneity that the interactions do not capture; LCMCR
(latent classes, `vigil.casualties.lcmcr`) is the better tool for heterogeneous capture.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vigil.errors import InputError

__all__ = ["CaptureTable", "Estimate", "estimate_loglinear", "read_counts"]


@dataclass(frozen=True)
class CaptureTable:
    lists: list[str]
    counts: dict[tuple[int, ...], int]  # pattern (one 0/1 per list) -> people

    @property
    def observed(self) -> int:
        return sum(self.counts.values())


def read_counts(path: Path) -> CaptureTable:
    """A membership table: one 0/1 column per list and a ``count`` column."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: unreadable ({exc})") from None
    if not rows or "count" not in rows[0]:
        raise InputError(f"{path}: needs a header with one column per list and a 'count' column")
    lists = [c for c in rows[0] if c != "count"]
    if len(lists) < 2:
        raise InputError(f"{path}: needs at least two lists")
    counts: dict[tuple[int, ...], int] = {}
    for line, row in enumerate(rows, start=2):
        try:
            pattern = tuple(int(row[c]) for c in lists)
            count = int(row["count"])
        except (TypeError, ValueError):
            raise InputError(f"{path}, line {line}: every cell must be an integer") from None
        if any(v not in (0, 1) for v in pattern) or count < 0:
            raise InputError(f"{path}, line {line}: list columns are 0/1, count is >= 0")
        if not any(pattern):
            raise InputError(f"{path}, line {line}: the all-absent pattern cannot be observed")
        if pattern in counts:
            raise InputError(f"{path}, line {line}: pattern {pattern} appears twice")
        counts[pattern] = count
    return CaptureTable(lists, counts)


@dataclass
class Estimate:
    method: str
    model: str  # "independence", or the interactions, e.g. "EXH*ABA + OSCE*HRW"
    observed: int
    unobserved: float
    total: float
    ci95: tuple[float, float]
    deviance: float
    df: int
    bic: float
    compared: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method, "model": self.model, "observed": self.observed,
            "unobserved": round(self.unobserved, 1), "total": round(self.total, 1),
            "ci95": [round(self.ci95[0], 1), round(self.ci95[1], 1)],
            "deviance": round(self.deviance, 2), "df": self.df, "bic": round(self.bic, 2),
            "models_compared": self.compared,
        }  # fmt: skip


def _design(patterns: list[tuple[int, ...]], pairs: list[tuple[int, int]]) -> NDArray[np.float64]:
    columns = [[1.0] * len(patterns)]
    k = len(patterns[0])
    columns += [[float(p[j]) for p in patterns] for j in range(k)]
    columns += [[float(p[a] * p[b]) for p in patterns] for a, b in pairs]
    return np.array(columns).T


def _poisson_fit(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Maximum-likelihood Poisson regression with log link (IRLS); returns coefficients."""
    beta = np.zeros(x.shape[1])
    beta[0] = math.log(max(y.mean(), 1e-9))
    for _ in range(100):
        eta = np.clip(x @ beta, -700, 700)
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        w = mu
        xtw = x.T * w
        new = np.linalg.solve(xtw @ x + 1e-10 * np.eye(x.shape[1]), xtw @ z)
        if np.max(np.abs(new - beta)) < 1e-10:
            return new
        beta = new
    return beta


def _deviance(y: NDArray[np.float64], mu: NDArray[np.float64]) -> float:
    terms = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0.0) - (y - mu)
    return float(2 * terms.sum())


def _profile(
    table: CaptureTable, pairs: list[tuple[int, int]], unobserved: float
) -> tuple[float, float]:
    """Profile-likelihood 95 % interval for the total."""
    k = len(table.lists)
    patterns = list(itertools.product((0, 1), repeat=k))  # the all-zero cell first
    x = _design(patterns, pairs)
    observed = np.array([table.counts.get(p, 0) for p in patterns[1:]], dtype=float)
    n = table.observed

    def loglik(missing: float) -> float:
        y = np.concatenate([[missing], observed])
        mu = np.exp(x @ _poisson_fit(x, y))
        total = n + missing
        cells = np.where(y > 0, y * np.log(mu / total), 0.0).sum()
        return float(math.lgamma(total + 1) - math.lgamma(missing + 1) + cells)

    best = loglik(unobserved)
    limit = best - 3.8415 / 2  # chi-square(1) 95 %

    def crossing(low: float, high: float) -> float:
        for _ in range(60):
            mid = (low + high) / 2
            if (loglik(mid) >= limit) == (loglik(low) >= limit):
                low = mid
            else:
                high = mid
        return (low + high) / 2

    lower = 0.0 if loglik(0.0) >= limit else crossing(0.0, unobserved)
    upper = unobserved * 2 + 10
    while loglik(upper) >= limit and upper < 1e9:
        upper *= 2
    upper = crossing(unobserved, upper)
    return n + lower, n + upper


def _fit(table: CaptureTable, pairs: list[tuple[int, int]]) -> tuple[float, float, int, float]:
    """(unobserved, deviance, residual df, BIC) of one model on the observed cells."""
    k = len(table.lists)
    patterns = [p for p in itertools.product((0, 1), repeat=k) if any(p)]
    x = _design(patterns, pairs)
    y = np.array([table.counts.get(p, 0) for p in patterns], dtype=float)
    beta = _poisson_fit(x, y)
    mu = np.exp(x @ beta)
    deviance = _deviance(y, mu)
    bic = deviance + x.shape[1] * math.log(table.observed)
    return float(math.exp(beta[0])), deviance, len(patterns) - x.shape[1], bic


def _name(lists: list[str], pairs: list[tuple[int, int]]) -> str:
    return " + ".join(f"{lists[a]}*{lists[b]}" for a, b in pairs) or "independence"


def estimate_loglinear(table: CaptureTable, model: str = "best") -> Estimate:
    """The estimate under *model*: ``independence``, ``pairwise`` (all two-way
    interactions) or ``best`` (by BIC, adding one interaction at a time)."""
    k = len(table.lists)
    every = list(itertools.combinations(range(k), 2))
    compared: list[dict[str, Any]] = []

    def record(pairs: list[tuple[int, int]]) -> tuple[float, float, int, float]:
        fit = _fit(table, pairs)
        total = round(table.observed + fit[0], 1)
        compared.append(
            {"model": _name(table.lists, pairs), "total": total, "bic": round(fit[3], 2)}
        )
        return fit

    if model == "independence":
        pairs: list[tuple[int, int]] = []
    elif model == "pairwise":
        pairs = every
    elif model == "best":
        pairs, current = [], record([])
        while True:
            options = [(record([*pairs, p]), p) for p in every if p not in pairs]
            options = [(fit, p) for fit, p in options if fit[2] >= 0]
            if not options:
                break
            fit, pair = min(options, key=lambda o: o[0][3])
            if fit[3] >= current[3]:
                break
            pairs, current = [*pairs, pair], fit
    else:
        raise InputError(f"unknown model {model!r}: independence, pairwise or best")
    unobserved, deviance, df, bic = _fit(table, pairs)
    if df < 0:
        raise InputError(f"{k} lists cannot identify the {_name(table.lists, pairs)} model")
    return Estimate(
        method="loglinear",
        model=_name(table.lists, pairs),
        observed=table.observed,
        unobserved=unobserved,
        total=table.observed + unobserved,
        ci95=_profile(table, pairs, unobserved),
        deviance=deviance,
        df=df,
        bic=bic,
        compared=compared,
    )
