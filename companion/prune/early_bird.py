"""The early-bird stopping signal (You et al., ICLR 2020, *Drawing early-bird tickets*, Sec. 4): stop
pre-training when the pruning mask stops changing.

You et al. prune a channel mask at every epoch and stop when the normalised Hamming distance between
consecutive masks stays below epsilon (0.1) over a window of epochs (5). Here the masks are the
greedy selections of consecutive pre-training checkpoints: :func:`mask_distance` is the share of kept
units of one selection that the other does not keep (per prunable layer, averaged over the layers),
and :func:`settle_time` is the first checkpoint at which the last ``window`` consecutive distances are
all below ``epsilon``. The rule is causal: it reads only checkpoints up to the one it stops at, so a
practitioner can use it without knowing T_full.
"""
from __future__ import annotations

import math

import numpy as np

from .. import validate

#: You et al.'s threshold on the mask distance and their window (in checkpoints here, epochs there).
EPSILON = 0.1
WINDOW = 3


def _layers(picks) -> list:
    """A selection as a list of layers of picks (the two-layer network's one list of neurons is one
    layer)."""
    picks = list(picks)
    if picks and not isinstance(picks[0], (list, tuple, np.ndarray)):
        return [picks]
    return picks


def mask_distance(a, b) -> float:
    """The normalised Hamming distance of two selections of the same widths: per prunable layer, the
    share of one selection's kept units that the other does not keep (|A \\ B| / |A|, symmetric when
    both keep as many), averaged over the layers. 0: the same subnetwork; 1: disjoint."""
    la, lb = _layers(a), _layers(b)
    if len(la) != len(lb) or not la:
        raise validate.ParameterError(f"parameters 'a' and 'b' must select from the same layers: {len(la)} "
                                      f"and {len(lb)} layers")
    out = []
    for i, (x, y) in enumerate(zip(la, lb)):
        x, y = {int(v) for v in x}, {int(v) for v in y}
        if len(x) != len(y) or not x:
            raise validate.ParameterError(f"layer {i} keeps {len(x)} and {len(y)} units: the selections must "
                                          "keep the same positive number")
        out.append(len(x - y) / len(x))
    return float(np.mean(out))


def distances(selections) -> np.ndarray:
    """The distance of every selection from the one before it (NaN for the first)."""
    sel = list(selections)
    return np.array([math.nan] + [mask_distance(p, q) for p, q in zip(sel, sel[1:])], dtype=float)


def settle_time(t, dist, epsilon: float = EPSILON, window: int = WINDOW) -> float:
    """The first checkpoint t at which the last ``window`` distances (each checkpoint's from the one
    before) are all below ``epsilon``; NaN if the run never settles. ``dist[0]`` (the first checkpoint
    has no predecessor) is ignored."""
    epsilon = validate.real("epsilon", epsilon, low=0.0, high=1.0, low_open=True)
    window = validate.integer("window", window, low=1)
    t = np.asarray(t, dtype=float)
    d = np.asarray(dist, dtype=float)
    if t.shape != d.shape:
        raise validate.ParameterError(f"parameters 't' and 'dist' must have the same length: {len(t)} and {len(d)}")
    if len(t) > 1 and np.any(np.diff(t) <= 0):
        raise validate.ParameterError("parameter 't' must be increasing")
    below = np.isfinite(d) & (d < epsilon)
    below[:1] = False
    run = 0
    for i, ok in enumerate(below):
        run = run + 1 if ok else 0
        if run >= window:
            return float(t[i])
    return math.nan
