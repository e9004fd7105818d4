"""``python -m gloo_nb.demo``: the name the README and ``make demo`` use; the demo lives in :mod:`gloo_nb.app.demo`."""

from __future__ import annotations

from gloo_nb.app.demo import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
