"""Chapter 4's pruners: one function per selection method, each choosing the subnetwork of one
network at one checkpoint and kept fraction. An arm specification (:mod:`.arms`) names the pruners it
runs; nothing here knows an arm.

Every pruner takes a :class:`Target` and returns a :class:`Pruned`: the picks per unit layer (the
two-layer network: one list) and the loss the pruner scored them at (None where it scores none).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from ...data import draw_seed
from ...prune.greedy import greedy_forward_selection
from ...prune.layerwise import layerwise_greedy
from ...prune.subnetwork import (largest_norm_units, magnitude_selection, materialise, random_selection,
                                 random_units)


@dataclass(frozen=True)
class Pruned:
    """A subnetwork chosen at one checkpoint: its picks per unit layer (the two-layer network: one
    list) and the loss the pruner scored it at (None where the pruner scores no loss)."""

    picks: list
    scored_loss: float | None


@dataclass(frozen=True)
class Target:
    """What a pruner chooses from: the unit's configuration, the network at a checkpoint, the scoring
    subset and the whole training subset, the kept widths at this ratio and at the largest ratio, the
    indices of the checkpoint and of the ratio (seeds), and a cache shared by the ratios of one
    checkpoint."""

    config: dict
    net: object
    score: object
    train: object
    widths: list
    widest: list
    checkpoint_index: int
    ratio_index: int
    cache: dict | None

    @property
    def seed(self) -> int:
        """The seed of a random draw: one per unit, checkpoint and ratio."""
        return draw_seed(self.config["seed"], self.checkpoint_index, self.ratio_index)

    def labels(self):
        """The scoring subset's targets in the arm's loss: class labels (cross-entropy) or one-hot."""
        return self.score.labels if self.config["loss"] == "ce" else self.score.targets


# --------------------------------------------------------------------------------------------------
# The two-layer network (one unit layer, closed forms)


def closed_form_greedy(target: Target) -> Pruned:
    """Chapter 3's greedy on the whole training subset, in float64; without repeats its first k picks
    are the greedy choice of size k, so one run at the largest k serves every ratio."""
    k, cache = target.widths[0], target.cache
    if cache is None or "closed_form" not in cache:
        hidden, out_w, _ = target.net.neurons(target.train.x)
        sel = greedy_forward_selection(hidden.double(), out_w.double(), target.train.targets.double(),
                                       target.widest[0], allow_repeats=False, gram=True)
        if cache is not None:
            cache["closed_form"] = sel
    else:
        sel = cache["closed_form"]
    return Pruned(sel.picks[:k], sel.losses[k - 1])


def random_neurons(target: Target) -> Pruned:
    return Pruned(random_selection(target.net.m, target.widths[0], seed=target.seed), None)


def largest_norm_neurons(target: Target) -> Pruned:
    net = target.net
    return Pruned(magnitude_selection(net.w.double(), net.out_weights().double(), target.widths[0]), None)


# --------------------------------------------------------------------------------------------------
# Deep networks (layer-wise)


def layerwise_exact(target: Target) -> Pruned:
    """The exact layer-wise greedy (whole-network loss on the scoring set, layers input to output).
    Without repeats the first k picks of a layer are the greedy choice of size k, so the first layer
    is selected once, at the largest ratio, and cut for the smaller ones; each later layer is selected
    on the network with the layers before it pruned (materialised: the same function)."""
    net, x, y, cache = target.net, target.score.x, target.labels(), target.cache
    loss = target.config["loss"]
    widths = target.widths
    layers = len(widths)
    key = ("layer0", tuple(net.widths))
    if cache is not None and key in cache:
        first = cache[key]
    else:
        first = layerwise_greedy(net, x, y, [target.widest[0]] + [None] * (layers - 1), loss=loss)
        if cache is not None:
            cache[key] = first
    picks = [first.picks[0][:widths[0]]]
    scored = first.losses[0][widths[0] - 1]
    for layer in range(1, layers):
        pruned = materialise(net, picks + [None] * (layers - layer))
        sel = layerwise_greedy(pruned, x, y, [None] * layer + [widths[layer]] + [None] * (layers - layer - 1),
                               loss=loss)
        picks.append(sel.picks[layer])
        scored = sel.losses[layer][-1]
    return Pruned(picks, scored)


def layerwise_sampled(target: Target) -> Pruned:
    """Ye et al.'s sampled variant: random candidates scored on a fresh mini-batch per step."""
    config, score = target.config, target.score
    sel = layerwise_greedy(target.net, score.x, target.labels(), target.widths, loss=config["loss"],
                           candidates=config["sampled_candidates"],
                           batch_size=min(config["sampled_batch"], score.x.shape[0]),
                           seed=draw_seed(config["seed"], target.checkpoint_index, target.ratio_index, 1))
    return Pruned(sel.picks, None)  # scored on mini-batches: no loss of the whole set


def layerwise_local(target: Target) -> Pruned:
    """The layer-local closed form (each layer's own output reconstructed, squared loss)."""
    sel = layerwise_greedy(target.net, target.score.x, None, target.widths, loss="mse", criterion="local")
    return Pruned(sel.picks, None)


def random_units_of(target: Target) -> Pruned:
    return Pruned(random_units(target.net, target.widths, seed=target.seed), None)


def largest_norm_units_of(target: Target) -> Pruned:
    # scores in float64 (as the two-layer arm's): a float32 near-tie would flip with the kernels
    return Pruned(largest_norm_units(copy.deepcopy(target.net).double(), target.widths), None)
