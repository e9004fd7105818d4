"""The one exception tree of gloo_nb.

Findings about Gloo resources are data (see :class:`gloo_nb.models.Finding`), never exceptions.
These exceptions are raised only when the program cannot go on, and each says what to do next.
"""

from __future__ import annotations


class GlooNbError(Exception):
    """Base class of every error gloo_nb raises on purpose."""


class ParseError(GlooNbError):
    """A document cannot be read at all (bad YAML, wrong type for a known field, missing name).

    Attributes:
        file: The file the document came from (``-`` for stdin, ``<object>`` for live objects).
        document: Zero-based index of the document in the file's stream, or None.
        field: Dotted path of the offending field, or None when the whole document is unreadable.
        problem: What is wrong, in words.
    """

    def __init__(self, problem: str, *, file: str = "<input>", document: int | None = None,
                 field: str | None = None) -> None:
        self.file = file
        self.document = document
        self.field = field
        self.problem = problem
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Return the error as one line naming file, document and field.

        Returns:
            The message, e.g. ``vs.yaml: document 2: field spec.virtualHost.routes[0]: expected a list``.
        """
        parts = [self.file]
        if self.document is not None:
            parts.append(f"document {self.document}")
        if self.field:
            parts.append(f"field {self.field}")
        return ": ".join(parts) + f": {self.problem}"


class UsageError(GlooNbError):
    """A caller asked for something that cannot be done as asked (bad option, unknown profile)."""
