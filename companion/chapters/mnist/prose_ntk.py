"""Chapter 3's prose about the NTK study (greedy averaging in the theorem's parameterisation: repeats,
k/m, the output scale, the step grid) and the reviewer's well-trained arm (T*(N) at tuned steps, at a
level relative to each subnetwork's own ceiling), from :mod:`.findings`."""
from __future__ import annotations


import numpy as np
import pandas as pd

from ...stats import paired
from ...stats.verdicts import Growth
from .findings import (ALPHA, NTK_CLOSE, NTK_SIZEABLE, WELL_TRAINED, finite, growth, ntk_tuning,
                       p_ok, wt_rows, wt_thresholds)
from .params import MnistParams
from .prose_lead import lead_step, lead_summary
from .prose_words import Words, change_stats, growth_words, n_words, sizes_list

#: Glue names (literal, so that ``grep NAME`` finds this code).
NTK_NAMES = {"greedy_repeats": {"useful_k": "ch3_ntk_greedy_repeats_useful_k",
                                "close_k": "ch3_ntk_greedy_repeats_close_k",
                                "acc_kmin": "ch3_ntk_greedy_repeats_acc_kmin",
                                "acc_kmax": "ch3_ntk_greedy_repeats_acc_kmax"},
             "greedy_distinct": {"useful_k": "ch3_ntk_greedy_distinct_useful_k",
                                 "close_k": "ch3_ntk_greedy_distinct_close_k",
                                 "acc_kmin": "ch3_ntk_greedy_distinct_acc_kmin",
                                 "acc_kmax": "ch3_ntk_greedy_distinct_acc_kmax"}}


def ntk_summary(ntk: pd.DataFrame, p: MnistParams) -> dict:
    """The NTK study in numbers: the tuned learning rate (lowest final dense training loss, seed mean)
    and, at that rate and the last checkpoint, each subnetwork's training accuracy and loss against
    k / m, with and without the refitted output scale; and the sentences that depend on them."""
    f = ntk_tuning(ntk, p)
    tuned, lrs, table, train, steps = f.tuned, f.lrs, f.table, f.train, f.steps
    kmin = min(p.ntk_ks)
    edge = ("the largest tried" if tuned == max(p.ntk_lrs) else
            "the smallest tried" if tuned == min(p.ntk_lrs) else "inside the range tried")
    if len(p.ntk_lrs) == 1:
        edge = "the only one tried"
    out = {"ch3_ntk_n": p.ntk_n, "ch3_ntk_lr": tuned, "ch3_ntk_steps": p.ntk_steps,
           "ch3_ntk_lrs": ", ".join(f"{v:g}" for v in p.ntk_lrs), "ch3_ntk_n_seeds": len(p.ntk_seeds),
           "ch3_ntk_lr_is_edge": edge,
           "ch3_ntk_k_min": min(p.ntk_ks), "ch3_ntk_k_max": max(p.ntk_ks),
           "ch3_ntk_kshare_min": min(p.ntk_ks) / p.width, "ch3_ntk_kshare_max": max(p.ntk_ks) / p.width}
    tr = table[(table["split"] == "train") & (table["output_scale"] == "none")].set_index(["method", "k"])
    dense_acc = float(tr.loc[("dense", p.width), "accuracy"])
    out["ch3_ntk_dense_acc"] = dense_acc
    acc1 = float(lrs.loc[(lrs["lr"] - 1.0).abs().idxmin(), "accuracy"])
    out["ch3_ntk_dense_acc_lr1"] = acc1
    if 1.0 not in p.ntk_lrs:
        out["ch3_ntk_lr1_words"] = "(step 1 is not among the steps tried)"
    elif tuned == 1.0:
        out["ch3_ntk_lr1_words"] = "(step 1 is the tuned one)"
    else:
        out["ch3_ntk_lr1_words"] = (f"(with step 1, {acc1:.3f}: undertrained)" if acc1 < dense_acc
                                    else f"(with step 1, {acc1:.3f}: as good)")
    # The step grid at k/m = 1/2: is the best step inside it? Steps that diverged are the grid's edge.
    half = p.width // 2
    ok = steps[steps["diverged"] == 0].dropna(subset=["half_accuracy"])
    out["ch3_ntk_half_k"] = half
    if ok.empty:
        out["ch3_ntk_grid_sentence"] = f"no step gives a k = {half:,} subnetwork (k/m = 1/2) here"
    else:
        i = int(ok["half_accuracy"].idxmax())
        best, acc = float(steps.loc[i, "lr"]), float(steps.loc[i, "half_accuracy"])
        above = steps[steps["lr"] > best]
        out |= {"ch3_ntk_half_best_lr": best, "ch3_ntk_half_best_acc": acc}
        if above.empty:
            where = "the largest step tried, so the best step may lie beyond the grid"
        else:
            nxt = above.iloc[0]
            if nxt["diverged"] == nxt["seeds"] and nxt["seeds"]:
                beyond = f"step {nxt['lr']:g} diverges in every seed"
            elif nxt["diverged"]:
                beyond = f"step {nxt['lr']:g} diverges in {int(nxt['diverged'])} of {int(nxt['seeds'])} seeds"
            else:
                beyond = f"step {nxt['lr']:g} gives {nxt['half_accuracy']:.3f}"
            where = f"inside the grid: {beyond}"
            if len(steps[steps["diverged"] > 0]):
                first_div = float(steps[steps["diverged"] > 0]["lr"].min())
                if first_div > nxt["lr"]:
                    where += f", and from step {first_div:g} on training diverges"
        out["ch3_ntk_grid_sentence"] = (f"the k = {half:,} subnetwork (k/m = 1/2, no repeats) trains best at step "
                                        f"{best:g}, {acc:.3f} training accuracy, {where}")
    out |= {"ch3_ntk_close": NTK_CLOSE, "ch3_ntk_n_lrs": len(p.ntk_lrs), "ch3_useful_accuracy": p.useful_accuracy}
    reps = train[(train["method"] == "greedy_repeats") & (train["output_scale"] == "none")]
    small = reps[reps["k"] == kmin].groupby("lr")["accuracy"].mean()
    out["ch3_ntk_kmin_acc_best_lr"] = float(small.max())
    if len(small) == 1:
        out["ch3_ntk_step_sentence"] = (f"Only one step is tried: at k = {kmin:,} it gives {small.max():.3f} training "
                                        "accuracy")
    elif small.max() - small.min() < NTK_CLOSE:
        out["ch3_ntk_step_sentence"] = (f"The tuned step is {edge}, {'and' if edge == 'inside the range tried' else 'but'} "
                                        f"the step barely matters for small subnetworks: at k = {kmin:,} the best of the "
                                        f"{len(small)} steps gives {small.max():.3f} training accuracy")
    else:
        out["ch3_ntk_step_sentence"] = (f"The tuned step is {edge}, and the step matters for small subnetworks too: at "
                                        f"k = {kmin:,} the {len(small)} steps give from {small.min():.3f} to "
                                        f"{small.max():.3f} training accuracy")
    for method, name in NTK_NAMES.items():
        sub = tr.loc[method] if method in tr.index.get_level_values(0) else pd.DataFrame()
        if sub.empty:
            for key in ("useful_k", "close_k"):
                out[name[key]] = "no k tried (every k tried is above m)"
            continue
        useful = sub[sub["accuracy"] >= p.useful_accuracy]
        close = sub[sub["accuracy"] >= dense_acc - NTK_CLOSE]
        out[name["useful_k"]] = (f"k = {int(useful.index.min()):,} (k/m = {useful.index.min() / p.width:g})"
                                 if len(useful) else "no k tried")
        out[name["close_k"]] = (f"k = {int(close.index.min()):,} (k/m = {close.index.min() / p.width:g})"
                                if len(close) else "no k tried")
        out[name["acc_kmin"]] = float(sub["accuracy"].iloc[0])
        out[name["acc_kmax"]] = float(sub["accuracy"].iloc[-1])
    # where greedy averaging (repeats) becomes useful, at the tuned step and at every other
    by_lr = reps.groupby(["lr", "k"])["accuracy"].mean()
    first_useful = {lr: min((k for (l, k), a in by_lr.items() if l == lr and a >= p.useful_accuracy), default=None)
                    for lr in p.ntk_lrs}
    k_t = first_useful.get(tuned)
    others = [k for lr, k in first_useful.items() if lr != tuned and k is not None]
    if k_t is None:
        out["ch3_ntk_verdict"] = (f"greedy averaging gives a useful subnetwork at no k tried (up to k = {max(p.ntk_ks):,})"
                                  + (", whatever the step" if not others else " with the tuned step"))
        out["ch3_ntk_caveat"] = "no subnetwork tried is useful"
    elif k_t == kmin:
        out["ch3_ntk_verdict"] = f"greedy averaging is useful already at the smallest k tried, {out['ch3_ntk_greedy_repeats_useful_k']}"
        out["ch3_ntk_caveat"] = "even the smallest subnetwork tried is useful"
    else:
        better = [k for k in others if k < k_t]
        out["ch3_ntk_verdict"] = (f"greedy averaging is useful only from {out['ch3_ntk_greedy_repeats_useful_k']}" +
                                  (", whatever the step" if not better else f" at the tuned step, from k = {min(better):,} "
                                   "at another"))
        out["ch3_ntk_caveat"] = f"subnetworks smaller than {out['ch3_ntk_greedy_repeats_useful_k']} are not useful"
    share = (k_t / p.width) if k_t is not None else None
    out["ch3_ntk_term_words"] = ("is not small in the NTK parameterisation unless k is a sizeable fraction of m:"
                                 if share is None or share >= NTK_SIZEABLE else
                                 f"is small in this run already at k/m = {share:g}, although")
    ref = table[(table["split"] == "train") & (table["method"] == "greedy_repeats")].pivot_table(
        index="k", columns="output_scale", values=["loss", "scale"])
    out |= {"ch3_ntk_loss_kmin_none": float(ref[("loss", "none")].get(kmin, np.nan)),
            "ch3_ntk_loss_kmin_refit": float(ref[("loss", "refit")].get(kmin, np.nan)),
            "ch3_ntk_scale_kmin": float(ref[("scale", "refit")].get(kmin, np.nan)),
            "ch3_ntk_dense_loss": float(tr.loc[("dense", p.width), "loss"])}
    none_, refit, c, dl = (out[k] for k in ("ch3_ntk_loss_kmin_none", "ch3_ntk_loss_kmin_refit",
                                            "ch3_ntk_scale_kmin", "ch3_ntk_dense_loss"))
    positive = bool((ref[("scale", "refit")] > 0).all())
    text = ("Refitting the output scale leaves the accuracy alone (a positive scale keeps the arg-max)"
            if positive else "Refitting the output scale can change the accuracy (a negative scale flips the arg-max)")
    compare = ("still far above" if refit > 2 * dl else "still above" if refit > dl else "at or below")
    out["ch3_ntk_refit_sentence"] = (text + f" but shows the loss due to size: at k = {kmin:,} it falls from "
                                     f"{none_:.2f} to {refit:.3f} (c = {c:.3f}), {compare} the dense {dl:.3f}")
    return {"numbers": out, "table": table, "lrs": lrs, "steps": steps}


def _growth_words(ts: pd.DataFrame, w: Words) -> tuple[str, Growth | None, dict | None]:
    """How T*(N) of one curve family behaves, by the book's one growth criterion (:func:`.findings.growth`,
    paired over seeds), with the change it rests on; (words, the verdict, the change between the two
    largest sizes, for the table)."""
    sizes = sorted(ts["n"].unique())
    if len(sizes) < 2:
        return f"cannot be compared across sizes (only N = {n_words(sizes[0]) if sizes else 'none'})", None, None
    g = growth(ts)
    last = paired.paired_change(ts, sizes[-2], sizes[-1])
    words = growth_words(g, w)
    basis = g.tail if g.tail is not None else g.rise
    if basis is not None and p_ok(basis):
        words += (f" (N = {n_words(basis['n_from'])} to {n_words(basis['n_to'])}: {change_stats(basis, w)}, "
                  f"{_p(basis)})")
    return words, g, last


def _span_words(ts: pd.DataFrame) -> str:
    """'goes from 150 steps at N = 1,000 to 1,672 at N = 50,000 (×11.1)' from seed means, or why not."""
    means = ts.groupby("n")["t_star"].mean().dropna()
    if len(means) < 2:
        return "is defined at fewer than two sizes"
    a, b = float(means.iloc[0]), float(means.iloc[-1])
    ratio = f" (×{b / a:.1f})" if a > 0 else ""
    return f"goes from {a:,.0f} steps at N = {n_words(means.index[0])} to {b:,.0f} at N = {n_words(means.index[-1])}{ratio}"


def _p(change: dict | None) -> str:
    """'p = 0.54', 'p < 0.01' or 'untested'."""
    if change is None or not p_ok(change):
        return "untested"
    return "p < 0.01" if change["p_value"] < 0.01 else f"p = {change['p_value']:.2f}"



def well_trained_summary(well: pd.DataFrame | None, well_ntk: pd.DataFrame | None, p: MnistParams) -> dict:
    """The reviewer's well-trained regime in numbers and words: does T*(N) of the greedy subnetwork stop
    growing when the network is trained well (a tuned step) and the level follows each k's own ceiling?
    And T*(N) of the theorem's NTK network at k/m = 1/2."""
    w = Words("reaches its level", "the level is reached", "SGD steps", "steps", p.steps)
    share = p.wt_share
    out = {"ch3_wt_share_pct": 100 * share, "ch3_wt_sizes": sizes_list(p.wt_sizes)[4:],
           "ch3_wt_n_seeds": len(p.wt_seeds), "ch3_wt_lrs": ", ".join(f"{v:g}" for v in p.wt_lrs),
           "ch3_wt_ks": " and ".join(f"{k:,}" for k in sorted(p.wt_ks)), "ch3_wt_n_heldout": p.n_heldout,
           "ch3_wt_heldout_from": p.heldout_from, "ch3_wt_num_checkpoints": p.wt_num_checkpoints,
           "ch3_wt_well_trained": WELL_TRAINED}
    frame = wt_rows(well)
    empty_ts = wt_thresholds(frame.iloc[:0], share)
    if frame.empty:
        out |= {"ch3_wt_lr_sentence": "No run of the well-trained arm finished for these settings",
                "ch3_wt_heldout_ksmall": "no held-out threshold", "ch3_wt_heldout_klarge": "no held-out threshold",
                "ch3_wt_test_gap_sentence": "No held-out images were evaluated"}
        table = pd.DataFrame()
        ts = empty_ts
        lead_out = lead_summary(frame, ts, p, p.wt_lead_lr)
        out |= lead_out["numbers"]
    else:
        largest, last = frame["n"].max(), frame["t"].max()
        end = frame[(frame["t"] == last) & (frame["n"] == largest)]
        dense_end = end[end["method"] == "dense"].pivot_table(index="lr", columns="split", values="accuracy")
        best_lr = float(dense_end["train"].idxmax())
        best_acc = float(dense_end.loc[best_lr, "train"])
        trained = [lr for lr in dense_end.index if dense_end.loc[lr, "train"] >= WELL_TRAINED]
        out |= {"ch3_wt_best_lr": best_lr, "ch3_wt_best_dense_acc": best_acc, "ch3_wt_largest": int(largest),
                "ch3_wt_best_dense_heldout": float(dense_end.loc[best_lr, "heldout"]),
                "ch3_wt_default_dense_acc": float(dense_end["train"].get(p.lr_mean_field, np.nan))}
        out["ch3_wt_lr_sentence"] = (
            f"At N = {n_words(largest)} the dense network reaches {best_acc:.3f} training accuracy with step "
            f"{best_lr:g} (the best of the {len(dense_end)} tried), "
            + ("well trained by this section's criterion" if trained else
               f"short of the {WELL_TRAINED:.2f} this section calls well trained at every step tried"))
        ts = wt_thresholds(frame, share)
        rows = []
        for (lr, k), g in ts[(ts["split"] == "train")].groupby(["lr", "k"]):
            own = g[g["rule"] == "own"]
            fixed = g[g["rule"] == "largest"]
            gf, go = growth(fixed), growth(own)
            curve = frame[(frame["lr"] == lr) & (frame["k"] == k) & (frame["method"] == "greedy")
                          & (frame["split"] == "train") & (frame["n"] == largest)]
            ceiling = float(curve.groupby("seed")["accuracy"].max().mean())
            row = {"lr": lr, "k": int(k), "dense_train": float(dense_end.loc[lr, "train"]),
                   "ceiling": ceiling, "level_largest": float(fixed["level"].mean()),
                   **{f"T*({n_words(n)})": float(v) for n, v in fixed.groupby("n")["t_star"].mean().items()},
                   "fixed_reached": f"{int(fixed['reached'].sum())}/{len(fixed)}",
                   "fixed_growth": growth_words(gf, w), "own_growth": growth_words(go, w)}
            rows.append(row)
        table = pd.DataFrame(rows)
        # The verdict: the lead step, one level for every N first, the own ceiling as sensitivity (issue 34)
        lead = lead_step(p, dense_end.index, best_lr)
        lead_out = lead_summary(frame, ts, p, lead)
        out |= lead_out["numbers"]
        out["ch3_wt_lead_dense_acc"] = float(dense_end["train"].get(lead, np.nan))
        best_lr = lead
        # Held-out thresholds against the training ones, at the best step (point 6 of the review)
        tr = ts[(ts["lr"] == best_lr) & (ts["rule"] == "own")]
        piv = tr.groupby(["k", "split", "n"])["t_star"].mean().unstack("split")
        held = {"ch3_wt_heldout_ksmall": "no held-out threshold", "ch3_wt_heldout_klarge": "no held-out threshold"}
        ks_sorted = sorted(p.wt_ks)
        for name, k in (("ch3_wt_heldout_ksmall", ks_sorted[0]), ("ch3_wt_heldout_klarge", ks_sorted[-1])):
            if k not in piv.index.get_level_values(0) or "heldout" not in piv.columns:
                continue
            q = piv.loc[k]
            gaps = (q["heldout"] - q["train"])
            held[name] = (f"for k = {k:,}, {q['heldout'].iloc[0]:.0f} against {q['train'].iloc[0]:.0f} steps at "
                          f"N = {n_words(q.index[0])} and {q['heldout'].iloc[-1]:.0f} against "
                          f"{q['train'].iloc[-1]:.0f} at N = {n_words(q.index[-1])} (the gap "
                          f"{'narrows' if abs(gaps.iloc[-1]) < abs(gaps.iloc[0]) else 'does not narrow'})")
        out |= held
        # Is the test set easier than the unused training images? (the dense network, end of training)
        d = frame[(frame["method"] == "dense") & (frame["t"] == last) & (frame["lr"] == best_lr)]
        gap = d.pivot_table(index=["n", "seed"], columns="split", values="accuracy")
        diff = (gap["test"] - gap["heldout"]) if {"test", "heldout"} <= set(gap.columns) else pd.Series(dtype=float)
        if len(diff) >= paired.MIN_PAIRS:
            pval = paired.paired_test(diff.to_numpy(float))["p_value"]
            out |= {"ch3_wt_test_gap": float(diff.mean()), "ch3_wt_test_gap_p": pval}
            sig = finite(pval) and pval < ALPHA
            out["ch3_wt_test_gap_sentence"] = (
                f"The dense network's accuracy on the {p.n_test:,} test images minus that on the "
                f"{p.n_heldout:,} unused training-pool images is {diff.mean():+.4f} on average over the "
                f"{len(diff)} runs at step {best_lr:g} ({_p({'p_value': pval})}): the test images are "
                + (("easier" if diff.mean() > 0 else "harder") if sig else "not significantly easier or harder"))
        else:
            out["ch3_wt_test_gap_sentence"] = "Too few runs to compare the test images with the unused pool images"
    # The theorem's NTK network at k/m = 1/2
    ntk = wt_rows(well_ntk)
    half = p.width // 2
    nts = wt_thresholds(ntk[ntk["k"].isin([half, p.width])], share) if not ntk.empty else empty_ts
    out["ch3_wtntk_k"] = half
    if ntk.empty or half not in set(ntk["k"]):
        out["ch3_wtntk_sentence"] = (f"the NTK arm has no k = {half:,} (k/m = 1/2) subnetwork for these settings")
        out["ch3_wtntk_growth_sentence"] = "No threshold of the NTK arm can be traced"
    else:
        own = nts[(nts["k"] == half) & (nts["split"] == "train") & (nts["rule"] == "own")]
        fixed = nts[(nts["k"] == half) & (nts["split"] == "train") & (nts["rule"] == "largest")]
        last, largest_n = ntk["t"].max(), ntk["n"].max()
        end = ntk[(ntk["t"] == last) & (ntk["n"] == largest_n) & (ntk["split"] == "train")]
        sub_acc = float(end[(end["method"] == "greedy") & (end["k"] == half)]["accuracy"].mean())
        dense_acc = float(end[end["method"] == "dense"]["accuracy"].mean())
        lr = ", ".join(f"{v:g}" for v in sorted(ntk["lr"].unique()))
        out |= {"ch3_wtntk_sub_acc": sub_acc, "ch3_wtntk_dense_acc": dense_acc, "ch3_wtntk_lr": lr}
        out["ch3_wtntk_sentence"] = (
            f"at step {lr} the k = {half:,} greedy subnetwork (k/m = 1/2, no repeats) reaches {sub_acc:.3f} "
            f"training accuracy at N = {n_words(largest_n)} against the dense network's {dense_acc:.3f}, "
            + ("a useful subnetwork" if sub_acc >= p.useful_accuracy else "not a useful subnetwork"))
        out["ch3_wtntk_growth_sentence"] = (f"At one level for every N its T* {growth_words(growth(fixed), w)}; at "
                                            f"{100 * share:.0f}% of its own gain it {_span_words(own)} and "
                                            f"{growth_words(growth(own), w)}")
    out["ch3_wt_n_units"] = int(len(frame.groupby(["lr", "n", "seed"]))) if not frame.empty else 0
    return {"numbers": out, "table": table, "thresholds": ts, "ntk_thresholds": nts, "lead": lead_out}
