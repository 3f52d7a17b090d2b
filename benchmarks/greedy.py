"""Speed of greedy forward selection: the Gram-update implementation against two per-candidate loops
(``prune.brute_force_greedy``), on the same inputs, without repeats, measured side by side:

- the running-sum loop: the subnetwork's summed output is kept, each candidate adds g_j (N x C work);
- the forward-pass loop: each candidate subnetwork S + {j} is evaluated from its neurons.

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
    ap.add_argument("--skip-forward", action="store_true",
                    help="skip the slowest reference (a forward pass per candidate, minutes)")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)
    g = torch.Generator().manual_seed(0)
    hidden = torch.relu(torch.randn(args.n, args.m, generator=g, dtype=dtype))
    out_weights = torch.randn(args.m, args.c, generator=g, dtype=dtype)
    targets = torch.nn.functional.one_hot(torch.randint(0, args.c, (args.n,), generator=g), args.c).to(dtype)
    print(f"N={args.n} m={args.m} C={args.c} k={args.k} dtype={args.dtype} threads={torch.get_num_threads()}")

    prune.greedy_forward_selection(hidden[:100], out_weights, targets[:100], 2)  # warm-up
    times = []
    for _ in range(5):  # the fast path takes ~0.1 s: the median of 5 runs
        t0 = time.perf_counter()
        fast = prune.greedy_forward_selection(hidden, out_weights, targets, args.k, allow_repeats=False)
        times.append(time.perf_counter() - t0)
    t_fast = sorted(times)[2]
    print(f"{'greedy_forward_selection (median of 5):':45s} {t_fast:8.3f} s")

    rows = []
    for label, incremental in (("per-candidate loop, running sum + g_j", True),
                               ("per-candidate loop, forward pass of S + {j}", False)):
        if not incremental and args.skip_forward:
            continue
        t0 = time.perf_counter()
        slow = prune.brute_force_greedy(hidden, out_weights, targets, args.k, allow_repeats=False,
                                        incremental=incremental)
        t_loop = time.perf_counter() - t0
        same = slow.picks == fast.picks
        diff = max(abs(a - b) for a, b in zip(slow.losses, fast.losses))
        print(f"{label + ':':45s} {t_loop:8.3f} s   same picks: {same}   "
              f"max |loss difference| = {diff:.1e}")
        rows.append((label, t_loop / t_fast))
        if not same:
            raise SystemExit("picks differ")
    for label, ratio in rows:
        print(f"speed-up of greedy_forward_selection over the {label}: {ratio:.0f}x")


if __name__ == "__main__":
    main()
