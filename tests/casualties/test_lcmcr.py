"""LCMCR (Bayesian latent classes): the Kosovo 1999 reference measured with the R package,
and the coverage of its intervals on simulated populations of known size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FIXTURES, run_vigil
from vigil.casualties.lcmcr import estimate_lcmcr
from vigil.casualties.mse import CaptureTable, read_counts
from vigil.errors import InputError

MSE = FIXTURES / "mse"
REFERENCE = json.loads((MSE / "reference.json").read_text())["kosovo"]["lcmcr"][0]


def test_kosovo_matches_the_r_package_within_mcmc_error() -> None:
    assert (REFERENCE["K"], REFERENCE["seed"]) == (10, 123)
    found = estimate_lcmcr(read_counts(MSE / "kosovo_aggregate.csv"), classes=10, seed=123)
    assert found.observed == 4400
    assert found.median == pytest.approx(REFERENCE["posterior_median"], rel=0.03)
    low, high = REFERENCE["ci95"]
    assert found.ci95[0] == pytest.approx(low, rel=0.15)
    assert found.ci95[1] == pytest.approx(high, rel=0.15)
    assert found.ci95[0] < found.median < found.ci95[1]
    assert 1 <= found.effective_classes <= 10


def _population(rng: np.random.Generator, size: int) -> CaptureTable:
    """Two kinds of people, one twice as visible as the other, on four lists."""
    visible = rng.random(size) < 0.55
    chance = np.where(visible[:, None], [0.5, 0.4, 0.45, 0.3], [0.2, 0.25, 0.15, 0.3])
    counts: dict[tuple[int, ...], int] = {}
    for row in (rng.random((size, 4)) < chance).astype(int):
        pattern = tuple(int(v) for v in row)
        if any(pattern):
            counts[pattern] = counts.get(pattern, 0) + 1
    return CaptureTable(["a", "b", "c", "d"], counts)


def test_intervals_cover_known_populations_90_times_in_100() -> None:
    rng = np.random.default_rng(1999)
    covered = 0
    for simulation in range(100):
        table = _population(rng, 2000)
        found = estimate_lcmcr(table, burn_in=1000, draws=400, thinning=5, seed=simulation)
        covered += found.ci95[0] <= 2000 <= found.ci95[1]
    assert covered >= 90


def test_needs_three_lists() -> None:
    with pytest.raises(InputError, match="3 or more lists"):
        estimate_lcmcr(CaptureTable(["a", "b"], {(1, 0): 5, (0, 1): 4, (1, 1): 2}))


def test_cli_lcmcr_with_chart(tmp_path: Path) -> None:
    chart = tmp_path / "kosovo.svg"
    out = run_vigil("casualties", "estimate", "--counts", MSE / "kosovo_aggregate.csv",
                    "--samples", "300", "--burn-in", "2000", "--thinning", "5", "--chart", chart,
                    "--json", archive_path=tmp_path / "none", check=True)  # fmt: skip
    result = json.loads(out.stdout)
    assert result["method"] == "lcmcr" and 8_000 < result["total"] < 13_000
    assert "closed population" in result["assumptions"] and "K = 10" in result["diagnostics"]
    svg = chart.read_text()
    assert svg.startswith("<svg") and "4,400" not in svg and "documented" in svg
