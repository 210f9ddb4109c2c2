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
