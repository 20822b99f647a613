"""The wire contract's one error: a payload or topic that breaks the contract, naming the field."""

from __future__ import annotations

import json

_SHOWN_CHARS = 60


class MessageError(ValueError):
    """A payload or a topic does not follow the wire contract (architecture.md, "MQTT topics").

    The message starts with the path of the offending field, then states the rule and the value
    that broke it, e.g. ``punches[3].seq: must be an integer >= 1, got -2``, so a log line is
    enough to find the bad field. Problems with the payload as a whole (not UTF-8, not JSON, too
    large) use the path ``payload``; topics use ``topic``.

    It is a :class:`ValueError`, so code that already guards parsing with ``except ValueError``
    keeps working.

    Attributes:
        path: Where the problem is: ``punches[3].seq``, ``versions["python"]``, ``payload``.
        problem: What is wrong there, without the path.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem

    @classmethod
    def invalid(cls, path: str, rule: str, value: object) -> MessageError:
        """Build the error for a value that breaks a rule: ``"<path>: <rule>, got <value>"``.

        Args:
            path: The field's path.
            rule: What the field must be, e.g. ``"must be an integer >= 1"``.
            value: The offending value; shown as JSON, cut short when long.

        Returns:
            The error, ready to raise.
        """
        return cls(path, f"{rule}, got {describe(value)}")

    def within(self, parent: str) -> MessageError:
        """Return the same error with its path nested under parent (``seq`` → ``punches[3].seq``).

        Args:
            parent: The path of the object holding the field.

        Returns:
            A new error; this one is left unchanged.
        """
        joiner = "" if self.path.startswith("[") else "."
        return MessageError(f"{parent}{joiner}{self.path}", self.problem)


def describe(value: object) -> str:
    """Show a value the way it looks on the wire (JSON), short enough for one log line.

    Args:
        value: Any value, typically one just decoded from JSON.

    Returns:
        ``-2``, ``"abc"``, ``true``, ``null``, ``an array of length 3``; other Python objects
        by ``repr``. Long text is cut to about 60 characters with ``…`` and its length.
    """
    if isinstance(value, list | tuple):
        return f"an array of length {len(value)}"
    if isinstance(value, dict):
        return f"an object of {len(value)} keys"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of {value.bit_length()} bits"  # printing it could itself fail
    if value is None or isinstance(value, str | int | float):
        shown = json.dumps(value)
    else:
        shown = repr(value)
    if len(shown) > _SHOWN_CHARS:
        return f"{shown[:_SHOWN_CHARS]}… ({len(shown)} characters)"
    return shown
