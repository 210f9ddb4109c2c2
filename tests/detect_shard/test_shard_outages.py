"""Missing-data episodes across the shard's failures: an outage ends at the first point that came
back after it, even when the series' state was lost and is rebuilt from its stored points."""
from __future__ import annotations

import numpy as np
from sqlalchemy import select

from services.catalog.models import Anomaly
from tests.detect_shard.conftest import T0, Clock, new_shard, score, write
from tests.detect_shard.test_shard_failures import SomeStatesBroken


def outage(db) -> Anomaly:
    with db.read() as session:
        return session.scalars(select(Anomaly).where(Anomaly.type == "missing_data")).one()


def test_an_outage_ends_at_the_first_point_back_when_the_series_is_rebuilt(catalog):
    db, storage, account_id = catalog
    ts = T0 + 60.0 * np.arange(30)
    clock = Clock(ts[-1])
    engine = SomeStatesBroken()
    shard = new_shard(storage, clock, engine)
    score(shard, write(storage, account_id, ts, np.ones(30)), ts, np.ones(30))
    clock.now += 600
    engine.broken = set(shard.check_staleness())
    assert shard.checkpoint() == 0  # its state cannot be saved: forgotten, rebuilt on next contact
    back = clock.now
    score(shard, write(storage, account_id, [back], [1.0]), [back], [1.0])
    assert outage(db).ended_at == back  # not the series' first point, 30 minutes before it began


def test_a_backfill_of_old_points_is_not_an_outage_after_a_restart_either(catalog):
    """Catalog does not store when a point arrived: a restored series gets its 3 steps from the
    restart, as if its latest point had just arrived, not from that point's (old) time."""
    db, storage, account_id = catalog
    ts = T0 + 60.0 * np.arange(20)
    clock = Clock(ts[-1] + 20 * 86400)  # weeks old, arriving now
    shard = new_shard(storage, clock)
    score(shard, write(storage, account_id, ts, np.ones(20)), ts, np.ones(20))
    shard.checkpoint()
    restarted = new_shard(storage, clock)
    assert restarted.check_staleness() == []
    clock.now += 181  # then nothing more arrives for over 3 steps: now it is one
    assert len(restarted.check_staleness()) == 1


def test_a_series_whose_first_points_came_a_second_apart_is_not_stale_at_its_own_pace(catalog):
    """Two points a second apart at the start, then one every 5 minutes: the step took a dozen
    points to grow from 1 s, and every 5-minute gap of them opened a missing_data anomaly."""
    db, storage, account_id = catalog
    ts = [T0, T0 + 1.0] + [T0 + 1.0 + 300.0 * k for k in range(1, 15)]
    clock = Clock(ts[0])
    shard = new_shard(storage, clock)
    for t in ts:
        clock.now = t - 1.0  # just before the point arrives
        assert shard.check_staleness() == []
        clock.now = t
        score(shard, write(storage, account_id, [t], [1.0]), [t], [1.0])
    clock.now += 3 * 300.0 + 1  # then silent for more than 3 of its steps: now it is an outage
    assert len(shard.check_staleness()) == 1
