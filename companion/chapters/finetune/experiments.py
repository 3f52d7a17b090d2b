"""Chapter 4's compute (how much pre-training is enough in practice): pre-train -> prune -> fine-tune
on MNIST.

One engine experiment per registered arm (:class:`FinetuneArm`); one *unit* is one (N, seed). The
book's three arms (a two-layer network, a deep MLP and a residual CNN) and their pruners are specified
in :mod:`.arms`; nothing here knows an arm by name.

A unit pre-trains the dense network once, recording
it on a geometric grid of steps t (0 included) up to T_full; at every t it prunes, materialises the
subnetwork as a small dense network (:func:`companion.prune.subnetwork.materialise`) and fine-tunes it
for F_long steps at the arm's constant fine-tuning step (a fresh optimiser), recorded at every budget
(the short budget is the prefix of the long run); the scratch controls train at the same fine-tuning
step (a control at another step would measure the step).
The fine-tuning batches are the same for every method at one checkpoint
(a paired comparison). Controls: the small architecture trained from a fresh initialisation
(``scratch``: t + F steps; ``scratch_flops``: as many steps as the pipeline's training FLOPs buy), and
the dense network at the pipeline's training FLOPs (``dense_cost``). Tidy frame, one per arm:

    arm, n, seed, t, method, ratio, budget, split, loss, accuracy, steps, train_flops, params, flops

(``split``: ``heldout``, images of the training pool outside the seed's ``heldout_from``-image subset,
the same for every N; ``test``, the test set; ``train``, a seeded subset of ``score_n`` training
images, the scoring set of the layer-wise greedy. ``train_flops`` = 3 x forward FLOPs per image x
images seen, pre-training plus fine-tuning; pruning is not counted.)

Preprocessing: pixels in [0, 1] centred on the whole training pool's mean image; the two-layer arm
also scales every image to unit norm (chapter 3), the MLP and the CNN do not (a practitioner's input:
measured, with unit-norm inputs the CNN does not move from chance in 4,096 steps at step 0.05).
Training in float32; the two-layer greedy in float64 (as chapter 3); the layer-wise greedy in float32.

The paper preset's steps and lengths were chosen by probes (``scripts/probe_ch4.py`` reruns them) of the
dense network at N = 16,000 (held-out accuracy on the 5,000 pool images, batch 128; the criterion: a
change of less than delta = 0.5 pp per doubling of training):
- two-layer (mean-field, width 512): chapter 3's base step 0.1 gains 2.6 / 2.3 / 1.8 pp per doubling
  from 1,024 to 8,192 steps (87.7% to 94.4%); base 1.6 (chapter 3's well-trained arm) has 96.2% at 2,048
  and 96.8% at 4,096 (+0.5); base 3.2 has 96.3% at 1,024, 96.5% at 2,048 and 96.7% at 4,096 (+0.2 pp per
  doubling), so T_full = 2,048 at base 3.2 (6.4 oscillates: 95.8% / 95.0% / 96.0% at 2,048 / 4,096 /
  8,192);
- MLP (784-256-256-10, step 0.05, momentum 0.9; 0.01 and 0.02 are slower, 0.1 and 0.2 no faster): 95.3%
  at 512 steps, 96.0% at 1,024, 96.3% at 2,048 and 4,096, so T_full = 2,048;
- CNN: with PyTorch's default initialisation and average pooling it sits near chance for hundreds of
  steps and, at step 0.1, never learns in 3 of 9 runs (the previous version of this chapter); with He
  initialisation and a flattened head at step 0.05 it has 92.9% at 64 steps, 97.1% at 512, 97.6% at
  1,024 and 97.3% at 2,048 (seed 2; at N = 1,000 it is flat from 256 steps), so T_full = 1,024.
The long budget F_long is the question of fine-tuning: small networks trained from scratch (a proxy of a
subnetwork pruned at t = 0) gain, per doubling at 1,024 -> 2,048 steps, 0.4-0.5 pp (MLP 64-64 and
128-128), 0.7 pp (two-layer width 64 at base 3.2, flat only from 4,096) and 1.3 pp (the CNN with half
its inner channels). The MLP's F_long is 2,048; the two-layer's and the CNN's (256 steps) are set by the
60-minute budget, and the chapter measures and says how far from converged they are.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ... import validate
from ...data import Dataset, draw_seed, mnist
from ...experiments import engine
from ...metrics import evaluate
from ...pretrain import model_at
from ...runtime import resolve_device
from ...train import SGDConfig, checkpoint_grid, train
from . import arms as _arms
from .arms import ARMS, kept_widths, methods_at
from .cost import dense_cost_steps, network_sizes, scratch_flops_steps, unit_cost, unit_seconds
from .selection import Pruned, Target

#: The controls run in every arm besides its pruners.
CONTROLS = ("dense", "dense_cost", "scratch", "scratch_flops")
METHODS = ("dense", "dense_cost", "greedy", "greedy_sampled", "greedy_local", "random", "magnitude",
           "scratch", "scratch_flops")
SPLITS = ("heldout", "test", "train")
FRAME_COLUMNS = ["arm", "n", "seed", "t", "method", "ratio", "budget", "split", "loss", "accuracy",
                 "steps", "train_flops", "params", "flops"]
#: Images per forward pass when evaluating (measured on the 2-core CPU: 0.14 s for 4,000 images through
#: the CNN in chunks of 512, 0.48 s in one chunk; the MLPs are the same either way).
EVAL_CHUNK = 512
CENTER = "pool"


@dataclass(frozen=True)
class FinetuneArm(engine.Experiment):
    """One arm of chapter 4 (everything its results depend on; run options are not here)."""

    arm: str
    sizes: tuple
    seeds: tuple
    widths: tuple            # two-layer: (m,); MLP: hidden widths; CNN: stage channels
    blocks_per_stage: int    # CNN only (0 otherwise)
    ratios: tuple
    lr: float                # pre-training
    finetune_lr: float       # fine-tuning a pruned subnetwork, and the scratch controls
    momentum: float
    batch_size: int
    steps: int               # T_full
    num_checkpoints: int
    first_checkpoint: int
    budgets: tuple
    score_n: int
    sampled_candidates: int  # MLP only
    sampled_batch: int       # MLP only
    n_test: int
    n_heldout: int
    heldout_from: int
    source: str
    head: str = ""           # CNN only: "flatten" or "pool"
    init: str = ""           # CNN only: "he" or "pytorch"
    dtype: str = "float32"

    name = "ch4"
    # float32 training of thousands of steps, then a fine-tuning run per subnetwork: a last-bit change
    # (another BLAS kernel or thread count) moves an SGD trajectory a little and can flip a float32 pick
    # at a near-tie, which changes that subnetwork and its fine-tuned numbers. Measured (the paper
    # architectures at N = 500 with a quarter of the steps, an eighth for the CNN; default kernels on 2
    # threads against baseline ATen kernels + MKL AVX2 on 1 thread): the two-layer arm drifts by at
    # most 1.2e-5 relative in loss and 2e-4 in accuracy; the CNN by 1e-3 in loss and 0.0044 in accuracy;
    # the MLP by 6e-4 in loss and 0.008 in accuracy, except the held-out cross-entropy of an overfit
    # subnetwork (N = 500, loss near 4): up to 0.37 on 5 of 810 rows. Allowed: rtol 1e-2 and 0.01
    # absolute (one percentage point of accuracy, 0.01 in loss), and 5% of a unit's rows beyond that (a
    # flipped pick); the integer columns (steps, FLOPs, parameters) never drift. A code change (another
    # step, loss, pick or budget) moves most rows by far more.
    #
    # The CNN arm (He initialisation, no normalisation, momentum 0.9, held-out cross-entropy of
    # networks that overfit at N = 1,000): its convolutions' summation order changes with the thread
    # count, and the run amplifies it. Measured on the committed cheapest unit (computed in a 1-thread
    # worker): recomputed on 1 thread it is bit-identical; on 2 threads 64% of accuracies differ, by at
    # most 0.016 (all within rtol / atol 1e-2), and 96% of losses, by up to 19% of the column's scale:
    # 107 of 345 rows beyond rtol 1e-2, 17 beyond rtol 0.1, 6 (1.7%) beyond rtol 0.2. Allowed: rtol
    # 0.2 for the loss only, and 5% of rows beyond. A code change (another step) moves most accuracies
    # by far more.
    # These are each arm's ``tolerance`` (:mod:`.arms`).
    @property
    def tolerance(self) -> dict:
        return dict(ARMS[self.arm].tolerance)

    @property
    def checkpoints(self) -> list[int]:
        return checkpoint_grid(self.steps, self.num_checkpoints - 1, self.first_checkpoint)

    @property
    def spec(self) -> _arms.ArmSpec:
        return ARMS[self.arm]

    @property
    def methods(self) -> tuple:
        return self.spec.methods

    @classmethod
    def of(cls, p, key: str) -> "FinetuneArm":
        """Arm ``key``'s experiment for parameters ``p``: its own fields from the parameters its
        specification reads, the shared ones from ``p``."""
        return cls(arm=_arms.spec(key).key, **ARMS[key].settings(p), batch_size=p.batch_size,
                   score_n=p.score_n, n_test=p.n_test, n_heldout=p.n_heldout, heldout_from=p.heldout_from,
                   source=p.source)

    def units(self):
        return [(n, s) for n in self.sizes for s in self.seeds]

    def unit_label(self, unit):
        return "ft-{}-n{}-s{}".format(self.arm.replace("_", ""), *unit)

    def unit_config(self, unit) -> dict:
        n, seed = unit
        return {"experiment": "ch4_finetune", "arm": self.arm, "n": n, "seed": seed,
                "widths": list(self.widths), "blocks_per_stage": self.blocks_per_stage,
                "parameterization": self.spec.parameterization,
                "loss": self.spec.loss, "reduction": "mean", "optimizer": "sgd",
                "lr": self.lr, "finetune_lr": self.finetune_lr, "lr_scaled_by_width": self.spec.lr_scaled_by_width,
                "momentum": self.momentum,
                "schedule": "constant", "batch_size": self.batch_size, "sgd_batches": "epoch_stream",
                "ratios": list(self.ratios), "methods": list(self.methods),
                "checkpoints": self.checkpoints, "budgets": list(self.budgets),
                "score_n": self.score_n, "sampled_candidates": self.sampled_candidates,
                "sampled_batch": self.sampled_batch, "greedy_repeats": False,
                "n_test": self.n_test, "n_heldout": self.n_heldout, "heldout_from": self.heldout_from,
                "source": self.source, "center": CENTER, "unit_norm": self.spec.unit_norm,
                "variants_ratio": min(self.ratios) if self.spec.variants else None,
                "head": self.head, "init": self.init, "dtype": self.dtype} | self._scratch_step()

    def _scratch_step(self) -> dict:
        """The scratch controls train at the fine-tuning step, as the pruned subnetworks they are
        compared with (a control at another step measures the step: at the pre-training step 3.2 the
        two-layer scratch network was 1.1-1.4 pp below a randomly pruned one at t = 0). Named in the
        configuration only where it differs from the pre-training step, so the units of an arm whose
        two steps are equal keep their names (their scratch runs are the same)."""
        return {"scratch_lr": self.finetune_lr} if self.finetune_lr != self.lr else {}

    def cost(self, unit):
        """Relative cost: forward FLOPs x 3 of every training step (dense run, fine-tuning runs,
        scratch runs), plus the greedy's scoring and the evaluations (a rough, monotone guide)."""
        return unit_cost(self.unit_config(unit))

    def seconds(self, unit):
        """Estimated from the unit's own configuration (:func:`unit_seconds`), not from the committed
        unit of the same name: a quick or a wider setting costs what its steps and widths cost."""
        return unit_seconds(self.unit_config(unit))

    def compute(self, unit, device):
        return compute_unit(self.unit_config(unit), str(device))


# --------------------------------------------------------------------------------------------------
# One unit


def _data(config: dict, device):
    """(train, heldout, test, scoring subset) of a unit, in the training dtype on ``device``."""

    dtype = getattr(torch, config["dtype"])
    split = mnist(config["n"], n_test=config["n_test"], seed=config["seed"], source=config["source"],
                  center=config["center"], unit_norm=config["unit_norm"], n_heldout=config["n_heldout"],
                  heldout_from=config["heldout_from"])
    train = split.train.to(device, dtype)
    rows = scoring_rows(config["n"], config["score_n"], config["seed"])
    score = train if rows is None else _subset(train, rows)
    return train, split.heldout.to(device, dtype), split.test.to(device, dtype), score


def _subset(data, rows):

    idx = torch.as_tensor(rows, dtype=torch.long, device=data.x.device)
    return Dataset(data.x[idx], data.labels[idx], data.targets[idx], data.source)


def scoring_rows(n: int, score_n: int, seed: int):
    """The seeded subset of ``score_n`` of the n training images (sorted), None when n <= score_n."""
    if n <= score_n:
        return None
    return np.sort(np.random.default_rng([seed, 0x5C0]).permutation(n)[:score_n])


def _sgd(config: dict, seed: int, device: str, lr: float | None = None):

    return SGDConfig(lr=config["lr"] if lr is None else lr, batch_size=config["batch_size"],
                     loss=config["loss"], momentum=config["momentum"], schedule="constant", seed=seed,
                     reduction=config["reduction"], device=device)


def _at(model, state):

    return model_at(model, state)


@torch.no_grad()
def _evaluate(model, sets: dict, loss: str, device) -> list[dict]:

    model = model.to(device)
    # chunks of 512 images: the CNN's convolutions run 3x faster than on 8,192 at once (caches)
    return [{"split": name, **evaluate(model, d, loss, chunk=EVAL_CHUNK)} for name, d in sets.items()]


@torch.no_grad()
def select(config: dict, net, score, train, ratio: float, method: str, checkpoint_index: int,
           greedy_cache: dict | None = None) -> Pruned:
    """The subnetwork of ``method`` (one of the arm's pruners, :mod:`.selection`) at ``ratio`` of the
    network ``net``."""
    spec = ARMS[config["arm"]]
    if method not in spec.pruners:
        raise validate.ParameterError(f"parameter 'method' = {method!r} is not allowed for arm "
                                      f"{spec.key!r}: must be one of {', '.join(spec.methods)}")
    ratios = list(config["ratios"])
    kept = [kept_widths(config, r) for r in ratios]
    target = Target(config=config, net=net, score=score, train=train, widths=kept_widths(config, ratio),
                    widest=[max(layer) for layer in zip(*kept)], checkpoint_index=checkpoint_index,
                    ratio_index=ratios.index(ratio), cache=greedy_cache)
    return spec.pruners[method](target)


def materialise_choice(config: dict, net, picks):
    """The chosen subnetwork as a small dense network computing exactly the pruned function."""
    return ARMS[config["arm"]].materialise(net, picks)


def compute_unit(config: dict, device: str = "cpu", progress: bool = False) -> pd.DataFrame:
    """One unit: pre-train once, then at every checkpoint prune by every method and ratio, fine-tune
    each subnetwork, and run the controls (see the module docstring)."""

    dev = resolve_device(device)
    devname = "cuda" if dev.type == "cuda" else "cpu"
    arm, n, seed = config["arm"], config["n"], config["seed"]
    loss = config["loss"]
    train_set, heldout, test, score = _data(config, dev)
    sets = {"heldout": heldout, "test": test, "train": score}
    sizes = network_sizes(config)
    dense_flops, dense_params = sizes["dense"]
    grid, budgets = list(config["checkpoints"]), sorted(config["budgets"])
    batch = config["batch_size"]
    ratios = list(config["ratios"])
    rows = []

    def add(t, method, ratio, budget, steps, train_flops, params, flops, results):
        for res in results:
            rows.append({"arm": arm, "n": n, "seed": seed, "t": int(t), "method": method,
                         "ratio": float(ratio), "budget": int(budget), "split": res["split"],
                         "loss": float(res["loss"]), "accuracy": float(res["accuracy"]),
                         "steps": int(steps), "train_flops": float(train_flops), "params": int(params),
                         "flops": int(flops)})

    def pipeline_flops(t, budget, small_flops):
        return 3.0 * batch * (t * dense_flops + budget * small_flops)

    # The dense run: the grid, then the steps at which it has spent each pipeline's training FLOPs.
    matched = {(t, r, b): dense_cost_steps(t, b, sizes[r][0], dense_flops)
               for t in grid for r in ratios for b in [0, *budgets]}
    spec = ARMS[arm]
    dense = spec.dense(config, seed)
    marks = sorted(set(grid) | set(matched.values()))
    run = train(dense, train_set, _sgd(config, seed, devname), marks, history=False, progress=progress,
                desc=f"ch4 {arm} dense")
    states = run.states
    for t in grid:
        add(t, "dense", 1.0, 0, t, 3.0 * batch * t * dense_flops, dense_params, dense_flops,
            _evaluate(_at(dense, states[t]), sets, loss, dev))
    evaluated = {}
    for (t, r, b), steps in matched.items():
        if steps not in evaluated:
            evaluated[steps] = _evaluate(_at(dense, states[steps]), sets, loss, dev)
        add(t, "dense_cost", r, b, steps, 3.0 * batch * steps * dense_flops, dense_params, dense_flops,
            evaluated[steps])

    # Prune at every checkpoint, materialise, fine-tune (one run of F_long, recorded at each budget).
    for ci, t in enumerate(grid):
        net = _at(dense, states[t]).to(dev)
        cache: dict = {}
        tune_seed = draw_seed(seed, 1_000_003, ci)  # the same fine-tuning batches for every method
        for r in ratios:
            small_flops, small_params = sizes[r]
            for method in methods_at(config, r):
                choice = select(config, net, score, train_set, r, method, ci, cache)
                small = materialise_choice(config, net, choice.picks)
                add(t, method, r, 0, t, pipeline_flops(t, 0, small_flops), small_params, small_flops,
                    _evaluate(small, sets, loss, dev))
                run = train(small, train_set, _sgd(config, tune_seed, devname, config["finetune_lr"]),
                            [0, *budgets], history=False, progress=progress, desc=f"ch4 {arm} {method} t={t}")
                for b in budgets:
                    add(t, method, r, b, t + b, pipeline_flops(t, b, small_flops), small_params,
                        small_flops, _evaluate(_at(small, run.states[b]), sets, loss, dev))
    del states, run

    # Scratch: the small architecture from a fresh initialisation, one run per ratio.
    for ri, r in enumerate(ratios):
        small_flops, small_params = sizes[r]
        same = {(t, b): t + b for t in grid for b in budgets}
        bought = {(t, b): scratch_flops_steps(t, b, small_flops, dense_flops) for t in grid for b in budgets}
        fresh = spec.small(config, dense, kept_widths(config, r), draw_seed(seed, 2_000_003, ri))
        marks = sorted(set(same.values()) | set(bought.values()))
        run = train(fresh, train_set, _sgd(config, seed, devname, config.get("scratch_lr", config["finetune_lr"])),
                    marks, history=False, progress=progress, desc=f"ch4 {arm} scratch")
        evaluated = {}
        for method, table in (("scratch", same), ("scratch_flops", bought)):
            for (t, b), steps in table.items():
                if steps not in evaluated:
                    evaluated[steps] = _evaluate(_at(fresh, run.states[steps]), sets, loss, dev)
                add(t, method, r, b, steps, 3.0 * batch * steps * small_flops, small_params, small_flops,
                    evaluated[steps])
    frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
    return frame.sort_values(["t", "method", "ratio", "budget", "split"], kind="stable",
                             ignore_index=True)
