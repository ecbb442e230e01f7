"""Every error assay raises, under one root.

Each class also inherits the builtin it resembles, so ``except ValueError`` or
``except LookupError`` still catch them. The server maps them to HTTP statuses in one
handler; the CLI maps them to exit codes and a one-line message.

::

    AssayError                                  (Exception)
    ├── ConfigError                             (+ ValueError)        bad setting / settings file
    ├── InvalidInputError                       (+ ValueError)        a caller passed a bad value
    │   ├── FilterSyntaxError                                          malformed search filter (has .position)
    │   ├── SchemaMismatchError                                        DataFrame does not match a model signature
    │   └── UnsafePathError                                            artifact path escapes its root ("..", absolute)
    ├── NotFoundError                           (+ LookupError)       unknown run / model / version / alias / artifact
    ├── ConflictError                           (+ ValueError)        write contradicts stored state (param re-logged)
    ├── StateError                              (+ RuntimeError)      operation not allowed in the current state
    ├── PermissionDeniedError                   (+ PermissionError)   role too low, token unknown/revoked/expired
    ├── UntrustedModelError                     (+ PermissionError)   pickle load without ``trusted=True``
    ├── StoreError                              (+ RuntimeError)      metadata store unreachable or failed
    └── ArtifactStoreError                      (+ OSError)           artifact storage failed or content corrupt
"""

from __future__ import annotations

__all__ = [
    "ArtifactStoreError",
    "AssayError",
    "ConfigError",
    "ConflictError",
    "FilterSyntaxError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "SchemaMismatchError",
    "StateError",
    "StoreError",
    "UnsafePathError",
    "UntrustedModelError",
]


class AssayError(Exception):
    """Root of every error assay raises on purpose."""


class ConfigError(AssayError, ValueError):
    """A setting or settings file is invalid."""


class InvalidInputError(AssayError, ValueError):
    """A caller passed a value assay cannot use; the message says what to change."""


class FilterSyntaxError(InvalidInputError):
    """A search filter string could not be parsed.

    ``position`` is the 0-based character offset where parsing failed.
    """

    def __init__(self, message: str, *, text: str = "", position: int = 0) -> None:
        self.text = text
        self.position = position
        if text:
            pointer = " " * position + "^"
            message = f"{message} (at position {position})\n  {text}\n  {pointer}"
        super().__init__(message)


class SchemaMismatchError(InvalidInputError):
    """Input data does not match a model's signature; ``column`` names the offending column."""

    def __init__(self, message: str, *, column: str | None = None) -> None:
        self.column = column
        super().__init__(message)


class UnsafePathError(InvalidInputError):
    """An artifact path would escape its root (``..`` segments or an absolute path)."""


class NotFoundError(AssayError, LookupError):
    """A run, model, version, alias, dataset or artifact does not exist."""

    def __str__(self) -> str:  # LookupError would repr() the message otherwise
        return str(self.args[0]) if self.args else ""


class ConflictError(AssayError, ValueError):
    """A write contradicts what is already stored (e.g. a param re-logged with a new value)."""


class StateError(AssayError, RuntimeError):
    """The operation is not allowed in the object's current state (e.g. logging to a finished run)."""


class PermissionDeniedError(AssayError, PermissionError):
    """The acting user lacks the role this needs, or their token is unknown, revoked or expired."""


class UntrustedModelError(AssayError, PermissionError):
    """Loading this model would execute arbitrary code (pickle); pass ``trusted=True`` if you trust its source."""


class StoreError(AssayError, RuntimeError):
    """The metadata store could not be reached or failed."""


class ArtifactStoreError(AssayError, OSError):
    """The artifact store failed, or stored content does not match its digest."""
