"""Chapter 4's summary: every number its prose quotes and every sentence whose truth depends on the
data (:func:`summarize`), one arm at a time (:func:`arm_summary`), and the tables its figures draw.
"""
from __future__ import annotations

import dataclasses
import math

import pandas as pd

from ... import validate
from ...stats import laws, paired
from ...display import Summary
from ...vocabulary import finite, n_words
from . import analysis as an
from . import verdict_box
from .analysis import (COLUMNS, DELTA, DELTAS, GROUP, NOISE_MULTIPLE, TRAINED_ACCURACY, UNDEFINED, _batch,
                       as_thresholds, check_frame, contrast, fit_laws, practitioner_table, slice_of, t_enough,
                       t_full_of)
from .arms import ARMS
from .findings import ArmFindings, chapter3_thresholds
from .prose import (ARM_GLUE, CH3_GLUE, FAILURE_CONSEQUENCE, METHOD_NAMES, _cause_words, arm_name,
                    contrast_words, converged_words, coverage_words, failure_cause,
                    parameter_numbers, range_words, shape, shares_words)
from .prose_verdicts import compare_chapter3, sensitivity_words, variants_words, verdict

@dataclasses.dataclass(frozen=True)
class Settings:
    """What the analysis takes from the chapter's parameters (defaults when a name is absent)."""

    delta: float = DELTA
    deltas: tuple = DELTAS
    n_boot: int = 1000
    split: str = "heldout"
    noise_multiple: float = NOISE_MULTIPLE
    eb_epsilon: float = 0.1
    eb_window: int = 3

    @classmethod
    def of(cls, params) -> "Settings":
        values = {f.name: getattr(params, f.name) for f in dataclasses.fields(cls)
                  if params is not None and hasattr(params, f.name)}
        values.setdefault("deltas", DELTAS)
        s = cls(**values)
        deltas = tuple(sorted({float(d) for d in (*s.deltas, s.delta)}))
        return dataclasses.replace(s, deltas=deltas, delta=validate.positive("delta", s.delta))


def _arm_frame(frames: dict, arm: str) -> pd.DataFrame:
    frame = frames.get(arm) if isinstance(frames, dict) else None
    if frame is None:
        return pd.DataFrame(columns=list(COLUMNS))
    return check_frame(frame, f"frames[{arm!r}]")


def _budgets(frame: pd.DataFrame, method: str = "greedy") -> tuple:
    """(short, long): the smallest and the largest positive fine-tuning budget of ``method``."""
    b = sorted(int(x) for x in frame.loc[(frame["method"] == method) & (frame["budget"] > 0), "budget"].unique())
    return (b[0], b[-1]) if b else (None, None)


def sensitivity(frame: pd.DataFrame, deltas=DELTAS, *, methods=("greedy",), split: str = "heldout") -> pd.DataFrame:
    """How t_enough moves with delta: per delta and (arm, method, ratio, budget), the share of units
    not censored, the mean t_enough at the smallest and the largest N, the paired change between them
    in words, and the law with the lowest LOSO error (no bootstrap)."""
    rows = []
    for delta in deltas:
        te = t_enough(frame, delta, split=split, methods=methods)
        te = te[te["budget"] > 0]
        for key, g in te.groupby(GROUP, sort=True):
            ts = as_thresholds(g)
            means = ts[ts["reached"]].groupby("n")["t_star"].mean()
            small, large = int(g["n"].min()), int(g["n"].max())
            row = dict(zip(GROUP, key)) | {"delta": float(delta), "delta_pp": 100 * float(delta),
                                           "met": float(ts["reached"].mean()),
                                           "t_smallest_n": float(means.get(small, math.nan)),
                                           "t_largest_n": float(means.get(large, math.nan)),
                                           "change": verdict_box.growth_phrase(shape(ts)["growth"], math.nan),
                                           "change_words": shape(ts)["words"]}
            ok = ts[ts["reached"]]
            if ok["n"].nunique() >= 3:
                table = laws.fit_table(ok.assign(quantity="q"), n_boot=0, by="quantity")
                best = table.loc[table["best_loso"], "model"]
                row["best_law"] = laws.MODEL_FORMULAS[best.iloc[0]] if len(best) else "no fit"
            else:
                row["best_law"] = "defined at fewer than 3 sizes"
            rows.append(row)
    cols = GROUP + ["delta", "delta_pp", "met", "t_smallest_n", "t_largest_n", "change", "change_words", "best_law"]
    return pd.DataFrame(rows, columns=cols)


def arm_summary(arm: str, frame: pd.DataFrame, s: Settings, params, reference: pd.DataFrame | None = None
                ) -> tuple[dict, dict]:
    """Numbers and sentences of one arm (keys without the ``ch4_<arm>_`` prefix), and its tables.
    ``reference``: the chapter's reference runs (:mod:`.reference`; None or empty: not run)."""
    name = arm_name(arm)
    out: dict = {}
    tables: dict = {}
    greedy = frame[frame["method"] == "greedy"]
    if not len(greedy) or not (greedy["split"] == s.split).any():
        why = "no rows" if not len(frame) else "no greedy rows on the held-out split"
        for k in ("verdict", "range", "laws", "coverage", "budget_sentence", "random", "magnitude", "scratch",
                  "scratch_flops", "dense_cost", "worth", "saved", "ceiling", "failed", "convergence",
                  "long_convergence"):
            out[k] = f"the {name} arm has {why} for these settings"
        out["box"] = {}
        out |= {"has_data": False, "defined": False, "grows": False, "stops": False, "ratio": UNDEFINED, "short": UNDEFINED,
                "long": UNDEFINED, "t_full": UNDEFINED, "largest": UNDEFINED, "smallest": UNDEFINED,
                "sizes": UNDEFINED, "n_seeds": 0, "pct_largest": UNDEFINED, "saved_largest": UNDEFINED,
                "failed_runs": 0, "failed_cause": UNDEFINED, "dense_converged": None, "long_converged": None}
        return out, tables
    ratio = float(greedy["ratio"].min())
    short, long_ = _budgets(frame)
    long_ = long_ if long_ is not None else int(greedy["budget"].max())
    sizes = sorted(int(n) for n in greedy["n"].unique())
    smallest, largest = sizes[0], sizes[-1]
    # the arm's tolerance: the chapter's delta, raised to twice the measured seed-paired noise
    noise = an.noise_floor(frame, ratio, long_, split=s.split)
    delta = an.arm_delta(s.delta, noise["sd"], s.noise_multiple)
    out |= {"delta": delta, "delta_pp": round(100 * delta, 4),
            "noise_pp": 100 * noise["sd"] if finite(noise["sd"]) else UNDEFINED}
    te = t_enough(frame, delta, split=s.split)
    t_full = t_full_of(frame)[arm]
    out |= {"has_data": True, "ratio": ratio, "short": short if short is not None else UNDEFINED, "long": long_, "t_full": t_full,
            "smallest": smallest, "largest": largest, "sizes": ", ".join(n_words(n) for n in sizes),
            "n_seeds": int(greedy["seed"].nunique())}
    main = slice_of(te, "greedy", ratio, long_)
    ts = as_thresholds(main)
    sh = shape(ts)
    out |= {"defined": sh["defined"], "grows": sh["grows"], "stops": sh["stops"]}
    cov = coverage_words(main)
    out["verdict"] = (f"with the long fine-tuning budget (F = {long_:,} steps), the greedy subnetwork's "
                      f"t_enough(N) {sh['words']}")
    out["range"] = range_words(ts)
    out["coverage"] = (cov[0].upper() + cov[1:]) if cov else "No unit is censored: every seed has a t_enough at every size"
    out["shape"] = sh
    # Did the dense network itself train? A run left near chance at T_full makes every comparison of
    # that run meaningless, so the chapter says how many there are.
    dense_end = frame[(frame["method"] == "dense") & (frame["split"] == s.split) & (frame["t"] == t_full)]
    failed = dense_end[dense_end["accuracy"] < TRAINED_ACCURACY]
    # Has the dense network converged at T_full, and does F_long let a subnetwork pruned at t = 0
    # converge? Both by one criterion: less than delta per doubling, at the largest N (seed mean).
    dense = frame[(frame["method"] == "dense") & (frame["split"] == s.split) & (frame["n"] == largest)]
    curve = dense.groupby("t")["accuracy"].mean()
    conv = converged_words(curve[curve.index <= t_full], s.delta, "pre-training")
    out["dense_converged"] = conv["converged"]
    out["convergence"] = (f"at N = {n_words(largest)} the dense network's held-out accuracy (seed mean) "
                          + conv["words"]
                          + ("" if conv["converged"] is not False else
                             ": a t_enough near T_full partly measures the dense network's own learning"))
    at0 = frame[(frame["method"] == "greedy") & (frame["split"] == s.split) & (frame["n"] == largest)
                & (frame["t"] == 0) & (frame["ratio"] == ratio) & (frame["budget"] > 0)]
    conv = converged_words(at0.groupby("budget")["accuracy"].mean(), s.delta, "fine-tuning")
    out["long_converged"] = conv["converged"]
    out["long_convergence"] = (
        f"at N = {n_words(largest)} the greedy subnetwork pruned at t = 0 (kept fraction {ratio:g}) has a held-out "
        f"accuracy (seed mean) that " + conv["words"]
        + ("" if conv["converged"] is not False else
           f": F = {long_:,} steps is not long enough for it to converge, so this arm cannot show where "
           "t_enough goes when fine-tuning is long"))
    out["failed_runs"] = int(len(failed))
    causes = [failure_cause(frame[(frame["method"] == "dense") & (frame["split"] == s.split)
                                  & (frame["n"] == r.n) & (frame["seed"] == r.seed)], s.delta)
              for r in failed.itertuples()]
    out["failed_cause"] = (" and ".join(sorted(set(c["cause"] for c in causes))) if causes else UNDEFINED)
    out["failed"] = (
        f"In {len(failed)} of {len(dense_end)} runs the dense network itself has not learned by T_full "
        f"(held-out accuracy below {TRAINED_ACCURACY:.0%}: "
        + ", ".join(f"N = {n_words(r.n)}, seed {int(r.seed)}" for r in failed.itertuples()) + "; "
        + "; ".join(_cause_words(causes, cause) for cause in sorted(set(c["cause"] for c in causes)))
        + "): " + FAILURE_CONSEQUENCE[out["failed_cause"]] if len(failed) else
        f"The dense network has learned in every run (held-out accuracy at least {TRAINED_ACCURACY:.0%} at T_full)")
    # laws
    fits = fit_laws(te[(te["method"] == "greedy") & (te["budget"] > 0)], n_boot=s.n_boot)
    tables["fits"] = fits
    row = fits[(fits["method"] == "greedy") & (fits["ratio"] == ratio) & (fits["budget"] == long_)]
    flags = row.set_index("model")["flag"].to_dict() if len(row) else {}
    out["laws"] = shares_words(row.set_index("model")["loso_win_share"].to_dict() if len(row) else {},
                               {m: why for m, why in flags.items() if why})
    sat = row[row["model"] == "saturating"]
    if len(sat) and bool(sat["fit_ok"].iloc[0]) and not sat["flag"].iloc[0]:
        out["ceiling"] = (f"the saturating law levels off at a = {float(sat['a'].iloc[0]):,.0f} steps "
                          f"(c = {float(sat['c'].iloc[0]):.2f})")
    else:
        out["ceiling"] = ("the saturating law has a " + sat["flag"].iloc[0] if len(sat) and sat["flag"].iloc[0]
                          and bool(sat["fit_ok"].iloc[0]) else
                          "the saturating law cannot be fitted (it needs t_enough at three sizes at least)")
    # the short budget against the long one, paired per (N, seed)
    if short is not None and short != long_:
        a = slice_of(te, "greedy", ratio, short).set_index(["n", "seed"])
        b = main.set_index(["n", "seed"])
        both = (~a["censored"]) & (~b["censored"].reindex(a.index, fill_value=True))
        d = (b.loc[both[both].index, "t_enough"] - a.loc[both[both].index, "t_enough"])
        if len(d):
            more, less = int((d > 0).sum()), int((d < 0).sum())
            out["budget_sentence"] = (
                f"Fine-tuning for F = {long_:,} instead of {short:,} steps changes t_enough by {d.mean():+,.0f} steps "
                f"on average over the {len(d)} (N, seed) pairs that have one with both budgets ({more} need more "
                f"pre-training, {less} less)")
        else:
            out["budget_sentence"] = (f"t_enough cannot be compared between F = {short:,} and {long_:,} steps: no "
                                      "(N, seed) has one with both budgets")
        out["short_range"] = range_words(as_thresholds(slice_of(te, "greedy", ratio, short)))
    else:
        out["budget_sentence"] = "The arm has one positive fine-tuning budget only, so its effect cannot be shown"
        out["short_range"] = UNDEFINED
    # controls at the largest size, the long budget
    contrasts = {}
    for b_method in ("random", "magnitude", "scratch", "scratch_flops", "dense_cost", "greedy_sampled", "greedy_local"):
        c = contrast(frame, "greedy", b_method, split=s.split)
        contrasts[b_method] = c
        here = c[(c["ratio"] == ratio) & (c["budget"] == long_) & (c["n"] == largest)]
        out[b_method] = (f"At N = {n_words(largest)}, F = {long_:,} steps, " + contrast_words(here, "greedy", b_method)
                         if len(here) else f"{METHOD_NAMES[b_method]} has no rows in the {name} arm")
    tables["contrasts"] = contrasts
    # where pruning early is worth it
    table = practitioner_table(frame, te[te["method"].isin(("greedy",))], batch=_batch(params, arm, frame),
                               split=s.split)
    tables["practitioner"] = table
    row = table[(table["ratio"] == ratio) & (table["budget"] == long_) & (table["n"] == largest)]
    pct = float(row["pct_full"].iloc[0]) if len(row) else math.nan
    saved = float(row["flops_saved"].iloc[0]) if len(row) else math.nan
    out["pct_largest"] = pct if finite(pct) else UNDEFINED
    out["saved_largest"] = saved if finite(saved) else UNDEFINED
    # the corrected families of the verdict box
    fams = verdict_box.arm_families(frame, ratio, long_, s.split, contrasts)
    tables["families"] = fams
    counts = {k: an.family_counts(c) for k, c in fams.items()}
    out["counts"] = counts
    big = fams["scratch"][fams["scratch"]["n"] == largest] if len(fams["scratch"]) else fams["scratch"]
    from_t = an.better_from(big) if len(big) else math.nan
    out["scratch_from"] = from_t
    out["box"] = {k: verdict_box.counts_phrase(counts[k]) for k in ("random", "magnitude", "scratch")}
    out["box"]["scratch_from"] = (f"{from_t:,.0f}" if finite(from_t) else
                                  "never at every later t" if counts["scratch"]["tested"] else "untested")
    step = counts["step_check"]
    out["box"]["step_check"] = ("untested" if not step["tested"] else
                                "none detected" if not (step["better"] or step["worse"]) else
                                f"yes: {step['better'] + step['worse']} of {step['tested']} sizes differ")
    out["step_confound"] = bool(step["better"] or step["worse"])
    # the reference runs: the early-bird signal and whether the reference has converged
    ref = reference[reference["arm"] == arm] if reference is not None and len(reference) else None
    if ref is not None and len(ref):
        eb = an.early_bird(ref, s.eb_epsilon, s.eb_window)
        stop = an.stop_at_early_bird(frame, eb, te, ratio, long_, split=s.split)
        tables["early_bird"] = stop.assign(arm=arm)
        out["box"]["early_bird"] = verdict_box.early_bird_phrase(stop)
        out["reference_check"] = an.reference_check(ref, arm, t_full)
    else:
        out["box"]["early_bird"] = "no reference runs"
        out["reference_check"] = None
    if finite(pct, saved):
        text = (f"at N = {n_words(largest)} pruning at t_enough ({pct:.0f}% of T_full) saves {saved:.0f}% of the full "
                f"pipeline's training FLOPs")
    else:
        text = f"at N = {n_words(largest)} t_enough is undefined (censored), so no saving can be stated"
    out["worth"] = text
    out["worth_any"] = bool(counts["scratch_flops"]["better"])
    out["saved"] = saved
    tables["t_enough"] = te
    return out, tables


def summarize(frames: dict, params=None, *, chapter3=None) -> Summary:
    """Every number chapter 4's prose quotes and every sentence whose truth depends on the data, and the
    tables its figures draw. ``frames``: the arms' frames (every registered arm; a missing or empty
    one is said in words) and optionally ``units``. ``params``: the chapter's parameters (the
    analysis reads ``delta``, ``deltas``, ``n_boot``, ``split`` and the batch sizes when present).
    ``chapter3``: chapter 3's T*(N) frame (n, seed, t_star, reached), ``False`` to leave it out, or
    None to load it from the committed results (:func:`chapter3_thresholds`). A number that cannot be
    computed is glued as :data:`UNDEFINED`, and the sentence around it says why."""
    s = Settings.of(params)
    out: dict = {"ch4_delta_pp": 100 * s.delta, "ch4_deltas_pp": ", ".join(f"{100 * d:g}" for d in s.deltas),
                 "ch4_n_boot": s.n_boot}
    out |= parameter_numbers(params)
    tables: dict = {"frames": {}, "t_enough": [], "practitioner": [], "fits": [], "contrasts": {}, "early_bird": [],
                    "families": {}}
    arm_outs = {}
    for arm in ARMS:
        frame = _arm_frame(frames, arm)
        a_out, a_tab = arm_summary(arm, frame, s, params, frames.get("reference") if isinstance(frames, dict) else None)
        arm_outs[arm] = a_out
        for k, v in a_out.items():  # the book's arms' glued names (a later arm: tables["arms"] only)
            if k != "shape" and arm in ARM_GLUE.get(k, {}):
                out[ARM_GLUE[k][arm]] = v
        tables["frames"][arm] = frame
        for k in ("t_enough", "practitioner", "fits", "early_bird"):
            if k in a_tab:
                tables[k].append(a_tab[k])
        tables["contrasts"][arm] = a_tab.get("contrasts", {})
        tables["families"][arm] = a_tab.get("families", {})
    for k in ("t_enough", "practitioner", "fits", "early_bird"):
        tables[k] = pd.concat(tables[k], ignore_index=True) if tables[k] else pd.DataFrame()
    # sensitivity over delta (greedy, every ratio and budget)
    sens = [sensitivity(tables["frames"][arm], s.deltas, split=s.split) for arm in ARMS
            if (tables["frames"][arm]["method"] == "greedy").any()]
    tables["sensitivity"] = pd.concat(sens, ignore_index=True) if sens else pd.DataFrame()
    out["ch4_sens_sentence"] = sensitivity_words(tables["sensitivity"], arm_outs, s)
    # chapter 3
    if chapter3 is None:
        ch3, rule = chapter3_thresholds()
    elif chapter3 is False:
        ch3, rule = None, "chapter 3's T*(N) is left out of this run"
    else:
        ch3, rule = chapter3, "chapter 3's threshold"
    tables["ch3"] = ch3 if ch3 is not None else pd.DataFrame(columns=["n", "seed", "t_star", "reached"])
    # chapter 3's network (the two-layer arm) against chapter 3
    key = next((k for k in arm_outs if ARMS[k].compared_with_chapter3), None)
    two = arm_outs[key] if key is not None else {"has_data": False}
    two_te = (as_thresholds(slice_of(tables["t_enough"][tables["t_enough"]["arm"] == key], "greedy",
                                     two["ratio"], two["long"]))
              if two["has_data"] else pd.DataFrame(columns=["n", "seed", "t_star", "reached"]))
    cmp3 = compare_chapter3(two, two_te, ch3, rule)
    out |= {CH3_GLUE[k]: v for k, v in cmp3.items()}
    # the greedy variants (the MLP's)
    key = next((k for k in arm_outs if ARMS[k].variants), None)
    out["ch4_variants_sentence"] = variants_words(tables, key, arm_outs.get(key))
    # the growth family: Holm over the arms of the one-sided rise each arm's verdict rests on
    rises = {a: o["shape"]["growth"].rise for a, o in arm_outs.items() if o["has_data"]}
    keys = list(rises)
    p_up = [r.get("p_up", math.nan) if r else math.nan for r in rises.values()]
    adjusted = dict(zip(keys, paired.holm(p_up))) if keys else {}
    for a in keys:
        arm_outs[a]["box"]["growth"] = verdict_box.growth_phrase(arm_outs[a]["shape"]["growth"], adjusted[a])
        arm_outs[a]["growth_holm_p"] = float(adjusted[a])
    tables["box"] = verdict_box.box(arm_outs)
    out |= verdict(arm_outs, cmp3)
    out |= verdict_box.in_short(arm_outs, tables)
    tables["arms"] = {arm: {k: v for k, v in o.items() if k != "shape"} for arm, o in arm_outs.items()}
    tables["findings"] = {arm: ArmFindings.of(arm, o) for arm, o in arm_outs.items()}
    numbers = {k: (UNDEFINED if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
    return Summary(numbers, tables)


def explorer_settings(params=None) -> dict:
    """Keyword arguments of :func:`.explorer.show` for the chapter's parameters: the
    tolerances of the sensitivity table, the chapter's delta and the long budget's greedy curves first."""
    s = Settings.of(params)
    return {"deltas": list(s.deltas), "split": s.split,
            "initial": {"arm": next(iter(ARMS)), "method": "greedy", "delta": s.delta}}
