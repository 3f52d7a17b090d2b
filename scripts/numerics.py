"""Run the regression tests and the notebook checks under several numeric configurations of this
one machine, to show that they hold wherever the last bits of floating point differ.

The last bits of a result depend on the BLAS/LAPACK library and the kernel it picks at run time,
PyTorch's own vectorised kernels, and the thread count; none of these is in a device string. Each
configuration below sets environment variables that the libraries in this environment honour:

- ``ATEN_CPU_CAPABILITY``: PyTorch's vectorised element-wise and reduction kernels (default = no
  SIMD, avx2, avx512);
- ``MKL_ENABLE_INSTRUCTIONS`` / ``MKL_CBWR``: the instruction set / the reproducibility branch of the
  MKL that PyTorch's x86 wheels use for matrix products and LAPACK;
- ``OPENBLAS_CORETYPE``: the kernel family of the OpenBLAS that numpy and scipy use;
- ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``: the thread count (1 or 2).

For each configuration it first prints a *fingerprint*: a hash of a few float32/float64 products, an
eigensolver and an element-wise reduction, computed by torch and by numpy, so that one can see which
setting really changes which kernels (a setting whose fingerprint equals the default's changes
nothing here), then runs the checks and reports pass/fail per configuration.

    python scripts/numerics.py                 # fingerprints, then regression tests + nbval
    python scripts/numerics.py --fingerprints  # only the fingerprints (seconds)
    python scripts/numerics.py --only regression
    python scripts/numerics.py --drift         # the measured drift behind every stated tolerance
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: name -> environment overrides (on top of the caller's environment).
CONFIGS: dict[str, dict[str, str]] = {
    "default (2 threads)": {},
    "1 thread": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default"},
    "ATEN_CPU_CAPABILITY=avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "MKL_ENABLE_INSTRUCTIONS=AVX2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "MKL_CBWR=COMPATIBLE": {"MKL_CBWR": "COMPATIBLE"},
    "OPENBLAS_CORETYPE=Prescott": {"OPENBLAS_CORETYPE": "Prescott"},
    "all at once (baseline kernels, MKL AVX2, OpenBLAS Haswell, 1 thread)": {
        "ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "OPENBLAS_CORETYPE": "Haswell", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1"},
}

FINGERPRINT = r"""
import hashlib, json, numpy as np, torch
from threadpoolctl import threadpool_info
rng = np.random.default_rng(0)  # inputs from numpy's generator: the same bits in every configuration
na, nb = rng.standard_normal((257, 513)), rng.standard_normal((513, 129))
a64, b64 = torch.from_numpy(na), torch.from_numpy(nb)
a32, b32 = a64.float(), b64.float()
ns = np.ascontiguousarray(na[:, :257] + na[:, :257].T)  # a symmetric matrix made without BLAS
s = torch.from_numpy(ns)
def h(x):
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()[:8]
out = {
    "torch sgemm": h((a32 @ b32).numpy()),
    "torch dgemm": h((a64 @ b64).numpy()),
    "torch eigh": h(torch.linalg.eigvalsh(s).numpy()),
    "torch exp": h(torch.exp(a32 / 10).numpy()),
    "torch sum": h(torch.stack([(a32 * a32).sum(), a32.reshape(-1)[:100001].sum()]).numpy()),
    "torch randn": h(torch.randn(4099, generator=torch.Generator().manual_seed(0)).numpy()),
    "numpy dgemm": h(na @ na.T),
    "numpy eigh": h(np.linalg.eigvalsh(ns)),
    "torch capability": torch.backends.cpu.get_cpu_capability(),
    "threads": torch.get_num_threads(),
    "openblas": next((i.get("architecture") for i in threadpool_info() if i["internal_api"] == "openblas"), None),
}
print(json.dumps(out))
"""

RECOMPUTE = r"""
import os, sys
from pathlib import Path
from companion import regression
out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
root = None
for chapter, key, exp, unit in regression.cheapest_units():
    if regression.needs_full_mnist(exp, unit):
        root = root or regression.full_mnist_root()
        if root is None:
            print(f"skip {chapter}-{key}: no full MNIST", flush=True)
            continue
        os.environ["COMPANION_DATA_ROOT"] = str(root)
    regression.recompute(exp, unit).to_csv(out / f"{chapter}-{key}.csv", index=False)
    print(f"{chapter}-{key}", flush=True)
"""

CHECKS = {
    "regression": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_regression.py"],
    "nbval": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
              *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb")),
              "--nbval-sanitize-with", "book/nbval_sanitize.cfg"],
}


def _env(overrides: dict) -> dict:
    env = dict(os.environ)
    env.update(overrides)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TQDM_DISABLE", "1")
    return env


def fingerprint(overrides: dict) -> dict:
    res = subprocess.run([sys.executable, "-c", FINGERPRINT], env=_env(overrides), capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)[:60]


def measure_drift(configs: dict, out: Path) -> int:
    """Recompute the cheapest unit of every experiment under each configuration and print, per
    experiment and column, the largest drift from the committed frame over all configurations, next to
    the experiment's stated tolerance."""
    import pandas as pd

    from companion import regression

    for name, env in configs.items():
        start = time.time()
        subprocess.run([sys.executable, "-c", RECOMPUTE, str(out / _slug(name))], env=_env(env), cwd=ROOT,
                       check=True, capture_output=True, text=True)
        print(f"recomputed under {name} ({time.time() - start:.0f} s)", flush=True)
    rows = []
    for chapter, key, exp, unit in regression.cheapest_units():
        _, ref = regression.committed(exp, unit)
        for name in configs:
            f = out / _slug(name) / f"{chapter}-{key}.csv"
            if not f.exists():
                continue
            fresh = pd.read_csv(f)
            d = regression.drift(ref, fresh)
            d.insert(0, "config", name)
            d.insert(0, "experiment", f"{chapter}-{key}")
            d["problems"] = len(regression.compare(ref, fresh, exp.tolerance))
            rows.append(d)
    table = pd.concat(rows)
    table.to_csv(out / "drift.csv", index=False)
    worst = (table.groupby(["experiment", "column"])
             .agg(max_rel=("max_rel", "max"), max_scaled=("max_scaled", "max"),
                  share_differ=("share_differ", "max"), problems=("problems", "max")).reset_index())
    worst = worst[(worst.max_rel.fillna(0) > 0) | (worst.share_differ > 0)]
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(worst.to_string(index=False, float_format=lambda v: f"{v:.2e}"))
    bad = table[table.problems > 0][["experiment", "config"]].drop_duplicates()
    print(f"units beyond their stated tolerance: {len(bad)}")
    if len(bad):
        print(bad.to_string(index=False))
    return 1 if len(bad) else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fingerprints", action="store_true", help="only print the kernel fingerprints")
    ap.add_argument("--only", choices=sorted(CHECKS), action="append", help="run only this check")
    ap.add_argument("--config", action="append", help="run only configurations whose name contains this")
    ap.add_argument("--drift", type=Path, metavar="DIR", nargs="?", const=Path("/tmp/companion-drift"),
                    help="measure the drift of every experiment's cheapest unit (frames kept in DIR)")
    args = ap.parse_args(argv)
    configs = {k: v for k, v in CONFIGS.items() if not args.config or any(c in k for c in args.config)}
    base = fingerprint({})
    print("kernel fingerprints (hash of the output; '=' where equal to the default configuration's):")
    for name, env in configs.items():
        fp = base if not env else fingerprint(env)
        shown = {k: (v if (k in ("torch capability", "threads", "openblas") or not env or v != base[k]) else "=")
                 for k, v in fp.items()}
        print(f"  {name}: {shown}", flush=True)
    if args.fingerprints:
        return 0
    if args.drift:
        return measure_drift(configs, args.drift)
    results = []
    for name, env in configs.items():
        for check in args.only or list(CHECKS):
            start = time.time()
            proc = subprocess.run(CHECKS[check], env=_env(env), cwd=ROOT, capture_output=True, text=True)
            tail = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()][-1:] or [""]
            results.append((name, check, proc.returncode == 0, time.time() - start, tail[0]))
            print(f"{'PASS' if proc.returncode == 0 else 'FAIL'}  {check:<10} {name}  ({time.time() - start:.0f} s): "
                  f"{tail[0]}", flush=True)
            if proc.returncode != 0:
                print("\n".join(proc.stdout.splitlines()[-40:]), flush=True)
    failed = [r for r in results if not r[2]]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
