"""The one error every wire format raises for bad input: a list of (path, reason) pairs."""

from __future__ import annotations


class FormatError(ValueError):
    """Input that cannot be accepted. `errors` is a list of {"path": ..., "reason": ...}."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['path'] or '(body)'}: {e['reason']}" for e in errors))

    @classmethod
    def at(cls, path: str, reason: str) -> FormatError:
        """The error of one field."""
        return cls([{"path": path, "reason": reason}])
