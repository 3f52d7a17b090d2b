"""Chapter 3's shared words: how the prose names the rule and an arm's budget, a paired change, the
coverage of a threshold and the growth verdict (:class:`companion.stats.verdicts.Growth`) in a phrase,
and the literal glue names of the quantities and arms (so that ``grep NAME`` finds the code)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ... import vocabulary
from ...stats.paired import MIN_PAIRS
from ...stats.thresholds import Rule
from ...stats.verdicts import Growth
from .findings import ALPHA, Arm, finite, p_ok, sig_up

#: How a number that cannot be computed for a setting is glued (never NaN). The prose quotes such a
#: quantity only through a sentence built next to it, which says why it is undefined.
UNDEFINED = "not defined for these settings"
n_words = vocabulary.n_words
sizes_list = vocabulary.sizes_list
is_are = vocabulary.is_are


def _b_interval(b, lo, hi) -> str:
    """A fitted slope and its bootstrap interval in words, for the fit table."""
    if not finite(b):
        return "not fitted"
    return f"{b:.3g} ({lo:.3g} to {hi:.3g})" if finite(lo, hi) else f"{b:.3g} (no interval)"


def with_b_interval(table: pd.DataFrame) -> pd.DataFrame:
    """The fit table with the slope and its interval in words (``b_interval``)."""
    table["b_interval"] = [_b_interval(*v) for v in zip(table["b"], table["b_lo"], table["b_hi"])]
    return table


@dataclass(frozen=True)
class Words:
    """How the prose names the rule and the budget of one arm."""

    reach: str      # "reaches the level" (a seed ...)
    reached: str    # "the level is reached"
    unit: str       # "SGD steps"
    short: str      # "steps"
    budget: int



def rule_words(rule: Rule) -> dict:
    """How the prose names the chapter's rule: 'For a fixed accuracy target', 'first reaches 0.80
    training accuracy', 'reaches the level', 'the level is reached'."""
    metric = rule.metric
    if rule.kind == "reaches":
        target = f"For a fixed {metric} target"
        meets = (f"first reaches {rule.level:.2f} training accuracy" if metric == "accuracy" else
                 f"first reaches a training loss of {rule.level:g}")
        return {"target": target, "meets": meets, "reach": "reaches the level", "reached": "the level is reached"}
    return {"target": f"For a tolerance of {rule.delta:g} from the curve's own best {metric}",
            "meets": f"first comes within {rule.delta:g} of its best training {metric}",
            "reach": "meets the rule", "reached": "the rule is met"}


def rule_text(rule: Rule) -> str:
    """The rule as the chapter's definition of T* states it."""
    if rule.kind == "reaches":
        return f"the first t at which the training {rule.metric} reaches {rule.level:g}"
    return f"the first t at which the training {rule.metric} is within {rule.delta:g} of its best over the grid"



def untested(change: dict, w: Words) -> str:
    """Why a paired change has no test."""
    sizes = f"both N = {n_words(change['n_from'])} and {n_words(change['n_to'])}"
    if change["seeds"] == 0:
        return f"no seed {w.reach} at {sizes}"
    if change["seeds"] == 1:
        return f"only one seed {w.reach} at {sizes}; a paired test needs {MIN_PAIRS}"
    return f"{w.reached} at {sizes} by only {change['seeds']} seeds; a paired test needs {MIN_PAIRS}"


def verdict_words(change: dict, w: Words | None = None) -> str:
    """'rises', 'falls' or 'does not change significantly' for a paired change (ALPHA), or why it
    cannot say."""
    w = w or Words("reaches the level", "the level is reached", "steps", "steps", 0)
    if change["seeds"] == 0:
        return f"is not defined ({untested(change, w)})"
    if not p_ok(change):
        return f"cannot be tested ({untested(change, w)})"
    if change["p_value"] >= ALPHA:
        return "does not change significantly"
    return "rises" if change["mean"] > 0 else "falls"


def change_stats(change: dict, w: Words) -> str:
    """'paired over 10 seeds: -5 steps, 95% interval -59 to +50', or what is missing."""
    s = change["seeds"]
    if s == 0:
        return untested(change, w)
    text = ("one seed: " if s == 1 else f"paired over {s} seeds: ") + f"{change['mean']:+.0f} {w.short}"
    if finite(change["ci_lo"], change["ci_hi"]):
        return text + f", 95% interval {change['ci_lo']:+.0f} to {change['ci_hi']:+.0f}"
    return text + (", no interval" if s == 1 else ", the same in every seed")


def coverage(ts: pd.DataFrame, w: Words) -> str:
    """'' when every seed meets the rule at every size; else which sizes fall short, in words."""
    partial, none = [], []
    for n, g in ts.groupby("n"):
        k, total = int(g["reached"].sum()), len(g)
        if k == 0:
            none.append(n)
        elif k < total:
            partial.append(f"by {k} of the {total} seeds at N = {n_words(n)}")
    if none:
        partial.append(f"by no seed at {sizes_list(none)}")
    if not partial:
        return ""
    return f"within the {w.budget:,} {w.short} {w.reached} " + " and ".join(partial)


def with_coverage(text: str, ts: pd.DataFrame, w: Words) -> str:
    cov = coverage(ts, w)
    return f"{text} ({cov})" if cov else text


def tstar_at(ts: pd.DataFrame, n: int, w: Words, note: bool = True) -> str:
    """'after 185 SGD steps at N = 500' (the mean over the seeds that get there; ``note``: say how many
    do when not all)."""
    g = ts[ts["n"] == n]
    k, total = int(g["reached"].sum()), len(g)
    if k == 0:
        return (f"at N = {n_words(n)} in none of the {total} seeds within the {w.budget:,} {w.short}" if note else
                f"at N = {n_words(n)} in no seed")
    text = f"after {g['t_star'].mean():.0f} {w.unit} at N = {n_words(n)}"
    return text if k == total or not note else text + f" (the mean of the {k} of {total} seeds that get there)"


def range_words(ts: pd.DataFrame, a: int, b: int, w: Words, why: bool = True) -> str:
    """'150 to 335 steps', the mean T* at sizes a and b, or which end is undefined (``why``: and why)."""
    means = ts.groupby("n")["t_star"].mean()
    ma, mb = means.get(a, np.nan), means.get(b, np.nan)
    if finite(ma, mb):
        return f"{ma:.0f} to {mb:.0f} {w.short}"
    reason = f": no seed {w.reach} there" if why else ""
    if not finite(ma) and not finite(mb):
        return f"not defined at N = {n_words(a)} or {n_words(b)}{reason}"
    ends = [f"{m:.0f} {w.short} at N = {n_words(n)}" if finite(m) else f"not defined at N = {n_words(n)}{reason}"
            for n, m in ((a, ma), (b, mb))]
    return f"{ends[0]} and {ends[1]}"


def growth_words(g: Growth, w: Words) -> str:
    """A growth verdict (:func:`companion.stats.verdicts.growth`) in words."""
    if not g.defined:
        return f"cannot be traced: {w.reached} at {'no size' if not len(g.sizes) else 'one size only'}"
    return {"grows": lambda: f"grows up to N = {n_words(g.last)}",
            "grows_then_falls": lambda: "grows, then falls",
            "grows_then_stops": lambda: "grows, then stops",
            "grows_tail_untested": lambda: (f"grows up to N = {n_words(g.n0)}; whether it then stops cannot be "
                                            f"tested: {untested(g.tail, w)}"),
            "falls": lambda: "falls",
            "flat": lambda: "does not change significantly",
            "untestable": lambda: f"cannot be tested for a change: {untested(g.rise, w)}"}[g.verdict]()

def shares_text(shares: dict) -> str:
    """Which of the laws the data prefer (:func:`companion.vocabulary.law_shares_words`)."""
    return vocabulary.law_shares_words(shares, "the rule is met at fewer than three sizes")


def ceiling_sentence(row: pd.Series, means: pd.Series, largest: int) -> str:
    """The saturating law's ceiling a (with its bootstrap interval) against the mean T* measured at the
    largest size; in words when the fit failed or no interval exists."""
    if not row.get("fit_ok", False):
        return ("the saturating law a - b N^(-c) could not be fitted (it needs the rule met at three sizes "
                "at least)")
    measured = means.get(largest, np.nan)
    text = f"the saturating law a - b N^(-c) levels off at a = {row['a']:,.0f} steps"
    if finite(row.get("a_lo")) and finite(row.get("a_hi")):
        text += f" (95% interval {row['a_lo']:,.0f} to {row['a_hi']:,.0f}), with c = {row['c']:.2f}"
    else:
        text += f" (no interval: some size has fewer than two seeds that meet the rule), with c = {row['c']:.2f}"
    if finite(measured):
        text += f"; {measured:,.0f} steps are measured at N = {n_words(largest)}"
    return text


def laws_text(fits: pd.DataFrame) -> str:
    return shares_text(fits.set_index("model")["loso_win_share"].to_dict())


def increments(steps: pd.DataFrame, w: Words) -> str:
    """'+61%, +25%, ...': the relative change of the mean T* from each size to the next."""
    if not len(steps):
        return "no step (one size only)"
    parts = [f"{v:+.0%}" if finite(v) else "not defined" for v in steps["rel_mean"]]
    why = f"(no seed {w.reach} at both sizes, or T* is 0 at the smaller)"
    if all(v == "not defined" for v in parts):
        return f"not defined at any step {why}"
    return ", ".join(parts) + (f" (not defined: {why[1:-1]})" if "not defined" in parts else "")


def step_words(row: dict, w: Words) -> str:
    """'from N = 4,000 to 8,000 it changes by +19 iterations (95% interval -60 to +99, p = 0.50)'."""
    head = f"from N = {n_words(row['n_from'])} to {n_words(row['n_to'])}"
    if row["seeds"] == 0:
        return f"{head} its change is not defined ({untested(row, w)})"
    text = f"{head} it changes by {row['mean']:+.0f} {w.short}"
    if p_ok(row):
        return text + f" (95% interval {row['ci_lo']:+.0f} to {row['ci_hi']:+.0f}, p = {row['p_value']:.2f})"
    return text + f" ({untested(row, w)})"


def count_steps(x: float, unit: str = "steps") -> str:
    """'12 steps', '1 step'."""
    return f"{x:.0f} {unit[:-1] if round(x) == 1 else unit}"


def rise_sentence(steps: pd.DataFrame, who: str, w: Words) -> tuple[str, str]:
    """The last significant rise between neighbouring sizes and what follows it, as a sentence about
    ``who`` and as a short parenthesis."""
    if not len(steps):
        return ("There is one size only, so no step between sizes", "one size only")
    rows = steps.to_dict("records")
    rising = [r for r in rows if sig_up(r)]
    if rising:
        last = rising[-1]
        head = (f"{who[0].upper() + who[1:]} threshold last rises significantly (5% level) from "
                f"N = {n_words(last['n_from'])} to {n_words(last['n_to'])}")
        short = f"last significant rise from N = {n_words(last['n_from'])} to {n_words(last['n_to'])}"
        flat = [r for r in rows if r["n_from"] >= last["n_to"]]
        if not flat:
            return head + ", the last step measured", short + ", the last step measured"
        sizes = [abs(r["mean"]) for r in flat if finite(r["mean"])]
        if not sizes:
            return (head + f"; the {len(flat)} steps after it are not defined (no seed {w.reach} at both sizes)",
                    short + ", then steps that are not defined")
        k = sum(p_ok(r) and r["p_value"] < ALPHA for r in flat)
        return (head + f"; the {len(flat)} steps after it change the mean by at most "
                f"{count_steps(max(sizes), w.short)}, and {k} of them {is_are(k)} significant",
                short + f", then at most {count_steps(max(sizes), w.short)}")
    sizes = [abs(r["mean"]) for r in rows if finite(r["mean"])]
    if not any(p_ok(r) for r in rows):
        reason = untested(rows[0], w)
        return (f"No step between neighbouring sizes can be tested ({reason})", f"no step can be tested ({reason})")
    k = sum(p_ok(r) and r["p_value"] < ALPHA for r in rows)
    falls = "none of them is significant" if k == 0 else f"{k} of them {is_are(k)} a significant fall"
    return (f"No step between neighbouring sizes rises significantly (5% level); the mean changes are at "
            f"most {count_steps(max(sizes), w.short)} in size, and {falls}",
            f"no significant rise; changes of at most {count_steps(max(sizes), w.short)}")



@dataclass(frozen=True)
class Context:
    """What every section of the prose reads: the parameters, the rule and its words, the frames and the
    SGD and GD arms' findings."""

    p: object
    rule: Rule
    rw: dict
    w: Words
    wg: Words
    sgd: pd.DataFrame
    gd: pd.DataFrame
    train: pd.DataFrame
    smallest: int
    largest: int
    last_t: int
    arm: Arm
    gd_arm: Arm
