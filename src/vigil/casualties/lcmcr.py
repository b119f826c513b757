"""Bayesian latent-class multiple systems estimation: LCMCR (Manrique-Vallier 2016,
"Bayesian population size estimation using Dirichlet process mixtures", Biometrics
72(4)), the model HRDAG used for Syria, in Python.

People differ in how likely each list is to record them (the well known are on every
list; the isolated on none). LCMCR lets the population be a mixture of up to *K*
latent classes, each with its own capture probability for each list, with a
stick-breaking (Dirichlet process) prior on the class weights, so the data decide how
many classes matter. The unobserved count n0 is sampled with the rest (data
augmentation), under the prior p(N) ∝ 1/N, by Gibbs sampling:

1. classes of the observed: for each capture pattern, the count of people in each
   class is multinomial with weights π_k ∏_j λ_jk^x_j (1 − λ_jk)^(1 − x_j);
2. classes of the n0 unobserved: multinomial with weights π_k ∏_j (1 − λ_jk);
3. λ_jk ~ Beta(1 + captured in j, 1 + not captured in j), over class k's members;
4. stick-breaking V_k ~ Beta(1 + n_k, α + Σ_{l>k} n_l), π from V (V_K = 1);
5. α ~ Gamma(a + K − 1, rate b − Σ_{k<K} log(1 − V_k)), a = b = 0.25;
6. n0 ~ NegativeBinomial(n, 1 − π0), π0 = Σ_k π_k ∏_j (1 − λ_jk).

As the R package LCMCR does: K = 10 by default, Beta(1, 1) priors on λ, a burn-in,
then every *thinning*-th draw kept. The estimate is the posterior median of N with a
95 % credible interval (2.5 and 97.5 percentiles). Assumptions: a closed population
(everyone counted died in the period and place), records correctly linked (no
duplicates, no false merges), and every person having some chance to be listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vigil.casualties.mse import CaptureTable
from vigil.errors import InputError

__all__ = ["LcmcrEstimate", "estimate_lcmcr"]


@dataclass(frozen=True)
class LcmcrEstimate:
    observed: int
    median: float
    mean: float
    ci95: tuple[float, float]
    classes: int  # K
    draws: int
    burn_in: int
    thinning: int
    seed: int
    effective_classes: float  # posterior mean of classes holding >= 1 % of the people
    samples: NDArray[np.int64]

    def as_json(self) -> dict[str, Any]:
        return {
            "method": "lcmcr", "observed": self.observed, "total": round(self.median, 1),
            "posterior_mean": round(self.mean, 1),
            "ci95": [round(self.ci95[0], 1), round(self.ci95[1], 1)],
            "unobserved": round(self.median - self.observed, 1), "K": self.classes,
            "draws": self.draws, "burn_in": self.burn_in, "thinning": self.thinning,
            "seed": self.seed, "effective_classes": round(self.effective_classes, 2),
        }  # fmt: skip


def estimate_lcmcr(
    table: CaptureTable, *, classes: int = 10, burn_in: int = 10_000, draws: int = 1_000,
    thinning: int = 50, seed: int = 123, a_alpha: float = 0.25, b_alpha: float = 0.25,
) -> LcmcrEstimate:  # fmt: skip
    """Posterior of the total population size under LCMCR (see the module text)."""
    lists = len(table.lists)
    if lists < 3:
        raise InputError(f"LCMCR needs 3 or more lists, not {lists}")
    patterns = np.array([p for p in table.counts if any(p)], dtype=np.int64)
    counts = np.array([table.counts[tuple(p)] for p in patterns], dtype=np.int64)
    if counts.sum() == 0:
        raise InputError("LCMCR: no one is on any list")
    observed = int(counts.sum())
    rng = np.random.default_rng(seed)
    k = classes
    lam = rng.uniform(0.2, 0.8, size=(lists, k))
    sticks = np.full(k, 1.0 / k)
    alpha = 1.0
    n0 = observed
    kept = np.empty(draws, dtype=np.int64)
    effective = 0.0
    x = patterns[:, :, None]  # patterns x lists x 1
    total_steps = burn_in + draws * thinning
    for step in range(total_steps):
        weights = _weights(sticks)
        # 1. classes of the observed, pattern by pattern
        like = np.prod(np.where(x == 1, lam[None], 1 - lam[None]), axis=1) * weights
        like /= like.sum(axis=1, keepdims=True)
        per_class = rng.multinomial(counts, like)
        # 2. classes of the unobserved
        missed = np.prod(1 - lam, axis=0) * weights
        hidden = rng.multinomial(n0, missed / missed.sum())
        # 3. capture probabilities
        captured = patterns.T @ per_class  # lists x classes
        members = per_class.sum(axis=0) + hidden
        lam = rng.beta(1 + captured, 1 + members[None] - captured)
        # 4. stick-breaking weights, 5. their concentration
        after = np.concatenate([np.cumsum(members[::-1])[::-1][1:], [0]])
        sticks = rng.beta(1 + members, alpha + after)
        sticks[-1] = 1.0
        sticks = np.clip(sticks, 1e-12, 1 - 1e-12)
        sticks[-1] = 1.0
        alpha = rng.gamma(a_alpha + k - 1, 1 / (b_alpha - np.log1p(-sticks[:-1]).sum()))
        # 6. the unobserved count
        p0 = float(np.dot(_weights(sticks), np.prod(1 - lam, axis=0)))
        n0 = int(rng.negative_binomial(observed, 1 - p0))
        if step >= burn_in and (step - burn_in) % thinning == thinning - 1:
            index = (step - burn_in) // thinning
            kept[index] = observed + n0
            effective += float((members / members.sum() >= 0.01).sum())
    low, median, high = np.percentile(kept, [2.5, 50, 97.5])
    return LcmcrEstimate(
        observed=observed, median=float(median), mean=float(kept.mean()),
        ci95=(float(low), float(high)), classes=k, draws=draws, burn_in=burn_in,
        thinning=thinning, seed=seed, effective_classes=effective / draws, samples=kept,
    )  # fmt: skip


def _weights(sticks: NDArray[np.float64]) -> NDArray[np.float64]:
    """Class weights from stick-breaking fractions: π_k = V_k ∏_{l<k} (1 − V_l)."""
    left = np.concatenate([[1.0], np.cumprod(1 - sticks[:-1])])
    weights: NDArray[np.float64] = sticks * left
    return weights
