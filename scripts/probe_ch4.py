"""The probes behind chapter 4's steps and lengths (companion/chapters/finetune/experiments.py's docstring):
held-out accuracy (5,000 pool images) of dense and small networks trained from scratch at N = 16,000
(N = 500 for the step's stability), batch 128, constant step, at doubling step counts. Full MNIST.

    python scripts/probe_ch4.py two_layer   # about 2 min on one core
    python scripts/probe_ch4.py mlp         # about 1 min
    python scripts/probe_ch4.py cnn         # about 6 min

Prints one line per run: its setting and {steps: held-out accuracy}. Nothing is stored.
"""
import os
import sys

import torch

from companion.data import mnist
from companion import regression
from companion.models import MLP, ResNet, TwoLayerNet
from companion.metrics import evaluate
from companion.pretrain import model_at
from companion.train import SGDConfig, train

torch.set_num_threads(1)
if not os.environ.get("COMPANION_DATA_ROOT"):
    os.environ["COMPANION_DATA_ROOT"] = str(regression.full_mnist_root())


def split(n: int, seed: int, unit_norm: bool):
    s = mnist(n, n_test=1000, seed=seed, source="torchvision", center=True, unit_norm=unit_norm,
              n_heldout=5000, heldout_from=50000)
    return s.train.to("cpu", torch.float32), s.heldout.to("cpu", torch.float32)


def probe(tag, model, data, held, lr, loss, momentum, marks):
    config = SGDConfig(lr=lr, batch_size=128, loss=loss, momentum=momentum, seed=0, reduction="mean")
    run = train(model, data, config, marks, history=False)
    accs = {t: round(evaluate(model_at(model, run.states[t]), held, loss, chunk=512)["accuracy"], 4)
            for t in marks}
    print(tag, accs, flush=True)


def main(which: str):
    if which == "two_layer":  # mean-field width 512 (steps times the width), squared loss
        train16, held16 = split(16000, 0, True)
        for lr in (0.1, 1.6, 3.2, 6.4):
            probe(f"two-layer m=512 base step {lr}", TwoLayerNet(784, 512, 10, "mean_field", seed=0),
                  train16, held16, lr, "mse", 0.0, [1024, 2048, 4096, 8192])
        for lr in (1.6, 3.2):
            probe(f"two-layer m=64 from scratch, base step {lr}",
                  TwoLayerNet(784, 64, 10, "mean_field", seed=1), train16, held16, lr, "mse", 0.0,
                  [1024, 2048, 4096, 8192])
    elif which == "mlp":  # 784-256-256-10, cross-entropy, momentum 0.9
        train16, held16 = split(16000, 0, False)
        for lr in (0.05, 0.1):
            probe(f"MLP 256-256 step {lr}", MLP(784, (256, 256), 10, seed=0), train16, held16, lr, "ce",
                  0.9, [512, 1024, 2048, 4096])
        for hidden in ((64, 64), (128, 128)):
            for seed in (1, 2, 3):
                probe(f"MLP {hidden} from scratch, seed {seed}, step 0.05", MLP(784, hidden, 10, seed=seed),
                      train16, held16, 0.05, "ce", 0.9, [512, 1024, 2048, 4096])
    elif which == "cnn":  # channels (8, 16), one block per stage, momentum 0.9
        train16, held16 = split(16000, 2, False)
        for init, head in (("pytorch", "pool"), ("he", "flatten")):
            probe(f"CNN init={init} head={head} seed 2 step 0.05",
                  ResNet((8, 16), 1, head=head, init=init, seed=2), train16, held16, 0.05, "ce", 0.9,
                  [64, 256, 512, 1024, 2048])
        probe("CNN half inner channels from scratch, He init, flat head, step 0.05",
              ResNet((8, 16), 1, inner_widths=(4, 8), head="flatten", init="he", seed=1), train16, held16,
              0.05, "ce", 0.9, [256, 512, 1024, 2048])
    else:
        raise SystemExit(f"argument must be one of two_layer, mlp, cnn (got {which!r})")


if __name__ == "__main__":
    for arm in sys.argv[1:] or ["two_layer", "mlp", "cnn"]:
        main(arm)
