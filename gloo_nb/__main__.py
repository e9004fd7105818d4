"""``python -m gloo_nb``: the ``gloo-nb`` command."""

from gloo_nb.cli import main

raise SystemExit(main())
