"""What one unit of chapter 4 costs: the networks' sizes and FLOPs, the FLOP-matched step counts of
the controls, the relative cost of a unit and its estimated wall time (each arm's cost model is in its
specification, :mod:`.arms`)."""
from __future__ import annotations

import functools
import json

from ...prune.subnetwork import parameter_count
from .arms import ARMS, kept_widths, methods_at


def forward_flops(model, arm: str) -> int:
    """Forward FLOPs per image of a network of ``arm``: 2 x multiply-accumulates of the linear maps and
    convolutions."""
    return int(ARMS[arm].flops(model))


@functools.lru_cache(maxsize=64)
def _sizes(config_key: str) -> dict:
    """FLOPs and parameters of the dense network and of the small network at each ratio."""
    config = json.loads(config_key)
    spec = ARMS[config["arm"]]
    dense = spec.dense(config, 0)
    out = {"dense": (forward_flops(dense, spec.key), parameter_count(dense))}
    for r in config["ratios"]:
        small = spec.small(config, dense, kept_widths(config, r), 0)
        out[r] = (forward_flops(small, spec.key), parameter_count(small))
    return out


def network_sizes(config: dict) -> dict:
    """{"dense": (flops, params), ratio: (flops, params)}."""
    keys = ("arm", "widths", "blocks_per_stage", "ratios", "head", "init", "dtype")
    return _sizes(json.dumps({k: config[k] for k in keys}, sort_keys=True))



def dense_cost_steps(t: int, budget: int, small_flops: int, dense_flops: int) -> int:
    """Dense steps that cost the training FLOPs of the pipeline (t dense steps, then ``budget`` steps
    of the small network): t + budget x small / dense, rounded."""
    return int(t + round(budget * small_flops / dense_flops))


def scratch_flops_steps(t: int, budget: int, small_flops: int, dense_flops: int) -> int:
    """Steps of the small network that the pipeline's training FLOPs buy: t x dense / small + budget,
    rounded."""
    return int(round(t * dense_flops / small_flops) + budget)


def unit_cost(config: dict) -> float:
    sizes = network_sizes(config)
    dense_flops = sizes["dense"][0]
    grid, budgets = config["checkpoints"], config["budgets"]
    f_long, batch = max(budgets), config["batch_size"]
    flops = dense_flops * (max(grid) + f_long)
    n_eval = config["n_heldout"] + config["n_test"] + min(config["n"], config["score_n"])
    evals = 0.0
    for r in config["ratios"]:
        small = sizes[r][0]
        n_methods = len(methods_at(config, r))
        flops += small * len(grid) * n_methods * f_long
        flops += small * scratch_flops_steps(max(grid), f_long, small, dense_flops)
        evals += small * n_eval * len(grid) * (n_methods * (len(budgets) + 1) + 2 * len(budgets))
    spec = ARMS[config["arm"]]
    score = config["n"] if spec.greedy_on_training_set else min(config["n"], config["score_n"])
    greedy = len(grid) * score * dense_flops * spec.greedy_cost_factor
    return float(3 * batch * flops + evals + greedy)


def training_steps(config: dict) -> int:
    """SGD steps of one unit, every run counted: the dense run (to T_full or the last FLOP-matched
    step), one fine-tuning run of F_long per checkpoint, method and ratio, and one scratch run per
    ratio."""
    sizes = network_sizes(config)
    dense = sizes["dense"][0]
    grid, budgets, ratios = config["checkpoints"], config["budgets"], config["ratios"]
    t_full, f_long = max(grid), max(budgets)
    steps = max([t_full] + [dense_cost_steps(t, b, sizes[r][0], dense)
                            for t in grid for r in ratios for b in budgets])
    for r in ratios:
        steps += len(grid) * len(methods_at(config, r)) * f_long
        steps += max(t_full + f_long, scratch_flops_steps(t_full, f_long, sizes[r][0], dense))
    return int(steps)


def evaluations(config: dict) -> int:
    """Networks evaluated by one unit (each on the held-out, test and scoring images), at most."""
    grid, budgets, ratios = config["checkpoints"], config["budgets"], config["ratios"]
    per_t = sum(len(methods_at(config, r)) for r in ratios) * (len(budgets) + 1)
    return len(grid) * (1 + per_t + len(ratios) * (len(budgets) + 1)) + len(ratios) * len(grid) * len(budgets) * 2


def greedy_flops(config: dict) -> float:
    """FLOPs of the exact layer-wise greedy of one unit (the deep arms; an arm whose greedy is a closed
    form is costed in :func:`unit_cost` and has no greedy rate): per checkpoint, layer and ratio, k picks
    x m candidates x scoring images x the FLOPs of the layers after it (taken as a share
    (L - l) / (L + 1) of the dense network's)."""
    if not ARMS[config["arm"]].seconds_per[3]:
        return 0.0
    dense = network_sizes(config)["dense"][0]
    rows = min(config["n"], config["score_n"])
    widths = ARMS[config["arm"]].unit_widths(config)
    layers = len(widths)
    total = 0.0
    for r in config["ratios"]:
        kept = kept_widths(config, r)
        total += sum(k * m * (layers - l) / (layers + 1) for l, (k, m) in enumerate(zip(kept, widths)))
    return float(len(config["checkpoints"]) * rows * dense * total)


def unit_seconds(config: dict) -> float:
    """The estimated wall time (seconds) of one unit from its own configuration (steps, widths,
    evaluations, greedy), for the cost announcement of a run. Each arm's ``seconds_per`` (its
    specification): seconds on the reference machine (the 2-core CPU of the committed results, one
    thread per unit) per SGD step (the fixed cost of a step of these small networks), per evaluation
    (these two for a network of the arm's ``paper_depth``), per unit of :func:`unit_cost` (training and
    evaluation FLOPs) and per FLOP of the layer-wise greedy. Fitted (by hand, rounded) to units timed on
    that machine: the committed paper units (two-layer about 50 s, MLP 155 s, CNN 150 s), the quick
    preset's (1-3 s), a deeper MLP (128-128-128, 17 s), a three-stage CNN (4, 8, 16: 27 s), a wide MLP
    (1024-1024: 507 s, its greedy) and wide networks (two-layer width 2,048: 16 s; CNN 32, 64: 73 s);
    each within a factor of 2.5 of its measured time (most within 1.4)."""
    spec = ARMS[config["arm"]]
    step, evaluation, flop, greedy = spec.seconds_per
    # the fixed costs of a step and of an evaluation grow with the layers run (fitted on paper_depth)
    depth = len(config["widths"]) / spec.paper_depth
    return (depth * (step * training_steps(config) + evaluation * evaluations(config))
            + flop * unit_cost(config) + greedy * greedy_flops(config))
