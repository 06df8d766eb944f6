"""Shared fixtures: tiny synthetic data, the shared real-data folder, fast torch settings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

# One thread: the CI machine has 2 cores and oversubscription makes torch far slower.
torch.set_num_threads(1)

# ../shared/data beside the checkout (CI clones with shared/ beside it), or HISTORYAD_SHARED_DATA.
_REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(
    os.environ.get("HISTORYAD_SHARED_DATA", _REPO.parent / "shared" / "data")
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real datasets; tests needing it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set HISTORYAD_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module (CLI tests): on two shared cores intra-op threads spin
    against each other (up to 100x slower). Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
