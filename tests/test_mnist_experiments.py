"""Chapter 3's sweep (companion.experiments.mnist) on the engine: keys, stored units, no data read
when every unit is stored, and the chapter summary."""
import pandas as pd
import pytest

from companion import experiments
from companion.experiments import engine, mnist, store

TINY = dict(regimes=["mean_field", "ntk"], sizes=[20, 40], seeds=[0], n_test=20, width=8, k=3,
            steps=12, num_checkpoints=4, first_checkpoint=2, batch_size=10, lr_mean_field=0.1,
            lr_ntk=1.0, source="embedded", n_boot=20, level=0.2, levels=[0.1, 0.2], deltas=[0.05])


def _check(tmp_path, **kw):
    return experiments.check("03_mnist_validation", {**TINY, "cache_dir": str(tmp_path),
                                                     "progress": False, "n_jobs": 1, **kw})


def test_checkpoint_grid_is_geometric_with_zero():
    p, _ = experiments.check("03_mnist_validation", {**TINY, "steps": 1000, "num_checkpoints": 8,
                                                     "first_checkpoint": 10})
    grid = p.sweep().checkpoints
    assert grid[0] == 0 and grid[1] == 10 and grid[-1] == 1000 and grid == sorted(set(grid))
    ratios = [b / a for a, b in zip(grid[1:], grid[2:])]
    assert max(ratios) / min(ratios) < 1.1 and len(grid) == 8


def test_unit_config_holds_everything_and_no_run_option(tmp_path):
    p, _ = _check(tmp_path)
    sweep = p.sweep()
    a = sweep.unit_config(("ntk", 20, 0))
    assert a["checkpoints"] == sweep.checkpoints and a["parameterization"] == "ntk" and a["lr"] == 1.0
    b = _check(tmp_path, width=9)[0].sweep().unit_config(("ntk", 20, 0))
    assert store.config_hash(a) != store.config_hash(b)
    assert not {"device", "n_jobs", "cache_dir", "progress"} & set(a)
    # changing only the analysis (threshold rule) keeps every key
    c = _check(tmp_path, threshold_rule="within_delta")[0].sweep().unit_config(("ntk", 20, 0))
    assert c == a


def test_sweep_stores_units_and_never_reads_data_when_all_are_stored(tmp_path, monkeypatch):
    p, options = _check(tmp_path)
    first = mnist.run(p, options)["sweep"]
    assert len(first) == 4 * len(p.sweep().checkpoints) * 4 * 2
    assert set(first["method"]) == set(mnist.METHODS) and set(first["split"]) == {"train", "test"}
    assert list(first.columns) == ["regime", "n", "seed", "t", "method", "split", "loss", "accuracy"]
    import companion.data

    def boom(*a, **k):
        raise AssertionError("data loaded although every unit is stored")

    monkeypatch.setattr(companion.data, "mnist", boom)
    second = mnist.run(p, options)
    pd.testing.assert_frame_equal(first, second["sweep"])
    assert len(second["units"]) == 4 and (second["units"]["wall_time_s"] > 0).all()


def test_summary_on_a_tiny_sweep(tmp_path):
    p, options = _check(tmp_path)
    frames = mnist.run(p, options)
    summary = mnist.summarize(frames, p)
    n = summary.numbers
    assert n["ch3_n_units"] == 4 and n["ch3_width"] == 8
    assert 0 <= n["ch3_final_greedy_train"] <= 1
    assert "mean-field regime" in n["ch3_verdict_mean_field"]
    assert set(summary.tables["thresholds"]["regime"]) == {"mean_field", "ntk"}
