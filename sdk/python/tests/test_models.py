"""The business types parse the relay's answers and events; settings come from the environment."""

import os
import unittest
from unittest import mock

from switchboard_relay import (
    Conversation,
    ConversationStatus,
    KnowledgeDocument,
    Message,
    MessageRole,
    Page,
    RelaySettings,
    RelaySettingsError,
    Ticket,
    TicketPriority,
    TicketStatus,
    WebhookEvent,
    WebhookEventType,
)

EVENT = {
    "id": "338ccad3-182d-49a0-a7b1-222f76983793",
    "type": "message-received",
    "tenant_id": "019e4ae7-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
    "created_at": "2026-11-29T09:36:57.753Z",
    "data": {
        "conversation_id": "3ee0",
        "session_id": "2312",
        "message": {
            "id": "b6c0",
            "seq": 3,
            "role": "visitor",
            "sender_id": "user-123",
            "content_type": "text",
            "content": "Where is my order?",
            "rich_media": None,
            "created_at": "2026-11-29T09:36:57.700Z",
        },
    },
}


class ModelTests(unittest.TestCase):
    def test_enums(self) -> None:
        self.assertEqual([e.value for e in WebhookEventType][:2], ["conversation-started", "message-received"])
        self.assertEqual(len(WebhookEventType), 9)
        self.assertEqual({e.value for e in MessageRole}, {"visitor", "agent", "bot", "system"})
        self.assertEqual({e.value for e in TicketStatus}, {"open", "pending", "resolved", "closed"})
        self.assertEqual({e.value for e in TicketPriority}, {"low", "normal", "high", "urgent"})
        self.assertEqual({e.value for e in ConversationStatus}, {"open", "resolved"})
        self.assertEqual(str(MessageRole.VISITOR), "visitor")
        self.assertEqual(MessageRole.VISITOR, "visitor")

    def test_webhook_event(self) -> None:
        event = WebhookEvent.parse_obj(EVENT)
        self.assertIs(event.type, WebhookEventType.MESSAGE_RECEIVED)
        self.assertEqual(event.conversation_id, "3ee0")
        self.assertIsInstance(event.message, Message)
        self.assertIs(event.message.role, MessageRole.VISITOR)
        self.assertEqual(event.created_at.year, 2026)
        self.assertIsNone(event.ticket)

    def test_ticket_event(self) -> None:
        event = WebhookEvent.parse_obj(
            {
                "id": "e1",
                "type": "ticket-created",
                "data": {
                    "ticket_id": "t1",
                    "number": 4,
                    "subject": "Order",
                    "status": "open",
                    "priority": "high",
                    "assignee": None,
                },
            }
        )
        self.assertIsInstance(event.ticket, Ticket)
        self.assertEqual((event.ticket.id, event.ticket.number), ("t1", 4))
        self.assertIs(event.ticket.priority, TicketPriority.HIGH)

    def test_unknown_fields_are_kept_and_pages_parse(self) -> None:
        page = Page[Conversation].parse_obj({"items": [{"id": "c1", "future_field": 1}], "next_cursor": "abc"})
        self.assertEqual(page.items[0].future_field, 1)  # type: ignore[attr-defined]
        self.assertEqual(page.next_cursor, "abc")
        doc = KnowledgeDocument.parse_obj({"id": "d", "title": "T", "tags": ["a"]})
        self.assertEqual(doc.tags, ["a"])

    def test_a_conversation_has_no_status(self) -> None:
        # The spec's Conversation has no status (its sessions do), and the relay sends none: a field
        # that is always None would only mislead. An answer that carries one still parses.
        self.assertNotIn("status", Conversation.__fields__)
        self.assertEqual(Conversation.parse_obj({"id": "c", "status": "open"}).status, "open")  # type: ignore[attr-defined]

    def test_messages_without_role_have_an_effective_one(self) -> None:
        self.assertIs(Message.parse_obj({"id": "m", "sender_type": "end_user"}).effective_role, MessageRole.VISITOR)

    def test_an_unknown_event_type_is_refused(self) -> None:
        with self.assertRaises(ValueError):
            WebhookEvent.parse_obj({"id": "x", "type": "nope"})


class SettingsTests(unittest.TestCase):
    ENV = {
        "SWITCHBOARD_BASE_URL": "https://relay.example/",
        "SWITCHBOARD_TENANT_ID": "t",
        "SWITCHBOARD_TENANT_SECRET": "sk_secret_1234",
        "SWITCHBOARD_CALLBACK_BASE_URL": "https://backend.example/hooks",
        "SWITCHBOARD_PREVIOUS_TENANT_SECRETS": "sk_old1, sk_old2",
        "SWITCHBOARD_TIMEOUT_S": "3.5",
    }

    def test_from_env(self) -> None:
        s = RelaySettings.from_env(self.ENV)
        self.assertEqual(s.base_url, "https://relay.example")
        self.assertEqual(s.callback_base_url, "https://backend.example/hooks")
        self.assertEqual(s.webhook_secrets, ["sk_secret_1234", "sk_old1", "sk_old2"])
        self.assertEqual(s.timeout_s, 3.5)
        self.assertNotIn("sk_secret_1234", repr(s))
        with mock.patch.dict(os.environ, self.ENV):
            self.assertEqual(RelaySettings.from_env().tenant_id, "t")
            self.assertEqual(RelaySettings.from_env(tenant_id="other").tenant_id, "other")

    def test_a_missing_variable_is_named(self) -> None:
        env = dict(self.ENV)
        del env["SWITCHBOARD_TENANT_SECRET"]
        with self.assertRaises(RelaySettingsError) as ctx:
            RelaySettings.from_env(env)
        self.assertIn("SWITCHBOARD_TENANT_SECRET", str(ctx.exception))
