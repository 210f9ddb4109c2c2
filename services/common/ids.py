"""Resource ids: a type prefix and 16 random URL-safe characters."""
from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits
PREFIXES = ("acct", "key", "met", "anom", "rule")


def new_id(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix}")
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def has_prefix(value: str, prefix: str) -> bool:
    return isinstance(value, str) and value.startswith(prefix + "_")
