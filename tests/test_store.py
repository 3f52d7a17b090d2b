
import re

import pandas as pd
import pytest

from companion.experiments import store as cache


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


# --------------------------------------------------------------------------------------------------
# Committed results: read first, read-only, robust to line-ending conversion
# --------------------------------------------------------------------------------------------------

@pytest.fixture
def committed(tmp_path, monkeypatch):
    """A stand-in for book/results holding one committed result; returns (results dir, config, folder)."""
    results = tmp_path / "results"
    monkeypatch.setattr(cache.paths, "RESULTS_DIR", results)
    cfg = {"n": 7}
    folder = cache.store("demo", cfg, pd.DataFrame({"t": [0, 1], "loss": [0.5, 1.0 / 3]}),
                         device="cpu", wall_time_s=1.0, cache_dir=results)
    return results, cfg, folder


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_committed_results_are_read_first_and_new_ones_go_to_the_user_cache(committed, tmp_path):
    results, cfg, _ = committed
    user = tmp_path / "user"
    calls = []
    frame = cache.cached("demo", cfg, lambda: calls.append(1), cache_dir=user)
    assert calls == [] and frame["loss"].tolist() == [0.5, 1.0 / 3]   # read, not recomputed
    cache.cached("demo", {"n": 8}, lambda: pd.DataFrame({"x": [1]}), cache_dir=user)
    assert sorted(p.name for p in results.iterdir()) == [cache.folder_name("demo", cfg)]
    assert (user / cache.folder_name("demo", {"n": 8}) / "frame.csv").exists()
    # no cache_dir: the user cache named by COMPANION_CACHE_DIR (set by conftest), never book/results
    cache.cached("demo", {"n": 9}, lambda: pd.DataFrame({"x": [2]}))
    assert (cache.paths.cache_dir() / cache.folder_name("demo", {"n": 9})).exists()
    assert not (results / cache.folder_name("demo", {"n": 9})).exists()


def test_damaged_committed_result_stops_the_run_and_is_left_byte_for_byte(committed, tmp_path):
    results, cfg, folder = committed
    frame_path = folder / "frame.csv"
    frame_path.write_text(frame_path.read_text().replace("0.5", "0.7"))
    before = _snapshot(folder)
    for attempt in (lambda: cache.load("demo", cfg, tmp_path / "user"),
                    lambda: cache.cached("demo", cfg, lambda: pd.DataFrame({"x": [1]}),
                                         cache_dir=tmp_path / "user")):
        with pytest.raises(cache.CommittedResultError) as err:
            attempt()
        message = str(err.value)
        assert folder.name in message and "checksum" in message
        assert "git checkout --" in message and "--preset paper" in message
        assert _snapshot(folder) == before
    assert not (tmp_path / "user").exists() or not any((tmp_path / "user").iterdir())
    # a missing file is reported the same way, and nothing is removed
    (folder / "frame.csv").unlink()
    with pytest.raises(cache.CommittedResultError, match="missing"):
        cache.load("demo", cfg, tmp_path / "user")
    assert (folder / "provenance.json").exists()


def test_regenerate_mode_treats_the_committed_folder_as_its_cache(committed):
    results, cfg, folder = committed
    frame_path = folder / "frame.csv"
    frame_path.write_text(frame_path.read_text().replace("0.5", "0.7"))
    with pytest.warns(cache.CorruptResult):
        out = cache.cached("demo", cfg, lambda: pd.DataFrame({"x": [4.0]}), cache_dir=results)
    assert out["x"].tolist() == [4.0]


def test_crlf_line_endings_read_as_the_same_result(committed, tmp_path):
    results, cfg, folder = committed
    expected = cache.load("demo", cfg, tmp_path / "user")
    for name in ("frame.csv", "provenance.json"):
        path = folder / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert b"\r\n" in (folder / "frame.csv").read_bytes()
    assert cache.load("demo", cfg, tmp_path / "user").equals(expected)


def test_gitattributes_keeps_git_from_converting_committed_results():
    text = (cache.paths.REPO_ROOT / ".gitattributes").read_text()
    assert re.search(r"^book/results/\*\*\s+-text\b", text, re.M), text
