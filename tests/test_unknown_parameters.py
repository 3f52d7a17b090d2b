"""Plain papermill refuses a parameter name the notebook does not declare, as the CLI does: papermill
itself only logs "Passed unknown parameter" and runs the whole notebook with the defaults."""
from __future__ import annotations

import time

import papermill as pm
import pytest
import yaml

from companion import paths, validate
from companion.experiments import schema

BOOK = paths.REPO_ROOT / "book"


def test_names_of_the_parameter_cells_are_found_and_nothing_else():
    namespace = {"In": ["", "# Parameters\nsizes = [1, 2]  # help\nsource = 'embedded'\n",
                        "import numpy as np\nx = np.zeros(3)\n",       # code, not a parameters cell
                        "# Parameters\nregimes = ['quantum']\nseeds = \"[0, 1]\"\n",  # papermill's cell
                        "level = compute()\n"]}
    assert schema.assigned_parameter_names(namespace) == ["sizes", "source", "regimes", "seeds"]
    with pytest.raises(validate.ParameterError, match=r"'regimes'.*papermill"):
        schema.check_page_names(namespace, ["sizes", "source", "seeds"], "chapter 03_mnist_validation")
    schema.check_page_names(namespace, ["sizes", "source", "seeds", "regimes"], "x")
    assert schema.assigned_parameter_names({}) == []  # outside IPython: nothing to check


@pytest.mark.parametrize("chapter, bad, hint", [
    ("03_mnist_validation", {"regimes": ["quantum"]}, None),   # a parameter the chapter used to have
    ("01_theorem", {"sizez": [50, 100]}, "sizes"),
    ("04_finetune", {"mlp_hiden": [32, 32]}, "mlp_hidden"),
])
def test_an_unknown_name_injected_by_papermill_is_refused(chapter, bad, hint):
    """In-process: the namespace papermill's injected cell leaves behind (its source in ``In``)."""
    from companion import chapters, presets

    cell = lambda values: "# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())  # noqa: E731
    paper = presets.load(chapter, "paper")
    namespace = {**paper, **bad, "In": ["", cell(paper), cell(bad)]}
    with pytest.raises(validate.ParameterError) as err:
        chapters.check_notebook(chapter, namespace)
    assert repr(next(iter(bad))) in str(err.value) and "papermill" in str(err.value)
    if hint:
        assert f"did you mean {hint!r}" in str(err.value)


@pytest.mark.parametrize("notebook, bad, hint", [
    ("reproducibility.ipynb", {"result_dir": "x"}, "results_dir"),   # the kernel path, once
])
def test_plain_papermill_refuses_an_unknown_name_before_any_work(notebook, bad, hint, tmp_path):
    preset = tmp_path / "my.yaml"
    preset.write_text(yaml.safe_dump(bad))
    start = time.time()
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(BOOK / notebook), str(tmp_path / "out.ipynb"), cwd=str(BOOK),
                            parameters=yaml.safe_load(preset.read_text()), progress_bar=False,
                            kernel_name="python3")
    name = next(iter(bad))
    assert "ParameterError" in err.value.ename and repr(name) in err.value.evalue
    if hint:
        assert f"did you mean {hint!r}" in err.value.evalue
    assert time.time() - start < 60  # stopped in the first cells, not after the chapter's work
    assert not any(tmp_path.glob("**/provenance.json"))
