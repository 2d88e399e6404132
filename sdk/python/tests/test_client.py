"""Every method of the synchronous client, and some of the asynchronous one, against the relay."""

import asyncio
import base64
import socket
import unittest

from switchboard_relay import (
    Attachment,
    AsyncRelayClient,
    Conversation,
    ConversationMode,
    Escalation,
    KnowledgeDocument,
    KnowledgeHit,
    Message,
    MessageRole,
    Operator,
    RelayAuthError,
    RelayClient,
    RelayConflictError,
    RelayConnectionError,
    RelayError,
    RelayNotFoundError,
    RelaySettings,
    RelayValidationError,
    Ticket,
    TicketPriority,
    TicketStatus,
    Usage,
    VisitorToken,
    get_chat_client,
)

from .support import ORIGIN, admin, live, open_widget_conversation, provision_tenant, unique

MISSING = "00000000-0000-4000-8000-000000000000"
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@live
class ConversationTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.chat = RelayClient()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.chat.close()

    def test_create_get_and_list_conversations(self) -> None:
        user = unique("user")
        self.chat.create_operator(unique("sales-op"), routing_keys=["sales"])  # makes "sales" a queue
        convo = self.chat.create_conversation(
            visitor_user_id=user,
            visitor_display_name="Zoë 🐍",
            locale="en",
            metadata={"order_id": "ORD-9981"},
            routing_key="sales",
        )
        self.assertIsInstance(convo, Conversation)
        self.assertTrue(convo.created)
        self.assertEqual(convo.mode, ConversationMode.HUMAN)  # no knowledge base: no bot
        self.assertEqual((convo.visitor_display_name, convo.metadata, convo.routing_key), ("Zoë 🐍", {"order_id": "ORD-9981"}, "sales"))
        again = self.chat.create_conversation(visitor_user_id=user)
        self.assertEqual(again.id, convo.id)
        self.assertFalse(again.created)
        self.assertEqual(self.chat.get_conversation(convo.id).visitor_user_id, user)
        page = self.chat.list_conversations(visitor_user_id=user)
        self.assertEqual([c.id for c in page.items], [convo.id])
        self.assertIsNone(page.next_cursor)

    def test_paging_and_iterating(self) -> None:
        ids = {self.chat.create_conversation(visitor_user_id=unique("pager")).id for _ in range(3)}
        first = self.chat.list_conversations(limit=2)
        self.assertEqual(len(first.items), 2)
        self.assertIsNotNone(first.next_cursor)
        second = self.chat.list_conversations(limit=2, cursor=first.next_cursor)
        self.assertTrue({c.id for c in first.items}.isdisjoint({c.id for c in second.items}))
        seen = [c.id for c in self.chat.iter_conversations(page_size=2)]
        self.assertEqual(len(seen), len(set(seen)))
        self.assertTrue(ids <= set(seen))

    def test_messages(self) -> None:
        convo = self.chat.create_conversation(visitor_user_id=unique("msgs"))
        first = self.chat.send_message(convo.id, role="visitor", content="Where is my order? 📦", client_msg_id="c-1")
        self.assertIsInstance(first, Message)
        self.assertIs(first.role, MessageRole.VISITOR)
        self.assertFalse(first.duplicate)
        repeat = self.chat.send_message(convo.id, role=MessageRole.VISITOR, content="Where is my order? 📦", client_msg_id="c-1")
        self.assertEqual((repeat.id, repeat.duplicate), (first.id, True))
        self.chat.send_message(convo.id, role=MessageRole.SYSTEM, content="Order ORD-9981 shipped")
        self.chat.send_message(convo.id, role="bot", content="It arrives tomorrow.")
        page = self.chat.list_messages(convo.id, limit=2)
        self.assertEqual([m.content for m in page.items][0], "Where is my order? 📦")
        self.assertIsNotNone(page.next_cursor)
        everything = list(self.chat.iter_messages(convo.id, page_size=2))
        self.assertEqual([m.effective_role for m in everything], [MessageRole.VISITOR, MessageRole.SYSTEM, MessageRole.BOT])
        self.assertEqual([m.seq for m in everything], sorted(m.seq for m in everything))

    def test_rich_media_and_internal_notes(self) -> None:
        convo = self.chat.create_conversation(visitor_user_id=unique("rich"))
        ext = unique("note-op")
        self.chat.create_operator(ext)
        buttons = self.chat.send_message(
            convo.id,
            role="bot",
            content="Pick one",
            content_type="quick_button",
            rich_media={"buttons": [{"label": "Track", "value": "track"}]},
        )
        self.assertEqual(buttons.content_type, "quick_button")
        self.assertEqual(buttons.rich_media, {"buttons": [{"label": "Track", "value": "track"}]})
        note = self.chat.send_message(
            convo.id, role="agent", content="VIP: be nice", operator_external_id=ext, internal=True
        )
        self.assertTrue(note.internal)
        self.assertEqual([m.id for m in self.chat.list_messages(convo.id).items], [buttons.id])
        listed = self.chat.list_messages(convo.id, include_internal=True).items
        self.assertEqual([(m.id, m.internal) for m in listed], [(buttons.id, False), (note.id, True)])
        self.assertEqual(
            [m.id for m in self.chat.iter_messages(convo.id, page_size=1, include_internal=True)],
            [buttons.id, note.id],
        )
        with self.assertRaises(RelayValidationError) as ctx:
            self.chat.send_message(convo.id, role="visitor", content="x", internal=True)
        self.assertEqual(ctx.exception.param, "internal")

    def test_upload_attachment(self) -> None:
        convo = self.chat.create_conversation(visitor_user_id=unique("files"))
        att = self.chat.upload_attachment(convo.id, PNG, "pixel été.png", content_type="image/png")
        self.assertIsInstance(att, Attachment)
        self.assertEqual(
            (att.filename, att.content_type, att.size, att.kind), ("pixel été.png", "image/png", len(PNG), "image")
        )
        self.assertTrue(att.url.startswith("http"))
        # The relay trusts the bytes, not the hint.
        text = self.chat.upload_attachment(convo.id, b"order 42\n", "order.txt", content_type="image/png")
        self.assertEqual((text.kind, text.size), ("file", 9))
        sent = self.chat.send_message(convo.id, role="bot", content_type="image", rich_media={"url": att.url, "alt": "px"})
        self.assertEqual(sent.content_type, "image")
        listed = [m for m in self.chat.list_messages(convo.id).items if m.id == sent.id][0]
        self.assertTrue(listed.rich_media["url"].startswith(att.url))
        with RelayClient(provision_tenant()) as other, self.assertRaises(RelayNotFoundError):
            other.upload_attachment(convo.id, PNG, "x.png")
        forged = RelayClient(
            RelaySettings(base_url=self.chat.settings.base_url, tenant_id=self.chat.settings.tenant_id, tenant_secret="sk_wrong")
        )
        with forged, self.assertRaises(RelayAuthError):
            forged.upload_attachment(convo.id, PNG, "x.png")

    def test_shared_client_from_env(self) -> None:
        self.assertIs(get_chat_client(), get_chat_client())
        self.assertEqual(get_chat_client().get_usage(days=1).days[-1].day is not None, True)


@live
class OperatorTicketTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.chat = RelayClient()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.chat.close()

    def test_operators(self) -> None:
        ext = unique("op")
        op = self.chat.create_operator(ext, display_name="Ada", role="agent", routing_keys=["sales"])
        self.assertIsInstance(op, Operator)
        self.assertEqual((op.external_id, op.display_name, op.routing_keys, op.status), (ext, "Ada", ["sales"], "active"))
        self.assertEqual(self.chat.get_operator(ext).id, op.id)
        self.assertEqual(self.chat.update_operator(ext, display_name="Ada L.", routing_keys=[]).display_name, "Ada L.")
        self.assertIn(ext, [o.external_id for o in self.chat.iter_operators(page_size=1)])
        self.assertTrue(self.chat.list_operators(limit=100).items)
        token = self.chat.create_operator_token(ext, ttl_seconds=60)
        self.assertIn("/auth/operator?token=", token.login_url)
        with self.assertRaises(RelayConflictError) as ctx:
            self.chat.create_operator(ext)
        self.assertEqual(ctx.exception.code, "operator/exists")
        self.assertEqual(self.chat.deactivate_operator(ext).status, "deactivated")
        with self.assertRaises(RelayConflictError) as ctx:
            self.chat.create_operator_token(ext)
        self.assertEqual((ctx.exception.status_code, ctx.exception.code), (409, "operator/deactivated"))
        self.assertEqual(self.chat.reactivate_operator(ext).status, "active")

    def test_agent_messages_and_tickets(self) -> None:
        ext = unique("agent")
        op = self.chat.create_operator(ext, display_name="Grace")
        convo = self.chat.create_conversation(visitor_user_id=unique("tk"))
        self.chat.send_message(convo.id, role="visitor", content="My parcel is late")
        reply = self.chat.send_message(convo.id, role="agent", content="Looking into it", operator_external_id=ext)
        self.assertIs(reply.role, MessageRole.AGENT)
        ticket = self.chat.create_ticket(
            "Late parcel", summary="ORD-9981", priority=TicketPriority.HIGH, conversation_id=convo.id
        )
        self.assertIsInstance(ticket, Ticket)
        self.assertIs(ticket.status, TicketStatus.OPEN)
        self.assertIs(ticket.priority, TicketPriority.HIGH)
        self.assertEqual(self.chat.get_ticket(ticket.id).subject, "Late parcel")
        assigned = self.chat.update_ticket(ticket.id, status=TicketStatus.PENDING, assignee_external_id=ext)
        self.assertEqual((assigned.status, assigned.assignee_id), (TicketStatus.PENDING, op.id))
        unassigned = self.chat.update_ticket(ticket.id, assignee_id=None, priority="urgent")
        self.assertIsNone(unassigned.assignee_id)
        self.assertIs(unassigned.priority, TicketPriority.URGENT)
        listed = self.chat.list_tickets(conversation_id=convo.id, status="pending")
        self.assertEqual([t.id for t in listed.items], [ticket.id])
        self.assertIn(ticket.id, [t.id for t in self.chat.iter_tickets(page_size=1, conversation_id=convo.id)])
        resolved = self.chat.update_ticket(ticket.id, status="resolved")
        self.assertIsNotNone(resolved.resolved_at)
        with self.assertRaises(RelayConflictError) as ctx:
            self.chat.update_ticket(ticket.id, status="pending")
        self.assertEqual(ctx.exception.code, "ticket/bad_transition")

    def test_visitor_tokens(self) -> None:
        token = self.chat.mint_visitor_token(
            visitor_user_id=unique("app-user"), visitor_email_hash="sha256:abc", ttl_seconds=600, origin=ORIGIN
        )
        self.assertIsInstance(token, VisitorToken)
        self.assertTrue(token.visitor_token and token.conversation_id and token.session_id)
        with self.assertRaises(RelayAuthError) as ctx:
            self.chat.mint_visitor_token(visitor_user_id="u", origin="https://evil.example")
        self.assertEqual((ctx.exception.status_code, ctx.exception.code), (403, "origin/forbidden"))


@live
class ErrorTests(unittest.TestCase):
    def test_not_found(self) -> None:
        with RelayClient() as chat:
            with self.assertRaises(RelayNotFoundError) as ctx:
                chat.get_conversation(MISSING)
        e = ctx.exception
        self.assertIsInstance(e, RelayError)
        self.assertEqual((e.status_code, e.code), (404, "conversation/not_found"))
        self.assertEqual(e.body["status_code"], 404)

    def test_validation(self) -> None:
        with RelayClient() as chat:
            convo = chat.create_conversation(visitor_user_id=unique("val"))
            with self.assertRaises(RelayValidationError) as ctx:
                chat.send_message(convo.id, role="agent", content="hi")
            self.assertEqual((ctx.exception.status_code, ctx.exception.code), (400, "request/invalid"))
            self.assertIn("operator_external_id", ctx.exception.message)
            with self.assertRaises(RelayValidationError):
                chat.list_conversations(limit=1000)

    def test_a_wrong_secret(self) -> None:
        settings = RelaySettings.from_env(tenant_secret="sk_wrong_secret")
        with RelayClient(settings) as chat:
            with self.assertRaises(RelayAuthError) as ctx:
                chat.get_usage()
        self.assertEqual((ctx.exception.status_code, ctx.exception.code), (401, "hmac/bad_signature"))

    def test_no_relay(self) -> None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with RelayClient(RelaySettings.from_env(base_url="http://127.0.0.1:%d" % port)) as chat:
            with self.assertRaises(RelayConnectionError) as ctx:
                chat.get_usage()
        self.assertEqual(ctx.exception.status_code, 0)


@admin
class KnowledgeEscalationTests(unittest.TestCase):
    """A tenant of its own: its knowledge base puts its conversations in bot mode."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.chat = RelayClient(provision_tenant())

    @classmethod
    def tearDownClass(cls) -> None:
        cls.chat.close()

    def test_documents_search_and_escalation(self) -> None:
        doc = self.chat.create_document(
            "Delivery times",
            "# Delivery\n\nWe deliver within three working days in the UK.",
            format="markdown",
            url="https://shop.example/help/delivery",
            tags=["shipping"],
            language="en",
        )
        self.assertIsInstance(doc, KnowledgeDocument)
        self.assertGreaterEqual(doc.passages, 1)
        other = self.chat.create_document("Returns", "Return anything within 30 days.", tags=["returns"])
        self.assertEqual(self.chat.get_document(doc.id).url, "https://shop.example/help/delivery")
        self.assertEqual([d.id for d in self.chat.list_documents(tag="shipping").items], [doc.id])
        self.assertEqual([d.id for d in self.chat.list_documents(q="returns").items], [other.id])
        self.assertEqual({d.id for d in self.chat.iter_documents(page_size=1)}, {doc.id, other.id})
        hits = self.chat.search_knowledge("how long does delivery take", limit=2)
        self.assertIsInstance(hits[0], KnowledgeHit)
        self.assertEqual(hits[0].document_id, doc.id)
        updated = self.chat.update_document(doc.id, title="Delivery", url=None, tags=["shipping", "uk"])
        self.assertEqual((updated.title, updated.url, updated.tags), ("Delivery", None, ["shipping", "uk"]))

        conversation_id = open_widget_conversation(self.chat.settings)
        self.chat.send_message(conversation_id, role="visitor", content="How long is delivery?")
        escalation = self.chat.escalate(conversation_id, reason="vip_customer", subject="VIP", priority="high")
        self.assertIsInstance(escalation, Escalation)
        self.assertTrue(escalation.escalated)
        self.assertIs(escalation.ticket.priority, TicketPriority.HIGH)
        self.assertEqual(escalation.ticket.conversation_id, conversation_id)
        again = self.chat.escalate(conversation_id)
        self.assertFalse(again.escalated)

        self.assertTrue(self.chat.delete_document(other.id))
        with self.assertRaises(RelayNotFoundError) as ctx:
            self.chat.get_document(other.id)
        self.assertEqual(ctx.exception.code, "knowledge/not_found")


@admin
class RotationUsageTests(unittest.TestCase):
    def test_rotations_and_usage(self) -> None:
        settings = provision_tenant()
        old_secret = settings.tenant_secret
        with RelayClient(settings.copy()) as chat:
            rotation = chat.rotate_tenant_secret(grace_hours=1)
            self.assertNotEqual(rotation.tenant_secret, old_secret)
            self.assertEqual(chat.settings.tenant_secret, rotation.tenant_secret)
            self.assertEqual(chat.settings.webhook_secrets, [rotation.tenant_secret, old_secret])
            self.assertIsInstance(chat.get_usage(days=7), Usage)  # signed with the new secret
            with RelayClient(settings.copy()) as old:
                old.get_usage()  # the previous secret, within its grace
            chat.rotate_tenant_secret(grace_hours=0)
            with RelayClient(settings.copy()) as old:
                with self.assertRaises(RelayAuthError):
                    old.get_usage()
            key = chat.rotate_widget_key()
            self.assertTrue(key.widget_public_key.startswith("pk_"))
            usage = chat.get_usage(days=2)
            self.assertEqual(len(usage.days), 2)
            self.assertGreaterEqual(usage.totals.api_calls, 0)


@live
class AsyncClientTests(unittest.TestCase):
    def test_async_calls(self) -> None:
        async def scenario() -> None:
            async with AsyncRelayClient() as chat:
                convo = await chat.create_conversation(visitor_user_id=unique("async"), visitor_display_name="Async")
                self.assertIsInstance(convo, Conversation)
                sent = await asyncio.gather(
                    *[chat.send_message(convo.id, role="visitor", content="m%d" % i, client_msg_id="a%d" % i) for i in range(3)]
                )
                self.assertEqual(len({m.id for m in sent}), 3)
                got = [m async for m in chat.iter_messages(convo.id, page_size=2)]
                self.assertEqual(sorted(m.content for m in got), ["m0", "m1", "m2"])
                self.assertEqual((await chat.get_conversation(convo.id)).id, convo.id)
                ids = [c.id async for c in chat.iter_conversations(visitor_user_id=convo.visitor_user_id)]
                self.assertEqual(ids, [convo.id])
                with self.assertRaises(RelayNotFoundError):
                    await chat.get_ticket(MISSING)
                self.assertTrue((await chat.get_webhooks()).available_events)
                att = await chat.upload_attachment(convo.id, PNG, "a.png")
                self.assertEqual((att.kind, att.size), ("image", len(PNG)))
                ext = unique("async-op")
                await chat.create_operator(ext)
                note = await chat.send_message(
                    convo.id, role="agent", content="note", operator_external_id=ext, internal=True
                )
                notes = [m.id async for m in chat.iter_messages(convo.id, include_internal=True) if m.internal]
                self.assertEqual(notes, [note.id])

        asyncio.run(scenario())
