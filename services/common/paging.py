"""List paging: PageRequest to (offset, limit), and the PageInfo that answers it."""
from __future__ import annotations

import base64

from anomalywatch.common.v1 import common_pb2
from services.common.errors import ServiceError

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000
MAX_OFFSET = 2**31 - 1  # PageRequest.offset and PageInfo.offset are int32


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode(token: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        # ASCII digits only: int() also takes signs, spaces, underscores and other scripts' digits
        if kind != "o" or not (value.isascii() and value.isdigit()) or int(value) > MAX_OFFSET:
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError) as error:
        raise ServiceError("VALIDATION_ERROR", "invalid page_token", {"field": "page_token"}) from error


def bounds(page: common_pb2.PageRequest) -> tuple[int, int]:
    if page.page_size < 0 or page.offset < 0:
        raise ServiceError("VALIDATION_ERROR", "page size and offset must not be negative",
                           {"field": "limit" if page.page_size < 0 else "offset"})
    limit = min(page.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    offset = _decode(page.page_token) if page.page_token else page.offset
    return offset, limit


def info(offset: int, limit: int, total: int) -> common_pb2.PageInfo:
    more = offset + limit < total and offset + limit <= MAX_OFFSET  # else no token could say where
    return common_pb2.PageInfo(next_page_token=_encode(offset + limit) if more else "",
                               total_size=total, offset=offset, page_size=limit)
