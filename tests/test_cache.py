
import pandas as pd
import pytest

from companion import cache


def test_cache_computes_once_and_records_provenance(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"t": [0, 1], "loss": [1.0 / 3, 0.1]})

    cfg = {"n": 10, "seed": 0}
    a = cache.cached("demo", cfg, compute, cache_dir=tmp_path)
    b = cache.cached("demo", cfg, compute, cache_dir=tmp_path)
    assert len(calls) == 1 and a.equals(b) and a["loss"][0] == 1.0 / 3
    prov = cache.provenance("demo", cfg, cache_dir=tmp_path)
    assert prov["config"] == cfg and "torch" in prov["packages"] and prov["wall_time_s"] >= 0
    cache.cached("demo", {"n": 11, "seed": 0}, compute, cache_dir=tmp_path)
    assert len(calls) == 2  # another config, another result


def test_corrupt_result_is_recomputed_with_a_warning(tmp_path):
    cfg = {"n": 1}
    cache.cached("demo", cfg, lambda: pd.DataFrame({"x": [1.0, 2.0]}), cache_dir=tmp_path)
    path = cache.result_dir("demo", cfg, tmp_path) / "frame.csv"
    path.write_text(path.read_text().replace("2", "3"))
    with pytest.warns(cache.CorruptResult, match="checksum"):
        out = cache.cached("demo", cfg, lambda: pd.DataFrame({"x": [5.0]}), cache_dir=tmp_path)
    assert out["x"].tolist() == [5.0]
    # truncated provenance
    prov = cache.result_dir("demo", cfg, tmp_path) / "provenance.json"
    prov.write_text(prov.read_text()[:20])
    with pytest.warns(cache.CorruptResult):
        assert cache.load("demo", cfg, tmp_path) is None


def test_no_partial_results_left_on_failure(tmp_path):
    def boom():
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.cached("demo", {"n": 2}, boom, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
