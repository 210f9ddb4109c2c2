"""Catalog calls whose transaction the database aborted to break a deadlock or a serialization
conflict run again: the abort rolled everything back, so a fresh attempt is safe, and the client
never sees what is the database's way of ordering concurrent writers. Still failing after the
attempts: UNAVAILABLE (503, retry later), never INTERNAL.

A database that cannot be reached (PostgreSQL down, restarting or failing over; a connection lost
mid-call) or a SQLite file still locked after the busy timeout also answers UNAVAILABLE, at once
and without running the call again: a connection lost during COMMIT leaves unknown whether the
transaction landed, so only the client, whose retry of a write is an exact repeat, may try again.

Also the one refusal of input that only PostgreSQL makes: text holding NUL, which its driver will
not send. Stored text is checked before (as SQLite would keep it); a look-up by such an id or
name answers VALIDATION_ERROR here, as the gateway answers any NUL in a request."""
from __future__ import annotations

import logging
import random
import time

import grpc
from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from services.common.errors import ServiceError

log = logging.getLogger(__name__)

# PostgreSQL SQLSTATEs of a transaction aborted so that others can go on
TRANSIENT_SQLSTATES = {"40P01": "deadlock detected", "40001": "serialization failure"}
ATTEMPTS = 4
# PostgreSQL SQLSTATEs of a server going away: admin_shutdown, crash_shutdown, cannot_connect_now
# (class 08, connection exceptions, counts too)
UNREACHABLE_SQLSTATES = {"57P01", "57P02", "57P03"}
SQLITE_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED


def is_transient(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


def is_unreachable(error: BaseException) -> bool:
    """The database could not be reached or went away mid-call, or SQLite stayed locked."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    if getattr(error.orig, "sqlite_errorcode", None) in SQLITE_BUSY_CODES:
        return True
    sqlstate = getattr(error.orig, "sqlstate", "")
    # psycopg raises connection failures (refused, reset, timed out) without a SQLSTATE
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in UNREACHABLE_SQLSTATES


def refuses_nul(error: BaseException) -> bool:
    # raised by psycopg itself (so without a SQLSTATE) for a text parameter holding NUL
    return (isinstance(error, DataError) and getattr(error.orig, "sqlstate", "") is None
            and "NUL" in str(error.orig))


def run_retrying(behaviour, request, context, method: str, sleep=time.sleep):
    """behaviour(request, context), again on a transient abort, up to ATTEMPTS times."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return behaviour(request, context)
        except DBAPIError as error:
            if refuses_nul(error):
                raise ServiceError("VALIDATION_ERROR", "text must not contain NUL characters") from error
            if is_unreachable(error):
                log.warning("database unreachable", extra={"method": method, "error": str(error.orig)[:200]})
                raise ServiceError("UNAVAILABLE", "the database is unavailable; retry the request") from error
            if not is_transient(error):
                raise
            if attempt == ATTEMPTS:
                raise ServiceError("UNAVAILABLE", "the database is busy; retry the request") from error
            log.warning("transaction aborted, running it again", extra={
                "method": method, "reason": TRANSIENT_SQLSTATES[error.orig.sqlstate], "attempt": attempt})
            # apart by a random pause, so the writers that collided do not collide again
            sleep(random.uniform(0.0, 0.02 * attempt))


class RetryTransientInterceptor(grpc.ServerInterceptor):
    """Applies `run_retrying` to every unary call (a stream cannot be taken back once sent)."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        behaviour = handler.unary_unary
        method = handler_call_details.method.rsplit("/", 1)[-1]
        return grpc.unary_unary_rpc_method_handler(
            lambda request, context: run_retrying(behaviour, request, context, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
