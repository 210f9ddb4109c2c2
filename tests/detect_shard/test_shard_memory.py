"""What the shard keeps per series is small and its own: nothing that holds on to a request."""
from __future__ import annotations

import dataclasses

import numpy as np
from google.protobuf.message import Message

from tests.detect_shard.conftest import T0, Clock, new_shard, to_score, write


def test_the_shard_keeps_no_part_of_the_requests_it_scored(catalog):
    """A message taken from a request (its series' config) keeps the whole request, thousands of
    points, alive for as long as the series is held: 200 KB per series of a 5000-point backfill."""
    _, storage, account_id = catalog
    ts, values = T0 + 60.0 * np.arange(5000), np.ones(5000)
    shard = new_shard(storage, Clock(ts[-1]))
    for metric in ("a", "b"):
        shard.score_points(to_score(write(storage, account_id, ts, values, metric=metric), ts, values))
    restored = new_shard(storage, Clock(ts[-1]))  # and nothing of what catalog answered the restore
    for held in (shard, restored):
        kept = [value for info in held.info.values() for value in dataclasses.astuple(info)]
        assert len(held.info) == 2 and not any(isinstance(value, Message) for value in kept)
