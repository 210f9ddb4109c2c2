"""Bearer-key authentication of REST calls: 401 for a missing or bad key, 403 for a missing scope."""
from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, g, request

from services.common.auth import Principal, bearer_key


def current_principal() -> Principal:
    """The caller's principal, authenticated once per request (cached for at most 0.5 s)."""
    if "principal" not in g:
        key = bearer_key(request.headers.get("Authorization"))
        g.principal = current_app.extensions["aw"].principals.authenticate(key)
        g.api_key = key
    return g.principal


def requires(scope: str) -> Callable:
    """Decorates a view that needs an API key with `scope`."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            current_principal().require(scope)
            return view(*args, **kwargs)
        wrapped.required_scope = scope
        return wrapped
    return decorate
