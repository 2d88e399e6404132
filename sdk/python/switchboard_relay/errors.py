"""The SDK's errors: one root, `RelayError`, carrying the relay's envelope (`status_code`, the
stable `code` such as `conversation/not_found`, `message`)."""

from typing import Any, Optional


class RelayError(Exception):
    """Any failure of a call to the relay. `status_code` is the HTTP status (0 when no answer came),
    `code` the envelope's machine-readable `error`, `message` its human one."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 0,
        code: Optional[str] = None,
        param: Optional[str] = None,
        retry_after: Optional[int] = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.param = param
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        head = "%s %s" % (self.status_code, self.code) if self.code else str(self.status_code)
        return "%s: %s" % (head, self.message)

    def __repr__(self) -> str:
        return "%s(status_code=%r, code=%r, message=%r)" % (
            type(self).__name__,
            self.status_code,
            self.code,
            self.message,
        )


class RelayAuthError(RelayError):
    """401 or 403: a signature the relay refused (`hmac/*`), a suspended tenant, a forbidden origin."""


class RelayNotFoundError(RelayError):
    """404: no such resource for this tenant (another tenant's is a 404 too)."""


class RelayValidationError(RelayError):
    """400 or 422: a parameter the relay refused; `param` names it when it can."""


class RelayConflictError(RelayError):
    """409: the resource's state refuses the change (`ticket/bad_transition`, `operator/exists`, …)."""


class RelayRateLimitError(RelayError):
    """429: the tenant's quota per minute; `retry_after` says in how many seconds to try again."""


class RelayConnectionError(RelayError):
    """No answer: the relay could not be reached, or the call timed out."""


def error_for(status_code: int, message: str, **kw: Any) -> RelayError:
    """The error class for an HTTP status."""
    if status_code in (401, 403):
        cls = RelayAuthError
    elif status_code == 404:
        cls = RelayNotFoundError
    elif status_code in (400, 413, 422):
        cls = RelayValidationError
    elif status_code == 409:
        cls = RelayConflictError
    elif status_code == 429:
        cls = RelayRateLimitError
    else:
        cls = RelayError
    return cls(message, status_code=status_code, **kw)
