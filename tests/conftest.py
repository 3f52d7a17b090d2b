import pytest
import torch


@pytest.fixture(autouse=True)
def _no_shared_data(monkeypatch, tmp_path_factory):
    """Tests never see full MNIST unless they build it (the data root is an empty folder), and a run
    without an explicit cache_dir writes into a fresh user cache, never into the repository."""
    monkeypatch.setenv("COMPANION_DATA_ROOT", str(tmp_path_factory.mktemp("no_mnist")))
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path_factory.mktemp("user_cache")))
    torch.manual_seed(0)


@pytest.fixture
def one_thread():
    """One intra-op thread for the test (tests of tiny networks ask for it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def ch4_cache(tmp_path_factory):
    """One cache for chapter 4's quick preset and the settings built on it (tests/test_chapter_04*.py):
    a setting that only takes a subset of sizes or seeds, or another δ, recomputes nothing."""
    return tmp_path_factory.mktemp("ch4_cache")


@pytest.fixture(scope="session")
def ch3_cache(tmp_path_factory):
    """One cache for chapter 3's quick preset (filled by tests/test_chapter_03.py's papermill run) and
    the settings of tests/test_chapter_03_settings.py, which reuse its units."""
    return tmp_path_factory.mktemp("ch3_cache")
