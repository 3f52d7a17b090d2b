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
        if r.setting in regime_map.ABSOLUTE:  # not normalised: absolute thresholds, no ratio, no growth total
            assert rat["ratio"].isna().all() and not math.isfinite(r.growth_total), r.setting
            assert rat["t_star_mean"].notna().sum() >= 2
            continue
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
        if key in regime_map.ABSOLUTE:
            continue
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
    """The sentences and counts change with the data: built on small tables of known shape."""
    def row(key, total, b, lo, hi, law, inside, shares=None, growth="grows", log_free=False):
        chapter, label = regime_map.SETTINGS[key]
        out = {c: math.nan for c in regime_map.TABLE_COLUMNS} | {
            "setting": key, "label": label, "chapter": chapter, "growth_total": total,
            "growth_factor": math.exp(total), "b": b, "b_lo": lo, "b_hi": hi, "best_law": law,
            "within_log_band": inside, "sizes": 4, "growth": growth, "log_free_best": log_free,
            "like_words": regime_map.LAW_WORDS[law]}
        if shares:
            out |= dict(zip(regime_map.SPLIT_PARTS, shares))
        out["klass"] = regime_map.classify(out)
        out["prunable"] = key not in regime_map.NOT_PRUNED
        return out

    grows = pd.DataFrame([row("sphere200_fixed", 1.0, 0.3, 0.2, 0.4, "power", False, (0, 0.6, 0.3, 0.1)),
                          row("mf_sgd", 0.8, 0.1, 0.05, 0.15, "saturating", False, growth="grows_then_stops")])
    words = regime_map.sentences(grows, {"ntk_k64": "not computed yet (none of its 20 units is committed)"})
    assert "grows with N in 1 of 1 sets of runs" in words["ch2_map_answer"]
    assert "carries 30% of that growth" in words["ch2_map_answer"]  # the logarithm's share
    assert words["ch2_map_holds"].startswith("In no setting")
    assert words["ch2_map_fails"].startswith("It grows faster than that in 1 of the 2 settings, grows, then stops or "
                                             "falls in 1, and does not grow significantly in 0")
    assert words["ch2_map_faster_list"] == "sphere d = 200, fixed step"
    assert "In 1 of the 1 sets of runs" in words["ch2_map_why"]
    assert (words["ch2_map_n_faster"], words["ch2_map_n_levels"]) == (1, 1)
    # the practitioner's count: chapter 2's dense residual is not a subnetwork anyone prunes
    assert (words["ch2_map_prune_n"], words["ch2_map_prune_grow_n"], words["ch2_map_prune_levels_n"]) == (1, 0, 1)
    assert "stops, stays flat or falls only in MNIST mean field, SGD" in words["ch2_map_pruning"]
    # one criterion: the setting that grows, then stops, is not also said to grow faster
    assert words["ch2_map_levels_list"] == "MNIST mean field, SGD"
    assert words["ch2_map_mf_sgd_grows"] == "grows, then stops"
    assert words["ch2_map_sphere200_fixed_grows"] == "grows faster than the pure logarithm (exponent 0.30)"
    assert words["ch2_map_sphere200_fixed_logshare"] == "30%" and words["ch2_map_mf_sgd_logshare"] == "not split"
    assert words["ch2_map_missing"].startswith("Not in the map: MNIST NTK, k/m = 1/8, not computed")
    logs = pd.DataFrame([row("sphere200_fixed", 0.5, 0.1, -0.1, 0.2, "log", True, (0, 0.1, 0.4, 0.0),
                             growth="grows", log_free=True)])
    words = regime_map.sentences(logs, {})
    assert words["ch2_map_holds"].startswith("It grows no faster than the theorem's pure logarithm in 1 of the 1")
    assert "A free-slope logarithm fits best (leave-one-size-out) in 1 of the 1." in words["ch2_map_holds"]
    assert words["ch2_map_within_log_list"] == "sphere d = 200, fixed step"
    assert words["ch2_map_fails"].startswith("It grows faster than that in 0 of the 1 settings")
    assert words["ch2_map_why"].startswith("In all 1 sets of runs of the theorem's setting, the logarithm carries")
    assert words["ch2_map_pruning"].startswith("For someone who prunes: no setting with a usable subnetwork")
    assert words["ch2_map_missing"] == "Every setting of the map has its results committed."
    for text in words.values():  # no formula as text in a glued sentence
        assert not re.search(r"log N|N\^|a \+ b", str(text))
    # no significant growth: said once, not as "grows faster"
    back = pd.DataFrame([row("sphere200_fixed", 1.0, 0.3, 0.2, 0.4, "power", False, (0, 0.6, 0.3, 0.1)),
                         row("finetune", -0.1, -0.03, -0.2, 0.25, "saturating", False, growth="flat")])
    words = regime_map.sentences(back, {})
    assert words["ch2_map_fails"].startswith("It grows faster than that in 1 of the 2 settings")
    assert "does not grow significantly in 1" in words["ch2_map_fails"]
    assert words["ch2_map_no_growth_list"] == "fine-tuning protocol (deep MLP), t_enough"
    assert "fine-tuning" not in words["ch2_map_faster_list"]
    assert words["ch2_map_finetune_grows"] == "no significant growth"


def test_no_row_in_two_classes():
    """classify puts every possible row in exactly one class, and the class lists partition the rows."""
    verdicts = ["grows", "grows_then_stops", "grows_then_falls", "grows_tail_untested", "falls", "flat",
                "untestable", "undefined"]
    for v in verdicts:
        for inside in (True, False):
            c = regime_map.classify({"growth": v, "within_log_band": inside})
            assert c in regime_map.CLASSES
            assert sum(c == k for k in regime_map.CLASSES) == 1


def test_every_committed_row_has_one_class_and_the_lists_partition_them(regime):
    t = regime.table
    assert t["klass"].isin(list(regime_map.CLASSES)).all()
    assert (t["klass"] == [regime_map.classify(r) for _, r in t.iterrows()]).all()
    n = regime.numbers
    counts = [n[regime_map.CLASS_NAMES[c][0]] for c in regime_map.CLASSES]
    assert sum(counts) == len(t) == n["ch2_map_n_settings"]
    for r in t.itertuples():
        named = [c for c in regime_map.CLASSES
                 if r.label in n[regime_map.CLASS_NAMES[c][1]].replace(" and ", "; ").split("; ")]
        assert named == [r.klass], (r.label, named)
    # the practitioner's sentence counts only the rows someone would prune
    pr = t[~t["setting"].isin(list(regime_map.NOT_PRUNED))]
    assert n["ch2_map_prune_n"] == len(pr)
    assert n["ch2_map_prune_grow_n"] == int(pr["klass"].isin(["faster", "within_log"]).sum())
    assert not t[t["chapter"] == 2]["prunable"].any()
    # chapter 4 is not normalised by its noise-level smallest size
    fin = regime.ratios[regime.ratios["setting"] == "finetune"]
    assert fin.empty or fin["ratio"].isna().all()


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
    pruning = regime.numbers["ch2_map_pruning"]
    faster = regime.numbers["ch2_map_faster_list"].replace(" and ", "; ").split("; ")
    level_part = pruning.split("only in", 1)[1] if "only in" in pruning else ""
    for row in regime.table.itertuples():
        grows_on = row.growth in ("grows", "grows_tail_untested")
        if row.prunable:  # the practitioner's sentence names only the rows someone would prune
            assert (row.label in level_part) == (row.growth in ("grows_then_stops", "grows_then_falls", "flat",
                                                                 "falls")), row.label
        else:
            assert row.label not in level_part, row.label
        if row.label in faster:
            assert grows_on and row.klass == "faster", row.label
