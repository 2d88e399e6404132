"""The Django adapter with django.test.Client: requests signed by the SDK's own signer, the
default `urlpatterns` (settings from Django's settings, then the environment) and
`relay_urlpatterns` with a receiver of its own."""

import json
import os
import unittest
import uuid
from typing import Any, List
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

from switchboard_relay import RelaySettings, WebhookEvent, WebhookEventType, get_chat_client, reset_chat_client, sign_request  # noqa: E402
from switchboard_relay.adapters import django as relay_django  # noqa: E402

from .support import live, unique  # noqa: E402

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


