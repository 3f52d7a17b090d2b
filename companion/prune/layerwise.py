"""Layer-wise greedy forward selection for deep networks (Ye, Gong, Nie, Zhu, Liu, Liu, "Good
Subnetworks Provably Exist: Pruning via Greedy Forward Selection", ICML 2020, and their public code).

Unit layers are pruned in order, input to output. At layer l (m units), with the layers before it
already pruned and the layers after it dense ("the other layers as they are"), start from an empty
multiset S and repeat k times: add the unit j whose addition gives the lowest loss of the *whole
network* on the scoring set,

    j = argmin_j  L(f_{S + j}),   L(f) = mean_i 0.5 ||f(x_i) - y_i||^2  (``loss='mse'``)
                                       or mean_i cross-entropy(f(x_i), y_i)  (``loss='ce'``),

where f_S uses the rescaling convention of ``companion.models.base``: the next pre-activation is
z_S = b + (m/|S|) sum_{r in S} u_r, the average of the kept units' contributions u_r at the layer's
full scale (unit r's outgoing weights times m c_r / |S|; every unit once = the dense network). Ties
go to the lowest unit index.

Options, all scored by the same code:

- ``allow_repeats``: the theory's multiset (True) or distinct units (False, as in Ye et al.'s code).
- **Exact** (default): every allowed unit is a candidate, scored on the whole scoring set.
- **Practical variant** (Ye et al.'s code): ``candidates=50`` draws that many allowed units per step
  and ``batch_size=...`` scores them on a fresh random mini-batch of the scoring set (seeded).
- ``criterion='local'``: the layer-local objective, reconstruct the dense network's next
  pre-activation, mean_i 0.5 ||z_S(x_i) - z_dense(x_i)||^2 (with the earlier layers pruned in z_S).
  For a linear consumer this is the closed form of ``companion.prune.greedy.greedy_forward_selection``
  (neurons h_r with output weights m W[:, r], targets z_dense - b), used for it; so is the
  whole-network squared loss of an MLP's last hidden layer (the two-layer network's greedy: targets
  y - b), whatever ``method``; ``closed_form=False`` scores those cases with the general code.

How a step is scored (``method='batched'``): the layers before l run once per layer (or once per
step on a mini-batch). A candidate j changes only the next pre-activation, by one term, so
z_{S+j} = b + m/(s+1) (U_S + u_j), with U_S = sum_{r in S} u_r kept from step to step, for every
candidate is one batched update (``addcmul`` or one grouped convolution), and the layers after run
once per chunk of candidates on (chunk x samples) inputs. ``chunk_bytes`` caps the candidate tensor
(candidates x samples x next-layer size) held at once; the layers above allocate a few tensors of
that size. ``method='loop'`` is the same with one candidate at a time.
:func:`brute_force_layerwise_greedy` is the reference: one full forward pass of the rescaled network
per candidate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .. import validate
from ..metrics import loss_fn, squared_error
from ..models.base import (PrunableNetwork, candidate_preactivations, elements, scale_units,
                          summed_contributions, unit_scale)
from .greedy import greedy_forward_selection

LOSSES = ("mse", "ce")
CRITERIA = ("network", "local")
METHODS = ("batched", "loop")
# Measured on the 2-core CPU (784-256-256-10, N = 2,000): 4 MiB the fastest of 0.25 ... 16 MiB, all
# within 1.5x of each other; larger chunks leave the caches.
DEFAULT_CHUNK_BYTES = 4 * 2 ** 20


@dataclass(frozen=True)
class LayerwiseSelection:
    """Per unit layer (input to output): the picks in selection order and the scoring loss after each
    step (None for a layer left dense)."""

    layer_names: list[str]
    widths: list[int]
    picks: list[list[int] | None]
    losses: list[list[float] | None]

    def scales(self, dtype: torch.dtype = torch.float64) -> list[torch.Tensor | None]:
        """The unit scales m c_r / |S| of every layer, for ``model(x, scales)`` (which casts them to
        its own dtype and device)."""
        return [None if p is None else unit_scale(p, m, dtype) for p, m in zip(self.picks, self.widths)]

    def kept_widths(self) -> list[int]:
        """Distinct units kept per layer (the widths of the materialised subnetwork)."""
        return [m if p is None else len(set(p)) for p, m in zip(self.picks, self.widths)]


def _check(model, x, y, k, loss, criterion, allow_repeats, candidates, batch_size, seed, chunk_bytes=1):
    if not isinstance(model, PrunableNetwork):
        raise validate.ParameterError(f"parameter 'model' ({type(model).__name__}) must be a "
                                      "companion.models network (MLP, ResNet)")
    validate.choice("loss", loss, LOSSES)
    validate.choice("criterion", criterion, CRITERIA)
    validate.boolean("allow_repeats", allow_repeats)
    validate.integer("seed", seed, low=0)
    validate.integer("chunk_bytes", chunk_bytes, low=1)
    if criterion == "local" and loss != "mse":
        raise validate.ParameterError(f"parameter 'loss' = {loss!r} is not allowed with criterion="
                                      "'local': the layer-local objective is the squared error 'mse'")
    x = model.check_input(x).to(model.device, model.dtype)
    n = x.shape[0]
    if n == 0:
        raise validate.ParameterError("parameter 'x' must hold at least one sample")
    if candidates is not None:
        validate.integer("candidates", candidates, low=1)
    if batch_size is not None:
        validate.integer("batch_size", batch_size, low=1, high=n)
    if criterion == "local":
        y = None
    elif loss == "mse":
        if not isinstance(y, torch.Tensor) or tuple(y.shape) != (n, model.num_outputs):
            raise validate.ParameterError(f"parameter 'y' must be a tensor of targets of shape "
                                          f"({n}, {model.num_outputs}) for loss='mse'")
        y = y.to(x.device, model.dtype)
    else:
        if (not isinstance(y, torch.Tensor) or tuple(y.shape) != (n,) or y.dtype != torch.long
                or (n and (int(y.min()) < 0 or int(y.max()) >= model.num_outputs))):
            raise validate.ParameterError(f"parameter 'y' must be an int64 tensor of labels in "
                                          f"[0, {model.num_outputs - 1}] of shape ({n},) for loss='ce'")
        y = y.to(x.device)
    widths = model.widths
    ks = [k] * len(widths) if not isinstance(k, Sequence) else list(k)
    if len(ks) != len(widths):
        raise validate.ParameterError(f"parameter 'k' = {k!r} is not allowed: must be an integer or one "
                                      f"entry (an integer or None) per unit layer ({len(widths)})")
    for i, (ki, m) in enumerate(zip(ks, widths)):
        if ki is not None:
            validate.integer(f"k[{i}]" if isinstance(k, Sequence) else "k", ki, low=1,
                             high=None if allow_repeats else m)
    if all(ki is None for ki in ks):
        raise validate.ParameterError("parameter 'k' selects no layer: give at least one integer")
    return ks, x, y


def _draw(gen: torch.Generator, allowed: torch.Tensor, candidates, n: int, batch_size):
    """This step's candidates (sorted unit indices) and scoring rows (sorted, or None for all)."""
    idx = allowed.nonzero().flatten()
    if candidates is not None and candidates < idx.numel():
        idx = idx[torch.randperm(idx.numel(), generator=gen)[:candidates]].sort().values
    rows = None if batch_size is None else torch.randperm(n, generator=gen)[:batch_size].sort().values
    return idx, rows


def _bias(consumer: nn.Module, ndim: int):
    """The consumer's bias shaped to broadcast over one sample's pre-activation (ndim dims), or 0."""
    if consumer.bias is None:
        return 0.0
    return consumer.bias.view(-1, *([1] * (ndim - 1)))


def _sample_losses(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-candidate, per-sample loss (J, R) of outputs (J, R, C): the convention of ``loss_fn``."""
    if loss == "mse":
        return squared_error(out, y)
    picked = out.gather(-1, y.expand(out.shape[0], -1).unsqueeze(-1)).squeeze(-1)
    return torch.logsumexp(out, -1) - picked


def _closed_form_applies(model, layer, criterion, loss) -> bool:
    if not isinstance(model.consumer(layer), nn.Linear):
        return False
    return criterion == "local" or (loss == "mse" and model.output_is_consumer(layer))


def _closed_form_layer(model, layer, x, targets, k, allow_repeats, scales):
    h, _ = model.split(layer, x, scales)
    consumer = model.consumer(layer)
    m = model.widths[layer]
    shifted = targets - (consumer.bias if consumer.bias is not None else 0.0)
    sel = greedy_forward_selection(h, consumer.weight.T * m, shifted, k, allow_repeats=allow_repeats)
    return sel.picks, sel.losses


def _score(model, layer, h, context, base, units, coeff, target, loss, criterion, scales, method,
           chunk_bytes):
    """Mean loss over the rows of h of every candidate subnetwork S + {j}, j in ``units``."""
    consumer = model.consumer(layer)
    rows = h.shape[0]
    per_sample = elements(base.shape[1:]) * base.element_size()
    per_chunk = 1 if method == "loop" else max(1, chunk_bytes // (rows * per_sample))
    row_chunk = rows if rows * per_sample <= chunk_bytes else max(1, chunk_bytes // per_sample)
    scores = torch.empty(units.numel(), dtype=base.dtype, device=base.device)
    for c0 in range(0, units.numel(), per_chunk):
        chunk = units[c0:c0 + per_chunk]
        total = torch.zeros(chunk.numel(), dtype=base.dtype, device=base.device)
        for r0 in range(0, rows, row_chunk):
            r1 = min(rows, r0 + row_chunk)
            z = candidate_preactivations(consumer, h[r0:r1], base[r0:r1], chunk, coeff)
            if criterion == "network":
                out = model.finish(layer, z, None if context is None else context[r0:r1], scales)
                total += _sample_losses(out, target[r0:r1], loss).sum(1)
            else:
                total += 0.5 * (z - target[r0:r1]).pow(2).flatten(2).sum(2).sum(1)
        scores[c0:c0 + chunk.numel()] = total / rows
    return scores


def _greedy_layer(model, layer, x, target, k, *, loss, criterion, allow_repeats, candidates,
                  batch_size, gen, scales, method, chunk_bytes):
    consumer = model.consumer(layer)
    m, n = model.widths[layer], x.shape[0]
    counts = torch.zeros(m, dtype=torch.long)
    picks, losses = [], []
    next_shape = model.next_shape(layer)
    bias = _bias(consumer, len(next_shape))
    if batch_size is None:  # the whole scoring set: the layers below run once for this layer
        h, context = model.split(layer, x, scales)
        u_sum = torch.zeros(n, *next_shape, dtype=x.dtype, device=x.device)  # sum_{r in S} u_r
    for s in range(k):
        allowed = torch.ones(m, dtype=torch.bool) if allow_repeats else counts == 0
        units, rows = _draw(gen, allowed, candidates, n, batch_size)
        units = units.to(x.device)
        if rows is None:
            hb, cb, ub, tb = h, context, u_sum, target
        else:
            rows = rows.to(x.device)
            hb, cb = model.split(layer, x[rows], scales)
            ub = summed_contributions(consumer, hb, counts.to(hb.device, hb.dtype))
            tb = target[rows]
        coeff = m / (s + 1)
        scores = _score(model, layer, hb, cb, ub * coeff + bias, units, coeff, tb, loss, criterion,
                        scales, method, chunk_bytes)
        i = int(torch.argmin(scores))  # candidates are sorted: the first minimum is the lowest index
        j = int(units[i])
        picks.append(j)
        losses.append(float(scores[i]))
        counts[j] += 1
        if rows is None:
            one = torch.tensor([j], device=x.device)
            u_sum += candidate_preactivations(consumer, h, torch.zeros_like(u_sum), one, 1.0)[0]
    return picks, losses


def _dense_preactivation(model, layer, x):
    h, _ = model.split(layer, x)
    return model.consumer(layer)(h)


@torch.no_grad()
def layerwise_greedy(model: PrunableNetwork, x: torch.Tensor, y: torch.Tensor | None, k, *,
                     loss: str = "mse", criterion: str = "network", allow_repeats: bool = False,
                     candidates: int | None = None, batch_size: int | None = None, seed: int = 0,
                     method: str = "batched", closed_form: bool = True,
                     chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> LayerwiseSelection:
    """Prune every unit layer of ``model`` (input to output) by greedy forward selection.

    ``x`` (N, input_size) is the scoring set; ``y`` its targets (N, C) for ``loss='mse'`` or int64
    labels (N,) for ``loss='ce'`` (ignored for ``criterion='local'``). ``k``: units to select per
    layer, an integer for every layer or a list with one integer (or None: leave dense) per layer.
    See the module docstring for the objective, the rescaling and the options. ``model`` is not
    changed; apply the result with ``model(x, selection.scales())`` or materialise it
    (``companion.prune.subnetwork.materialise``)."""
    ks, x, y = _check(model, x, y, k, loss, criterion, allow_repeats, candidates, batch_size, seed,
                      chunk_bytes)
    validate.choice("method", method, METHODS)
    validate.boolean("closed_form", closed_form)
    gen = torch.Generator().manual_seed(seed)
    scales: list = [None] * len(ks)
    all_picks, all_losses = [], []
    for layer, k_layer in enumerate(ks):
        if k_layer is None:
            all_picks.append(None)
            all_losses.append(None)
            continue
        target = _dense_preactivation(model, layer, x) if criterion == "local" else y
        if (closed_form and candidates is None and batch_size is None
                and _closed_form_applies(model, layer, criterion, loss)):
            picks, losses = _closed_form_layer(model, layer, x, target, k_layer, allow_repeats, scales)
        else:
            picks, losses = _greedy_layer(model, layer, x, target, k_layer, loss=loss,
                                          criterion=criterion, allow_repeats=allow_repeats,
                                          candidates=candidates, batch_size=batch_size, gen=gen,
                                          scales=scales, method=method, chunk_bytes=chunk_bytes)
        scales[layer] = unit_scale(picks, model.widths[layer], model.dtype).to(x.device)
        all_picks.append(picks)
        all_losses.append(losses)
    return LayerwiseSelection(model.unit_layer_names(), model.widths, all_picks, all_losses)


@torch.no_grad()
def brute_force_layerwise_greedy(model: PrunableNetwork, x: torch.Tensor, y: torch.Tensor | None, k,
                                 *, loss: str = "mse", criterion: str = "network",
                                 allow_repeats: bool = False, candidates: int | None = None,
                                 batch_size: int | None = None, seed: int = 0) -> LayerwiseSelection:
    """The reference for :func:`layerwise_greedy`: every candidate subnetwork S + {j} is built by
    its unit scales and run as a whole (``model(x, scales)``, or up to the next pre-activation for
    ``criterion='local'``), its loss taken with ``metrics.loss_fn``; the same random draws."""
    ks, x, y = _check(model, x, y, k, loss, criterion, allow_repeats, candidates, batch_size, seed)
    gen = torch.Generator().manual_seed(seed)
    scales: list = [None] * len(ks)
    all_picks, all_losses = [], []
    for layer, k_layer in enumerate(ks):
        if k_layer is None:
            all_picks.append(None)
            all_losses.append(None)
            continue
        m = model.widths[layer]
        dense_z = _dense_preactivation(model, layer, x) if criterion == "local" else None
        picks, losses = [], []
        for _ in range(k_layer):
            allowed = torch.ones(m, dtype=torch.bool)
            if not allow_repeats:
                allowed[picks] = False
            units, rows = _draw(gen, allowed, candidates, x.shape[0], batch_size)
            xb = x if rows is None else x[rows]
            best, best_j = None, None
            for j in units.tolist():
                trial = list(scales)
                trial[layer] = unit_scale(picks + [j], m, model.dtype)
                if criterion == "network":
                    yb = y if rows is None else y[rows]
                    value = float(loss_fn(model(xb, trial), yb, yb, loss, "mean"))
                else:
                    h, _ = model.split(layer, xb, trial)
                    z = model.consumer(layer)(scale_units(h, trial[layer]))
                    zt = dense_z if rows is None else dense_z[rows]
                    value = float(0.5 * (z - zt).pow(2).flatten(1).sum(1).mean())
                if best is None or value < best:
                    best, best_j = value, j
            picks.append(best_j)
            losses.append(best)
        scales[layer] = unit_scale(picks, m, model.dtype)
        all_picks.append(picks)
        all_losses.append(losses)
    return LayerwiseSelection(model.unit_layer_names(), model.widths, all_picks, all_losses)
