"""Series keys are stored: the text they hash must stay what earlier releases wrote, or every
existing series would be looked up under a new key and created again."""
from __future__ import annotations

import hashlib

from services.catalog.series import canonical_tags, series_key


def test_tags_are_written_sorted_compact_and_unescaped():
    assert canonical_tags({}) == "{}"
    assert canonical_tags({"host": "web-1", "dc": "eu"}) == '{"dc":"eu","host":"web-1"}'
    assert canonical_tags({"région": "île", "q": 'a"b\\c'}) == '{"q":"a\\"b\\\\c","région":"île"}'


def test_a_series_key_is_the_hash_of_name_nul_and_canonical_tags():
    text = 'cpu.usage\x00{"dc":"eu","host":"web-1"}'
    want = hashlib.sha256(text.encode()).hexdigest()
    assert series_key("cpu.usage", {"host": "web-1", "dc": "eu"}) == want
    assert series_key("cpu.usage", {"dc": "eu", "host": "web-1"}) == want  # tag order does not matter
