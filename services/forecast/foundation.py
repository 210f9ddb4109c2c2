"""Foundation models: listed always, available only when configured locally.

A foundation model is available when its Python package is importable AND its weights directory
is configured in an environment variable and exists. Nothing is ever downloaded: the weights are
loaded from that directory only. When a model is unavailable, asking for it raises
`ModelUnavailable`; no other model is substituted.

| name          | package  | weights directory variable |
|---------------|----------|----------------------------|
| `timesfm-v2`  | timesfm  | `AW_TIMESFM_CHECKPOINT`    |
| `chronos-bolt`| chronos  | `AW_CHRONOS_CHECKPOINT`    |

Both give quantile forecasts; sigma is read from the 10 % and 90 % quantiles, and intervals are
calibrated on held-out history like every other model's.
"""
from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from services.forecast.models import Z80, PointForecast


@dataclass
class FoundationModel:
    name: str
    description: str
    package: str
    env_var: str
    loader: Callable[[str], Any]  # weights directory -> loaded model
    runner: Callable[[Any, np.ndarray, int], PointForecast]
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    needs_season: bool = False
    _loaded: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def availability(self) -> tuple[bool, str]:
        """(available, the reason when it is not)."""
        if importlib.util.find_spec(self.package) is None:
            return False, f"Python package '{self.package}' is not installed"
        path = self.environ.get(self.env_var, "")
        if not path:
            return False, f"{self.env_var} (local weights directory) is not set"
        if not os.path.isdir(path):
            return False, f"{self.env_var}={path} is not a directory"
        return True, ""

    def predict(self, y: np.ndarray, h: int, seasons: list[int]) -> PointForecast:
        with self._lock:  # load once, from the local directory only
            if self._loaded is None:
                self._loaded = self.loader(self.environ[self.env_var])
        return self.runner(self._loaded, y, h)


def _sigma_from_deciles(q10: np.ndarray, q90: np.ndarray) -> np.ndarray:
    return (np.asarray(q90, dtype=np.float64) - np.asarray(q10, dtype=np.float64)) / (2 * Z80)


def _load_timesfm(path: str) -> Any:
    import timesfm  # type: ignore[import-not-found]

    return timesfm.TimesFm(
        hparams=timesfm.TimesFmHparams(backend="cpu", per_core_batch_size=1, horizon_len=128,
                                       num_layers=50, use_positional_embedding=False,
                                       context_len=2048),
        checkpoint=timesfm.TimesFmCheckpoint(path=path),
    )


def _run_timesfm(model: Any, y: np.ndarray, h: int) -> PointForecast:
    point, quantiles = model.forecast([y[-2048:]], freq=[0])
    # quantiles[..., 0] is the mean, then the deciles 0.1 .. 0.9
    q = np.asarray(quantiles)[0]
    if q.shape[0] < h:
        raise ValueError(f"timesfm returned {q.shape[0]} steps, fewer than the {h} asked for")
    return PointForecast(mean=np.asarray(point, dtype=np.float64)[0][:h],
                         sigma=_sigma_from_deciles(q[:h, 1], q[:h, 9]))


def _load_chronos(path: str) -> Any:
    from chronos import BaseChronosPipeline  # type: ignore[import-not-found]

    return BaseChronosPipeline.from_pretrained(path, device_map="cpu", local_files_only=True)


def _run_chronos(pipeline: Any, y: np.ndarray, h: int) -> PointForecast:
    import torch  # type: ignore[import-not-found]

    quantiles, mean = pipeline.predict_quantiles(
        context=torch.tensor(y, dtype=torch.float32), prediction_length=h,
        quantile_levels=[0.1, 0.5, 0.9])
    q = quantiles[0].numpy()
    return PointForecast(mean=mean[0].numpy().astype(np.float64),
                         sigma=_sigma_from_deciles(q[:, 0], q[:, 2]))


def foundation_models(environ: Mapping[str, str] | None = None) -> list[FoundationModel]:
    env = os.environ if environ is None else environ
    return [
        FoundationModel("timesfm-v2", "Google TimesFM 2.0 (local weights only).", "timesfm",
                        "AW_TIMESFM_CHECKPOINT", _load_timesfm, _run_timesfm, env),
        FoundationModel("chronos-bolt", "Amazon Chronos-Bolt (local weights only).", "chronos",
                        "AW_CHRONOS_CHECKPOINT", _load_chronos, _run_chronos, env),
    ]
