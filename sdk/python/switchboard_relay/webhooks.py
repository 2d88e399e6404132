"""The relay's webhooks on the tenant's side: verify an incoming request (HMAC#1), parse it into
a typed `WebhookEvent`, find its handler. The FastAPI and Django adapters are thin shells over
`WebhookReceiver`."""

import json
import logging
import time
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional, Tuple, Union

from pydantic import ValidationError as _PydanticError

from .models import WebhookEvent, WebhookEventType
from .settings import RelaySettings
from .signing import NonceStore, verify_request

logger = logging.getLogger("switchboard_relay.webhooks")

CALLBACK_PREFIX = "/api/v1/chat-callbacks/"
EVENTS = [e.value for e in WebhookEventType]

Handler = Callable[[WebhookEvent], Union[None, Any, Awaitable[Any]]]
Handlers = Mapping[Union[WebhookEventType, str], Handler]


def normalize_event(name: Union[WebhookEventType, str]) -> WebhookEventType:
    """`WebhookEventType.MESSAGE_RECEIVED`, "message-received" and "message_received" alike."""
    if isinstance(name, WebhookEventType):
        return name
    return WebhookEventType(str(name).strip().lower().replace("_", "-"))


class WebhookOutcome:
    """What to answer: `status` and `body`; `event` and `handler` when the request held."""

    __slots__ = ("status", "body", "event", "handler")

    def __init__(
        self,
        status: int,
        body: Dict[str, Any],
        event: Optional[WebhookEvent] = None,
        handler: Optional[Handler] = None,
    ) -> None:
        self.status = status
        self.body = body
        self.event = event
        self.handler = handler


class WebhookReceiver:
    """Verifies and dispatches the nine callbacks. Handlers are keyed by event type; an event
    with no handler is accepted and logged. Event ids already handled are answered again without
    calling the handler (delivery is at least once)."""

    def __init__(
        self,
        settings: Optional[RelaySettings] = None,
        handlers: Optional[Handlers] = None,
        *,
        secrets: Optional[list] = None,
        window_s: Optional[int] = None,
        nonce_store: Optional[NonceStore] = None,
        now: Optional[Callable[[], float]] = None,
    ) -> None:
        self.settings = settings
        self._secrets = secrets
        self.window_s = window_s or (settings.webhook_window_s if settings else 300)
        self.nonce_store = nonce_store or NonceStore()
        self.handled = NonceStore()  # event ids whose handler succeeded
        self.now = now or time.time
        self.handlers: Dict[WebhookEventType, Handler] = {}
        for name, fn in (handlers or {}).items():
            self.on(name, fn)

    @property
    def secrets(self) -> list:
        if self._secrets is not None:
            return list(self._secrets)
        if self.settings is None:
            return []
        return self.settings.webhook_secrets  # follows a rotation made through the client

    def on(self, event: Union[WebhookEventType, str], fn: Optional[Handler] = None) -> Any:
        """Register a handler: `receiver.on("message-received", fn)` or as a decorator."""
        kind = normalize_event(event)
        if fn is None:
            def decorator(f: Handler) -> Handler:
                self.handlers[kind] = f
                return f

            return decorator
        self.handlers[kind] = fn
        return fn

    def receive(
        self, event_name: str, method: str, path_and_query: str, headers: Mapping[str, str], raw_body: bytes
    ) -> WebhookOutcome:
        """Check one request: 404 for an unknown event, 401 for a refused signature, 400 for a
        body that is not the event it claims; else 200 with the typed event and its handler."""
        try:
            kind = normalize_event(event_name)
        except ValueError:
            return WebhookOutcome(404, {"received": False, "error": "unknown_event"})
        tenant_id = self.settings.tenant_id if self.settings else None
        check = verify_request(
            self.secrets,
            headers,
            method,
            path_and_query,
            raw_body,
            window_s=self.window_s,
            nonce_store=self.nonce_store,
            now=self.now,
            tenant_id=tenant_id,
        )
        if not check.ok:
            logger.warning("webhook %s refused: %s", kind.value, check.reason)
            return WebhookOutcome(401, {"received": False, "error": "hmac/" + str(check.reason)})
        try:
            payload = json.loads(raw_body.decode("utf-8"))
            event = WebhookEvent.parse_obj(payload)
        except (ValueError, _PydanticError):
            return WebhookOutcome(400, {"received": False, "error": "webhook/malformed"})
        if event.type != kind:
            return WebhookOutcome(400, {"received": False, "error": "webhook/type_mismatch"})
        attempt = _header(headers, "X-Relay-Attempt")
        if attempt.isdigit():
            event.attempt = int(attempt)
        if self.handled.seen(event.id, self.now()):
            return WebhookOutcome(200, {"received": True, "duplicate": True}, event)
        handler = self.handlers.get(kind)
        if handler is None:
            logger.info("webhook %s %s received: no handler, acknowledged", kind.value, event.id)
        return WebhookOutcome(200, {"received": True}, event, handler)

    def mark_handled(self, event: WebhookEvent) -> None:
        """Remember the event's id (two days) so a redelivery is acknowledged without the handler."""
        self.handled.add(event.id, 2 * 86_400, self.now())


def _header(headers: Mapping[str, str], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return ""


def split_callback_path(path: str) -> Tuple[str, str]:
    """`(prefix, event)` of a callback path such as /hooks/api/v1/chat-callbacks/message-received."""
    i = path.find(CALLBACK_PREFIX)
    if i < 0:
        return path, ""
    return path[:i], path[i + len(CALLBACK_PREFIX):].split("?")[0].strip("/")
