"""Which models exist and which are available here.

`auto` and the statsforecast models are always available; foundation models only when configured
(see `services.forecast.foundation`). `resolve` never substitutes: an unavailable model raises
`ModelUnavailable` naming the available ones, an unknown one `UnknownModel`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from services.forecast.errors import ModelUnavailable, UnknownModel
from services.forecast.foundation import FoundationModel, foundation_models
from services.forecast.models import STATS_MODELS, PointForecast

AUTO = "auto"
AUTO_DESCRIPTION = ("Chooses per series among the fast statistical models (and arima when those "
                    "all do poorly) by their error on the held-out end of the history; reported "
                    "as auto(<model>).")


class Model(Protocol):
    name: str
    description: str
    needs_season: bool

    def predict(self, y: np.ndarray, h: int, seasons: list[int]) -> PointForecast: ...


@dataclass(frozen=True)
class ModelInfo:
    name: str
    available: bool
    description: str
    reason_if_unavailable: str = ""
    kind: str = "statistical"  # "selector", "statistical" or "foundation"


class ModelRegistry:
    def __init__(self, environ: Mapping[str, str] | None = None,
                 foundation: list[FoundationModel] | None = None) -> None:
        """`environ` (default os.environ) configures the foundation models' weights;
        `foundation` replaces the built-in foundation model list (tests, plug-ins)."""
        self._stats: dict[str, Model] = dict(STATS_MODELS)
        fm = foundation if foundation is not None else foundation_models(environ)
        self._foundation: dict[str, FoundationModel] = {m.name: m for m in fm}

    def names(self) -> list[str]:
        return [AUTO, *self._stats, *self._foundation]

    def list_models(self) -> list[ModelInfo]:
        out = [ModelInfo(AUTO, True, AUTO_DESCRIPTION, kind="selector")]
        out += [ModelInfo(m.name, True, m.description) for m in self._stats.values()]
        for m in self._foundation.values():
            ok, reason = m.availability()
            out.append(ModelInfo(m.name, ok, m.description, reason, kind="foundation"))
        return out

    def available(self) -> list[str]:
        return [m.name for m in self.list_models() if m.available]

    def resolve(self, name: str) -> Model:
        """The model called `name` (not `auto`), if it is available here."""
        if name in self._stats:
            return self._stats[name]
        if name in self._foundation:
            ok, reason = self._foundation[name].availability()
            if not ok:
                raise ModelUnavailable(name, self.available(), reason)
            return self._foundation[name]
        raise UnknownModel(name, self.names(), self.available())

    def check(self, name: str) -> None:
        """Raise if `name` is neither `auto` nor an available model."""
        if name != AUTO:
            self.resolve(name)


_DEFAULT: ModelRegistry | None = None


def default_registry() -> ModelRegistry:
    """A process-wide registry reading the environment once."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ModelRegistry()
    return _DEFAULT


def list_models(registry: ModelRegistry | None = None) -> list[ModelInfo]:
    return (registry or default_registry()).list_models()
