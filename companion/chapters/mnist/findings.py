"""Chapter 3's findings: the numbers and flags computed from its frames, no words. The prose
(:mod:`.prose`) turns them into sentences; the regime map and chapter 4 read
:func:`committed_thresholds` instead of re-deriving chapter 3's thresholds.

Whether a threshold grows is decided once, by :func:`companion.stats.verdicts.growth` (see
:func:`growth`): the headline, the dense control and the well-trained arm read that one criterion.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...experiments import schema, store
from ...stats import laws, paired, verdicts
from ...stats import thresholds as thr
from ...stats.thresholds import Rule, ThresholdSeries
from .experiments import WT_COLUMNS, experiments
from .params import SCHEMA, MnistParams

#: Significance level of every paired test whose verdict the prose states in words.
ALPHA = paired.PAIRED_ALPHA
#: The dense network counts as well trained from this training accuracy at the largest N.
WELL_TRAINED = 0.98
#: "Close to the dense network" in the NTK study: training accuracy within this of the dense network's.
NTK_CLOSE = 0.05
#: A subnetwork of k >= this share of m is "a sizeable fraction of m".
NTK_SIZEABLE = 0.25
#: The quantities whose T*(N) the SGD arm reports: the dense control, the subnetwork, their difference.
QUANTITIES = ("dense", "greedy", "difference")

# The verdicts of a paired change, defined once with it (companion.stats.paired).
p_ok, sig_up, sig_down = paired.change_tested, paired.change_rises, paired.change_falls


def growth(ts: pd.DataFrame) -> verdicts.Growth:
    """How T*(N) moves: the book's one growth criterion (:func:`companion.stats.verdicts.growth`)."""
    return verdicts.growth(ts, ALPHA)


def finite(*values) -> bool:
    return all(v is not None and np.isfinite(float(v)) for v in values)


def ratio(a, b) -> float:
    """a / b, NaN when b is zero or either is missing (a threshold met at t = 0 has T* = 0)."""
    a, b = float(a), float(b)
    return a / b if np.isfinite(a) and np.isfinite(b) and b != 0 else float("nan")


def grid_ratio(steps: int, first: int, num: int) -> float:
    """The factor between neighbouring checkpoints of a geometric grid."""
    return float((steps / first) ** (1 / max(num - 2, 1)))


def threshold_frames(frame: pd.DataFrame, rule: Rule) -> dict[str, pd.DataFrame]:
    """T* of the greedy subnetwork, of the dense network and their difference per seed (n, seed,
    t_star, reached)."""
    kw = dict(rule=rule.kind, metric=rule.metric, delta=rule.delta, level=rule.level)
    greedy = thr.thresholds(frame, method="greedy", **kw)
    dense = thr.thresholds(frame, method="dense", **kw)
    diff = greedy.merge(dense[["n", "seed", "t_star"]], on=["n", "seed"], suffixes=("", "_dense"))
    diff = diff.assign(t_star=diff["t_star"] - diff["t_star_dense"])[["n", "seed", "t_star"]]
    diff["reached"] = np.isfinite(diff["t_star"])
    return {"greedy": greedy, "dense": dense, "difference": diff}


def fits(ts: pd.DataFrame, n_boot: int, label: str) -> pd.DataFrame:
    """The laws (:data:`companion.stats.laws.MODELS`) fitted to one set of thresholds (units whose T* is
    NaN left out; too few sizes give NaN rows), with the bootstrap share of LOSO wins."""
    table = laws.fit_table(ts.assign(quantity=label), n_boot=n_boot, by="quantity")
    ok = ts[np.isfinite(ts["t_star"])]
    table["loso_win_share"] = table["model"].map(laws.model_choice(ok["n"], ok["t_star"],
                                                                   n_boot=min(n_boot, 200)))
    return table


def fit_row(table: pd.DataFrame, quantity: str, model: str) -> pd.Series:
    rows = table[(table["quantity"] == quantity) & (table["model"] == model)]
    return rows.iloc[0] if len(rows) else pd.Series({"b": np.nan, "b_lo": np.nan, "b_hi": np.nan,
                                                     "fit_ok": False})


def means(ts: pd.DataFrame) -> pd.DataFrame:
    """Per size: the mean and sd of T* over the seeds that meet the rule, and the share that do."""
    g = ts.groupby("n")["t_star"]
    return pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "reached": ts.groupby("n")["reached"].mean()})


def shares(table: pd.DataFrame) -> dict:
    """{law: bootstrap share of LOSO wins} of one quantity's fit table."""
    return table.set_index("model")["loso_win_share"].to_dict()


@dataclass(frozen=True)
class Arm:
    """One arm's thresholds (``thresholds``: quantity -> n, seed, t_star, reached), their laws
    (``fits``), per-size ``means``, paired steps between neighbouring sizes (``paired``) and the
    growth verdict of the subnetwork and of the dense network (``growth``)."""

    thresholds: dict
    fits: pd.DataFrame
    means: dict
    paired: dict
    growth: dict = field(default_factory=dict)


def arm(frame: pd.DataFrame, rule: Rule, n_boot: int, quantities=QUANTITIES) -> Arm:
    th = threshold_frames(frame, rule)
    table = pd.concat([fits(th[q], n_boot, q) for q in quantities], ignore_index=True)
    return Arm(thresholds=th, fits=table, means={q: means(th[q]) for q in quantities},
               paired={q: paired.paired_steps(th[q]) for q in ("greedy", "dense")},
               growth={q: growth(th[q]) for q in ("greedy", "dense")})


@dataclass(frozen=True)
class Peak:
    """Where the subnetwork's mean T* is largest (``n_peak``, ``t_peak``; None when defined nowhere),
    the largest size at which it is defined (``last``) and the paired change from the peak to there
    (``after``; None when the peak is that size)."""

    n_peak: int | None
    t_peak: float | None
    last: int | None
    after: dict | None


def peak(ts: pd.DataFrame) -> Peak:
    g_means = ts.groupby("n")["t_star"].mean().dropna()
    if not len(g_means):
        return Peak(None, None, None, None)
    n_peak, last = int(g_means.idxmax()), int(g_means.index.max())
    after = paired.paired_change(ts, n_peak, last) if n_peak != last else None
    return Peak(n_peak, float(g_means.max()), last, after)


def last_rises(steps: pd.DataFrame) -> list[dict]:
    """The paired steps between neighbouring sizes that rise significantly (ALPHA), in order."""
    return [r for r in steps.to_dict("records") if sig_up(r)]


def crossings(train: pd.DataFrame, rule: Rule) -> pd.DataFrame:
    """How often each unit's greedy training curve crosses a fixed level (n, seed, crossings)."""
    sign = lambda g: np.sign((g[rule.metric] - rule.level) * (1 if rule.metric == "accuracy" else -1))
    curves = train[train["method"] == "greedy"].sort_values("t")
    return curves.groupby(["n", "seed"]).apply(lambda g: int((np.diff(sign(g)) != 0).sum()),
                                               include_groups=False).rename("crossings").reset_index()


def summed_table(arms: dict[str, pd.DataFrame], eps_list) -> pd.DataFrame:
    """The theorem's target (half the summed squared training loss at most eps) per optimizer, eps,
    method and size: the share of seeds that reach it, the mean T* when all do, the lowest summed loss."""
    rows = []
    for optimizer, fr in arms.items():
        for eps in eps_list:
            for mth in ("dense", "greedy"):
                ts_e = thr.summed_thresholds(fr, eps, method=mth)
                for n, g in ts_e.groupby("n"):
                    rows.append({"optimizer": optimizer, "eps": eps, "method": mth, "n": int(n),
                                 "reached": float(g["reached"].mean()),
                                 "t_star": float(g["t_star"].mean()) if g["reached"].all() else np.nan,
                                 "best_summed": float(g["best"].mean())})
    return pd.DataFrame(rows)


def summed_nmax(summed: pd.DataFrame, optimizer: str, method: str, eps: float) -> int | None:
    """The largest N at which every seed reaches the summed target, or None."""
    sub = summed[(summed["optimizer"] == optimizer) & (summed["method"] == method) & (summed["eps"] == eps)]
    full = sub[sub["reached"] == 1.0]["n"]
    return int(full.max()) if len(full) else None


def sizes_met(summed: pd.DataFrame, optimizer: str, method: str) -> dict:
    """{n: the smallest eps} for every size at which every seed meets the summed target."""
    sub = summed[(summed["optimizer"] == optimizer) & (summed["method"] == method) & (summed["reached"] == 1.0)]
    return {int(n): float(g["eps"].min()) for n, g in sub.groupby("n")}


def most_sizes_met(summed: pd.DataFrame, method: str) -> int:
    """The most sizes at which every seed meets the summed target within one arm and one eps."""
    most = 0
    for optimizer in ("sgd", "gd"):
        sub = summed[(summed["optimizer"] == optimizer) & (summed["method"] == method)]
        for _, g in sub.groupby("eps"):
            most = max(most, int((g["reached"] == 1.0).sum()))
    return most


def summed_reach(frame: pd.DataFrame, eps_list, method: str = "greedy") -> dict:
    """{eps: the largest N at which every seed of ``method`` reaches the summed target, or None}."""
    out = {}
    for eps in eps_list:
        full = thr.summed_thresholds(frame, eps, method=method).groupby("n")["reached"].all()
        full = full[full]
        out[eps] = int(full.index.max()) if len(full) else None
    return out


def heldout_pairs(sgd: pd.DataFrame, train_ts: pd.DataFrame, rule: Rule) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The subnetwork's T* on held-out accuracy next to its training T* (the same rule): a tidy frame
    (n, seed, t_star, split) and the per-seed pairs (n, seed, t_star_train, t_star_test, diff)."""
    test_ts = thr.thresholds(sgd, method="greedy", split="test", rule=rule.kind, metric=rule.metric,
                             delta=rule.delta, level=rule.level)
    frame = pd.concat([train_ts[["n", "seed", "t_star"]].assign(split="train"),
                       test_ts[["n", "seed", "t_star"]].assign(split="held-out")], ignore_index=True)
    pair = train_ts[["n", "seed", "t_star"]].merge(test_ts[["n", "seed", "t_star"]], on=["n", "seed"],
                                                   suffixes=("_train", "_test"))
    pair["diff"] = pair["t_star_test"] - pair["t_star_train"]
    return frame, pair


# --------------------------------------------------------------------------------------------------
# The NTK study and the well-trained arm


@dataclass(frozen=True)
class NtkTuning:
    """The NTK study at its tuned step: ``tuned`` (lowest final dense training loss, seed mean), the
    steps that trained (``lrs``: dense loss and accuracy per step), the last checkpoint's ``table``
    (method, k, output_scale, split: accuracy, loss, scale, k_over_m), its training rows at the last
    checkpoint over every usable step (``train``), every usable row (``every``), the ``diverged``
    markers and the step grid at k/m = 1/2 (``steps``)."""

    tuned: float
    lrs: pd.DataFrame
    table: pd.DataFrame
    train: pd.DataFrame
    every: pd.DataFrame
    diverged: pd.DataFrame
    steps: pd.DataFrame


def ntk_tuning(ntk: pd.DataFrame, p: MnistParams) -> NtkTuning:
    diverged = ntk[ntk["method"] == "diverged"]
    every = ntk[ntk["method"] != "diverged"]
    # A step that diverged in any seed is the edge of the stable range: it is reported in the step grid,
    # and tuning, the tables and the sentences use the steps that trained in every seed.
    bad = set(diverged["lr"])
    ntk = every[~every["lr"].isin(bad)] if set(every["lr"]) - bad else every
    last = ntk["t"].max()
    train = ntk[(ntk["split"] == "train") & (ntk["t"] == last)]
    dense = train[(train["method"] == "dense") & (train["output_scale"] == "none")]
    lrs = dense.groupby("lr")[["loss", "accuracy"]].mean().reset_index()
    tuned = float(lrs.loc[lrs["loss"].idxmin(), "lr"])
    at = ntk[(ntk["lr"] == tuned) & (ntk["t"] == last)]
    table = (at.groupby(["method", "k", "output_scale", "split"])[["accuracy", "loss", "scale"]].mean()
             .reset_index())
    table["k_over_m"] = table["k"] / p.width
    # The step grid at k/m = 1/2: is the best step inside it? Steps that diverged are the grid's edge.
    half = p.width // 2
    at_end = every[(every["split"] == "train") & (every["t"] == every["t"].max()) & (every["output_scale"] == "none")]
    sub = at_end[(at_end["method"] == "greedy_distinct") & (at_end["k"] == half)]
    dense_all = at_end[at_end["method"] == "dense"]
    steps = pd.DataFrame({"lr": sorted(p.ntk_lrs)})
    steps["dense_accuracy"] = steps["lr"].map(dense_all.groupby("lr")["accuracy"].mean())
    steps["half_accuracy"] = steps["lr"].map(sub.groupby("lr")["accuracy"].mean())
    steps["diverged"] = steps["lr"].map(diverged.groupby("lr").size()).fillna(0).astype(int)
    steps["seeds"] = steps["lr"].map(dense_all.groupby("lr").size()).fillna(0).astype(int) + steps["diverged"]
    return NtkTuning(tuned, lrs, table, train, every, diverged, steps)


def wt_rows(frame: pd.DataFrame | None) -> pd.DataFrame:
    """The usable rows of a well-trained frame: no diverged marker, outputs as they are."""
    if frame is None or frame.empty:
        return pd.DataFrame(columns=WT_COLUMNS)
    return frame[(frame["method"] != "diverged") & (frame["output_scale"] == "none")]


def wt_thresholds(frame: pd.DataFrame, share: float) -> pd.DataFrame:
    """T* of the greedy subnetworks per (lr, k, split, rule, n, seed): the level at ``share`` of each
    curve's own gain ('own') or of the largest N's ('largest')."""
    greedy = frame[frame["method"] == "greedy"]
    parts = []
    for rule in ("own", "largest"):
        ts = thr.gain_thresholds(greedy, share, ["lr", "k", "split"], level_from=rule)
        parts.append(ts.assign(rule=rule))
    cols = ["lr", "k", "split", "rule", "n", "seed", "level", "start", "best", "t_star", "reached"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def wt_windows(frame: pd.DataFrame, ts: pd.DataFrame, lr: float) -> pd.DataFrame:
    """The greedy subnetworks' accuracy windows on the training images at step ``lr``, per (k, n, seed):
    where the curve first reaches the one level of its k (``ts``' rule 'largest', the level every N
    shares) and where it falls below it for good (:func:`companion.stats.thresholds.accuracy_window`;
    ``close`` NaN: still open at the last checkpoint), its peak, and its accuracy at the last checkpoint."""
    cols = ["k", "n", "seed", "level", "open", "close", "peak_t", "peak", "end"]
    fixed = ts[(ts["lr"] == lr) & (ts["rule"] == "largest") & (ts["split"] == "train")]
    levels = fixed.groupby("k")["level"].first()
    curves = frame[(frame["lr"] == lr) & (frame["method"] == "greedy") & (frame["split"] == "train")]
    rows = []
    for (k, n, seed), c in curves.groupby(["k", "n", "seed"]):
        if k not in levels.index:
            continue
        c = c.sort_values("t")
        w = thr.accuracy_window(c["t"], c["accuracy"], float(levels[k]))
        rows.append({"k": int(k), "n": int(n), "seed": int(seed), "level": float(levels[k]), **w,
                     "end": float(c["accuracy"].iloc[-1])})
    return pd.DataFrame(rows, columns=cols)


def window_summary(windows: pd.DataFrame) -> pd.DataFrame:
    """Per (k, n): the seed means of the window's bounds, peak and end, and how many seeds' windows are
    open (reached) and closed within the grid. The mean closing step is over the seeds whose window
    closed."""
    if windows.empty:
        return pd.DataFrame(columns=["k", "n", "level", "open", "close", "closed", "opened", "seeds",
                                     "peak_t", "peak", "end"])
    g = windows.groupby(["k", "n"])
    out = g.agg(level=("level", "first"), open=("open", "mean"), close=("close", "mean"),
                peak_t=("peak_t", "mean"), peak=("peak", "mean"), end=("end", "mean"),
                seeds=("seed", "size")).reset_index()
    out["opened"] = g["open"].apply(lambda s: int(np.isfinite(s).sum())).to_numpy()
    out["closed"] = g["close"].apply(lambda s: int(np.isfinite(s).sum())).to_numpy()
    return out


def epochs_at(ts: pd.DataFrame, batch_size: int) -> pd.DataFrame:
    """Passes over the training set at T*: T* x batch / N per unit (the mechanism of issue 34, point 3:
    below one epoch each image has been seen at most once, so the runs at every N are one pass of SGD)."""
    out = ts.copy()
    out["images"] = out["t_star"].astype(float) * batch_size
    out["epochs"] = out["images"] / out["n"].astype(float)
    return out


# --------------------------------------------------------------------------------------------------
# Chapter 3's thresholds from the committed results (the regime map and chapter 4 read these)


def paper_params() -> MnistParams:
    """The paper preset's parameters (the committed results' settings)."""
    return schema.check(SCHEMA, {"progress": False})[0]


def committed_thresholds(p: MnistParams | None = None) -> dict[str, ThresholdSeries]:
    """Chapter 3's T*(N) of the greedy subnetwork from the committed results only (nothing computed):
    ``mf_sgd`` and ``mf_gd`` (the mean-field network under SGD and full-batch GD, the chapter's rule),
    ``mf_wt_k64`` and ``mf_wt_k256`` (the well-trained arm's lead step ``wt_lead_lr``, k = m/8 and m/2,
    one level for every N: its verdict),
    ``ntk_k64`` and ``ntk_k256`` (the well-trained arm's NTK network at k = m/8 and m/2, one level for
    every N: ``wt_share`` of the gain at the largest N). A setting whose units are not all committed has
    ``missing`` (why) and no ``ts``; ``summed``: {eps: the largest N at which every seed reaches the
    theorem's summed target, or None}."""
    p = paper_params() if p is None else p
    exps = experiments(p)
    out = {}
    for setting, key in (("mf_sgd", "sgd"), ("mf_gd", "gd")):
        frame, done, total = store.committed_frame(exps[key])
        if done < total:
            out[setting] = ThresholdSeries(setting, missing=store.not_committed(done, total), rule=p.rule)
            continue
        ts = thr.thresholds(frame, rule=p.threshold_rule, metric=p.threshold_metric, delta=p.delta,
                            level=p.level, method="greedy")
        out[setting] = ThresholdSeries(setting, ts, summed=summed_reach(frame, p.summed_eps), rule=p.rule)
    # the well-trained arm's lead step (mean field), one level for every N: the chapter's lead verdict
    frame, done, total = store.committed_frame(exps["well"])
    for k, setting in ((p.width // 8, "mf_wt_k64"), (p.width // 2, "mf_wt_k256")):
        if done < total or frame.empty or k not in set(frame["k"]) or p.wt_lead_lr not in set(frame["lr"]):
            out[setting] = ThresholdSeries(setting, missing=(
                store.not_committed(done, total) if done < total else
                f"not computed (the well-trained arm has no k = {k} subnetwork at step {p.wt_lead_lr:g})"))
            continue
        sub = wt_rows(frame)
        greedy = sub[(sub["method"] == "greedy") & (sub["k"] == k) & (sub["split"] == "train")
                     & (sub["lr"] == p.wt_lead_lr)]
        ts = thr.gain_thresholds(greedy, p.wt_share, ["lr", "k", "split"], level_from="largest")
        out[setting] = ThresholdSeries(setting, ts)
    frame, done, total = store.committed_frame(exps["well_ntk"])
    for k, setting in ((p.width // 8, "ntk_k64"), (p.width // 2, "ntk_k256")):
        if done < total or frame.empty or k not in set(frame["k"]):
            out[setting] = ThresholdSeries(setting, missing=(
                store.not_committed(done, total) if done < total else
                f"not computed (the NTK arm has no k = {k} subnetwork)"))
            continue
        sub = frame[(frame["method"] != "diverged") & (frame["output_scale"] == "none")]
        greedy = sub[(sub["method"] == "greedy") & (sub["k"] == k) & (sub["split"] == "train")]
        ts = thr.gain_thresholds(greedy, p.wt_share, ["lr", "k", "split"], level_from="largest")
        summed = summed_reach(sub[(sub["k"] == k) & (sub["method"] == "greedy")].drop(columns=["k", "lr"]),
                              p.summed_eps)
        out[setting] = ThresholdSeries(setting, ts, summed=summed)
    return out
