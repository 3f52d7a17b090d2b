"""Pruned networks as real small networks, their size, and the baselines at equal widths.

:func:`materialise` turns a selection (one multiset of units per unit layer, as found by
``companion.prune.layerwise``) into a dense network of the smaller widths: each kept unit's incoming row
(weights and bias of its producer) is copied, its outgoing column of the consumer is copied and
multiplied by its unit scale s_r = m c_r / |S| (``companion.models.base``), and a unit kept c_r times
appears once (its count is in s_r). It computes exactly the masked network ``model(x, scales)``, at
the small network's cost, and trains like any network of that shape.

Sizes: :func:`parameter_count` counts trainable parameters; :func:`flops_per_image` counts
2 x (multiply-accumulates of every linear and convolution layer) for one image, biases, ReLUs,
residual additions and pooling not counted.

Baselines at the same widths: :func:`random_units` (distinct units drawn uniformly, seeded; average
over draws with :func:`random_baseline`), :func:`largest_norm_units` (||incoming|| x ||outgoing||
weights, :func:`magnitude_selection`), and :func:`from_scratch` (the small architecture, freshly
initialised). Random and largest-norm units use the same rescaling (each kept once, s_r = m / k).
"""
from __future__ import annotations

import statistics

import torch
from torch import nn

from .. import validate
from ..data import Dataset
from ..models.base import PrunableNetwork, consumer_weight_columns, unit_scale
from ..metrics import evaluate


def random_selection(m: int, k: int, *, seed: int = 0) -> list[int]:
    """k distinct neurons drawn uniformly at random (seeded): the baseline at equal size."""
    validate.integer("m", m, low=1)
    validate.integer("k", k, low=1, high=m)
    g = torch.Generator().manual_seed(validate.integer("seed", seed, low=0))
    return torch.randperm(m, generator=g)[:k].tolist()


def magnitude_selection(in_weights: torch.Tensor, out_weights: torch.Tensor, k: int) -> list[int]:
    """The k neurons with the largest ||w_r|| * ||a_r|| (incoming times outgoing weight norm);
    ties go to the lowest index."""
    m = out_weights.shape[0]
    validate.integer("k", k, low=1, high=m)
    score = in_weights.norm(dim=1) * out_weights.norm(dim=1)
    # stable sort on -score keeps the lowest index first among equal scores
    return torch.sort(-score, stable=True).indices[:k].tolist()


def _check_picks(model: PrunableNetwork, picks) -> list:
    if not isinstance(model, PrunableNetwork):
        raise validate.ParameterError(f"parameter 'model' ({type(model).__name__}) must be a "
                                      "companion.models network (MLP, ResNet)")
    if hasattr(picks, "picks"):  # a LayerwiseSelection
        picks = picks.picks
    picks = list(picks)
    if len(picks) != len(model.widths):
        raise validate.ParameterError(f"parameter 'picks' has {len(picks)} entries: must have one per "
                                      f"unit layer ({len(model.widths)}), each a list of units or None")
    return picks


def selection_scales(model: PrunableNetwork, picks) -> list[torch.Tensor | None]:
    """The unit scales of a selection (None for a layer kept dense): ``model(x, scales)`` is the
    masked network."""
    picks = _check_picks(model, picks)
    return [None if p is None else unit_scale(p, m, model.dtype).to(model.device)
            for p, m in zip(picks, model.widths)]


@torch.no_grad()
def materialise(model: PrunableNetwork, picks) -> PrunableNetwork:
    """The subnetwork ``picks`` (a ``LayerwiseSelection`` or one list of units, or None, per unit
    layer) as a dense network of the kept widths, with the rescaling folded into its weights. Kept
    units stay in increasing index order."""
    picks = _check_picks(model, picks)
    rows, cols = {}, {}
    widths = []
    for layer, (p, m) in enumerate(zip(picks, model.widths)):
        if p is None:
            widths.append(m)
            continue
        scale = unit_scale(p, m, model.dtype).to(model.device)
        keep = torch.nonzero(scale).flatten()
        producer, consumer = model.unit_modules(layer)
        rows[producer] = keep
        cols[consumer] = (keep, scale[keep])
        widths.append(keep.numel())
    small = model.with_widths(widths)
    targets = dict(small.named_modules())
    copied = 0
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Linear, nn.Conv2d)):
            if any(True for _ in module.parameters(recurse=False)):
                raise NotImplementedError(f"cannot materialise module {name!r} ({type(module).__name__})")
            continue
        w, b = module.weight, module.bias
        if name in rows:
            w, b = w[rows[name]], (None if b is None else b[rows[name]])
        if name in cols:
            keep, scale = cols[name]
            w = w[:, keep] * scale.view(1, -1, *([1] * (w.ndim - 2)))
        target = targets[name]
        target.weight.copy_(w)
        copied += w.numel()
        if b is not None:
            target.bias.copy_(b)
            copied += b.numel()
    if copied != parameter_count(small):
        raise RuntimeError("materialise did not fill every parameter of the small network")
    return small


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def flops_per_image(model: PrunableNetwork) -> int:
    """2 x multiply-accumulates of the linear and convolution layers for one image (measured by
    running one image through the network with hooks on those layers)."""
    macs = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Linear):
            macs.append(module.in_features * module.out_features)
        else:
            kh, kw = module.kernel_size
            macs.append(output[0].numel() * module.in_channels // module.groups * kh * kw)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Linear, nn.Conv2d))]
    try:
        model(torch.zeros(1, model.input_size, dtype=model.dtype, device=model.device))
    finally:
        for h in handles:
            h.remove()
    return 2 * sum(macs)


def size_report(dense: PrunableNetwork, small: PrunableNetwork) -> dict:
    """Widths, parameter counts and FLOPs per image of the dense network and its subnetwork."""
    p_dense, p_small = parameter_count(dense), parameter_count(small)
    f_dense, f_small = flops_per_image(dense), flops_per_image(small)
    return {"dense_widths": dense.widths, "small_widths": small.widths,
            "dense_parameters": p_dense, "small_parameters": p_small,
            "dense_flops_per_image": f_dense, "small_flops_per_image": f_small,
            "parameter_fraction": p_small / p_dense, "flops_fraction": f_small / f_dense}


def _check_widths(model: PrunableNetwork, widths) -> list:
    widths = list(widths)
    if len(widths) != len(model.widths):
        raise validate.ParameterError(f"parameter 'widths' = {widths} is not allowed: must have one "
                                      f"entry per unit layer ({len(model.widths)}), an integer or None")
    for i, (w, m) in enumerate(zip(widths, model.widths)):
        if w is not None:
            validate.integer(f"widths[{i}]", w, low=1, high=m)
    return widths


def random_units(model: PrunableNetwork, widths, seed: int = 0) -> list[list[int] | None]:
    """widths[l] distinct units of each layer drawn uniformly at random (None: keep the layer dense),
    sorted; one seeded draw for all layers."""
    widths = _check_widths(model, widths)
    g = torch.Generator().manual_seed(validate.integer("seed", seed, low=0))
    return [None if w is None else sorted(torch.randperm(m, generator=g)[:w].tolist())
            for w, m in zip(widths, model.widths)]


@torch.no_grad()
def largest_norm_units(model: PrunableNetwork, widths) -> list[list[int] | None]:
    """The widths[l] units of each layer with the largest ||incoming weights|| x ||outgoing
    weights|| (:func:`magnitude_selection`; biases not counted), in order of that score."""
    widths = _check_widths(model, widths)
    out = []
    for layer, w in enumerate(widths):
        if w is None:
            out.append(None)
            continue
        incoming = model.producer(layer).weight
        incoming = incoming.reshape(incoming.shape[0], -1)
        out.append(magnitude_selection(incoming, consumer_weight_columns(model.consumer(layer)), w))
    return out


def from_scratch(model: PrunableNetwork, widths, seed: int = 0) -> PrunableNetwork:
    """The small architecture (``widths``; None keeps a layer's width) freshly initialised: the
    control trained from scratch (Liu et al., ICLR 2019)."""
    widths = _check_widths(model, widths)
    return model.with_widths([m if w is None else w for w, m in zip(widths, model.widths)], seed=seed)


@torch.no_grad()
def evaluate_selection(model: PrunableNetwork, data: Dataset, picks, loss: str = "mse") -> dict:
    """Mean loss and accuracy of the masked subnetwork ``picks`` on ``data`` (``metrics.evaluate``)."""
    scales = selection_scales(model, picks)

    class _Masked(nn.Module):
        def forward(self, x):
            return model(x, scales)

    return evaluate(_Masked(), data.to(model.device, model.dtype), loss)


def random_baseline(model: PrunableNetwork, data: Dataset, widths, *, draws: int = 10, seed: int = 0,
                    loss: str = "mse") -> dict:
    """Random units at ``widths``, evaluated on ``data`` for ``draws`` seeds (seed, seed + 1, ...):
    the mean and the sample standard deviation (0 for one draw) of the loss and the accuracy."""
    validate.integer("draws", draws, low=1)
    validate.integer("seed", seed, low=0)
    runs = [evaluate_selection(model, data, random_units(model, widths, seed + i), loss)
            for i in range(draws)]
    out = {"draws": draws}
    for key in ("loss", "accuracy"):
        values = [r[key] for r in runs]
        out[key] = statistics.fmean(values)
        out[key + "_std"] = statistics.stdev(values) if draws > 1 else 0.0
    return out


__all__ = ["evaluate_selection", "flops_per_image", "from_scratch", "largest_norm_units", "materialise",
           "parameter_count", "random_baseline", "random_units", "selection_scales", "size_report"]
