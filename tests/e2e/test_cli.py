"""The command-line tool against the running catalog."""
from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_accounts_and_keys_lifecycle(system):
    account = system.cli("accounts", "create", "--name", "cli-test", "--plan", "pro").stdout.strip()
    assert account.startswith("acct_")
    created = system.cli("keys", "create", "--account", account, "--environment", "test", "--scopes",
                         "read,ingest", "--name", "ci").stdout.strip().splitlines()
    key = created[-1]
    assert key.startswith("aw_test_") and len(key) == len("aw_test_") + 32
    key_id = created[0].split()[1]
    listing = system.cli("keys", "list", "--account", account).stdout
    assert key_id in listing and key[:12] in listing and key not in listing
    headers = {"Authorization": f"Bearer {key}"}
    assert requests.get(f"{system.base_url}/v1/metrics", headers=headers, timeout=10).status_code == 200
    system.cli("keys", "revoke", key_id)
    import time
    time.sleep(1.1)  # key look-ups are cached for at most 0.5 s in each process
    assert requests.get(f"{system.base_url}/v1/metrics", headers=headers, timeout=10).status_code == 401


def test_errors_are_one_line_and_a_nonzero_exit(system):
    bad = system.cli("keys", "create", "--account", "acct_missing", check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ACCOUNT_NOT_FOUND")
    plan = system.cli("accounts", "create", "--name", "x", "--plan", "platinum", check=False)
    assert plan.returncode == 1 and "unknown plan" in plan.stderr
    for expiry in ("garbage", "9999-12-31T23:59:59-12:00"):  # a ValueError traceback, exit 1
        dated = system.cli("keys", "create", "--account", "acct_missing", "--expires-at", expiry, check=False)
        assert dated.returncode == 1 and dated.stderr.startswith("error: VALIDATION_ERROR: --expires-at")
        assert "Traceback" not in dated.stderr and len(dated.stderr.splitlines()) == 1
