"""Pytest configuration: this folder is on ``sys.path`` (rootdir conftest), so every test can import
the shared helpers in ``tests/sandboxkit.py`` wherever it lives."""
