"""Django: the nine callbacks as a csrf-exempt view.

    # urls.py
    from django.urls import include, path
    urlpatterns = [path("", include("switchboard_relay.adapters.django"))]

    # anywhere at start-up (e.g. AppConfig.ready)
    from switchboard_relay.adapters.django import register
    register("message-received", on_message)

Settings come from Django's settings (SWITCHBOARD_BASE_URL, SWITCHBOARD_TENANT_ID,
SWITCHBOARD_TENANT_SECRET, …), else the environment; handlers may also be named in
`SWITCHBOARD_WEBHOOK_HANDLERS = {"message-received": "myapp.hooks.on_message"}`.
`relay_urlpatterns(handlers=..., settings=...)` builds patterns with their own receiver."""

import inspect
import logging
from typing import Any, Callable, List, Optional

from django.http import HttpRequest, JsonResponse
from django.urls import path as url_path
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt

from ..settings import RelaySettings
from ..webhooks import CALLBACK_PREFIX, Handler, Handlers, WebhookReceiver

logger = logging.getLogger("switchboard_relay.webhooks")

_default: Optional[WebhookReceiver] = None
_pending: dict = {}


def default_receiver() -> WebhookReceiver:
    """The receiver of the module's `urlpatterns`, made at the first request from the settings."""
    global _default
    if _default is None:
        from django.conf import settings as dj

        receiver = WebhookReceiver(RelaySettings.from_django())
        for name, dotted in (getattr(dj, "SWITCHBOARD_WEBHOOK_HANDLERS", None) or {}).items():
            receiver.on(name, import_string(dotted) if isinstance(dotted, str) else dotted)
        for name, fn in _pending.items():
            receiver.on(name, fn)
        _default = receiver
    return _default


def register(event: Any, fn: Optional[Handler] = None) -> Any:
    """Register a handler on the default receiver (also usable as a decorator)."""
    def add(f: Handler) -> Handler:
        _pending[event] = f
        if _default is not None:
            _default.on(event, f)
        return f

    return add if fn is None else add(fn)


def reset() -> None:
    """Forget the default receiver and its handlers (tests; settings changed)."""
    global _default
    _default = None
    _pending.clear()


def make_view(receiver: Callable[[], WebhookReceiver]) -> Callable[..., JsonResponse]:
    """A csrf-exempt view for `<prefix>/api/v1/chat-callbacks/<event>`."""

    @csrf_exempt
    def relay_callback(request: HttpRequest, event: str) -> JsonResponse:
        if request.method != "POST":
            return JsonResponse({"received": False, "error": "method_not_allowed"}, status=405)
        rcv = receiver()
        outcome = rcv.receive(event, request.method, request.get_full_path(), request.headers, request.body)
        if outcome.status == 200 and outcome.event is not None:
            if outcome.handler is not None:
                try:
                    result = outcome.handler(outcome.event)
                    if inspect.isawaitable(result):
                        from asgiref.sync import async_to_sync

                        async def wait() -> Any:
                            return await result

                        async_to_sync(wait)()
                except Exception:
                    logger.exception("webhook %s %s: the handler failed", event, outcome.event.id)
                    return JsonResponse({"received": False, "error": "handler_failed"}, status=500)
            rcv.mark_handled(outcome.event)
        return JsonResponse(outcome.body, status=outcome.status)

    return relay_callback


def relay_urlpatterns(
    handlers: Optional[Handlers] = None, settings: Optional[RelaySettings] = None, prefix: str = ""
) -> List[Any]:
    """URL patterns with a receiver of their own (settings default to Django's)."""
    own: List[WebhookReceiver] = []

    def receiver() -> WebhookReceiver:
        if not own:
            own.append(WebhookReceiver(settings or RelaySettings.from_django(), handlers))
        return own[0]

    route = (prefix.strip("/") + "/" if prefix.strip("/") else "") + CALLBACK_PREFIX.lstrip("/") + "<str:event>"
    return [url_path(route, make_view(receiver), name="switchboard_relay_callback")]


relay_callback = make_view(default_receiver)
urlpatterns = [url_path(CALLBACK_PREFIX.lstrip("/") + "<str:event>", relay_callback, name="switchboard_relay_callback")]
