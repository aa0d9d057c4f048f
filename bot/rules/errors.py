"""The engine's own error types: the only exceptions that may leave bot.rules."""

from __future__ import annotations

from bot.rules.ast import Pos


class RulesEngineError(Exception):
    """Base of every error the rules engine raises on purpose."""

    def __init__(self, message: str, pos: Pos | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class ConditionSyntaxError(RulesEngineError):
    """A condition (or an output token) that libsinsp's parser would reject; message is libsinsp's text."""


class FieldError(RulesEngineError):
    """A field, operator, value or transformer that libsinsp's filter compiler would reject."""
