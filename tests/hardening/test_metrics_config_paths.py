"""anomaly_config addressed by metric names that are awkward in a path, through the real gateway:
each name configures itself (never another metric), answered in the envelope."""
from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest

from tests.hardening.conftest import assert_clean

pytestmark = pytest.mark.e2e


def config_url(system, name: str) -> str:
    return f"{system.base_url}/v1/metrics/{quote(name, safe='')}/anomaly_config"


@pytest.mark.parametrize("name", ["/hard.lead", "//hard.two", "hard.trail/", "hard//inner", "/", "met_hard"])
def test_a_name_with_slashes_anywhere_configures_that_name(system, api, name):
    """A leading slash was merged away: 308 to the configuration of the name without it."""
    sent = api.post(f"{system.base_url}/v1/ingest", timeout=10,
                    json={"metric": name, "value": 1.0, "timestamp": time.time()})
    assert sent.status_code == 200, sent.text
    answer = api.put(config_url(system, name), json={"sensitivity": "high"}, timeout=10,
                     allow_redirects=False)
    assert answer.status_code == 200, answer.text[:300]
    assert_clean(answer, system)
    assert answer.json()["data"]["metric"] == name
    read = api.get(config_url(system, name), timeout=10, allow_redirects=False)
    assert read.status_code == 200 and read.json()["data"]["overrides"] == {"sensitivity": "high"}
    merged = re.sub("/{2,}", "/", name).strip("/")
    if merged and merged != name:
        assert api.get(config_url(system, merged), timeout=10).json()["data"]["overrides"] == {}
