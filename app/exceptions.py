"""What the service refuses, as domain exceptions: each carries one sentence a student
understands. They know nothing of HTTP; app/errors.py alone maps them to statuses."""

from __future__ import annotations


class Refused(Exception):
    """A request the service refuses; ``str(e)`` is the sentence to show."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


class NotFound(Refused):
    """No such session or share: unknown, deleted, expired or ended."""


class ReadOnly(Refused):
    """A follow token used where only the session id may act."""


class OutOfOrder(Refused):
    """Not now: e.g. update before backward, or nothing to undo."""


class Invalid(Refused):
    """Bad input, or a limit exceeded (the limit is named in the sentence)."""


class TooMany(Refused):
    """A cap on concurrent use is reached (followers)."""


class Unavailable(Refused):
    """Not now, try again: the session store is unreachable or the session stays busy."""


def sentence(e: Exception) -> str:
    """An engine ``ValueError``'s message as a sentence: capital first, full stop last."""
    s = str(e)
    s = s[:1].upper() + s[1:]
    return s if s.endswith(".") else s + "."
