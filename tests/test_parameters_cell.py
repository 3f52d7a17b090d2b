"""A chapter opens with its question, not its code (issue 25, point 4): each chapter's parameters cell
is tagged ``parameters`` for papermill and ``hide-input`` so that Jupyter Book folds it behind a
toggle, and papermill still injects its parameters right after it."""
import nbformat
import pytest
from papermill.parameterize import parameterize_notebook

from companion import paths

CHAPTERS = sorted(paths.BOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.stem)
def test_parameters_cell_is_tagged_for_papermill_and_folded_for_readers(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{nb_path.name}: {len(tagged)} cells tagged parameters"
    cell = nb.cells[tagged[0]]
    assert cell.cell_type == "code" and "hide-input" in cell.metadata["tags"], cell.metadata
    # papermill finds it and injects the new values in a cell right after it
    injected = parameterize_notebook(nb, {"progress": False}, report_mode=False)
    after = injected.cells[tagged[0] + 1]
    assert "injected-parameters" in after.metadata.tags and "progress = False" in after.source
    assert injected.cells[tagged[0]].metadata.tags == cell.metadata.tags
