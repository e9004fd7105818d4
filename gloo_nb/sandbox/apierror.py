"""The sandbox API's one error: a Kubernetes ``Status`` failure.

Its own module, below the store and the store's rules (:mod:`gloo_nb.sandbox.object_selectors`,
:mod:`gloo_nb.sandbox.validation`), so that they all raise it without importing each other in a circle.
"""

from __future__ import annotations

from typing import Any

from gloo_nb.errors import UsageError

__all__ = ["ApiError"]


class ApiError(UsageError):
    """A Kubernetes-style failure, answered as a ``Status`` object.

    Attributes:
        code: HTTP status code.
        reason: Kubernetes reason, e.g. ``NotFound``.
        message: The message, in the apiserver's wording.
        details: The Status ``details`` (name, group, kind, causes), or None.
    """

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        super().__init__(message)

    def status(self) -> dict[str, Any]:
        """Return the Kubernetes ``Status`` body for this error.

        Returns:
            ``{"kind": "Status", "apiVersion": "v1", "status": "Failure", ...}``.
        """
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body
