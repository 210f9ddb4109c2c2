"""Python SDK of the AnomalyWatch REST API v1."""
from .client import Client, DeadlineAdapter, Page, RateLimit
from .errors import (
    AnomalyWatchError,
    ApiError,
    AuthenticationError,
    ConflictError,
    InsufficientDataError,
    InternalServerError,
    InvalidResponseError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDenied,
    RateLimitError,
    RequestTimeout,
    TransportError,
    UnavailableError,
    UnsupportedMediaTypeError,
    ValidationError,
)

__version__ = "0.1.0"
__all__ = [
    "AnomalyWatchError", "ApiError", "AuthenticationError", "Client", "ConflictError", "DeadlineAdapter",
    "InsufficientDataError", "InternalServerError", "InvalidResponseError",
    "MethodNotAllowedError", "NotFoundError", "Page", "PayloadTooLargeError",
    "PermissionDenied", "RateLimit", "RateLimitError", "RequestTimeout", "TransportError", "UnavailableError",
    "UnsupportedMediaTypeError", "ValidationError",
]
