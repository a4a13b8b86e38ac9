"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import SAMPLES


@pytest.fixture(scope="session")
def samples() -> Path:
    """The shared vendor sample bodies."""
    return SAMPLES
