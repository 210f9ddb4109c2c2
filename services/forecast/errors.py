"""Typed forecast errors. Each carries the public API error code and a `details` mapping, so the
servicer can map them without knowing each one (see `ForecastError.code`)."""
from __future__ import annotations

from typing import Any


class ForecastError(ValueError):
    """Base class: `code` is the API error code, `http_status` its REST status."""

    code = "VALIDATION_ERROR"
    http_status = 400

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class InsufficientData(ForecastError):
    """Too little history for the request: 422 INSUFFICIENT_DATA, saying the minimum."""

    code = "INSUFFICIENT_DATA"
    http_status = 422

    def __init__(self, minimum_points: int, got: int, reason: str = "") -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"at least {minimum_points} points of history are needed{why}; the series has {got}",
            {"minimum_points": minimum_points, "got": got},
        )
        self.minimum_points = minimum_points
        self.got = got


def _quoted(name: str, limit: int = 40) -> str:
    """A model name for a message, cut short: the message must still reach the available models
    (the whole message is cut at 200 characters on its way to the client)."""
    return f"'{name}'" if len(name) <= limit else f"'{name[:limit]}...'"


class ModelUnavailable(ForecastError):
    """A known model that is not installed or configured here: 400 MODEL_UNAVAILABLE."""

    code = "MODEL_UNAVAILABLE"

    def __init__(self, model: str, available: list[str], reason: str = "") -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"model {_quoted(model)} is not available here{why}; available models: {', '.join(available)}",
            {"field": "model", "model": model, "available": list(available)},
        )
        self.model = model
        self.available = list(available)


class UnknownModel(ForecastError):
    """A model name nobody knows: 400 MODEL_UNAVAILABLE like a known one that cannot run here (the
    contract has one answer for "not available here"), naming the available ones."""

    code = "MODEL_UNAVAILABLE"

    def __init__(self, model: str, known: list[str], available: list[str]) -> None:
        super().__init__(
            f"unknown model {_quoted(model)}; available models: {', '.join(available)}",
            {"field": "model", "model": model, "available": list(available), "known": list(known)},
        )
        self.model = model
        self.known = list(known)


class InvalidHorizon(ForecastError):
    """A horizon that cannot be parsed, is not positive, or exceeds the cap: 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message, {"field": "horizon"})


class InvalidConfidence(ForecastError):
    """A confidence outside [0.5, 0.999]: 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message, {"field": "confidence"})


class ModelNotApplicable(ForecastError):
    """The model cannot describe this series at all (e.g. `mstl` on a step with no natural
    seasonal cycle): 400 VALIDATION_ERROR with a suggestion."""

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(
            f"model '{model}' cannot forecast this series: {reason}",
            {"field": "model", "suggestion": "use 'auto'"},
        )
        self.model = model


class ModelFailed(ForecastError):
    """The requested model could not fit this series (numerical failure inside the library):
    500 INTERNAL_ERROR; the message names the model, never a stack trace."""

    code = "INTERNAL_ERROR"
    http_status = 500

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(f"model '{model}' failed on this series: {reason}; try 'auto'",
                         {"field": "model", "suggestion": "use 'auto'"})
        self.model = model
