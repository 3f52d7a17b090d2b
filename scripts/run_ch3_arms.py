"""Compute chapter 3's named experiments of the paper preset into the committed results (resumable:
stored units are reused), e.g. ``python scripts/run_ch3_arms.py ntk well well_ntk``."""
import dataclasses
import os
import sys
import time

from companion import paths, presets
from companion.chapters import mnist
from companion.chapters import check
from companion import regression
from companion.experiments import engine

if not os.environ.get("COMPANION_DATA_ROOT"):
    os.environ["COMPANION_DATA_ROOT"] = str(regression.full_mnist_root())
params, options = check("03_mnist_validation", presets.load("03_mnist_validation", "paper")
                        | {"cache_dir": str(paths.RESULTS_DIR)}, regenerate=True)
options = dataclasses.replace(options, progress=True)
exps = mnist.experiments(params)
for key in sys.argv[1:]:
    t0 = time.time()
    frame = engine.run(exps[key], options)
    print(f"{key}: {len(frame)} rows in {time.time() - t0:.0f} s", flush=True)
