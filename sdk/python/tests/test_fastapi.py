"""The FastAPI adapter: signed requests through fastapi.testclient, then real webhooks from the
relay to the adapter served by uvicorn."""

import json
import os
import threading
import unittest
import uuid
from typing import Any, Dict, List
from unittest import mock

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from switchboard_relay import (
    Delivery,
    Message,
    MessageRole,
    RelayClient,
    RelaySettings,
    WebhookEvent,
    WebhookEventType,
    sign_request,
)
from switchboard_relay.adapters.fastapi import RelayAdapter

from .support import admin, provision_tenant, unique, wait_for, UvicornThread

TENANT = "0190f5a2-7c3e-7a41-9b2d-5e8f1c6a3d70"
SECRET = "sk_test_fastapi_adapter"
SETTINGS = RelaySettings(base_url="http://relay.invalid", tenant_id=TENANT, tenant_secret=SECRET)


def event_body(kind: str, data: Dict[str, Any], event_id: str = "") -> bytes:
    body = {"id": event_id or str(uuid.uuid4()), "type": kind, "tenant_id": TENANT, "created_at": "2026-11-29T09:36:57.753Z", "data": data}
    return json.dumps(body).encode("utf-8")


def signed_post(client: TestClient, path: str, body: bytes, secret: str = SECRET, **extra: str) -> Any:
    headers = sign_request(TENANT, secret, "POST", path, body)
    headers.update({"Content-Type": "application/json", **extra})
    return client.post(path, content=body, headers=headers)


class AdapterTests(unittest.TestCase):
    def setUp(self) -> None:
        self.events: List[WebhookEvent] = []
        self.app = FastAPI()

        async def on_message(event: WebhookEvent) -> None:
            self.events.append(event)

        def on_started(event: WebhookEvent) -> None:  # a plain function runs in the thread pool
            self.events.append(event)

        def on_ticket(event: WebhookEvent) -> None:
            raise RuntimeError("database down")

        self.adapter = RelayAdapter.from_env(
            self.app,
            settings=SETTINGS.copy(),
            handlers={
                WebhookEventType.MESSAGE_RECEIVED: on_message,
                "conversation_started": on_started,
                "ticket-created": on_ticket,
            },
        )
        self.client = TestClient(self.app)

    def test_a_handled_event_is_verified_and_typed(self) -> None:
        body = event_body("message-received", {"conversation_id": "c1", "message": {"id": "m1", "role": "visitor", "content": "hi"}})
        r = signed_post(self.client, "/api/v1/chat-callbacks/message-received", body, **{"X-Relay-Attempt": "2"})
        self.assertEqual((r.status_code, r.json()), (200, {"received": True}))
        [event] = self.events
        self.assertIs(event.type, WebhookEventType.MESSAGE_RECEIVED)
        self.assertEqual(event.attempt, 2)
        self.assertIsInstance(event.message, Message)
        self.assertIs(event.message.role, MessageRole.VISITOR)
        body2 = event_body("conversation-started", {"conversation_id": "c1", "reopened": False})
        self.assertEqual(signed_post(self.client, "/api/v1/chat-callbacks/conversation-started", body2).status_code, 200)
        self.assertIs(self.events[1].type, WebhookEventType.CONVERSATION_STARTED)

    def test_every_event_without_a_handler_is_acknowledged_and_logged(self) -> None:
        for kind in WebhookEventType:
            if kind.value in ("message-received", "conversation-started", "ticket-created"):
                continue
            with self.subTest(kind.value), self.assertLogs("switchboard_relay.webhooks", "INFO") as logs:
                r = signed_post(self.client, "/api/v1/chat-callbacks/" + kind.value, event_body(kind.value, {}))
                self.assertEqual((r.status_code, r.json()), (200, {"received": True}))
            self.assertIn("no handler", logs.output[0])

    def test_refusals(self) -> None:
        path = "/api/v1/chat-callbacks/message-received"
        body = event_body("message-received", {})
        headers = sign_request(TENANT, SECRET, "POST", path, body)
        tampered = self.client.post(path, content=body.replace(b"{}", b'{"x":1}'), headers=headers)
        self.assertEqual(tampered.status_code, 401)
        self.assertEqual(tampered.json()["error"], "hmac/bad_signature")
        self.assertEqual(self.client.post(path, content=body).status_code, 401)  # unsigned
        self.assertEqual(signed_post(self.client, path, body, secret="sk_other").status_code, 401)
        ok = self.client.post(path, content=body, headers=headers)
        self.assertEqual(ok.status_code, 200)
        replay = self.client.post(path, content=body, headers=headers)
        self.assertEqual((replay.status_code, replay.json()["error"]), (401, "hmac/replayed_nonce"))
        other = "/api/v1/chat-callbacks/agent-released"
        self.assertEqual(signed_post(self.client, other, body).status_code, 400)  # the body's type differs
        self.assertEqual(signed_post(self.client, "/api/v1/chat-callbacks/nope", body).status_code, 404)
        self.assertEqual(self.client.get(path).status_code, 405)

    def test_a_redelivered_event_is_handled_once(self) -> None:
        body = event_body("message-received", {"message": {"id": "m"}}, event_id=str(uuid.uuid4()))
        path = "/api/v1/chat-callbacks/message-received"
        self.assertEqual(signed_post(self.client, path, body).json(), {"received": True})
        self.assertEqual(signed_post(self.client, path, body).json(), {"received": True, "duplicate": True})
        self.assertEqual(len(self.events), 1)

    def test_a_failing_handler_answers_500_so_the_relay_retries(self) -> None:
        path = "/api/v1/chat-callbacks/ticket-created"
        body = event_body("ticket-created", {"ticket_id": "t"})
        with self.assertLogs("switchboard_relay.webhooks", "ERROR"):
            self.assertEqual(signed_post(self.client, path, body).status_code, 500)

    def test_from_env_and_the_wired_client(self) -> None:
        env = {
            "SWITCHBOARD_BASE_URL": "http://relay.invalid",
            "SWITCHBOARD_TENANT_ID": TENANT,
            "SWITCHBOARD_TENANT_SECRET": SECRET,
            "SWITCHBOARD_PREVIOUS_TENANT_SECRETS": "sk_previous_secret",
        }
        app = FastAPI()
        with mock.patch.dict(os.environ, env):
            adapter = RelayAdapter.from_env(app)
        self.assertIs(app.state.relay, adapter)
        self.assertIsInstance(adapter.client, RelayClient)
        client = TestClient(app)
        body = event_body("agent-assigned", {})
        r = signed_post(client, "/api/v1/chat-callbacks/agent-assigned", body, secret="sk_previous_secret")
        self.assertEqual(r.json(), {"received": True})  # the previous secret, during a rotation


@admin
class LiveWebhookTests(unittest.TestCase):
    """The relay's worker delivers to the adapter, served by uvicorn on 127.0.0.1."""

    def test_real_webhooks(self) -> None:
        settings = provision_tenant()
        app = FastAPI()
        received: List[WebhookEvent] = []
        arrived = threading.Condition()

        async def record(event: WebhookEvent) -> None:
            with arrived:
                received.append(event)
                arrived.notify_all()

        adapter = RelayAdapter(
            settings,
            {WebhookEventType.CONVERSATION_STARTED: record, WebhookEventType.MESSAGE_RECEIVED: record},
            prefix="/hooks",
        )
        adapter.mount(app)

        def of(kind: WebhookEventType) -> List[WebhookEvent]:
            return [e for e in received if e.type is kind]

        with UvicornThread(app) as server, adapter.client as chat:
            config = chat.configure_webhooks(callback_base_url=server.url + "/hooks")
            self.assertEqual(config.callback_base_url, server.url + "/hooks")
            self.assertEqual(len(config.events), 9)
            self.assertEqual(chat.get_webhooks().callback_base_url, server.url + "/hooks")

            user = unique("hook-user")
            convo = chat.create_conversation(visitor_user_id=user, visitor_display_name="Mary", locale="en")
            sent = chat.send_message(convo.id, role="visitor", content="Where is my order?")
            wait_for(lambda: of(WebhookEventType.MESSAGE_RECEIVED), what="message-received")
            started = wait_for(lambda: of(WebhookEventType.CONVERSATION_STARTED), what="conversation-started")[0]
            self.assertEqual(started.conversation_id, convo.id)
            self.assertEqual(started.data["visitor_user_id"], user)
            self.assertEqual(started.tenant_id, settings.tenant_id)
            message_event = of(WebhookEventType.MESSAGE_RECEIVED)[0]
            self.assertEqual(message_event.message.id, sent.id)
            self.assertIs(message_event.message.role, MessageRole.VISITOR)
            self.assertEqual(message_event.message.content, "Where is my order?")
            self.assertEqual(message_event.attempt, 1)

            # An event without a handler: acknowledged, so delivered.
            test = chat.send_test_webhook(WebhookEventType.AGENT_RELEASED)
            self.assertIsInstance(test, Delivery)

            def delivered(delivery_id: str) -> Any:
                d = chat.get_delivery(delivery_id)
                return d if d.status and d.status.value == "delivered" else None

            done = wait_for(lambda: delivered(test.id), what="the test delivery")
            self.assertEqual(done.attempt_log[-1].status_code, 200)
            self.assertIn('"received":true', done.attempt_log[-1].response_excerpt.replace(" ", ""))

            # The delivery log, and a redelivery (same event id: not handled twice).
            log = chat.list_deliveries(event=WebhookEventType.MESSAGE_RECEIVED)
            self.assertEqual([d.event for d in log.items], [WebhookEventType.MESSAGE_RECEIVED])
            first = log.items[0]
            self.assertEqual(first.conversation_id, convo.id)
            self.assertTrue(any(d.id for d in chat.iter_deliveries(page_size=1)))
            again = chat.redeliver(first.id)
            self.assertEqual(again.status.value, "pending")
            wait_for(lambda: (chat.get_delivery(first.id).attempts or 0) >= 2 and delivered(first.id), what="redelivery")
            self.assertEqual(len(of(WebhookEventType.MESSAGE_RECEIVED)), 1)

            # A tampered request to the same server is refused.
            path = "/hooks/api/v1/chat-callbacks/message-received"
            body = event_body("message-received", {})
            headers = sign_request(settings.tenant_id, settings.tenant_secret, "POST", path, body)
            r = httpx.post(server.url + path, content=body + b" ", headers=headers)
            self.assertEqual(r.status_code, 401)
            r = httpx.post(server.url + path, content=body, headers=headers)
            self.assertEqual((r.status_code, r.json()), (200, {"received": True}))  # the untampered bytes
            chat.configure_webhooks(callback_base_url=None)
