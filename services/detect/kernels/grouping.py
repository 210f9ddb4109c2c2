"""Stable grouping of a batch's points by series slot (counting sort)."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def group_by_slot(slots: np.ndarray, n_slots: int) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts): order lists the point indices grouped by slot, arrival order kept within a
    slot; the points of slot s are order[starts[s]:starts[s + 1]]. O(n + n_slots)."""
    starts = np.zeros(n_slots + 1, np.int64)
    for i in range(slots.shape[0]):
        starts[slots[i] + 1] += 1
    for s in range(n_slots):
        starts[s + 1] += starts[s]
    pos = starts[:-1].copy()
    order = np.empty(slots.shape[0], np.int64)
    for i in range(slots.shape[0]):
        s = slots[i]
        order[pos[s]] = i
        pos[s] += 1
    return order, starts
