"""Greedy forward selection (Ye, Gong, Nie, Zhu, Liu, Liu, "Good Subnetworks Provably Exist: Pruning
via Greedy Forward Selection", ICML 2020) for the two-layer network, in closed form, and the
evaluation of its subnetworks (the baselines are in :mod:`.subnetwork`).

The dense net is an average of neuron functions g_r(x) = hidden(x)[r] * out_weights[r]; a subnetwork
is a multiset S with f_S = (1/|S|) sum_{r in S} g_r. Greedy selection starts empty and at each step adds
the neuron whose addition gives the smallest training loss

    L(S) = (1/N) sum_i 0.5 * ||f_S(x_i) - y_i||^2.

Closed form (squared loss): with s = |S|, F the current subnetwork output and R = s F - (s+1) Y,

    ||f_{S+j} - Y||^2 = (||R||^2 + 2 <R, g_j> + ||g_j||^2) / (s+1)^2,

and <R, g_j> = <P_j, a_j> with P = H^T R (m, C). Since s F = sum_{r in S} g_r, H^T (s F) = sum_{r in S}
G[:, r] a_r^T, where G = H^T H is the neurons' Gram matrix: each step only needs the one Gram column
of the neuron just added (an N x m mat-vec), not a forward pass per candidate. All work is chunked
over samples so memory stays O(N C + m C + chunk * m) beyond the input H.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import validate
from ..metrics import accuracy, mean_squared_loss


@dataclass(frozen=True)
class Selection:
    """Neuron indices in selection order and the mean training loss after each step."""

    picks: list[int]
    losses: list[float]


def _check(hidden, out_weights, targets, k, allow_repeats):
    if not all(isinstance(t, torch.Tensor) for t in (hidden, out_weights, targets)):
        raise validate.ParameterError("parameters 'hidden', 'out_weights', 'targets' must be tensors")
    if hidden.ndim != 2 or out_weights.ndim != 2 or targets.ndim != 2:
        raise validate.ParameterError(
            f"parameters 'hidden' {tuple(hidden.shape)}, 'out_weights' {tuple(out_weights.shape)}, "
            f"'targets' {tuple(targets.shape)} must be 2-D: (N, m), (m, C), (N, C)")
    n, m = hidden.shape
    if out_weights.shape[0] != m or targets.shape != (n, out_weights.shape[1]):
        raise validate.ParameterError(
            f"shapes do not match: hidden {tuple(hidden.shape)} must be (N, m), out_weights "
            f"{tuple(out_weights.shape)} (m, C), targets {tuple(targets.shape)} (N, C)")
    if n == 0 or m == 0:
        raise validate.ParameterError("parameter 'hidden' must have at least one sample and one neuron")
    validate.integer("k", k, low=1, high=None if allow_repeats else m)
    return n, m


def _chunks(n: int, chunk: int):
    return [(i, min(i + chunk, n)) for i in range(0, n, chunk)]


@torch.no_grad()
def greedy_forward_selection(hidden: torch.Tensor, out_weights: torch.Tensor, targets: torch.Tensor,
                             k: int, *, allow_repeats: bool = True, chunk: int = 4096,
                             gram: bool = False) -> Selection:
    """Select k neurons greedily (Ye et al. 2020, Algorithm 1). Ties go to the lowest index.

    Exactly the picks of a brute-force greedy that evaluates every candidate's loss, at the cost of one
    (N x m) mat-vec per step plus O(N (m + C) C) set-up. Computes in the dtype of ``hidden``.

    ``gram=True`` computes the whole Gram matrix H^T H once (one N x m x m matrix product, m^2 memory)
    and reads its columns instead: faster when k is not much smaller than m / 10, because one matrix
    product runs near the machine's peak while k mat-vecs are bound by reading H from memory k times.
    """
    n, m = _check(hidden, out_weights, targets, k, allow_repeats)
    validate.integer("chunk", chunk, low=1)
    dtype = hidden.dtype
    a = out_weights.to(dtype)
    y = targets.to(dtype)
    # Per-neuron constants: ||g_j||^2 = ||h_j||^2 ||a_j||^2, and H^T Y (m, C).
    gram_matrix = None
    h_sq = torch.zeros(m, dtype=dtype, device=hidden.device)
    hty = torch.zeros(m, a.shape[1], dtype=dtype, device=hidden.device)
    if validate.boolean("gram", gram):
        gram_matrix = torch.zeros(m, m, dtype=dtype, device=hidden.device)
    for lo, hi in _chunks(n, chunk):
        h = hidden[lo:hi]
        if gram_matrix is None:
            h_sq += (h * h).sum(0)
        else:
            gram_matrix += h.T @ h
        hty += (y[lo:hi].T @ h).T  # (C x n) @ (n x m): ~4x faster than h.T @ y for small C
    if gram_matrix is not None:
        h_sq = gram_matrix.diagonal().clone()
    g_sq = h_sq * (a * a).sum(1)
    hts = torch.zeros_like(hty)        # H^T (sum_{r in S} g_r)
    sum_out = torch.zeros_like(y)      # sum_{r in S} g_r over samples, for ||R||^2
    # With the Gram matrix, ||R||^2 comes from running sums instead (no N-sized work per step):
    # ||sum_out||^2 and <sum_out, Y>, both updated in O(C) per added neuron.
    out_sq, out_y, y_sq = 0.0, 0.0, float((y * y).sum())
    blocked = torch.zeros(m, dtype=torch.bool, device=hidden.device)
    picks, losses = [], []
    for s in range(k):
        # R = sum_out - (s+1) Y;  P = H^T R;  score_j = 2 <P_j, a_j> + ||g_j||^2
        p = hts - (s + 1) * hty
        score = 2.0 * (p * a).sum(1) + g_sq
        if not allow_repeats:
            score = score.masked_fill(blocked, float("inf"))
        j = int(torch.argmin(score))  # first minimum: lowest index wins ties
        if gram_matrix is None:
            r_sq = float(((sum_out - (s + 1) * y) ** 2).sum())
        else:
            r_sq = out_sq - 2 * (s + 1) * out_y + (s + 1) ** 2 * y_sq
        # (clamped: with an exact fit, cancellation can leave -1e-17)
        losses.append(max(0.0, float((r_sq + score[j]) / (s + 1) ** 2 / (2 * n))))
        picks.append(j)
        blocked[j] = True
        # Add neuron j: the Gram column G[:, j] = H^T h_j (chunked), then update H^T sum and outputs.
        if gram_matrix is not None:
            col = gram_matrix[:, j]
            out_sq += float(2.0 * (hts[j] * a[j]).sum() + g_sq[j])
            out_y += float((hty[j] * a[j]).sum())
        else:
            col = torch.zeros(m, dtype=dtype, device=hidden.device)
            for lo, hi in _chunks(n, chunk):
                col += hidden[lo:hi, j] @ hidden[lo:hi]  # (row vector) @ H: ~2x faster than H^T @ h_j
            sum_out += torch.outer(hidden[:, j], a[j])
        hts += torch.outer(col, a[j])
    return Selection(picks, losses)


@torch.no_grad()
def brute_force_greedy(hidden, out_weights, targets, k, *, allow_repeats=True,
                       incremental=True) -> Selection:
    """The reference: at each step, the loss of every candidate subnetwork S + {j} from its output.

    ``incremental=True`` keeps the running sum of the selected neurons' outputs and adds g_j per
    candidate; ``incremental=False`` recomputes each candidate subnetwork's forward pass from its
    neurons (hidden[:, S + j] @ out_weights[S + j]), the most literal implementation."""
    n, m = _check(hidden, out_weights, targets, k, allow_repeats)
    sum_out = torch.zeros_like(targets, dtype=hidden.dtype)
    picks, losses = [], []
    for s in range(k):
        best, best_j = None, None
        for j in range(m):
            if not allow_repeats and j in picks:
                continue
            if incremental:
                f = (sum_out + torch.outer(hidden[:, j], out_weights[j])) / (s + 1)
            else:
                f = subnetwork_output(hidden, out_weights, picks + [j])
            loss = mean_squared_loss(f, targets)
            if best is None or loss < best:
                best, best_j = loss, j
        picks.append(best_j)
        losses.append(best)
        sum_out += torch.outer(hidden[:, best_j], out_weights[best_j])
    return Selection(picks, losses)


@torch.no_grad()
def subnetwork_output(hidden, out_weights, picks, bias=None) -> torch.Tensor:
    """f_S(x) = mean over r in S (a multiset) of hidden[:, r] * out_weights[r] (+ bias)."""
    if len(picks) == 0:
        raise validate.ParameterError("parameter 'picks' = [] is not allowed: select at least one neuron")
    idx = torch.as_tensor(list(picks), dtype=torch.long, device=hidden.device)
    if len(picks) == hidden.shape[1] and torch.equal(idx, torch.arange(len(picks), device=idx.device)):
        out = hidden @ out_weights.to(hidden.dtype) / len(picks)  # the dense net: no N x m gather copy
    else:
        out = hidden[:, idx] @ out_weights[idx].to(hidden.dtype) / len(picks)
    return out if bias is None else out + bias.to(out.dtype)


@torch.no_grad()
def evaluate_subnetwork(hidden, out_weights, targets, picks, *, labels=None, bias=None) -> dict:
    """Mean 0.5 ||f_S(x) - y||^2 and accuracy (argmax for C > 1, sign for C = 1) of subnetwork
    ``picks`` on any data (training or held-out: pass that data's hidden activations)."""
    out = subnetwork_output(hidden, out_weights, picks, bias)
    loss = mean_squared_loss(out, targets.to(out.dtype))
    if labels is None:
        labels = targets.argmax(1) if targets.shape[1] > 1 else (targets[:, 0] > 0).long()
    return {"loss": loss, "accuracy": accuracy(out, labels.to(out.device))}


@torch.no_grad()
def evaluate_subnetworks(hidden, out_weights, targets, picks_list, *, labels=None, bias=None,
                         chunk: int = 8192) -> list[dict]:
    """:func:`evaluate_subnetwork` for many subnetworks at once (the same numbers): each multiset is a
    column block of selection weights, counts[r] * out_weights[r] / |S|, so one (N x m) @ (m x C S)
    product, chunked over samples, evaluates them all instead of one gather of N x k per subnetwork."""
    if not picks_list:
        return []
    m, c = out_weights.shape
    a = out_weights.to(hidden.dtype)
    weights = torch.zeros(len(picks_list), m, c, dtype=hidden.dtype, device=hidden.device)
    for i, picks in enumerate(picks_list):
        if len(picks) == 0:
            raise validate.ParameterError("parameter 'picks' = [] is not allowed: select at least one neuron")
        counts = torch.bincount(torch.as_tensor(list(picks), dtype=torch.long), minlength=m).to(a)
        weights[i] = counts[:, None] * a / len(picks)
    weights = weights.permute(1, 0, 2).reshape(m, -1)  # (m, S*C)
    if labels is None:
        labels = targets.argmax(1) if targets.shape[1] > 1 else (targets[:, 0] > 0).long()
    sq = torch.zeros(len(picks_list), dtype=hidden.dtype, device=hidden.device)
    correct = torch.zeros(len(picks_list), dtype=torch.long, device=hidden.device)
    n = hidden.shape[0]
    for lo, hi in _chunks(n, chunk):
        out = (hidden[lo:hi] @ weights).reshape(hi - lo, len(picks_list), c)
        if bias is not None:
            out = out + bias.to(out.dtype)
        sq += ((out - targets[lo:hi].to(out.dtype)[:, None, :]) ** 2).sum((0, 2))
        lab = labels[lo:hi].to(out.device)
        pred = out.argmax(2) if c > 1 else (out[:, :, 0] > 0).long()
        correct += (pred == lab[:, None]).sum(0)
    return [{"loss": float(0.5 * sq[i] / n), "accuracy": float(correct[i]) / n}
            for i in range(len(picks_list))]
