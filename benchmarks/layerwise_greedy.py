"""Speed of the layer-wise greedy forward selection (``companion.prune.layerwise``), exact mode (every
candidate on the whole scoring set, no repeats), measured side by side in one run on the same
pre-trained MLP and the same images:

- brute force: one full forward pass of the rescaled network per candidate
  (``brute_force_layerwise_greedy``), the reference;
- per-candidate loop: ``method='loop'``, the layers below computed once per layer, then per
  candidate one rank-1 update of the next pre-activation and one pass of the layers above;
- batched: ``method='batched'`` (the default), the same per chunk of candidates at once.

    python benchmarks/layerwise_greedy.py [--n 2000 --hidden 256 256 --k 64 --loss ce]

The MLP is first pre-trained briefly (``companion.train``, cross-entropy SGD with momentum) so that
the selection is meaningful. Prints each time, whether the picks equal the batched ones, the largest
difference of the recorded losses, the speed-ups (measured in this one run), and the size of the
materialised subnetwork.

Threads: ``--threads 1`` by default, for every mode alike. On the shared 2-core machine this was
written on, a second thread made the element-wise kernels up to 100x slower whenever other processes
were running (each parallel region waits for a descheduled thread); pass ``--threads 2`` on a
quiet machine.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing
from companion import data  # noqa: E402
from companion.prune import layerwise, subnetwork  # noqa: E402
from companion.models import MLP  # noqa: E402
from companion.train import SGDConfig, train  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--loss", choices=["ce", "mse"], default="ce")
    ap.add_argument("--source", choices=["embedded", "auto", "torchvision"], default="embedded")
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3, help="runs of the batched mode (median)")
    ap.add_argument("--skip-brute-force", action="store_true",
                    help="skip the slowest reference (a full forward pass per candidate, minutes)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    split = data.mnist(args.n, source=args.source, seed=0, unit_norm=False)
    train_set = split.train.to(dtype=torch.float32)
    net = MLP(784, args.hidden, 10, seed=0)
    cfg = SGDConfig(lr=0.05, batch_size=min(128, args.n), loss="ce", momentum=0.9)
    hist = train(net, train_set, cfg, [args.pretrain_steps]).history
    x = train_set.x
    y = train_set.labels if args.loss == "ce" else train_set.targets
    print(f"MLP 784-{'-'.join(map(str, args.hidden))}-10, N={args.n} ({train_set.source} MNIST), "
          f"k={args.k} per layer, loss={args.loss}, float32, threads={torch.get_num_threads()}")
    print(f"dense network after {args.pretrain_steps} SGD steps: training accuracy "
          f"{hist['accuracy'].iloc[-1]:.3f}")

    layerwise.layerwise_greedy(net, x[:50], y[:50], 2, loss=args.loss)  # warm-up
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fast = layerwise.layerwise_greedy(net, x, y, args.k, loss=args.loss)
        times.append(time.perf_counter() - t0)
    t_fast = sorted(times)[len(times) // 2]
    print(f"{f'batched (median of {args.repeats}):':42s} {t_fast:8.2f} s")

    rows = []
    refs = [("per-candidate loop (method='loop')",
             lambda: layerwise.layerwise_greedy(net, x, y, args.k, loss=args.loss, method="loop"))]
    if not args.skip_brute_force:
        refs.append(("brute force (full forward per candidate)",
                     lambda: layerwise.brute_force_layerwise_greedy(net, x, y, args.k, loss=args.loss)))
    for label, run in refs:
        t0 = time.perf_counter()
        slow = run()
        elapsed = time.perf_counter() - t0
        same = slow.picks == fast.picks
        diff = max(abs(a - b) for la, lb in zip(slow.losses, fast.losses) for a, b in zip(la, lb))
        print(f"{label + ':':42s} {elapsed:8.2f} s   same picks: {same}   "
              f"max |loss difference| = {diff:.1e}")
        rows.append((label, elapsed / t_fast, same))
    for label, ratio, same in rows:
        print(f"speed-up of batched over the {label}: {ratio:.1f}x" + ("" if same else " (picks differ)"))

    small = subnetwork.materialise(net, fast)
    with torch.no_grad():
        acc = float((small(x).argmax(1) == train_set.labels).double().mean())
    size = subnetwork.size_report(net, small)
    print(f"subnetwork {size['small_widths']}: training accuracy {acc:.3f} before fine-tuning; "
          f"{size['small_parameters']:,} of {size['dense_parameters']:,} parameters, "
          f"{size['small_flops_per_image']:,} of {size['dense_flops_per_image']:,} FLOPs per image")
    if not all(same for _, _, same in rows):
        raise SystemExit("picks differ")


if __name__ == "__main__":
    main()
