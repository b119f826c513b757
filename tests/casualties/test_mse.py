"""Multiple systems estimation: the Kosovo 1999 reference numbers, coverage, bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_vigil
from vigil.casualties.mse import CaptureTable, estimate_loglinear, read_counts
from vigil.errors import InputError

MSE = FIXTURES / "mse"
REFERENCE = json.loads((MSE / "reference.json").read_text())["kosovo"]


def test_kosovo_reference_models() -> None:
    table = read_counts(MSE / "kosovo_aggregate.csv")
    assert table.observed == REFERENCE["observed_records"] == 4400
    for model, key in (("independence", "independence"), ("pairwise", "all_two_way")):
        expected = REFERENCE["loglinear_poisson_glm"][key]
        got = estimate_loglinear(table, model)
        assert got.total == pytest.approx(expected["N_hat"], abs=0.1)
        assert got.unobserved == pytest.approx(expected["unobserved_hat"], abs=0.1)
        assert got.deviance == pytest.approx(expected["deviance"], abs=0.01)
        assert got.df == expected["df_resid"]
        assert got.ci95[0] < got.total < got.ci95[1]
    best = estimate_loglinear(table, "best")
    # Dependence between the lists matters here: BIC keeps five of the six interactions.
    # (Log-linear models land above the published 9,002-12,122 and LCMCR's ~10,400: they
    # cannot capture heterogeneous capture probabilities, which is what LCMCR is for.)
    assert best.model.count("*") == 5 and best.total == pytest.approx(14341.7, abs=1)
    assert best.compared[0]["model"] == "independence"


def test_the_interval_covers_a_known_population() -> None:
    rng = random.Random(1999)
    covered = 0
    for _ in range(100):
        counts: dict[tuple[int, ...], int] = {}
        for _person in range(2000):  # three independent lists
            pattern = tuple(int(rng.random() < p) for p in (0.3, 0.25, 0.2))
            if any(pattern):
                counts[pattern] = counts.get(pattern, 0) + 1
        estimate = estimate_loglinear(CaptureTable(["a", "b", "c"], counts), "independence")
        covered += estimate.ci95[0] <= 2000 <= estimate.ci95[1]
    assert covered >= 90  # a 95 % interval: about 95 of 100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,0\n", "needs a header"),
        ("a,count\n1,5\n", "at least two lists"),
        ("a,b,count\n1,x,5\n", "line 2: every cell must be an integer"),
        ("a,b,count\n1,2,5\n", "line 2: list columns are 0/1"),
        ("a,b,count\n0,0,5\n", "all-absent pattern"),
        ("a,b,count\n1,0,5\n1,0,6\n", "line 3: pattern"),
    ],
)
def test_bad_tables_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "lists.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_counts(path)


def test_cli_estimate(tmp_path: Path) -> None:
    out = run_vigil("casualties", "estimate", "--counts", MSE / "kosovo_aggregate.csv",
                    "--method", "loglinear", "--model", "independence", "--json",
                    archive_path=tmp_path / "none", check=True)  # fmt: skip
    result = json.loads(out.stdout)
    assert result["total"] == pytest.approx(7394.6, abs=0.1) and result["observed"] == 4400
    text = run_vigil("casualties", "estimate", "--counts", MSE / "kosovo_aggregate.csv",
                     "--method", "loglinear", archive_path=tmp_path / "none", check=True).stdout  # fmt: skip
    assert "deaths in all (95 % interval" in text
    missing = run_vigil("casualties", "estimate", archive_path=tmp_path / "none")
    assert missing.returncode == 1 and "no Vigil archive" in missing.stderr
    run_vigil("init", archive_path=tmp_path / "empty", check=True)
    empty = run_vigil("casualties", "estimate", archive_path=tmp_path / "empty")
    assert empty.returncode == 1 and "nothing to link" in empty.stderr
    assert not (tmp_path / "none").exists()  # a failed command creates no archive
