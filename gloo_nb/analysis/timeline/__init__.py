"""Post-incident analysis of a journal: frames, the state at any moment, blocked teams, change delays, weights.

:func:`load_timeline` reads journals written by the recorder (kinds in :mod:`gloo_nb.journal.schema`) and folds
them once, incrementally: the Kubernetes objects are replayed, and the translator runs only where a change was made
(not per event). From that fold come

- the frames: events, resource versions, served versions, applied versions, weights, NACKs, probes;
- :meth:`Timeline.state_at`: the resources, the translation and its findings, the served routes and each
  replica's applied routes at any time;
- the blocked intervals (``design/architecture.md``: "a team is blocked while the proxy holds a last-known-good
  snapshot and that team has a change that is not served") and the delay from each change to served and to the
  last replica, the ``gloo-nb journal summary --json`` contract (:mod:`gloo_nb.analysis.incident`).

This package is the public face; each part lives in a module of its own:

- :mod:`.events`: the journal's events as columns indexed by time, the recorded objects parsed;
- :mod:`.routes`: route rows as the timeline compares them (keys, owners, labels, weights);
- :mod:`.replay`: the fold into changes and translations;
- :mod:`.delays`: when each change was served and applied;
- :mod:`.blocked`: the last-known-good episodes and the blocked intervals;
- :mod:`.frames`: the pandas frames;
- :mod:`.state`: the state at one moment;
- :mod:`.load`: :class:`Timeline`, which loads a journal and computes those on first use.
"""

from gloo_nb.analysis.timeline.blocked import Blocked, Episode
from gloo_nb.analysis.timeline.delays import ChangeDelay
from gloo_nb.analysis.timeline.events import TYPE_ROUTE
from gloo_nb.analysis.timeline.load import PLATFORM_NAMESPACE, Timeline, load_timeline, rfc3339
from gloo_nb.analysis.timeline.replay import CHANGE_KINDS, Cause, Change
from gloo_nb.analysis.timeline.routes import route_rows
from gloo_nb.analysis.timeline.state import TRANSLATED_KINDS, StateAt

__all__ = [
    "CHANGE_KINDS",
    "PLATFORM_NAMESPACE",
    "TRANSLATED_KINDS",
    "TYPE_ROUTE",
    "Blocked",
    "Cause",
    "Change",
    "ChangeDelay",
    "Episode",
    "StateAt",
    "Timeline",
    "load_timeline",
    "rfc3339",
    "route_rows",
]
