"""Speed of greedy forward selection: the Gram-update implementation against the straightforward loop
(``prune.brute_force_greedy``: a forward pass of every candidate subnetwork S + {j} at every step, with
the running sum of selected outputs kept), on the same inputs, without repeats.

    python benchmarks/greedy.py [--n 10000 --m 1024 --c 10 --k 64 --dtype float32]

Prints both times, checks the picks are identical, and prints the ratio (measured in this one run).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing
from companion import prune  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--m", type=int, default=1024)
    ap.add_argument("--c", type=int, default=10)
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)
    g = torch.Generator().manual_seed(0)
    hidden = torch.relu(torch.randn(args.n, args.m, generator=g, dtype=dtype))
    out_weights = torch.randn(args.m, args.c, generator=g, dtype=dtype)
    targets = torch.nn.functional.one_hot(torch.randint(0, args.c, (args.n,), generator=g), args.c).to(dtype)
    print(f"N={args.n} m={args.m} C={args.c} k={args.k} dtype={args.dtype} threads={torch.get_num_threads()}")

    prune.greedy_forward_selection(hidden[:100], out_weights, targets[:100], 2)  # warm-up
    t0 = time.perf_counter()
    fast = prune.greedy_forward_selection(hidden, out_weights, targets, args.k, allow_repeats=False)
    t_fast = time.perf_counter() - t0
    print(f"greedy_forward_selection: {t_fast:8.3f} s")

    t0 = time.perf_counter()
    slow = prune.brute_force_greedy(hidden, out_weights, targets, args.k, allow_repeats=False)
    picks, losses = slow.picks, slow.losses
    t_loop = time.perf_counter() - t0
    print(f"per-candidate loop:       {t_loop:8.3f} s")
    same = picks == fast.picks
    print(f"same picks: {same}; max |loss difference| = "
          f"{max(abs(a - b) for a, b in zip(losses, fast.losses)):.2e}")
    print(f"speed-up (loop / greedy_forward_selection): {t_loop / t_fast:.0f}x")
    if not same:
        raise SystemExit("picks differ")


if __name__ == "__main__":
    main()
