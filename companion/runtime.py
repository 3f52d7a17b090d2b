"""Devices, seeding and the versions that go into every result's provenance."""
from __future__ import annotations

import platform
from importlib import metadata

import torch

from . import validate

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU. Results are bit-identical run to run on CPU only."""
    validate.choice("device", device, DEVICES)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise validate.ParameterError("parameter 'device' = 'cuda' is not allowed: no CUDA device is "
                                      "available here; use 'cpu' or 'auto'")
    return torch.device(device)


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    # The vector instruction set torch dispatches to (AVX2, AVX512, ...) decides the last bits of a
    # float32 matrix product, so results are bitwise comparable only between equal descriptions.
    return (f"cpu:{platform.processor() or platform.machine()} {torch.backends.cpu.get_cpu_capability()}"
            f" x{torch.get_num_threads()} threads")


#: Packages whose versions matter for the book's numbers and its build.
PACKAGES = ("torch", "torchvision", "numpy", "pandas", "seaborn", "matplotlib", "jupyter-book",
            "myst-nb", "papermill", "mlxtend")


def package_versions(packages=PACKAGES) -> dict[str, str]:
    """Python's version and each package's ("not installed" when absent)."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
