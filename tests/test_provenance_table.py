"""The reproducibility page's tables: committed results' provenance and the environment's versions."""
import json
from importlib import metadata

import pandas as pd

from companion.experiments import store as cache
from companion.provenance_table import COLUMNS, environment_versions, provenance_summary, provenance_table


def test_reads_what_the_cache_writes(tmp_path):
    config = {"n_train": 500, "seeds": [2, 0, 1], "pretrain": {"lr": 0.1, "seed": 0}}
    frame = pd.DataFrame({"t": [0, 100], "acc": [0.1, 0.9]})
    cache.store("mnist_threshold", config, frame, device="cpu:x86_64 x2 threads", wall_time_s=12.3456,
                cache_dir=tmp_path)
    table = provenance_table(tmp_path)
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["name"] == "mnist_threshold"
    assert row["hash"] == cache.config_hash(config)
    assert row["path"] == f"mnist_threshold-{cache.config_hash(config)}"
    assert row["device"] == "cpu:x86_64 x2 threads"
    assert abs(row["wall_time_s"] - 12.346) < 1e-9
    assert row["torch"] == metadata.version("torch")
    assert row["seeds"] == "0, 1, 2"
    assert row["rows"] == 2
    assert len(row["sha256"]) == 12


def test_tolerates_sparse_files_and_skips_writes_in_progress(tmp_path):
    # one result as the writer makes it, one whose provenance lost every field but its config
    cache.store("a_result", {"mc_seed": 7}, pd.DataFrame({"a": [1]}), device="cuda:NVIDIA H200",
                wall_time_s=3.5, cache_dir=tmp_path)
    (tmp_path / "b_result-123abc").mkdir()
    (tmp_path / "b_result-123abc" / "provenance.json").write_text(json.dumps({"config": {}}))
    (tmp_path / ".a_result-ffff00.tmp123").mkdir()
    (tmp_path / ".a_result-ffff00.tmp123" / "provenance.json").write_text("{")
    (tmp_path / "not_a_result").mkdir()
    table = provenance_table(tmp_path)
    assert table["name"].tolist() == ["a_result", "b_result"]
    assert table["hash"].tolist() == [cache.config_hash({"mc_seed": 7}), "123abc"]
    first = table.iloc[0]
    # a prefixed seed key (chapter 1's Monte-Carlo check writes mc_seed) is a seed too
    assert (first["seeds"], first["wall_time_s"], first["device"]) == ("7", 3.5, "cuda:NVIDIA H200")
    assert first["torch"] == metadata.version("torch") and len(first["sha256"]) == 12
    second = table.iloc[1]
    assert pd.isna(second["device"]) and pd.isna(second["wall_time_s"]) and pd.isna(second["seeds"])
    # the page shows a dash for what a file does not record, never None or NaN
    shown = provenance_summary(tmp_path)
    cells = shown.astype(str).to_numpy().ravel().tolist()
    assert not {"None", "nan", "NaN", "<NA>"} & set(cells) and "\u2014" in cells


def test_every_committed_result_records_every_field():
    table = provenance_table()
    assert len(table) and not table.drop(columns="seeds").isna().any().any()
    # every committed configuration has a seed (chapter 1's Monte-Carlo unit under mc_seed)
    assert table["seeds"].notna().all(), table.loc[table["seeds"].isna(), "name"].tolist()


def test_missing_folder_gives_empty_table(tmp_path):
    table = provenance_table(tmp_path / "nothing here")
    assert table.empty and list(table.columns) == list(COLUMNS)


def test_default_is_the_committed_results_folder():
    table = provenance_table()  # book/results/ of this repository, possibly empty
    assert list(table.columns) == list(COLUMNS)
    from companion import paths
    folders = sorted(p.parent.name for p in paths.RESULTS_DIR.glob("*/provenance.json"))
    assert sorted(table["path"]) == folders
    assert all(path.endswith("-" + digest) for path, digest in zip(table["path"], table["hash"]))


def test_environment_versions_lists_the_build_packages():
    env = environment_versions()
    assert list(env.columns) == ["package", "version"]
    versions = dict(zip(env["package"], env["version"]))
    for name in ("python", "torch", "numpy", "pandas", "seaborn", "jupyter-book", "myst-nb", "papermill"):
        assert name in versions
    assert versions["torch"] == metadata.version("torch")
    assert environment_versions(["surely-not-a-package-xyz"])["version"].tolist()[-1] == "not installed"


def test_summary_for_the_page(tmp_path):
    cache.store("sweep", {"seed": 3}, pd.DataFrame({"a": [1]}), device="cpu", wall_time_s=1.26,
                cache_dir=tmp_path)
    summary = provenance_summary(tmp_path)
    assert summary.index.name == "result" and summary.index[0].startswith("sweep-")
    assert summary.iloc[0]["wall time (s)"] == 1.3 and summary.iloc[0]["seeds"] == "3"
    assert len(summary.iloc[0]["created"]) == 10
    assert provenance_summary(tmp_path / "none").empty


def test_rows_are_sorted_by_configuration_numbers_as_numbers(tmp_path):
    for n in (1000, 500, 50000, 2000):
        cache.store(f"ch3-mean_field-n{n}-s0", {"n": n}, pd.DataFrame({"a": [1]}), device="cpu",
                    wall_time_s=1.0, cache_dir=tmp_path)
    names = list(provenance_table(tmp_path)["name"])
    assert names == [f"ch3-mean_field-n{n}-s0" for n in (500, 1000, 2000, 50000)]
