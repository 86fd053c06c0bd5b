"""The one exception the format's checks raise: what is wrong, how to fix it, and — from a
check over a whole mapping — which of its keys it is about. Validation reads the fields;
nothing parses them back out of the text."""

from __future__ import annotations


class Invalid(ValueError):
    def __init__(self, message: str, fix: str = "", *, key: str | None = None) -> None:
        # the text stays readable where a plain ValueError is shown (pydantic's own message)
        super().__init__(f"{message} — {fix}" if fix else message)
        self.message = message
        self.fix = fix
        self.key = key  # a key under the checked mapping, e.g. "max_volume"
