"""The regime map (issue 25): built from the committed results only (nothing computed), every row's
ratios start at 1, chapter 2's shares add up to the total growth, a setting without committed results
is absent and said so in words, and no cell the reader sees says NaN."""
from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pytest

from companion import regime_map
from companion.experiments import store


@pytest.fixture(scope="module")
def regime():
    return regime_map.build()


def test_every_row_starts_at_one_and_its_growth_is_the_last_ratio(regime):
    assert len(regime.table) >= 6  # chapter 2's six sets of runs are committed
    for r in regime.table.itertuples():
        rat = regime.ratios[regime.ratios["setting"] == r.setting].sort_values("n")
        assert rat["ratio"].iloc[0] == pytest.approx(1.0) and rat["n"].iloc[0] == r.n_min, r.setting
        assert rat["n_over_nmin"].iloc[0] == pytest.approx(1.0)
        last = rat.dropna(subset=["ratio"]).iloc[-1]
        assert last["n"] == r.n_max
        assert r.growth_total == pytest.approx(math.log(last["ratio"]), rel=1e-9), r.setting


def test_chapter_2_shares_sum_to_the_total_growth_and_others_are_not_split(regime):
    parts = list(regime_map.SPLIT_PARTS)
    ch2 = regime.table[regime.table["chapter"] == 2]
    assert set(ch2["setting"]) == {s for s, (c, _) in regime_map.SETTINGS.items() if c == 2}
    for r in ch2.itertuples():
        assert sum(getattr(r, p) for p in parts) == pytest.approx(r.growth_total, rel=1e-9, abs=1e-12)
    fixed = ch2[ch2["setting"].str.endswith("_fixed")]
    assert (fixed["share_eta"] == 0).all()  # one step for every N: 1/eta carries no growth
    others = regime.table[regime.table["chapter"] > 2]
    assert others[parts].isna().all().all()
    assert (others["split_words"].str.startswith("not split")).all()
    shown = regime_map.reader_frame(regime)
    assert (shown.loc[regime.table["chapter"].to_numpy() > 2, "split_shown"] == "not split").all()


def test_ratios_are_seed_means_of_the_units_that_reach_the_target(regime):
    r = regime.ratios
    assert (r["seeds_reached"] <= r["seeds"]).all()
    for key, g in r.groupby("setting"):
        base = g.sort_values("n")["t_star_mean"].iloc[0]
        assert np.allclose(g["ratio"], g["t_star_mean"] / base, equal_nan=True), key
    t = regime.table
    assert ((t["reached_share"] > 0) & (t["reached_share"] <= 1)).all()
    assert (t["reached"] <= t["units"]).all()


def test_a_setting_without_committed_results_is_absent_and_said_in_words(regime):
    present = set(regime.table["setting"])
    assert present.isdisjoint(regime.missing) and present | set(regime.missing) == set(regime_map.SETTINGS)
    for key, why in regime.missing.items():
        assert why.startswith("not computed"), (key, why)
        assert regime_map.SETTINGS[key][1] in regime.numbers["ch2_map_missing"]
    if not regime.missing:
        assert regime.numbers["ch2_map_missing"] == "Every setting of the map has its results committed."


def test_committed_frame_reads_and_counts_but_never_computes(monkeypatch):
    from companion import chapters
    from companion.chapters import mnist

    p, _ = chapters.check("03_mnist_validation", {"progress": False})
    exp = mnist.experiments(p)["gd"]
    monkeypatch.setattr(type(exp), "compute", lambda self, unit, device: pytest.fail("a unit was computed"))
    frame, done, total = store.committed_frame(exp)
    assert done == total == len(exp.units()) and len(frame) > 0
    # an experiment with no committed unit: an empty frame, counted, nothing computed
    other = dataclasses.replace(exp, seeds=(987_654,))
    frame, done, total = store.committed_frame(other)
    assert frame.empty and done == 0 and total == len(other.units())
    assert store.not_committed(done, total).startswith("not computed yet (none of its")


def test_no_nan_in_what_the_reader_sees(regime):
    shown = regime_map.reader_frame(regime)
    assert list(shown.columns) == list(regime_map.READER_COLUMNS)
    text = " ".join(shown.astype(str).to_numpy().ravel()) + " ".join(
        str(v) for v in regime.numbers.values())
    assert not re.search(r"\bnan\b|\binf\b", text, re.IGNORECASE)
    assert shown.notna().all().all()


def test_sentences_follow_the_table():
    """The five sentences change with the data: built on small tables of known shape."""
    def row(key, total, b, lo, hi, law, inside, shares=None, growth="grows"):
        chapter, label = regime_map.SETTINGS[key]
        out = {c: math.nan for c in regime_map.TABLE_COLUMNS} | {
            "setting": key, "label": label, "chapter": chapter, "growth_total": total,
            "growth_factor": math.exp(total), "b": b, "b_lo": lo, "b_hi": hi, "best_law": law,
            "within_log_band": inside, "sizes": 4, "growth": growth}
        if shares:
            out |= dict(zip(regime_map.SPLIT_PARTS, shares))
        return out

    grows = pd.DataFrame([row("sphere200_fixed", 1.0, 0.3, 0.2, 0.4, "power", False, (0, 0.6, 0.3, 0.1)),
                          row("mf_sgd", 0.8, 0.1, 0.05, 0.15, "saturating", False, growth="grows_then_stops")])
    words = regime_map.sentences(grows, {"ntk_k64": "not computed yet (none of its 20 units is committed)"})
    assert "grows with N in 1 of 1 sets of runs" in words["ch2_map_answer"]
    assert "carries 30% of that growth" in words["ch2_map_answer"]  # the logarithm's share
    assert words["ch2_map_holds"].startswith("In no setting")
    assert "sphere d = 200, fixed step (exponent 0.30)" in words["ch2_map_fails"]
    assert "in 1 of the 1 sets of runs" in words["ch2_map_why"]
    assert "grows with N over the sizes run in 1 of the 2 settings" in words["ch2_map_pruning"]
    assert "stops, stays flat or falls only in MNIST mean field, SGD" in words["ch2_map_pruning"]
    # one criterion: the setting that grows, then stops, is not also said to grow faster
    assert "faster than that in sphere d = 200, fixed step (exponent 0.30)." in words["ch2_map_fails"]
    assert "In MNIST mean field, SGD (exponent 0.10) it rises above the logarithm's band, then stops" \
        in words["ch2_map_fails"]
    assert words["ch2_map_missing"].startswith("Not in the map: MNIST NTK, k/m = 1/8, not computed")
    logs = pd.DataFrame([row("sphere200_fixed", 0.5, 0.1, -0.1, 0.2, "log", True, (0, 0.1, 0.4, 0.0),
                             growth="flat")])
    words = regime_map.sentences(logs, {})
    assert words["ch2_map_holds"].startswith("It grows no faster than the theorem's pure logarithm in sphere d = 200")
    assert "best of the four laws by leave-one-size-out error in sphere d = 200" in words["ch2_map_holds"]
    assert words["ch2_map_fails"] == "It grows faster than the pure logarithm in no setting."
    assert words["ch2_map_why"].startswith("The logarithm carries more of the growth")
    assert words["ch2_map_pruning"].startswith("For someone who prunes: in no setting measured")
    assert words["ch2_map_missing"] == "Every setting of the map has its results committed."
    for text in words.values():  # no formula as text in a glued sentence
        assert not re.search(r"log N|N\^|a \+ b", str(text))
    # outside the band at some sizes, but no growth overall (a threshold that rises, then falls back):
    # not "grows faster"
    back = pd.DataFrame([row("sphere200_fixed", 1.0, 0.3, 0.2, 0.4, "power", False, (0, 0.6, 0.3, 0.1)),
                         row("finetune", -0.1, -0.03, -0.2, 0.25, "saturating", False, growth="flat")])
    words = regime_map.sentences(back, {})
    assert words["ch2_map_fails"].startswith("It grows faster than that in sphere d = 200, fixed step (exponent 0.30).")
    assert "grows faster than that in fine-tuning" not in words["ch2_map_fails"]
    assert ("In fine-tuning protocol (deep MLP), t_enough (exponent -0.03) the threshold rises above the "
            "logarithm's band at some sizes but does not grow") in words["ch2_map_fails"]


def test_the_pure_log_band_is_one_at_the_smallest_size_and_rises_slowly():
    band = regime_map.log_band([1, 2, 32], (1.0, 6.0), (16, 50), 1e-3)
    assert band["lower"].iloc[0] == pytest.approx(1) and band["upper"].iloc[0] == pytest.approx(1)
    assert (band["lower"] <= band["upper"]).all() and band["upper"].is_monotonic_increasing
    assert band["upper"].iloc[-1] == pytest.approx(math.log(16e3 * 32) / math.log(16e3))
    with pytest.raises(ValueError, match="c N_min / eps must exceed 1"):
        regime_map.log_band([1, 2], (1e-6, 1.0), (1, 2), 1.0)


def test_one_classification_for_every_sentence(regime):
    """The intro's sentences classify each setting once, by the one growth criterion: a setting said to
    grow faster than the logarithm is not among those that stop, stay flat or fall, and the other way round."""
    fails, pruning = regime.numbers["ch2_map_fails"], regime.numbers["ch2_map_pruning"]
    faster = fails.split(".")[0] if fails.startswith("It grows faster than that in") else ""
    level_part = pruning.split("only in", 1)[1] if "only in" in pruning else ""
    for row in regime.table.itertuples():
        grows_on = row.growth in ("grows", "grows_tail_untested")
        assert (row.label in level_part) == (row.growth in ("grows_then_stops", "grows_then_falls", "flat",
                                                             "falls")), row.label
        if row.label in faster:
            assert grows_on, row.label
