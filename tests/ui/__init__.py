"""Helpers shared by the web UI tests (tests/test_ui*.py)."""
