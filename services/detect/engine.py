"""DetectionEngine: series ids -> state slots, batch scoring through the numba kernel, snapshots.

The gRPC detect service and `anomalywatch replay` use this class with the same defaults, so
offline replays score exactly as the live service does. No gRPC, SQL or Flask here.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from services.detect import codes
from services.detect.kernels import state as state_mod
from services.detect.kernels.arrays import (
    ConfigArrays,
    Outputs,
    allocate_config,
    allocate_outputs,
    grow_config,
)
from services.detect.kernels.scoring import score_batch
from services.detect.kernels.tunables import DEFAULT_TUNABLES, Tunables, sensitivity_thresholds

SNAPSHOT_MAGIC = b"AWDS"
SNAPSHOT_VERSION = 2
_HEADER = struct.Struct("<4sHI")        # magic, version, record size


@dataclass(frozen=True)
class DetectorConfig:
    """A series' anomaly_config (API.md), effective from the next point scored."""

    enabled: bool = True
    spike_threshold: float = 3.0
    drop_threshold: float = 0.3
    min_data_points: int = 100
    comparison_window_seconds: float = 7 * 86400.0
    sensitivity: str = "medium"
    seasonality: str = "auto"

    def __post_init__(self) -> None:
        if not self.spike_threshold > 1.0:
            raise ValueError("spike_threshold must be > 1")
        if not 0.0 < self.drop_threshold < 1.0:
            raise ValueError("drop_threshold must be in (0, 1)")
        if self.min_data_points < 0:
            raise ValueError("min_data_points must be >= 0")
        if not self.comparison_window_seconds >= 3600.0:
            raise ValueError("comparison_window must be at least 1h")
        codes.sensitivity_code(self.sensitivity)
        codes.seasonality_code(self.seasonality)

    @classmethod
    def default(cls) -> DetectorConfig:
        return cls()


_DEFAULT_CONFIG = DetectorConfig.default()


@dataclass
class ScoreBatch:
    """Per point results of one `score` call, in input order (numpy arrays of equal length)."""

    score: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    type: np.ndarray
    severity: np.ndarray
    learning: np.ndarray
    skipped: np.ndarray
    episode_event: np.ndarray
    episode_end_ts: np.ndarray
    episode_peak_score: np.ndarray
    _names: tuple[list[str | None], list[str | None]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.score.shape[0])

    @classmethod
    def from_outputs(cls, out: Outputs) -> ScoreBatch:
        return cls(out.score, out.mean, out.std, out.lower, out.upper, out.type, out.severity,
                   out.learning.astype(bool), out.skipped.astype(bool), out.event, out.end_ts,
                   out.peak)

    def type_names(self) -> list[str | None]:
        """Anomaly type per point (None for a normal point)."""
        table = np.array(codes.TYPE_NAMES, dtype=object)
        return table[self.type].tolist()

    def severity_names(self) -> list[str | None]:
        """Severity per point (None for a normal point)."""
        table = np.array(codes.SEVERITY_NAMES, dtype=object)
        return table[self.severity].tolist()

    def event_names(self) -> list[str]:
        table = np.array(codes.EVENT_NAMES, dtype=object)
        return table[self.episode_event].tolist()


@dataclass
class SavedStates:
    """Copies of some series' states (DetectionEngine.saved_states)."""

    asked: list[str]
    slots: np.ndarray  # of each series asked, -1 for one that had no state
    scalars: np.ndarray  # the rows of the slots >= 0, in order
    profiles: np.ndarray


class DetectionEngine:
    """Streaming detector state of many series; score whole batches with one kernel call."""

    def __init__(self, capacity: int = 1024, tunables: Tunables = DEFAULT_TUNABLES) -> None:
        capacity = max(1, int(capacity))
        self._tun = tunables
        self._thresholds = sensitivity_thresholds(tunables)
        self._state = state_mod.allocate(capacity)
        self._cfg = allocate_config(capacity)
        self._slots: dict[str, int] = {}
        self._free: list[int] = []
        self._next = 0

    # ------------------------------------------------------------------ slots
    @property
    def capacity(self) -> int:
        return int(self._state.scalars.shape[0])

    def _slot(self, series_id: str) -> int:
        slot = self._slots.get(series_id)
        if slot is not None:
            return slot
        if self._free:
            slot = self._free.pop()
        else:
            if self._next >= self.capacity:
                new_cap = max(2 * self.capacity, self._next + 1)
                self._state = state_mod.grow(self._state, new_cap)
                self._cfg = grow_config(self._cfg, new_cap)
            slot = self._next
            self._next += 1
        state_mod.clear(self._state, slot)
        self._slots[series_id] = slot
        return slot

    def _set_config(self, slot: int, config: DetectorConfig) -> None:
        cfg: ConfigArrays = self._cfg
        cfg.enabled[slot] = 1 if config.enabled else 0
        cfg.spike_threshold[slot] = config.spike_threshold
        cfg.drop_threshold[slot] = config.drop_threshold
        cfg.min_data_points[slot] = config.min_data_points
        cfg.window_seconds[slot] = config.comparison_window_seconds
        cfg.sensitivity[slot] = codes.sensitivity_code(config.sensitivity)
        cfg.seasonality[slot] = codes.seasonality_code(config.seasonality)

    # ------------------------------------------------------------------ scoring
    def score(self, series_ids: Sequence[str], timestamps: np.ndarray, values: np.ndarray,
              configs: Mapping[str, DetectorConfig]) -> ScoreBatch:
        """Score points in arrival order. A point at or before its series' last scored timestamp
        (or with a non-finite timestamp or value) is skipped and changes nothing. A series absent
        from `configs` uses DetectorConfig.default()."""
        ts = np.ascontiguousarray(timestamps, dtype=np.float64)
        xs = np.ascontiguousarray(values, dtype=np.float64)
        n = ts.shape[0]
        if xs.shape[0] != n or len(series_ids) != n:
            raise ValueError("series_ids, timestamps and values must have the same length")
        if n == 0:
            return ScoreBatch.from_outputs(allocate_outputs(0))
        uniq, inverse = np.unique(np.asarray(series_ids, dtype=object), return_inverse=True)
        uslots = np.empty(len(uniq), np.int64)
        for j, sid in enumerate(uniq.tolist()):      # once per series, not per point
            slot = self._slot(sid)
            uslots[j] = slot
            self._set_config(slot, configs.get(sid, _DEFAULT_CONFIG))
        slots = uslots[inverse.reshape(-1)]
        return self.score_slots(slots, ts, xs)

    def score_slots(self, slots: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> ScoreBatch:
        """Lower-level entry: points already mapped to slots (configs set beforehand)."""
        out = allocate_outputs(slots.shape[0])
        score_batch(np.ascontiguousarray(slots, dtype=np.int64),
                    np.ascontiguousarray(timestamps, dtype=np.float64),
                    np.ascontiguousarray(values, dtype=np.float64),
                    self._cfg, self._state, self._tun, self._thresholds, out)
        return ScoreBatch.from_outputs(out)

    def set_config(self, series_id: str, config: DetectorConfig) -> None:
        """Set a series' config without scoring (it also applies to the next `score`)."""
        self._set_config(self._slot(series_id), config)

    # ------------------------------------------------------------------ state
    def snapshot(self, series_id: str) -> bytes:
        """The series' state as versioned bytes (header + packed record); KeyError if unknown."""
        rec = state_mod.to_record(self._state, self._slots[series_id])
        return _HEADER.pack(SNAPSHOT_MAGIC, SNAPSHOT_VERSION, rec.dtype.itemsize) + rec.tobytes()

    def restore(self, series_id: str, blob: bytes) -> None:
        """Replace (or create) the series' state from `snapshot` bytes; ValueError if unusable."""
        if len(blob) < _HEADER.size:
            raise ValueError("snapshot too short")
        magic, version, size = _HEADER.unpack_from(blob)
        if magic != SNAPSHOT_MAGIC:
            raise ValueError("not a detector snapshot")
        if version != SNAPSHOT_VERSION or size != state_mod.RECORD_DTYPE.itemsize:
            raise ValueError(f"snapshot version {version} (size {size}) is not supported")
        if len(blob) != _HEADER.size + size:
            raise ValueError("snapshot has the wrong length")
        rec = np.frombuffer(blob, dtype=state_mod.RECORD_DTYPE, count=1, offset=_HEADER.size)[0]
        if not (np.isfinite(rec["scalars"]).all() and np.isfinite(rec["profiles"]).all()):
            # written before the kernel capped huge values: such a state never scores again
            raise ValueError("snapshot holds non-finite state")
        slot = self._slot(series_id)    # first: a new slot may grow (replace) the state arrays
        state_mod.from_record(self._state, slot, rec)

    def last_timestamp(self, series_id: str) -> float | None:
        slot = self._slots.get(series_id)
        if slot is None or self._state.scalars[slot, state_mod.I_COUNT] == 0:
            return None
        return float(self._state.scalars[slot, state_mod.I_LAST_TS])

    def point_count(self, series_id: str) -> int:
        slot = self._slots.get(series_id)
        return 0 if slot is None else int(self._state.scalars[slot, state_mod.I_COUNT])

    def saved_states(self, series_ids: Iterable[str]) -> SavedStates:
        """A copy of the series' current states, for `put_back` if what follows must be undone."""
        asked = list(series_ids)
        get = self._slots.get
        slots = np.array([get(sid, -1) for sid in asked], dtype=np.int64)
        held = slots[slots >= 0]
        return SavedStates(asked, slots, self._state.scalars[held], self._state.profiles[held])

    def put_back(self, saved: SavedStates) -> None:
        """The saved series' states again, as if nothing had been scored since (a series that had
        none then is forgotten); the other series are left as they are."""
        row = 0
        for sid, slot in zip(saved.asked, saved.slots.tolist(), strict=True):
            if slot < 0:
                self.forget(sid)
                continue
            if self._slots.get(sid) == slot:  # else forgotten meanwhile: the slot may be another's
                self._state.scalars[slot] = saved.scalars[row]
                self._state.profiles[slot] = saved.profiles[row]
            row += 1

    def forget(self, series_id: str) -> None:
        slot = self._slots.pop(series_id, None)
        if slot is not None:
            state_mod.clear(self._state, slot)
            self._free.append(slot)

    def series_ids(self) -> list[str]:
        return list(self._slots)

    def state_bytes_per_series(self) -> int:
        return state_mod.bytes_per_series()

    def warm_up(self) -> None:
        """Compile (or load from cache) the kernels on a tiny batch in a throwaway engine."""
        probe = DetectionEngine(capacity=2, tunables=self._tun)
        t = np.arange(4, dtype=np.float64) * 60.0
        probe.score(["a", "b", "a", "b"], t, np.array([1.0, 2.0, 1.5, 2.5]), {})
