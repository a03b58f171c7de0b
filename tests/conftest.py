import os

import pytest
import torch

# Tests are CPU tests; keep them from oversubscribing a small CI machine.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)
