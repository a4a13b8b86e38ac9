"""Kept for test modules not yet moved to tests/scaffold.py: the same names, from there.

New tests import from ``tests.scaffold``; delete this module once nothing imports it.
"""

from __future__ import annotations

from tests.scaffold import REPO, SAMPLES, Daemon, key, v2

__all__ = ["REPO", "SAMPLES", "Daemon", "key", "v2"]
