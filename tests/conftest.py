import os

import pytest
import torch

# Correctness tests on small tensors: one thread avoids spin-waiting when cores are shared.
torch.set_num_threads(1)


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)
