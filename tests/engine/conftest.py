import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny MLPs (10 x 10 matrices): intra-op threads only add synchronisation and noise."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
