"""ServiceError across gRPC, and the key format: what comes of input that is not quite ours."""
from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.common.auth import bearer_key
from services.common.errors import ServiceError, from_rpc_error

VALID_KEY = "aw_live_" + "a" * 32


class FailedCall(grpc.RpcError):
    """What a stub raises: a status code, its details and the trailing metadata of a rich status."""

    def __init__(self, status: grpc.Status):
        self._status = status

    def code(self):
        return self._status.code

    def details(self):
        return self._status.details

    def trailing_metadata(self):
        return self._status.trailing_metadata


def foreign(details_json: str | None) -> FailedCall:
    """A rich status with our reason but details that one of our services would not write."""
    metadata = {} if details_json is None else {"details": details_json}
    packed = any_pb2.Any()
    packed.Pack(error_details_pb2.ErrorInfo(reason="VALIDATION_ERROR", domain="x", metadata=metadata))
    return FailedCall(rpc_status.to_status(
        status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="bad field", details=[packed])))


def test_our_own_status_comes_back_whole():
    error = ServiceError("VALIDATION_ERROR", "bad field", {"field": "value", "index": 3})
    back = from_rpc_error(FailedCall(error.to_status()))
    assert (back.code, back.message, back.details) == ("VALIDATION_ERROR", "bad field",
                                                       {"field": "value", "index": 3})


@pytest.mark.parametrize("details_json", ["{not json", "[1, 2]", "null", "\"text\"", None, ""])
def test_details_that_are_no_json_object_are_left_out_not_a_crash(details_json):
    back = from_rpc_error(foreign(details_json))
    assert (back.code, back.message, back.details) == ("VALIDATION_ERROR", "bad field", {})


@pytest.mark.parametrize("key", [VALID_KEY + "x", "x" + VALID_KEY, VALID_KEY[:-1] + "\u0661",
                                 VALID_KEY + "\nx", VALID_KEY[:-1]])
def test_a_key_is_the_whole_pattern_or_unauthorized(key):
    with pytest.raises(ServiceError) as refused:
        bearer_key(f"Bearer {key}")
    assert refused.value.code == "UNAUTHORIZED"
    assert bearer_key(f"Bearer {VALID_KEY}") == VALID_KEY
