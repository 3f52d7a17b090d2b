"""Where the time of one chapter-3 unit goes: pre-training, hidden activations, greedy selection (with
and without the Gram matrix), evaluation; and pre-training's throughput against this machine's
measured matrix-multiply rate. Every number is measured side by side in this one run.

    .venv/bin/python benchmarks/unit_profile.py                       # paper unit: full MNIST, N = 50,000
    .venv/bin/python benchmarks/unit_profile.py --n 2000 --source embedded --steps 400

One thread, as each worker of a chapter run uses (n_jobs workers fill the cores).
"""
from __future__ import annotations

import argparse
import time

import torch

from companion import chapters
from companion.chapters import mnist
from companion.chapters.mnist import experiments as mnist_experiments
from companion.models import TwoLayerNet
from companion.pretrain import TrainConfig, model_at, pretrain
from companion.prune.greedy import evaluate_subnetwork, evaluate_subnetworks, greedy_forward_selection
from companion.prune.subnetwork import magnitude_selection, random_selection


def timed(fn, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def matmul_rate(n: int, d: int, m: int, dtype) -> float:
    """GFLOP/s of an (n x d) @ (d x m) product, best of 5."""
    a, b = torch.randn(n, d, dtype=dtype), torch.randn(d, m, dtype=dtype)
    a @ b
    sec, _ = timed(lambda: a @ b, repeat=5)
    return 2 * n * d * m / sec / 1e9


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--source", default="torchvision", choices=mnist.SOURCES)
    p.add_argument("--steps", type=int, default=4000)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    params, _ = chapters.check(
        "03_mnist_validation", {"source": args.source, "steps": args.steps,
                                "sizes": [args.n], "gd_sizes": [min(args.n, 8000)],
                                "ntk_n": min(args.n, 4000)})
    sweep = params.sweep("sgd")
    config = sweep.unit_config((args.n, 0))
    m, k, batch = config["width"], config["k"], config["batch_size"]

    load_s, split = timed(lambda: mnist_experiments._split(config, args.n, 0, torch.float32))
    d = split.train.x.shape[1]
    model = TwoLayerNet(d, m, mnist.NUM_CLASSES, "mean_field", seed=0)
    cfg = mnist_experiments._train_config(config, "cpu")
    pre_s, result = timed(lambda: pretrain(model, split.train, cfg, config["checkpoints"], progress=False,
                                           history=False))
    flops = args.steps * 3 * 2 * batch * d * m  # forward + two backward products per step
    net = model_at(model, result.states[config["checkpoints"][-1]])
    hid_s, (hidden, out_w, bias) = timed(lambda: net.neurons(split.train.x), repeat=3)
    hidden, out_w = hidden.double(), out_w.double()
    y = split.train.targets
    g_vec_s, sel_vec = timed(lambda: greedy_forward_selection(hidden, out_w, y, k, allow_repeats=False))
    g_gram_s, sel_gram = timed(lambda: greedy_forward_selection(hidden, out_w, y, k, allow_repeats=False,
                                                               gram=True))
    assert sel_vec.picks == sel_gram.picks, "the two greedy paths must pick the same neurons"
    picks = [list(range(m)), sel_gram.picks, magnitude_selection(net.w.double(), out_w, k)]
    picks += [random_selection(m, k, seed=i) for i in range(config["random_draws"])]
    one_s, one = timed(lambda: [evaluate_subnetwork(hidden, out_w, y, s, labels=split.train.labels)
                                for s in picks])
    eval_s, many = timed(lambda: evaluate_subnetworks(hidden, out_w, y, picks, labels=split.train.labels))
    assert [r["accuracy"] for r in one] == [r["accuracy"] for r in many]
    ckpt = len(config["checkpoints"])
    per_ckpt = hid_s + g_gram_s + eval_s
    rate_step = matmul_rate(batch, d, m, torch.float32)
    rate_big = matmul_rate(2048, 2048, 2048, torch.float32)
    print(f"unit: SGD arm, N = {args.n:,}, m = {m}, k = {k}, {args.steps} steps of batch {batch}, "
          f"{ckpt} checkpoints; {torch.backends.cpu.get_cpu_capability()}, 1 thread")
    print(f"  data load + preprocessing       {load_s:8.2f} s")
    print(f"  pre-training                     {pre_s:8.2f} s   ({flops / pre_s / 1e9:.1f} GFLOP/s; "
          f"a lone {batch}x{d}x{m} product runs at {rate_step:.1f}, a 2048^3 product at {rate_big:.1f} "
          f"GFLOP/s: pre-training reaches {flops / pre_s / 1e9 / rate_step:.0%} of the first)")
    print(f"  per checkpoint: hidden H         {hid_s:8.3f} s")
    print(f"                  greedy (mat-vec) {g_vec_s:8.3f} s")
    print(f"                  greedy (Gram)    {g_gram_s:8.3f} s   ({g_vec_s / g_gram_s:.1f}x faster, same picks)")
    print(f"                  evaluate {len(picks):>2} nets {eval_s:8.3f} s   (one product; one net at a "
          f"time: {one_s:.3f} s, {one_s / eval_s:.1f}x slower)")
    print(f"  all checkpoints (x{ckpt})          {ckpt * per_ckpt:8.2f} s (train split; the 1,000 held-out "
          "images add little)")
    # Full-batch GD (the GD arm): one iteration is three N x d x m products
    n_gd = min(args.n, max(params.gd_sizes))
    gd_config = params.sweep("gd").unit_config((n_gd, 0))
    gd_split = mnist_experiments._split(gd_config, n_gd, 0, torch.float32)
    gd_model = TwoLayerNet(d, m, mnist.NUM_CLASSES, "mean_field", seed=0)
    iters = 20
    gd_s, _ = timed(lambda: pretrain(gd_model, gd_split.train, mnist_experiments._train_config(gd_config, "cpu"),
                                     [0, iters], progress=False, history=False))
    gd_flops = iters * 3 * 2 * n_gd * d * m
    rate_gd = matmul_rate(n_gd, d, m, torch.float32)
    print(f"  full-batch GD, N = {n_gd:,}: {gd_s / iters * 1e3:.0f} ms per iteration "
          f"({gd_flops / gd_s / 1e9:.1f} GFLOP/s; a lone {n_gd}x{d}x{m} product runs at {rate_gd:.1f}: "
          f"{gd_flops / gd_s / 1e9 / rate_gd:.0%}); {params.gd_steps} iterations: "
          f"{gd_s / iters * params.gd_steps:.0f} s")
    total = load_s + pre_s + ckpt * per_ckpt
    print(f"  estimated unit                   {total:8.2f} s: pre-training {pre_s / total:.0%}, "
          f"hidden {ckpt * hid_s / total:.0%}, greedy {ckpt * g_gram_s / total:.0%}, "
          f"evaluation {ckpt * eval_s / total:.0%}")


if __name__ == "__main__":
    main()
