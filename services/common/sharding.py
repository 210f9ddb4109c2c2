"""Which detect shard owns a series: jump consistent hash (Lamping & Veach) of the series id.

Consistent: going from n to n+1 shards moves only about 1/(n+1) of the series.
"""
from __future__ import annotations

import hashlib

_MASK = (1 << 64) - 1


def _key(series_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(series_id.encode(), digest_size=8).digest(), "big")


def shard_of(series_id: str, shard_count: int) -> int:
    if shard_count < 1:
        raise ValueError("shard_count must be >= 1")
    key, bucket, jump = _key(series_id), -1, 0
    while jump < shard_count:
        bucket = jump
        key = (key * 2862933555777941757 + 1) & _MASK
        jump = int((bucket + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return bucket
