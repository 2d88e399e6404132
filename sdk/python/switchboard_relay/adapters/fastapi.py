"""FastAPI: `RelayAdapter.from_env(app, handlers={...})` mounts
`POST /api/v1/chat-callbacks/{event}` for the nine events, verified with HMAC#1, and wires a
client (`adapter.client`, `adapter.async_client`, `app.state.relay`)."""

import inspect
import logging
from typing import Any, Optional

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..client import AsyncRelayClient, RelayClient
from ..models import WebhookEventType
from ..settings import RelaySettings
from ..signing import NonceStore
from ..webhooks import CALLBACK_PREFIX, Handler, Handlers, WebhookReceiver

logger = logging.getLogger("switchboard_relay.webhooks")


class RelayAdapter:
    """The callbacks of one tenant on a FastAPI app. Handlers may be plain or `async` functions
    taking a `WebhookEvent`; a sync handler runs in the thread pool. A handler that raises makes
    the answer 500, so the relay delivers the event again later."""

    def __init__(
        self,
        settings: RelaySettings,
        handlers: Optional[Handlers] = None,
        *,
        prefix: str = "",
        nonce_store: Optional[NonceStore] = None,
    ) -> None:
        self.settings = settings
        self.receiver = WebhookReceiver(settings, handlers, nonce_store=nonce_store)
        self.prefix = prefix.rstrip("/")
        self.router = APIRouter()
        self.router.add_api_route(
            self.prefix + CALLBACK_PREFIX + "{event}",
            self._endpoint,
            methods=["POST"],
            include_in_schema=False,
            name="switchboard_relay_callback",
        )
        self._client: Optional[RelayClient] = None
        self._async_client: Optional[AsyncRelayClient] = None

    @classmethod
    def from_env(
        cls,
        app: FastAPI,
        handlers: Optional[Handlers] = None,
        *,
        settings: Optional[RelaySettings] = None,
        **kw: Any,
    ) -> "RelayAdapter":
        """Settings from SWITCHBOARD_*, the callbacks mounted on `app`."""
        adapter = cls(settings or RelaySettings.from_env(), handlers, **kw)
        adapter.mount(app)
        return adapter

    def mount(self, app: FastAPI) -> None:
        app.include_router(self.router)
        app.state.relay = self

        @app.on_event("shutdown")
        async def _close_clients() -> None:
            await self.aclose()

    def on(self, event: Any, fn: Optional[Handler] = None) -> Any:
        """Register a handler, or decorate one: `@adapter.on(WebhookEventType.MESSAGE_RECEIVED)`."""
        return self.receiver.on(event, fn)

    @property
    def client(self) -> RelayClient:
        """A synchronous client with the adapter's settings."""
        if self._client is None:
            self._client = RelayClient(self.settings)
        return self._client

    @property
    def async_client(self) -> AsyncRelayClient:
        """An asynchronous client with the adapter's settings (use it inside handlers)."""
        if self._async_client is None:
            self._async_client = AsyncRelayClient(self.settings)
        return self._async_client

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _endpoint(self, event: str, request: Request) -> JSONResponse:
        raw = await request.body()
        raw_path = request.scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else request.url.path
        query = request.scope.get("query_string") or b""
        if query:
            path += "?" + query.decode("latin-1")
        outcome = self.receiver.receive(event, request.method, path, request.headers, raw)
        if outcome.status == 200 and outcome.event is not None and outcome.handler is not None:
            try:
                if inspect.iscoroutinefunction(outcome.handler):
                    result = await outcome.handler(outcome.event)
                else:
                    result = await run_in_threadpool(outcome.handler, outcome.event)
                    if inspect.isawaitable(result):
                        result = await result
            except Exception:
                logger.exception("webhook %s %s: the handler failed", event, outcome.event.id)
                return JSONResponse({"received": False, "error": "handler_failed"}, status_code=500)
            self.receiver.mark_handled(outcome.event)
        elif outcome.status == 200 and outcome.event is not None:
            self.receiver.mark_handled(outcome.event)
        return JSONResponse(outcome.body, status_code=outcome.status)


__all__ = ["RelayAdapter", "WebhookEventType"]
