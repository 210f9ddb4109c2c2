"""Accounts and API keys: creation, listing, revocation, and authentication by key hash."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.catalog.models import Account, ApiKey
from services.common.auth import (
    ENVIRONMENTS,
    PREFIX_LENGTH,
    SCOPES,
    Principal,
    generate_key,
    hash_key,
    same_hash,
)
from services.common.errors import ServiceError
from services.common.ids import new_id
from services.ingest.validation import storable

# Writing last_used_at on every call would turn every read into a write; once a minute is enough.
LAST_USED_RESOLUTION = 60.0


def create_account(session: Session, name: str, plan: str, known_plans: set[str], now: float) -> Account:
    name = (name or "").strip()
    if not 1 <= len(name) <= 255 or not storable(name):
        raise ServiceError("VALIDATION_ERROR", "name must be 1-255 characters, without NUL",
                           {"field": "name"})
    plan = plan or "free"
    if plan not in known_plans:
        raise ServiceError("VALIDATION_ERROR", f"unknown plan {plan!r}",
                           {"field": "plan", "allowed": sorted(known_plans)})
    account = Account(id=new_id("acct"), name=name, plan=plan, created_at=now)
    session.add(account)
    return account


def get_account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise ServiceError("ACCOUNT_NOT_FOUND", f"account {account_id} does not exist",
                           {"account_id": account_id})
    return account


def manageable_environments(caller_environment: str | None) -> tuple[str, ...]:
    """The environments whose keys a caller may create, list and revoke: an operator (None) and a
    live admin key all of the account's; a test admin key only test keys, since a sandbox key
    reaches only sandbox data and a live key would reach the live data."""
    return ENVIRONMENTS if caller_environment in (None, "live") else (caller_environment,)


def create_key(session: Session, account_id: str, name: str, scopes: list[str], environment: str,
               expires_at: float | None, now: float, manageable: Sequence[str]) -> tuple[ApiKey, str]:
    """Creates a key and returns it with the full secret, which is never stored. FORBIDDEN for an
    environment outside `manageable` (see manageable_environments)."""
    get_account(session, account_id)
    scopes = sorted(set(scopes))
    if not scopes or any(s not in SCOPES for s in scopes):
        raise ServiceError("VALIDATION_ERROR", f"scopes must be a non-empty list of {', '.join(SCOPES)}",
                           {"field": "scopes", "allowed": list(SCOPES)})
    if environment not in ENVIRONMENTS:
        raise ServiceError("VALIDATION_ERROR", "environment must be live or test",
                           {"field": "environment", "allowed": list(ENVIRONMENTS)})
    if environment not in manageable:
        raise ServiceError("FORBIDDEN", f"this key cannot create {environment} keys",
                           {"field": "environment", "allowed": list(manageable)})
    if len(name or "") > 255 or not storable(name or ""):
        raise ServiceError("VALIDATION_ERROR", "name must be at most 255 characters, without NUL",
                           {"field": "name"})
    if expires_at is not None and expires_at <= now:
        raise ServiceError("VALIDATION_ERROR", "expires_at must be in the future", {"field": "expires_at"})
    secret = generate_key(environment)
    key = ApiKey(id=new_id("key"), account_id=account_id, name=name or "", prefix=secret[:PREFIX_LENGTH],
                 key_hash=hash_key(secret), scopes=",".join(scopes), environment=environment,
                 created_at=now, expires_at=expires_at)
    session.add(key)
    return key, secret


def list_keys(session: Session, account_id: str, manageable: Sequence[str], offset: int,
              limit: int) -> tuple[list[ApiKey], int]:
    """A page of the account's keys of the `manageable` environments, newest first, and their count."""
    where = (ApiKey.account_id == account_id, ApiKey.environment.in_(list(manageable)))
    total = session.scalar(select(func.count()).select_from(ApiKey).where(*where)) or 0
    rows = session.scalars(select(ApiKey).where(*where).order_by(ApiKey.created_at.desc(), ApiKey.id)
                           .offset(offset).limit(limit)).all()
    return list(rows), total


def revoke_key(session: Session, key_id: str, account_id: str | None, manageable: Sequence[str],
               now: float) -> ApiKey:
    """Revokes a key of `account_id` (any account when None: an operator) in a `manageable`
    environment; any other key is not found, like an unknown id. Idempotent: the row is locked,
    so a revocation made meanwhile (another replica's) is kept, not moved to this call's time."""
    key = session.get(ApiKey, key_id, with_for_update=True)
    if (key is None or (account_id is not None and key.account_id != account_id)
            or key.environment not in manageable):
        raise ServiceError("KEY_NOT_FOUND", f"key {key_id} does not exist", {"key_id": key_id})
    if key.revoked_at is None:
        key.revoked_at = now
    return key


def authenticate(session: Session, secret: str, now: float) -> tuple[Principal, bool]:
    """The principal of a key, and whether its last_used_at is due for an update (see
    `touch_key`); UNAUTHORIZED for an unknown, expired or revoked key."""
    digest = hash_key(secret)
    row = session.execute(
        select(ApiKey, Account.plan).join(Account, Account.id == ApiKey.account_id)
        .where(ApiKey.key_hash == digest)).first()
    if row is None or not same_hash(row[0].key_hash, digest):
        raise ServiceError("UNAUTHORIZED", "unknown API key")
    key, plan = row
    if key.revoked_at is not None:
        raise ServiceError("UNAUTHORIZED", "this API key has been revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise ServiceError("UNAUTHORIZED", "this API key has expired")
    principal = Principal(key_id=key.id, account_id=key.account_id, environment=key.environment,
                          scopes=frozenset(key.scopes.split(",")), plan=plan)
    return principal, key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION


def touch_key(session: Session, key_id: str, now: float) -> None:
    key = session.get(ApiKey, key_id)
    if key is not None:
        key.last_used_at = now
