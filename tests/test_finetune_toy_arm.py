"""A new architecture in chapter 4 is one arm specification (issue 32): this file registers a toy arm
(a one-hidden-layer MLP of 16 units with the squared loss and unit-norm inputs, pruned by the exact
layer-wise greedy, at random and by largest norm) with its parameters, and runs it through the
chapter's own ``run`` + ``summarize`` on the quick preset, at toy sizes (a few seconds). Nothing else
in the chapter is edited; the fixture unregisters the arm, so no other test sees it."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from companion import presets
from companion.chapters import finetune
from companion.chapters.finetune import selection
from companion.data import NUM_CLASSES
from companion.experiments import engine, schema
from companion.experiments.schema import int_check, ints_check, param
from companion.models import MLP
from companion.prune.subnetwork import from_scratch

TOY = finetune.ArmSpec(
    key="toy", name="toy network",
    reads={"sizes": "toy_sizes", "seeds": "toy_seeds", "widths": "toy_width", "ratios": "toy_ratios",
           "lr": "toy_lr", "finetune_lr": "toy_finetune_lr", "steps": "toy_steps",
           "num_checkpoints": "toy_num_checkpoints", "first_checkpoint": "toy_first_checkpoint",
           "budgets": "toy_budgets"},
    fixed={"momentum": 0.0, "blocks_per_stage": 0, "sampled_candidates": 0, "sampled_batch": 0, "head": "",
           "init": ""},
    dense=lambda config, seed: MLP(784, config["widths"], NUM_CLASSES, seed=seed,
                                   dtype=getattr(torch, config["dtype"])),
    small=lambda config, dense, widths, seed: from_scratch(dense, widths, seed=seed),
    unit_widths=lambda config: list(config["widths"]),
    pruners={"greedy": selection.layerwise_exact, "random": selection.random_units_of,
             "magnitude": selection.largest_norm_units_of},
    loss="mse", unit_norm=True, seconds_per=(1e-3, 2e-3, 2.5e-12, 3e-13))


@dataclasses.dataclass(frozen=True)
class ToyParams(finetune.FinetuneParams):
    """The chapter's parameters and the toy arm's (flat names, as the book's arms')."""

    toy_sizes: tuple = param((100, 200, 400), "training-set sizes N of the toy arm", ints_check(10, max_len=20))
    toy_seeds: tuple = param((0, 1), "seeds of the toy arm", ints_check(0, max_len=20))
    toy_width: int = param(16, "hidden units of the toy network", int_check(1, 256))
    toy_ratios: tuple = param((0.5,), "kept fraction of the toy network's hidden units", None)
    toy_lr: float = param(0.5, "SGD step of the toy arm", None)
    toy_finetune_lr: float = param(0.5, "SGD step of the toy arm's fine-tuning", None)
    toy_steps: int = param(16, "T_full of the toy arm", int_check(1, 1024))
    toy_num_checkpoints: int = param(3, "pruning steps of the toy arm", int_check(2, 16))
    toy_first_checkpoint: int = param(4, "first pruning step after t = 0 (toy arm)", int_check(1, 1024))
    toy_budgets: tuple = param((4, 8), "fine-tuning budgets of the toy arm", ints_check(1, 1024, max_len=20))


@pytest.fixture
def toy_arm():
    finetune.register(TOY)
    try:
        yield TOY
    finally:
        finetune.unregister(TOY.key)
    assert TOY.key not in finetune.ARMS


@pytest.fixture
def quick_toy(toy_arm, tmp_path):
    values = {**presets.load("04_finetune", "quick"), "n_jobs": 1, "progress": False,
              "cache_dir": str(tmp_path / "cache")}
    return schema.check(ToyParams, values)


def test_the_toy_arm_is_registered_by_its_specification_only(quick_toy):
    p, _ = quick_toy
    assert finetune.arms_of(p) == ["two_layer", "mlp", "cnn", "toy"]
    assert finetune.arms_of(finetune.FinetuneParams()) == ["two_layer", "mlp", "cnn"]  # the book's parameters
    exp = finetune.experiments(p)["toy"]
    config = exp.unit_config(exp.units()[0])
    assert config["arm"] == "toy" and config["loss"] == "mse" and config["unit_norm"] is True
    assert config["methods"] == ["greedy", "random", "magnitude"] and config["variants_ratio"] is None
    assert exp.unit_label((100, 0)) == "ft-toy-n100-s0"
    # the book's arms keep their cache keys with another arm registered
    plain, _ = schema.check(finetune.FinetuneParams, presets.load("04_finetune", "quick"))
    book = finetune.experiments(plain)
    for key, e in finetune.experiments(p, ["two_layer", "mlp", "cnn"]).items():
        assert [e.unit_config(u) for u in e.units()] == [book[key].unit_config(u) for u in book[key].units()]


def test_the_toy_arm_runs_the_quick_preset_through_run_and_summarize(quick_toy):
    p, options = quick_toy
    frames = finetune.run(p, options, arms=["toy"])
    assert engine.missing(finetune.experiments(p)["toy"], options.cache_dir) == []
    frame = frames["toy"]
    assert list(frame.columns) == finetune.FRAME_COLUMNS and set(frame["arm"]) == {"toy"}
    assert set(frame["method"]) == set(finetune.CONTROLS) | set(TOY.methods)
    assert sorted(frame["n"].unique()) == [100, 200, 400] and set(frame["split"]) == set(finetune.SPLITS)
    assert frame["accuracy"].between(0, 1).all() and frame["loss"].notna().all()
    # small networks of the kept width: half the hidden units
    greedy = frame[(frame["method"] == "greedy") & (frame["budget"] == 0)]
    dense = frame[frame["method"] == "dense"]
    assert (greedy["params"] < dense["params"].max()).all()

    summary = finetune.summarize(frames, p, chapter3=False)
    numbers, tables = summary.numbers, summary.tables
    toy = tables["arms"]["toy"]
    assert toy["has_data"] and toy["t_full"] == 16 and toy["largest"] == 400 and toy["n_seeds"] == 2
    assert toy["verdict"].startswith("with the long fine-tuning budget (F = 8 steps), the greedy subnetwork's")
    assert "toy network" in numbers["ch4_verdict_growth"] and "toy network" in numbers["ch4_short_growth"]
    assert "toy" in tables["box"].columns  # the verdict box has a column for every arm with data
    te = tables["t_enough"]
    assert set(te["arm"]) == {"toy"} and len(te[te["method"] == "greedy"]) == 3 * 2 * 3  # N x seeds x budgets (0 too)
    assert set(tables["practitioner"]["arm"]) == {"toy"}
    assert tables["findings"]["toy"].has_data and tables["findings"]["toy"].largest == 400
    # the book's arms have no frames here: said in words; no glued name for the toy arm (it has no pages)
    assert numbers["ch4_mlp_verdict"] == "the deep MLP arm has no rows for these settings"
    assert not any(k.startswith("ch4_toy_") for k in numbers)
    bad = {k: v for k, v in numbers.items() if isinstance(v, float) and not math.isfinite(v)}
    assert not bad
    assert not [k for k, v in {**numbers, **{f"toy {k}": v for k, v in toy.items()}}.items()
                if isinstance(v, str) and "nan" in v.lower().split()]
