"""Probabilistic record linkage of victim records (Fellegi & Sunter 1969), with Splink.

Every pair of records that a blocking rule brings together is compared field by
field; each comparison falls in a level (exact, close, same sound, different, one
side missing), and the model's m and u probabilities of each level (how often it
occurs among true matches and among non-matches) turn the pattern into a match
probability. u is estimated from random pairs, m by expectation maximisation on
blocked pairs: no labelled data is needed. Fields compared (each only where both
records have it):

* the name in three parts: the given name (first token), the middle tokens (for an
  Arabic chain name: father and grandfather) and the family name (last token), each
  on the comparison tokens of `vigil.casualties.names` (exact with term-frequency
  adjustment, so a match on a common name counts for less; Jaro-Winkler; the same
  consonant skeleton, which matches Arabic script against its Latin transliteration);
  plus the whole name's skeleton, sorted, for reordered names;
* sex; age (exact, ±1, ±3, ±10 years: ages drift between releases of the same list);
  date of birth (exact, one typo); date of death (exact, same month); place of death
  and region; an identity document number where a list has one.

Pairs come from blocking rules that need two of the three name parts to agree, or the
whole skeleton, or the date of birth with one name part, or the identity number. The
prior and the u probabilities are estimated from all records; m by EM on about
``TRAIN_SAMPLE`` records taken whole families at a time (`_families`).

Backends: DuckDB in process (the default; one machine), or Spark for lists that
outgrow it: ``backend="spark"`` (``VIGIL_LINKAGE_BACKEND=spark``) runs the same model
through Splink's SparkAPI on the active ``SparkSession`` (``pip install pyspark``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vigil.casualties.names import name_tokens, skeleton, skeleton_key
from vigil.errors import InputError, VigilError

__all__ = ["BACKENDS", "Pair", "Scored", "comparison_rows", "score_pairs"]

BACKENDS = ("duckdb", "spark")
TRAIN_SAMPLE = 100_000
FIXED_M_UNLIKE_GIVEN = 0.002  # measured: 0.0007 on the 14,014 same-id Gaza pairs
FIXED_M_UNLIKE_MIDDLE = 0.005  # measured: 0.0011 there
COLUMNS = (
    "given", "middle", "family", "given_skel", "middle_skel", "family_skel", "skel",
    "name_pair", "father", "sex", "age", "date_of_birth", "date_of_death", "place", "region",
    "id_number",
)  # fmt: skip

Pair = tuple[str, str, float]  # record uid, record uid, match probability


@dataclass
class Scored:
    pairs: list[Pair]
    records: int
    backend: str
    model: dict[str, Any] = field(default_factory=dict)  # Splink's trained settings (m, u, λ)


def _name_of(record: dict[str, Any]) -> tuple[list[str], str]:
    """The name tokens (Arabic script preferred, else Latin) and the sorted skeleton."""
    text = record.get("full_name") or " ".join(
        str(record[f]) for f in ("given_name", "father_name", "family_name") if record.get(f)
    )
    text = text or record.get("name_latin", "")
    return name_tokens(text), skeleton_key(text)


def _place(text: Any) -> str | None:
    return " ".join(name_tokens(str(text))) or None if text else None


def comparison_rows(records: Sequence[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The columns Splink compares, one row per (uid, source, record)."""
    rows = []
    for uid, source, record in records:
        tokens, skel = _name_of(record)
        given = tokens[0] if tokens else None
        family = tokens[-1] if len(tokens) > 1 else None
        middle = " ".join(tokens[1:-1]) or None
        rows.append({
            "unique_id": uid, "source": source, "given": given, "middle": middle,
            "family": family, "given_skel": skeleton(given) if given else None,
            "father": tokens[1] if len(tokens) > 2 else None,
            "name_pair": " ".join(sorted((given, family))) if given and family else None,
            "middle_skel": " ".join(skeleton(t) for t in tokens[1:-1]) or None,
            "family_skel": skeleton(family) if family else None, "skel": skel or None,
            "sex": record.get("sex"), "age": record.get("age"),
            "date_of_birth": record.get("date_of_birth"),
            "date_of_death": record.get("date_of_death"),
            "place": _place(record.get("locality") or record.get("place_of_death")),
            "region": _place(record.get("governorate") or record.get("district")),
            "id_number": record.get("id_number"),
        })  # fmt: skip
    return rows


def _settings(populated: set[str], prior: float) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def name_part(col: str, jw: float, unlike: float | None) -> Any:
        different: Any = cll.ElseLevel()
        if unlike is not None:
            different = different.configure(m_probability=unlike, fix_m_probability=True)
        # Term frequencies only for the given name: a rare father's or family name is
        # shared by the whole family, and families die together and are listed together.
        exact = cll.ExactMatchLevel(col, term_frequency_adjustments=col == "given")
        levels: list[Any] = [cll.NullLevel(col), exact]
        if col in ("given", "family"):  # given and family names swapped on one record
            levels.append(cll.ExactMatchLevel("name_pair").configure(label_for_charts="swapped"))
        levels.append(cll.JaroWinklerLevel(col, jw))
        if col == "middle":  # the father's name alone: a grandfather's name left out
            levels.append(cll.ExactMatchLevel("father").configure(label_for_charts="same father"))
        levels += [
            cll.ExactMatchLevel(f"{col}_skel").configure(label_for_charts="same skeleton"),
            cll.JaroWinklerLevel(f"{col}_skel", 0.88),
            different,
        ]  # fmt: skip
        return cl.CustomComparison(output_column_name=col, comparison_levels=levels)

    # A given name unlike in spelling and in sound is rare between two reports of one
    # person, and common between brothers and sisters: EM, which sees many of them,
    # overestimates it, so its m is fixed (FIXED_M_UNLIKE_GIVEN; see docs/linkage.md).
    parts = {"given": (0.92, FIXED_M_UNLIKE_GIVEN), "middle": (0.94, FIXED_M_UNLIKE_MIDDLE),
             "family": (0.92, None)}  # fmt: skip
    comparisons = [name_part(col, jw, m) for col, (jw, m) in parts.items() if col in populated]
    if "sex" in populated:
        comparisons.append(cl.ExactMatch("sex"))
    if "age" in populated:
        comparisons.append(cl.CustomComparison(output_column_name="age", comparison_levels=[
            cll.NullLevel("age"), cll.ExactMatchLevel("age"),
            cll.AbsoluteDifferenceLevel("age", 1), cll.AbsoluteDifferenceLevel("age", 3),
            cll.AbsoluteDifferenceLevel("age", 10), cll.ElseLevel()]))  # fmt: skip
    if "date_of_birth" in populated:
        comparisons.append(cl.CustomComparison(
            output_column_name="date_of_birth", comparison_levels=[
                cll.NullLevel("date_of_birth"), cll.ExactMatchLevel("date_of_birth"),
                cll.DamerauLevenshteinLevel("date_of_birth", 1), cll.ElseLevel()]))  # fmt: skip
    if "date_of_death" in populated:
        comparisons.append(cl.CustomComparison(
            output_column_name="date_of_death", comparison_levels=[
                cll.NullLevel("date_of_death"), cll.ExactMatchLevel("date_of_death"),
                cll.CustomLevel("substr(date_of_death_l, 1, 7) = substr(date_of_death_r, 1, 7)",
                                "same month"),
                cll.ElseLevel()]))  # fmt: skip
    for col in ("place", "region"):
        if col in populated:
            comparisons.append(cl.CustomComparison(output_column_name=col, comparison_levels=[
                cll.NullLevel(col), cll.ExactMatchLevel(col, term_frequency_adjustments=True),
                cll.JaroWinklerLevel(col, 0.9), cll.ElseLevel()]))  # fmt: skip
    if "id_number" in populated:
        comparisons.append(cl.CustomComparison(output_column_name="id_number", comparison_levels=[
            cll.NullLevel("id_number"), cll.ExactMatchLevel("id_number"),
            cll.DamerauLevenshteinLevel("id_number", 1), cll.ElseLevel()]))  # fmt: skip
    blocking: list[Any] = [block_on("given", "family"), block_on("given", "middle"),
                block_on("middle", "family"), block_on("skel")]  # fmt: skip
    blocking.append(block_on("given_skel", "family_skel"))
    if "date_of_birth" in populated:
        blocking += [block_on("family", "date_of_birth"), block_on("given", "date_of_birth")]
        blocking += [block_on("date_of_birth", c) for c in ("place", "region") if c in populated]
    if "id_number" in populated:
        blocking.append(block_on("id_number"))
    return SettingsCreator(
        link_type="dedupe_only", comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        probability_two_random_records_match=prior, retain_matching_columns=False,
        additional_columns_to_retain=["source"],
    )  # fmt: skip


def _db_api(backend: str) -> Any:
    if backend == "duckdb":
        from splink import DuckDBAPI

        return DuckDBAPI()
    if backend == "spark":
        try:
            from pyspark.sql import SparkSession
            from splink import SparkAPI
        except ImportError:
            raise VigilError(
                "the Spark backend needs pyspark (pip install pyspark) and a Spark installation"
            ) from None
        return SparkAPI(spark_session=SparkSession.builder.getOrCreate())  # type: ignore[no-untyped-call]
    raise InputError(f"linkage backend {backend!r}: use one of {', '.join(BACKENDS)}")


def score_pairs(
    records: Sequence[tuple[str, str, dict[str, Any]]], *, threshold: float = 0.5,
    backend: str | None = None, seed: int = 1, progress: Callable[[str], None] | None = None,
) -> Scored:  # fmt: skip
    """Every candidate pair of *records* (uid, source, record) scoring at least *threshold*."""
    import logging

    import pandas as pd
    from splink import Linker, block_on
    from splink.internals.exceptions import EMTrainingException

    backend = backend or os.environ.get("VIGIL_LINKAGE_BACKEND", "duckdb")
    say = progress or (lambda _m: None)
    logging.getLogger("splink").setLevel(
        int(os.environ.get("SPLINK_LOG", logging.ERROR))
    )  # its training chatter
    rows = comparison_rows(records)
    if len(rows) < 2:
        return Scored([], len(rows), backend)
    frame = pd.DataFrame(rows, columns=["unique_id", "source", *COLUMNS])
    populated = {c for c in COLUMNS if frame[c].notna().mean() >= 0.2}
    settings = _settings(populated, prior=min(0.5, 1.0 / max(len(rows), 2)))
    say(f"estimating u and the prior from {len(frame):,} records")
    linker = Linker(frame, settings, db_api=_db_api(backend), set_up_basic_logging=False)
    exact: list[str] = [c for c in ("given", "middle", "family") if c in populated]
    exact += [c for c in ("sex", "date_of_birth") if c in populated][:1]
    linker.training.estimate_probability_two_random_records_match([block_on(*exact)], recall=0.6)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    sample = _families(frame)
    say(f"estimating m by expectation maximisation on {len(sample):,} records")
    trainer = Linker(sample, linker.misc.save_model_to_json(), db_api=_db_api(backend),
                     set_up_basic_logging=False)  # fmt: skip
    skipped = []
    for rule in _em_rules(populated):
        try:
            trainer.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True
            )
        except EMTrainingException:  # no pair agrees on the rule in these lists
            skipped.append(rule.get_blocking_rule("duckdb").blocking_rule_sql)
    if skipped:
        say(f"no pairs to learn from for {'; '.join(skipped)}: their m values stay default")
    model = trainer.misc.save_model_to_json()
    say(f"scoring candidate pairs among {len(frame):,} records")
    linker = Linker(frame, model, db_api=_db_api(backend), set_up_basic_logging=False)
    predicted = linker.inference.predict(threshold_match_probability=threshold)
    scored = predicted.as_pandas_dataframe()  # type: ignore[no-untyped-call]
    pairs = [
        (str(a), str(b), float(p))
        for a, b, p in zip(
            scored["unique_id_l"], scored["unique_id_r"], scored["match_probability"], strict=True
        )
    ]
    return Scored(pairs, len(rows), backend, model)  # fmt: skip


def _families(frame: Any) -> Any:
    """At most about TRAIN_SAMPLE records for EM, taken whole families at a time (by a hash
    of the family name): a random sample of records would keep few matching pairs."""
    import pandas as pd

    parts = -(-len(frame) // TRAIN_SAMPLE)  # ceil
    if parts <= 1:
        return frame
    key = frame["family"].fillna(frame["skel"]).fillna(frame["unique_id"])
    return frame[(pd.util.hash_pandas_object(key, index=False) % parts == 0).to_numpy()]


def _em_rules(populated: set[str]) -> list[Any]:
    """Blocking rules for expectation maximisation: together they leave every comparison
    free in at least one session."""
    from splink import block_on

    rules = [block_on("given", "family")]
    if "middle" in populated:
        rules.append(block_on("given", "middle"))
        # Not middle and family alone: brothers and sisters share them, and would teach
        # the model that a different given name is common among matches. The same
        # age (or date of birth) leaves mostly the same person.
        also = [c for c in ("age", "date_of_birth", "sex") if c in populated][:1]
        rules.append(block_on("middle", "family", *also))
    elif "date_of_birth" in populated:
        rules.append(block_on("date_of_birth"))
    else:
        rules.append(block_on("skel"))
    return rules
