"""Each chapter's parameters are declared once: the notebook's parameters cell, its paper preset and
its schema agree, every value is checked, and unknown names are refused."""
import ast

import nbformat
import pytest

from companion import chapters, experiments, paths, presets
from companion.experiments import schema
from companion.validate import ParameterError

CHAPTERS = list(chapters.CHAPTERS)


def _cell_values(chapter) -> dict:
    nb = nbformat.read(paths.BOOK_DIR / f"{chapter}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebook_paper_preset_and_schema_agree(chapter):
    declared = schema.defaults(chapters.chapter(chapter).SCHEMA)
    cell = _cell_values(chapter)
    assert list(cell) == list(declared)                       # same names, same order
    assert cell == declared                                    # same defaults
    paper = presets.load(chapter, "paper")
    assert {k: declared[k] for k in paper} == paper            # the paper preset is the default
    missing = set(declared) - set(paper) - {"cache_dir", "progress", "scheduler"}
    assert not missing, f"paper.yaml of {chapter} does not list {missing}"
    assert list(presets.notebook_parameters(chapter)) == list(declared)  # what papermill sees


@pytest.mark.parametrize("chapter", CHAPTERS)
@pytest.mark.parametrize("preset", ["quick", "paper"])
def test_presets_pass_the_checks(chapter, preset):
    params, options = chapters.check(chapter, presets.load(chapter, preset))
    assert isinstance(options, experiments.RunOptions)


def test_unknown_name_is_refused_with_the_closest_match():
    with pytest.raises(ParameterError, match="did you mean 'sizes'"):
        chapters.check("03_mnist_validation", sizez=[100])


@pytest.mark.parametrize("chapter, bad, name", [
    ("01_theorem", {"sizes": [0]}, "sizes"), ("01_theorem", {"sizes": [5000]}, "sizes"),
    ("01_theorem", {"source": "web"}, "source"), ("01_theorem", {"delta": 1.0}, "delta"),
    ("01_theorem", {"eps": 0.0}, "eps"), ("01_theorem", {"mc_samples": []}, "mc_samples"),
    ("01_theorem", {"progress": "yes"}, "progress"),
    ("02_derivation", {"step_factor": 2.0}, "step_factor"), ("02_derivation", {"eps": -1.0}, "eps"),
    ("02_derivation", {"k": 0}, "'k'"), ("02_derivation", {"sizes_high": [16]}, "sizes_high"),
    ("02_derivation", {"width": 1.5}, "width"), ("02_derivation", {"horizon": 0.5}, "horizon"),
    ("02_derivation", {"device": "tpu"}, "device"), ("02_derivation", {"n_jobs": 0}, "n_jobs"),
    ("03_mnist_validation", {"sizes": []}, "sizes"), ("03_mnist_validation", {"k": 600}, "'k'"),
    ("03_mnist_validation", {"source": "foo"}, "source"),
    ("03_mnist_validation", {"lr_mean_field": -0.1}, "lr_mean_field"),
    ("03_mnist_validation", {"ntk_lrs": [1.0, -4.0]}, "ntk_lrs"),
    ("03_mnist_validation", {"ntk_ks": [0, 64]}, "ntk_ks"),
    ("03_mnist_validation", {"sizes": [5000], "source": "embedded"}, "sizes"),
    ("03_mnist_validation", {"sizes": [60000]}, "sizes"),      # balanced: at most 10 x 5,421 (digit 5)
    ("03_mnist_validation", {"sizes": [100], "batch_size": 128}, "batch_size"),
    ("03_mnist_validation", {"threshold_rule": "sometimes"}, "threshold_rule"),
    ("03_mnist_validation", {"dtype": "float16"}, "dtype"),
])
def test_bad_values_name_the_parameter(chapter, bad, name):
    with pytest.raises(ParameterError, match=name) as err:
        chapters.check(chapter, bad)
    # the value check fired, not the unknown-name one (every name above is a parameter)
    assert "is not a parameter of" not in str(err.value)
