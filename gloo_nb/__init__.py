"""gloo_nb: look inside a Gloo Edge gateway, roll services out through it, analyse incidents.

``gloo_nb.connect(...)``, ``gloo_nb.connect_sandbox(dir)`` and ``gloo_nb.open_snapshot(dir)`` are the
entry points of the inspector; they are imported on first use, so ``import gloo_nb.models`` stays light.
"""

from typing import Any

__version__ = "0.1.0"

_LAZY = {"connect": "gloo_nb.app.connect", "connect_sandbox": "gloo_nb.app.connect",
         "open_snapshot": "gloo_nb.app.snapshot"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gloo_nb' has no attribute {name!r}")


__all__ = ["__version__", "connect", "connect_sandbox", "open_snapshot"]
