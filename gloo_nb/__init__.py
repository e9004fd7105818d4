"""gloo_nb: look inside a Gloo Edge gateway, roll services out through it, analyse incidents."""

__version__ = "0.1.0"
