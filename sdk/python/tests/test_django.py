"""The Django adapter with django.test.Client: requests signed by the SDK's own signer, the
default `urlpatterns` (settings from Django's settings, then the environment) and
`relay_urlpatterns` with a receiver of its own."""

import json
import os
import socketserver
import threading
import unittest
import uuid
from typing import Any, Dict, List
from unittest import mock

import django
from django.conf import settings as dj

if not dj.configured:
    dj.configure(
        DEBUG=False,
        SECRET_KEY="switchboard-relay-tests",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware"],
        INSTALLED_APPS=[],
        DATABASES={},
        SWITCHBOARD_WEBHOOK_HANDLERS={"ticket-created": "tests.test_django.on_ticket_created"},
    )
    django.setup()

from django.test import Client, override_settings  # noqa: E402
from django.urls import include, path  # noqa: E402

import httpx  # noqa: E402

from switchboard_relay import (  # noqa: E402
    MessageRole,
    RelayClient,
    RelaySettings,
    WebhookEvent,
    WebhookEventType,
    get_chat_client,
    reset_chat_client,
    sign_request,
)
from switchboard_relay.adapters import django as relay_django  # noqa: E402

from .support import admin, live, provision_tenant, unique, wait_for  # noqa: E402

TENANT = "0190f5a2-7c3e-7a41-9b2d-5e8f1c6a3d70"
SECRET = "sk_test_django_adapter"
OWN = RelaySettings(base_url="http://relay.invalid", tenant_id=TENANT, tenant_secret="sk_own_patterns")
ENV = {"SWITCHBOARD_BASE_URL": "http://relay.invalid", "SWITCHBOARD_TENANT_ID": TENANT, "SWITCHBOARD_TENANT_SECRET": SECRET}

received: List[WebhookEvent] = []


def on_ticket_created(event: WebhookEvent) -> None:
    received.append(event)


async def on_message(event: WebhookEvent) -> None:
    received.append(event)


urlpatterns = [
    path("", include("switchboard_relay.adapters.django")),
    *relay_django.relay_urlpatterns(handlers={"agent-resolved": on_ticket_created}, settings=OWN, prefix="own"),
]


def body_of(kind: str, **data: Any) -> bytes:
    return json.dumps({"id": str(uuid.uuid4()), "type": kind, "tenant_id": TENANT, "data": data}).encode()


def post(client: Client, path: str, body: bytes, secret: str = SECRET, headers: Any = None) -> Any:
    signed = headers or sign_request(TENANT, secret, "POST", path, body)
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in signed.items()}
    return client.post(path, data=body, content_type="application/json", **meta)


class DjangoAdapterTests(unittest.TestCase):
    def setUp(self) -> None:
        received.clear()
        self.env = mock.patch.dict(os.environ, ENV)
        self.env.start()
        relay_django.reset()
        relay_django.register(WebhookEventType.MESSAGE_RECEIVED, on_message)
        self.client = Client(enforce_csrf_checks=True)

    def tearDown(self) -> None:
        relay_django.reset()
        self.env.stop()

    # Only the callback URL in Django's settings: the rest comes from the environment, as in a
    # deployment that keeps secrets out of settings.py.
    @override_settings(SWITCHBOARD_CALLBACK_BASE_URL="https://backend.example/django")
    def test_settings_come_from_django_then_the_environment(self) -> None:
        s = RelaySettings.load()
        self.assertEqual((s.tenant_id, s.callback_base_url), (TENANT, "https://backend.example/django"))

    def test_a_signed_request_reaches_its_handler(self) -> None:
        path = "/api/v1/chat-callbacks/message-received"
        r = post(self.client, path, body_of("message-received", conversation_id="c", message={"id": "m", "role": "visitor"}))
        self.assertEqual((r.status_code, r.json()), (200, {"received": True}))  # csrf-exempt
        [event] = received
        self.assertIs(event.type, WebhookEventType.MESSAGE_RECEIVED)
        self.assertEqual(event.message.id, "m")

    def test_handlers_named_in_settings(self) -> None:
        r = post(self.client, "/api/v1/chat-callbacks/ticket-created", body_of("ticket-created", ticket_id="t1", status="open", priority="low"))
        self.assertEqual(r.status_code, 200)
        self.assertEqual(received[0].ticket.id, "t1")

    def test_an_event_without_a_handler(self) -> None:
        with self.assertLogs("switchboard_relay.webhooks", "INFO") as logs:
            r = post(self.client, "/api/v1/chat-callbacks/escalation-triggered", body_of("escalation-triggered", reason="no_answer"))
        self.assertEqual((r.status_code, r.json()), (200, {"received": True}))
        self.assertIn("no handler", logs.output[0])

    def test_refusals(self) -> None:
        path = "/api/v1/chat-callbacks/message-received"
        body = body_of("message-received")
        headers = sign_request(TENANT, SECRET, "POST", path, body)
        self.assertEqual(post(self.client, path, body + b" ", headers=headers).status_code, 401)
        self.assertEqual(post(self.client, path, body, secret="sk_wrong").status_code, 401)
        self.assertEqual(self.client.post(path, data=body, content_type="application/json").status_code, 401)
        self.assertEqual(post(self.client, path, body, headers=headers).status_code, 200)
        self.assertEqual(post(self.client, path, body, headers=headers).status_code, 401)  # replayed
        self.assertEqual(self.client.get(path).status_code, 405)
        self.assertEqual(post(self.client, "/api/v1/chat-callbacks/unknown", body).status_code, 404)

    def test_patterns_with_their_own_receiver(self) -> None:
        path = "/own/api/v1/chat-callbacks/agent-resolved"
        body = body_of("agent-resolved", resolved_at="2026-11-29T10:00:00Z")
        self.assertEqual(post(self.client, path, body).status_code, 401)  # the default secret is not theirs
        r = post(self.client, path, body, secret="sk_own_patterns")
        self.assertEqual((r.status_code, r.json()), (200, {"received": True}))
        self.assertIs(received[0].type, WebhookEventType.AGENT_RESOLVED)


@live
class DjangoQuickStartTests(unittest.TestCase):
    @override_settings(SWITCHBOARD_CALLBACK_BASE_URL="https://backend.example/django")
    def test_get_chat_client_under_django(self) -> None:
        reset_chat_client()
        try:
            chat = get_chat_client()  # RelayClient: SWITCHBOARD_* from Django's settings, then the environment
            self.assertEqual(chat.settings.callback_base_url, "https://backend.example/django")
            convo = chat.create_conversation(visitor_user_id=unique("dj-user"), visitor_display_name="Mary", locale="en")
            msg = chat.send_message(convo.id, role="visitor", content="Where is my order?")
            self.assertEqual(msg.conversation_id, convo.id)
        finally:
            reset_chat_client()




class WsgiThread:
    """A Django project served by wsgiref on 127.0.0.1 (a free port) in a thread: a real HTTP
    server, so what arrives is what the relay's worker sent."""

    def __init__(self) -> None:
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        from django.core.handlers.wsgi import WSGIHandler

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

        class Threaded(socketserver.ThreadingMixIn, WSGIServer):
            daemon_threads = True

        self.httpd = make_server("127.0.0.1", 0, WSGIHandler(), server_class=Threaded, handler_class=Quiet)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "WsgiThread":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


@admin
class DjangoLiveWebhookTests(unittest.TestCase):
    """The relay's worker delivers real webhooks to a Django endpoint served over HTTP."""

    def test_real_webhooks_reach_a_django_endpoint(self) -> None:
        settings = provision_tenant()
        received: List[WebhookEvent] = []
        arrived = threading.Lock()

        def record(event: WebhookEvent) -> None:
            with arrived:
                received.append(event)

        async def record_async(event: WebhookEvent) -> None:
            record(event)

        handled = [
            WebhookEventType.CONVERSATION_STARTED,
            WebhookEventType.TICKET_CREATED,
            WebhookEventType.TICKET_ASSIGNED,
            WebhookEventType.TICKET_RESOLVED,
        ]
        handlers: Dict[Any, Any] = {kind: record for kind in handled}
        handlers[WebhookEventType.MESSAGE_RECEIVED] = record_async  # an async handler under WSGI

        class LiveUrls:
            urlpatterns = relay_django.relay_urlpatterns(handlers=handlers, settings=settings, prefix="hooks")

        def of(kind: WebhookEventType) -> List[WebhookEvent]:
            with arrived:
                return [e for e in received if e.type is kind]

        def delivered(chat: RelayClient, delivery_id: str) -> Any:
            d = chat.get_delivery(delivery_id)
            return d if d.status and d.status.value == "delivered" else None

        with override_settings(ROOT_URLCONF=LiveUrls, ALLOWED_HOSTS=["127.0.0.1"]), WsgiThread() as server, RelayClient(
            settings
        ) as chat:
            chat.configure_webhooks(callback_base_url=server.url + "/hooks")
            user = unique("dj-hook-user")
            convo = chat.create_conversation(visitor_user_id=user, visitor_display_name="Mary")
            sent = chat.send_message(convo.id, role="visitor", content="Where is my order?")
            started = wait_for(lambda: of(WebhookEventType.CONVERSATION_STARTED), what="conversation-started")[0]
            self.assertEqual((started.conversation_id, started.data["visitor_user_id"]), (convo.id, user))
            self.assertEqual(started.tenant_id, settings.tenant_id)
            message = wait_for(lambda: of(WebhookEventType.MESSAGE_RECEIVED), what="message-received")[0]
            self.assertEqual((message.message.id, message.message.content), (sent.id, "Where is my order?"))
            self.assertIs(message.message.role, MessageRole.VISITOR)

            ext = unique("dj-op")
            op = chat.create_operator(ext, display_name="Grace")
            ticket = chat.create_ticket("Late parcel", conversation_id=convo.id)
            created = wait_for(lambda: of(WebhookEventType.TICKET_CREATED), what="ticket-created")[0]
            self.assertEqual(created.ticket.id, ticket.id)
            chat.update_ticket(ticket.id, assignee_external_id=ext)
            assigned = wait_for(lambda: of(WebhookEventType.TICKET_ASSIGNED), what="ticket-assigned")[0]
            self.assertEqual(assigned.ticket.id, ticket.id)
            self.assertEqual(assigned.ticket.assignee.id, op.id)
            chat.update_ticket(ticket.id, status="resolved")
            resolved = wait_for(lambda: of(WebhookEventType.TICKET_RESOLVED), what="ticket-resolved")[0]
            self.assertEqual(resolved.ticket.id, ticket.id)

            # No handler for it: the Django view acknowledges it, so the relay records a delivery.
            test = chat.send_test_webhook(WebhookEventType.AGENT_RELEASED)
            done = wait_for(lambda: delivered(chat, test.id), what="the unhandled test event")
            self.assertEqual(done.attempt_log[-1].status_code, 200)
            self.assertIn('"received":true', done.attempt_log[-1].response_excerpt.replace(" ", ""))

            # A tampered copy of a real request is refused by the same server.
            path = "/hooks/api/v1/chat-callbacks/message-received"
            body = json.dumps({"id": str(uuid.uuid4()), "type": "message-received", "data": {}}).encode()
            headers = sign_request(settings.tenant_id, settings.tenant_secret, "POST", path, body)
            self.assertEqual(httpx.post(server.url + path, content=body + b" ", headers=headers).status_code, 401)
            chat.configure_webhooks(callback_base_url=None)
        self.assertEqual(len(of(WebhookEventType.MESSAGE_RECEIVED)), 1)
