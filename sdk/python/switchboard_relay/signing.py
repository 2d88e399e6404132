"""HMAC#1: signing the calls to the relay and verifying the webhooks it sends (docs/hmac.md)."""

import hashlib
import hmac
import re
import secrets as _secrets
import threading
import time
from typing import Callable, Dict, Iterable, Mapping, Optional, Union

EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
DEFAULT_WINDOW_S = 300
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_SIGNATURE = re.compile(r"^v1=[0-9a-f]{64}$")

Body = Union[bytes, str, None]


def _bytes(body: Body) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def string_to_sign(method: str, path_and_query: str, timestamp: Union[int, str], nonce: str, body: Body = b"") -> str:
    """The six lines the signature covers, joined by LF, without a final newline."""
    body_hash = hashlib.sha256(_bytes(body)).hexdigest()
    return "\n".join(["HMAC1", method.upper(), path_and_query, str(timestamp), nonce, body_hash])


def compute_signature(
    secret: str, method: str, path_and_query: str, timestamp: Union[int, str], nonce: str, body: Body = b""
) -> str:
    """hex(hmac_sha256(secret, string_to_sign)), lower-case."""
    message = string_to_sign(method, path_and_query, timestamp, nonce, body).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def new_nonce() -> str:
    """A fresh nonce: 32 characters of the URL-safe alphabet."""
    return _secrets.token_urlsafe(24)


def sign_request(
    tenant_id: str,
    secret: str,
    method: str,
    path_and_query: str,
    body: Body = b"",
    *,
    timestamp: Optional[int] = None,
    nonce: Optional[str] = None,
) -> Dict[str, str]:
    """The four X-Relay-* headers for one request (sign the very bytes you send)."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    nonce = nonce or new_nonce()
    return {
        "X-Relay-Tenant": tenant_id,
        "X-Relay-Timestamp": ts,
        "X-Relay-Nonce": nonce,
        "X-Relay-Signature": "v1=" + compute_signature(secret, method, path_and_query, ts, nonce, body),
    }


class NonceStore:
    """Nonces seen recently, in memory, so a replayed webhook is refused. Several servers need a
    shared store (Redis `SET key 1 NX EX`): subclass and override `add`."""

    def __init__(self) -> None:
        self._seen: Dict[str, float] = {}
        self._lock = threading.Lock()

    def seen(self, key: str, now: Optional[float] = None) -> bool:
        """Whether `key` is remembered and not yet expired."""
        now = time.time() if now is None else now
        with self._lock:
            return self._seen.get(key, 0) > now

    def add(self, key: str, ttl_s: float, now: Optional[float] = None) -> bool:
        """Remember `key` for `ttl_s` seconds; False when it is already remembered."""
        now = time.time() if now is None else now
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
            if self._seen.get(key, 0) > now:
                return False
            self._seen[key] = now + ttl_s
            return True


class VerificationResult:
    """Why a request was refused (`reason`, the relay's own names), or `ok`."""

    __slots__ = ("ok", "reason")

    def __init__(self, reason: Optional[str]) -> None:
        self.ok = reason is None
        self.reason = reason

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return "VerificationResult(ok)" if self.ok else "VerificationResult(%s)" % self.reason


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if value is None:
        for k, v in headers.items():
            if k.lower() == name.lower():
                return v
    return value or ""


def verify_request(
    secrets: Union[str, Iterable[str]],
    headers: Mapping[str, str],
    method: str,
    path_and_query: str,
    raw_body: Body,
    *,
    window_s: int = DEFAULT_WINDOW_S,
    nonce_store: Optional[NonceStore] = None,
    now: Optional[Callable[[], float]] = None,
    tenant_id: Optional[str] = None,
) -> VerificationResult:
    """Verify an HMAC#1 request (a webhook) against the raw body bytes and the path and query as
    on the request line. Every secret is tried (the previous one too, during a rotation) and
    compared in constant time; the nonce is remembered only once the signature held."""
    secret_list = [secrets] if isinstance(secrets, str) else [s for s in secrets if s]
    tenant = _header(headers, "X-Relay-Tenant")
    ts = _header(headers, "X-Relay-Timestamp")
    nonce = _header(headers, "X-Relay-Nonce")
    given = _header(headers, "X-Relay-Signature")
    if not (tenant and ts and nonce and given):
        return VerificationResult("missing_headers")
    if not ts.isdigit() or not _NONCE.match(nonce) or not _SIGNATURE.match(given):
        return VerificationResult("malformed")
    if tenant_id is not None and not hmac.compare_digest(tenant.encode(), tenant_id.encode()):
        return VerificationResult("unknown_tenant")
    at = time.time() if now is None else now()
    if abs(at - int(ts)) > window_s:
        return VerificationResult("stale_timestamp")
    ok = False
    for secret in secret_list:  # every candidate computed, whichever matches
        expected = compute_signature(secret, method, path_and_query, ts, nonce, raw_body)
        ok = hmac.compare_digest(expected.encode(), given[3:].encode()) or ok
    if not ok:
        return VerificationResult("bad_signature")
    if nonce_store is not None and not nonce_store.add(tenant + ":" + nonce, 2 * window_s, at):
        return VerificationResult("replayed_nonce")
    return VerificationResult(None)
