import pytest
import torch


@pytest.fixture(autouse=True)
def _no_shared_data(monkeypatch, tmp_path_factory):
    """Tests never see full MNIST unless they build it: point the data root at an empty folder."""
    monkeypatch.setenv("COMPANION_DATA_ROOT", str(tmp_path_factory.mktemp("no_mnist")))
    torch.manual_seed(0)
