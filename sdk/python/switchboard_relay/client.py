"""`RelayClient` (synchronous) and `AsyncRelayClient` (asyncio): the tenant backend's calls to the
relay's signed API, `/api/v1/relay/*`, each signed with HMAC#1 over the exact bytes sent.

Every method is written once (`_Endpoints`) and returns what `_call` returns: the parsed value for
the synchronous client, an awaitable of it for the asynchronous one."""

import json
from enum import Enum
from typing import Any, AsyncIterator, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Union
from urllib.parse import quote, urlencode

import httpx

from . import __version__
from .errors import RelayConnectionError, RelayError, error_for
from .models import (
    Attachment,
    Conversation,
    Delivery,
    Escalation,
    KnowledgeDocument,
    KnowledgeHit,
    Message,
    MessageRole,
    Operator,
    OperatorToken,
    Page,
    SecretRotation,
    Ticket,
    TicketPriority,
    TicketStatus,
    Usage,
    VisitorToken,
    WebhookConfig,
    WebhookEventType,
    WidgetKeyRotation,
)
from .settings import RelaySettings
from .signing import sign_request


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()
"""Leave a field out of an update (where None means "clear it", as `assignee_id` or `url`)."""

Parse = Callable[[Any], Any]
Enumish = Union[str, Any]


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _val(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def _body(**fields: Any) -> Dict[str, Any]:
    """The fields given: None and UNSET are left out."""
    return {k: _val(v) for k, v in fields.items() if v is not None and v is not UNSET}


class _Raw:
    """A body sent (and signed) as these bytes, with its own headers: a file upload."""

    __slots__ = ("data", "headers")

    def __init__(self, data: bytes, headers: Dict[str, str]) -> None:
        self.data = bytes(data)
        self.headers = headers


def _query(**params: Any) -> Dict[str, str]:
    out = {}
    for k, v in params.items():
        if v is None or v is UNSET:
            continue
        v = _val(v)
        out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


def _model(cls: Any) -> Parse:
    return cls.parse_obj


def _page(cls: Any) -> Parse:
    return Page[cls].parse_obj


class _Endpoints:
    """The signed API, one method per endpoint (README "Signed backend API (HMAC#1)")."""

    settings: RelaySettings

    def _call(self, method: str, path: str, *, query: Optional[Mapping[str, Any]] = None,
              body: Any = None, parse: Optional[Parse] = None) -> Any:  # pragma: no cover
        raise NotImplementedError

    # Conversations and messages

    def create_conversation(
        self,
        visitor_user_id: str,
        visitor_display_name: Optional[str] = None,
        locale: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        routing_key: Optional[str] = None,
    ) -> Conversation:
        """Open (or find) the conversation of one of the tenant's users."""
        body = _body(
            visitor_user_id=visitor_user_id,
            visitor_display_name=visitor_display_name,
            locale=locale,
            metadata=metadata,
            routing_key=routing_key,
        )
        return self._call("POST", "/api/v1/relay/conversations", body=body, parse=_model(Conversation))

    def get_conversation(self, conversation_id: str) -> Conversation:
        return self._call("GET", "/api/v1/relay/conversations/" + _seg(conversation_id), parse=_model(Conversation))

    def list_conversations(
        self, limit: Optional[int] = None, cursor: Optional[str] = None, visitor_user_id: Optional[str] = None
    ) -> Page[Conversation]:
        """One page, newest first; pass `next_cursor` for the next."""
        q = _query(limit=limit, cursor=cursor, visitor_user_id=visitor_user_id)
        return self._call("GET", "/api/v1/relay/conversations", query=q, parse=_page(Conversation))

    def send_message(
        self,
        conversation_id: str,
        role: Union[MessageRole, str] = MessageRole.VISITOR,
        content: str = "",
        client_msg_id: Optional[str] = None,
        operator_external_id: Optional[str] = None,
        content_type: Optional[str] = None,
        rich_media: Optional[Dict[str, Any]] = None,
        internal: Optional[bool] = None,
    ) -> Message:
        """Post a message as the visitor, the bot, the system, or an operator (role agent).

        `content_type` is `text` by default; `image`, `file`, `quick_button`, `carousel` or
        `dropdown` take their fields in `rich_media` (`content` is then an optional caption).
        `internal=True` (role agent only) writes an internal note that only agents see."""
        body = _body(
            role=role,
            content=content,
            client_msg_id=client_msg_id,
            operator_external_id=operator_external_id,
            content_type=content_type,
            rich_media=rich_media,
            internal=internal,
        )
        path = "/api/v1/relay/conversations/%s/messages" % _seg(conversation_id)
        return self._call("POST", path, body=body, parse=_model(Message))

    def list_messages(
        self,
        conversation_id: str,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
        include_internal: Optional[bool] = None,
    ) -> Page[Message]:
        """One page, oldest first; operators' internal notes only with `include_internal=True`."""
        path = "/api/v1/relay/conversations/%s/messages" % _seg(conversation_id)
        q = _query(limit=limit, cursor=cursor, include_internal=include_internal)
        return self._call("GET", path, query=q, parse=_page(Message))

    def upload_attachment(
        self, conversation_id: str, data: bytes, filename: str, content_type: Optional[str] = None
    ) -> Attachment:
        """Store a file in the conversation: the bytes themselves are the signed body. Send its
        `url` with `send_message(content_type="image" or "file", rich_media={"url": ..., ...})`.
        `content_type` is only a hint: the relay keeps the type the bytes prove."""
        path = "/api/v1/relay/conversations/%s/attachments" % _seg(conversation_id)
        headers = {
            "Content-Type": content_type or "application/octet-stream",
            "X-Filename": quote(filename, safe=""),
        }
        return self._call("POST", path, body=_Raw(data, headers), parse=_model(Attachment))

    def escalate(
        self,
        conversation_id: str,
        reason: Optional[str] = None,
        subject: Optional[str] = None,
        priority: Optional[Union[TicketPriority, str]] = None,
    ) -> Escalation:
        """Hand the conversation from the bot to the humans (a ticket is filed)."""
        path = "/api/v1/relay/conversations/%s/escalate" % _seg(conversation_id)
        body = _body(reason=reason, subject=subject, priority=priority)
        return self._call("POST", path, body=body, parse=_model(Escalation))

    # Tickets

    def list_tickets(
        self,
        status: Optional[Union[TicketStatus, str]] = None,
        priority: Optional[Union[TicketPriority, str]] = None,
        assignee_id: Optional[str] = None,
        routing_key: Optional[str] = None,
        conversation_id: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Page[Ticket]:
        q = _query(
            status=status,
            priority=priority,
            assignee_id=assignee_id,
            routing_key=routing_key,
            conversation_id=conversation_id,
            limit=limit,
            cursor=cursor,
        )
        return self._call("GET", "/api/v1/relay/tickets", query=q, parse=_page(Ticket))

    def get_ticket(self, ticket_id: str) -> Ticket:
        return self._call("GET", "/api/v1/relay/tickets/" + _seg(ticket_id), parse=_model(Ticket))

    def create_ticket(
        self,
        subject: str,
        summary: Optional[str] = None,
        priority: Optional[Union[TicketPriority, str]] = None,
        conversation_id: Optional[str] = None,
        routing_key: Optional[str] = None,
    ) -> Ticket:
        body = _body(
            subject=subject,
            summary=summary,
            priority=priority,
            conversation_id=conversation_id,
            routing_key=routing_key,
        )
        return self._call("POST", "/api/v1/relay/tickets", body=body, parse=_model(Ticket))

    def update_ticket(
        self,
        ticket_id: str,
        status: Optional[Union[TicketStatus, str]] = None,
        priority: Optional[Union[TicketPriority, str]] = None,
        subject: Optional[str] = None,
        assignee_id: Optional[str] = UNSET,
        assignee_external_id: Optional[str] = None,
    ) -> Ticket:
        """Change a ticket; `assignee_id=None` unassigns, `assignee_external_id` names an operator."""
        body = _body(status=status, priority=priority, subject=subject, assignee_external_id=assignee_external_id)
        if assignee_id is not UNSET:
            body["assignee_id"] = assignee_id
        return self._call("PATCH", "/api/v1/relay/tickets/" + _seg(ticket_id), body=body, parse=_model(Ticket))

    # Knowledge base

    def create_document(
        self,
        title: str,
        body: str,
        format: Optional[str] = None,
        url: Optional[str] = None,
        tags: Optional[List[str]] = None,
        language: Optional[str] = None,
    ) -> KnowledgeDocument:
        data = _body(title=title, body=body, format=format, url=url, tags=tags, language=language)
        return self._call("POST", "/api/v1/relay/knowledge/documents", body=data, parse=_model(KnowledgeDocument))

    def list_documents(
        self,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
        tag: Optional[str] = None,
        q: Optional[str] = None,
    ) -> Page[KnowledgeDocument]:
        query = _query(limit=limit, cursor=cursor, tag=tag, q=q)
        return self._call("GET", "/api/v1/relay/knowledge/documents", query=query, parse=_page(KnowledgeDocument))

    def get_document(self, document_id: str) -> KnowledgeDocument:
        path = "/api/v1/relay/knowledge/documents/" + _seg(document_id)
        return self._call("GET", path, parse=_model(KnowledgeDocument))

    def update_document(
        self,
        document_id: str,
        title: Optional[str] = None,
        body: Optional[str] = None,
        format: Optional[str] = None,
        url: Optional[str] = UNSET,
        tags: Optional[List[str]] = None,
        language: Optional[str] = None,
    ) -> KnowledgeDocument:
        """Change a document (it is split into passages again); `url=None` removes the link."""
        data = _body(title=title, body=body, format=format, tags=tags, language=language)
        if url is not UNSET:
            data["url"] = url
        path = "/api/v1/relay/knowledge/documents/" + _seg(document_id)
        return self._call("PATCH", path, body=data, parse=_model(KnowledgeDocument))

    def delete_document(self, document_id: str) -> bool:
        path = "/api/v1/relay/knowledge/documents/" + _seg(document_id)
        return self._call("DELETE", path, parse=lambda d: bool(d and d.get("deleted")))

    def search_knowledge(
        self, q: str, limit: Optional[int] = None, language: Optional[str] = None
    ) -> List[KnowledgeHit]:
        """What the bot would retrieve for a question, best first."""
        query = _query(q=q, limit=limit, language=language)
        return self._call(
            "GET",
            "/api/v1/relay/knowledge/search",
            query=query,
            parse=lambda d: [KnowledgeHit.parse_obj(i) for i in d["items"]],
        )

    # Operators

    def create_operator(
        self,
        external_id: str,
        display_name: Optional[str] = None,
        email: Optional[str] = None,
        role: Optional[str] = None,
        routing_keys: Optional[List[str]] = None,
    ) -> Operator:
        body = _body(
            external_id=external_id, display_name=display_name, email=email, role=role, routing_keys=routing_keys
        )
        return self._call("POST", "/api/v1/relay/operators", body=body, parse=_model(Operator))

    def list_operators(self, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[Operator]:
        q = _query(limit=limit, cursor=cursor)
        return self._call("GET", "/api/v1/relay/operators", query=q, parse=_page(Operator))

    def get_operator(self, external_id: str) -> Operator:
        return self._call("GET", "/api/v1/relay/operators/" + _seg(external_id), parse=_model(Operator))

    def update_operator(
        self,
        external_id: str,
        routing_keys: Optional[List[str]] = None,
        display_name: Optional[str] = None,
        role: Optional[str] = None,
    ) -> Operator:
        body = _body(routing_keys=routing_keys, display_name=display_name, role=role)
        return self._call("PATCH", "/api/v1/relay/operators/" + _seg(external_id), body=body, parse=_model(Operator))

    def deactivate_operator(self, external_id: str) -> Operator:
        """Their inbox sessions end and their sockets close at once."""
        path = "/api/v1/relay/operators/%s/deactivate" % _seg(external_id)
        return self._call("POST", path, parse=_model(Operator))

    def reactivate_operator(self, external_id: str) -> Operator:
        path = "/api/v1/relay/operators/%s/reactivate" % _seg(external_id)
        return self._call("POST", path, parse=_model(Operator))

    def create_operator_token(self, external_id: str, ttl_seconds: Optional[int] = None) -> OperatorToken:
        """A single-use token (and `login_url`) that signs the operator into the inbox."""
        path = "/api/v1/relay/operators/%s/token" % _seg(external_id)
        return self._call("POST", path, body=_body(ttl_seconds=ttl_seconds), parse=_model(OperatorToken))

    # Visitor tokens

    def mint_visitor_token(
        self,
        visitor_user_id: str,
        visitor_email_hash: Optional[str] = None,
        ttl_seconds: Optional[int] = None,
        origin: Optional[str] = None,
    ) -> VisitorToken:
        """A visitor session and token for an in-app SDK; `origin` must be one of the tenant's
        allowed origins (default: the settings' `visitor_origin`, SWITCHBOARD_VISITOR_ORIGIN)."""
        body = _body(
            visitor_user_id=visitor_user_id,
            visitor_email_hash=visitor_email_hash,
            ttl_seconds=ttl_seconds,
            origin=origin or self.settings.visitor_origin,
        )
        return self._call("POST", "/api/v1/relay/visitor-token", body=body, parse=_model(VisitorToken))

    # Webhooks

    def get_webhooks(self) -> WebhookConfig:
        return self._call("GET", "/api/v1/relay/webhooks", parse=_model(WebhookConfig))

    def configure_webhooks(
        self,
        callback_base_url: Optional[str] = UNSET,
        events: Optional[Iterable[Union[WebhookEventType, str]]] = None,
    ) -> WebhookConfig:
        """Where the events go (default: the settings' callback base URL; None turns them off)
        and which (all nine when left out)."""
        url = self.settings.callback_base_url if callback_base_url is UNSET else callback_base_url
        body: Dict[str, Any] = {"callback_base_url": url}
        if events is not None:
            body["events"] = [_val(e) for e in events]
        return self._call("PUT", "/api/v1/relay/webhooks", body=body, parse=_model(WebhookConfig))

    def send_test_webhook(self, event: Optional[Union[WebhookEventType, str]] = None) -> Delivery:
        """Queue a test event (`data.test` is true); answers its delivery."""
        return self._call("POST", "/api/v1/relay/webhooks/test", body=_body(event=event), parse=_model(Delivery))

    def list_deliveries(
        self,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
        status: Optional[str] = None,
        event: Optional[Union[WebhookEventType, str]] = None,
    ) -> Page[Delivery]:
        q = _query(limit=limit, cursor=cursor, status=status, event=event)
        return self._call("GET", "/api/v1/relay/webhooks/deliveries", query=q, parse=_page(Delivery))

    def get_delivery(self, delivery_id: str) -> Delivery:
        """A delivery with its `data` and `attempt_log`."""
        path = "/api/v1/relay/webhooks/deliveries/" + _seg(delivery_id)
        return self._call("GET", path, parse=_model(Delivery))

    def redeliver(self, delivery_id: str) -> Delivery:
        path = "/api/v1/relay/webhooks/deliveries/%s/redeliver" % _seg(delivery_id)
        return self._call("POST", path, parse=_model(Delivery))

    # Rotations and usage

    def rotate_tenant_secret(self, grace_hours: Optional[int] = None) -> SecretRotation:
        """A new tenant secret (shown once). The client signs with it from then on and keeps
        verifying webhooks with the previous one too (save the new one: `settings.tenant_secret`)."""
        return self._call(
            "POST",
            "/api/v1/relay/rotate/tenant-secret",
            body=_body(grace_hours=grace_hours),
            parse=self._adopt_secret,
        )

    def rotate_widget_key(self) -> WidgetKeyRotation:
        return self._call("POST", "/api/v1/relay/rotate/widget-key", parse=_model(WidgetKeyRotation))

    def get_usage(self, days: Optional[int] = None) -> Usage:
        return self._call("GET", "/api/v1/relay/usage", query=_query(days=days), parse=_model(Usage))

    # Plumbing shared by both clients

    def _adopt_secret(self, data: Any) -> SecretRotation:
        rotation = SecretRotation.parse_obj(data)
        old = self.settings.tenant_secret
        self.settings.tenant_secret = rotation.tenant_secret
        self.settings.previous_tenant_secrets = [old] + [s for s in self.settings.previous_tenant_secrets if s != old]
        return rotation

    def _prepare(
        self, http: Any, method: str, path: str, query: Optional[Mapping[str, Any]], body: Any
    ) -> httpx.Request:
        headers = {"Accept": "application/json", "User-Agent": "switchboard-relay-python/" + __version__}
        if isinstance(body, _Raw):
            raw = body.data
            headers.update(body.headers)
        else:
            raw = b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            if body is not None:
                headers["Content-Type"] = "application/json"
        url = self.settings.base_url + path + ("?" + urlencode(query) if query else "")
        request = http.build_request(method, url, content=raw, headers=headers)
        # Sign the path and query exactly as httpx puts them on the request line.
        path_and_query = request.url.raw_path.decode("ascii")
        request.headers.update(
            sign_request(self.settings.tenant_id, self.settings.tenant_secret, method, path_and_query, raw)
        )
        return request

    @staticmethod
    def _finish(response: httpx.Response, parse: Optional[Parse]) -> Any:
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or "status_code" not in envelope:
            raise error_for(
                response.status_code,
                "unexpected answer from the relay (HTTP %s)" % response.status_code,
                body=response.text[:1000],
            )
        if response.status_code >= 400 or envelope.get("error"):
            retry = response.headers.get("Retry-After")
            raise error_for(
                response.status_code,
                str(envelope.get("message") or "relay error"),
                code=envelope.get("error"),
                param=envelope.get("param"),
                retry_after=int(retry) if retry and retry.isdigit() else None,
                body=envelope,
            )
        data = envelope.get("data")
        return parse(data) if parse else data


def _transport_error(e: Exception) -> RelayConnectionError:
    return RelayConnectionError("could not reach the relay: %s" % (e,), status_code=0)


class RelayClient(_Endpoints):
    """The synchronous client. Settings default to the environment (`RelaySettings.load()`)."""

    def __init__(
        self,
        settings: Optional[RelaySettings] = None,
        *,
        http_client: Optional[httpx.Client] = None,
        **overrides: Any,
    ) -> None:
        self.settings = settings or RelaySettings.load(**overrides)
        self._http = http_client or httpx.Client(timeout=self.settings.timeout_s, follow_redirects=False)

    def _call(self, method, path, *, query=None, body=None, parse=None):  # type: ignore[override]
        request = self._prepare(self._http, method, path, query, body)
        try:
            response = self._http.send(request)
        except httpx.HTTPError as e:
            raise _transport_error(e) from e
        return self._finish(response, parse)

    def _iterate(self, fn: Callable[..., Page], **kw: Any) -> Iterator[Any]:
        cursor = None
        while True:
            page = fn(cursor=cursor, **kw)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def iter_conversations(
        self, visitor_user_id: Optional[str] = None, page_size: Optional[int] = None
    ) -> Iterator[Conversation]:
        """Every conversation, newest first, a page at a time."""
        return self._iterate(self.list_conversations, visitor_user_id=visitor_user_id, limit=page_size)

    def iter_messages(
        self, conversation_id: str, page_size: Optional[int] = None, include_internal: Optional[bool] = None
    ) -> Iterator[Message]:
        return self._iterate(
            lambda **kw: self.list_messages(conversation_id, **kw), limit=page_size, include_internal=include_internal
        )

    def iter_tickets(self, page_size: Optional[int] = None, **filters: Any) -> Iterator[Ticket]:
        return self._iterate(self.list_tickets, limit=page_size, **filters)

    def iter_documents(self, page_size: Optional[int] = None, **filters: Any) -> Iterator[KnowledgeDocument]:
        return self._iterate(self.list_documents, limit=page_size, **filters)

    def iter_operators(self, page_size: Optional[int] = None) -> Iterator[Operator]:
        return self._iterate(self.list_operators, limit=page_size)

    def iter_deliveries(self, page_size: Optional[int] = None, **filters: Any) -> Iterator[Delivery]:
        return self._iterate(self.list_deliveries, limit=page_size, **filters)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "RelayClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncRelayClient(_Endpoints):
    """The asynchronous client: the same methods, awaited (`await chat.get_conversation(id)`)."""

    def __init__(
        self,
        settings: Optional[RelaySettings] = None,
        *,
        http_client: Optional[httpx.AsyncClient] = None,
        **overrides: Any,
    ) -> None:
        self.settings = settings or RelaySettings.load(**overrides)
        self._http = http_client or httpx.AsyncClient(timeout=self.settings.timeout_s, follow_redirects=False)

    async def _call(self, method, path, *, query=None, body=None, parse=None):  # type: ignore[override]
        request = self._prepare(self._http, method, path, query, body)
        try:
            response = await self._http.send(request)
        except httpx.HTTPError as e:
            raise _transport_error(e) from e
        return self._finish(response, parse)

    async def _iterate(self, fn: Callable[..., Any], **kw: Any) -> AsyncIterator[Any]:
        cursor = None
        while True:
            page = await fn(cursor=cursor, **kw)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def iter_conversations(
        self, visitor_user_id: Optional[str] = None, page_size: Optional[int] = None
    ) -> AsyncIterator[Conversation]:
        """Every conversation, newest first: `async for c in chat.iter_conversations()`."""
        return self._iterate(self.list_conversations, visitor_user_id=visitor_user_id, limit=page_size)

    def iter_messages(
        self, conversation_id: str, page_size: Optional[int] = None, include_internal: Optional[bool] = None
    ) -> AsyncIterator[Message]:
        return self._iterate(
            lambda **kw: self.list_messages(conversation_id, **kw), limit=page_size, include_internal=include_internal
        )

    def iter_tickets(self, page_size: Optional[int] = None, **filters: Any) -> AsyncIterator[Ticket]:
        return self._iterate(self.list_tickets, limit=page_size, **filters)

    def iter_documents(self, page_size: Optional[int] = None, **filters: Any) -> AsyncIterator[KnowledgeDocument]:
        return self._iterate(self.list_documents, limit=page_size, **filters)

    def iter_operators(self, page_size: Optional[int] = None) -> AsyncIterator[Operator]:
        return self._iterate(self.list_operators, limit=page_size)

    def iter_deliveries(self, page_size: Optional[int] = None, **filters: Any) -> AsyncIterator[Delivery]:
        return self._iterate(self.list_deliveries, limit=page_size, **filters)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncRelayClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


_default_client: Optional[RelayClient] = None


def get_chat_client(**overrides: Any) -> RelayClient:
    """The process's shared synchronous client, from SWITCHBOARD_* (Django's settings first when
    Django is configured). With overrides, a new client."""
    global _default_client
    if overrides:
        return RelayClient(**overrides)
    if _default_client is None:
        _default_client = RelayClient()
    return _default_client


def get_async_chat_client(**overrides: Any) -> AsyncRelayClient:
    """A new asynchronous client from SWITCHBOARD_* (close it with `await chat.aclose()`)."""
    return AsyncRelayClient(**overrides)


def reset_chat_client() -> None:
    """Forget the shared client (after the settings change)."""
    global _default_client
    if _default_client is not None:
        _default_client.close()
    _default_client = None


__all__ = [
    "RelayClient",
    "AsyncRelayClient",
    "get_chat_client",
    "get_async_chat_client",
    "reset_chat_client",
    "UNSET",
    "RelayError",
]
