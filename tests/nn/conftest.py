"""Tiny nets run fastest single-threaded (and the CPU cores are shared)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _nn_one_thread(one_thread: None) -> None:
    """Every nn test on one torch thread (the root conftest's ``one_thread``)."""
