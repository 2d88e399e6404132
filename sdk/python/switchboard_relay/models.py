"""The relay's business types (pydantic v1 models) and enums. Fields the relay adds later are kept
(`extra = allow`), so an older SDK still parses a newer relay's answers."""

from datetime import datetime
from enum import Enum
from typing import Any, Dict, Generic, List, Optional, TypeVar

from pydantic import BaseModel, Field

try:  # pydantic 1.x
    from pydantic.generics import GenericModel
except ImportError:  # pragma: no cover - pydantic 2 keeps the name in its v1 shim only
    GenericModel = BaseModel  # type: ignore


class _Str(str, Enum):
    def __str__(self) -> str:
        return str(self.value)


class MessageRole(_Str):
    """Who a message speaks as."""

    VISITOR = "visitor"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class ConversationStatus(_Str):
    """A conversation session's status (the spec's Conversation Session): open, or resolved by an
    agent. The signed API's conversations carry no status (the spec's Conversation has none), so
    `Conversation` has no `status` field."""

    OPEN = "open"
    RESOLVED = "resolved"


class ConversationMode(_Str):
    """Who answers: the bot (from the knowledge base) or the humans."""

    BOT = "bot"
    HUMAN = "human"


class TicketStatus(_Str):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketPriority(_Str):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class WebhookEventType(_Str):
    """The nine events, each POSTed to `{callback_base_url}/api/v1/chat-callbacks/{event}`."""

    CONVERSATION_STARTED = "conversation-started"
    MESSAGE_RECEIVED = "message-received"
    TICKET_CREATED = "ticket-created"
    TICKET_ASSIGNED = "ticket-assigned"
    TICKET_RESOLVED = "ticket-resolved"
    ESCALATION_TRIGGERED = "escalation-triggered"
    AGENT_ASSIGNED = "agent-assigned"
    AGENT_RELEASED = "agent-released"
    AGENT_RESOLVED = "agent-resolved"


class OperatorRole(_Str):
    AGENT = "agent"
    ADMIN = "admin"


class DeliveryStatus(_Str):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class RelayModel(BaseModel):
    class Config:
        extra = "allow"
        allow_population_by_field_name = True
        use_enum_values = False


class Conversation(RelayModel):
    id: str
    conversation_id: Optional[str] = None
    visitor_user_id: Optional[str] = None
    visitor_display_name: Optional[str] = None
    locale: Optional[str] = None
    metadata: Dict[str, Any] = Field(default_factory=dict)
    routing_key: Optional[str] = None
    mode: Optional[ConversationMode] = None
    last_message_at: Optional[datetime] = None
    created_at: Optional[datetime] = None
    created: Optional[bool] = None


class Message(RelayModel):
    id: str
    conversation_id: Optional[str] = None
    session_id: Optional[str] = None
    seq: Optional[int] = None
    role: Optional[MessageRole] = None
    sender_type: Optional[str] = None
    sender_id: Optional[str] = None
    content_type: Optional[str] = None
    content: Optional[str] = None
    rich_media: Any = None
    client_msg_id: Optional[str] = None
    created_at: Optional[datetime] = None
    duplicate: Optional[bool] = None
    internal: bool = False
    """An operator's internal note (listed only with `include_internal=True`)."""

    @property
    def effective_role(self) -> Optional[MessageRole]:
        """`role`, or what `sender_type` means when the answer has no role (listed messages)."""
        if self.role is not None:
            return self.role
        return {
            "end_user": MessageRole.VISITOR,
            "agent": MessageRole.AGENT,
            "bot": MessageRole.BOT,
            "system": MessageRole.SYSTEM,
        }.get(self.sender_type or "")


class Attachment(RelayModel):
    """A file stored by `upload_attachment`: name its `url` in an image or file message."""

    id: str
    url: str
    """The canonical URL a message names (the relay signs every copy it sends out)."""
    preview_url: Optional[str] = None
    """A signed link to the file, valid for an hour."""
    filename: str
    content_type: str
    """The type the bytes proved to be, whatever the upload claimed."""
    size: int
    kind: str
    """`image` or `file`."""


class Person(RelayModel):
    """An agent or operator as events and tickets name them."""

    id: Optional[str] = None
    external_id: Optional[str] = None
    display_name: Optional[str] = None


class Ticket(RelayModel):
    id: str
    number: Optional[int] = None
    conversation_id: Optional[str] = None
    subject: Optional[str] = None
    summary: Optional[str] = None
    status: TicketStatus
    priority: TicketPriority
    assignee_id: Optional[str] = None
    assignee: Optional[Person] = None
    routing_key: Optional[str] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    resolved_at: Optional[datetime] = None
    closed_at: Optional[datetime] = None


class Escalation(RelayModel):
    escalated: bool
    ticket: Optional[Ticket] = None


class KnowledgeDocument(RelayModel):
    id: str
    title: str
    body: Optional[str] = None
    format: Optional[str] = None
    url: Optional[str] = None
    tags: List[str] = Field(default_factory=list)
    language: Optional[str] = None
    passages: Optional[int] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None


class KnowledgeHit(RelayModel):
    document_id: str
    title: Optional[str] = None
    url: Optional[str] = None
    heading: Optional[str] = None
    content: Optional[str] = None
    score: Optional[float] = None


class Operator(RelayModel):
    external_id: str
    id: Optional[str] = None
    display_name: Optional[str] = None
    email: Optional[str] = None
    role: Optional[OperatorRole] = None
    status: Optional[str] = None
    routing_keys: List[str] = Field(default_factory=list)
    last_login_at: Optional[datetime] = None
    created_at: Optional[datetime] = None


class OperatorToken(RelayModel):
    operator_token: str
    expires_at: Optional[datetime] = None
    login_url: Optional[str] = None


class VisitorToken(RelayModel):
    session_id: str
    visitor_token: str
    expires_at: Optional[datetime] = None
    session_expires_at: Optional[datetime] = None
    conversation_id: Optional[str] = None
    mode: Optional[str] = None
    locale: Optional[str] = None


class WebhookConfig(RelayModel):
    callback_base_url: Optional[str] = None
    events: List[WebhookEventType] = Field(default_factory=list)
    available_events: List[WebhookEventType] = Field(default_factory=list)


class DeliveryAttempt(RelayModel):
    attempt: Optional[int] = None
    status_code: Optional[int] = None
    ok: Optional[bool] = None
    error: Optional[str] = None
    latency_ms: Optional[int] = None
    response_excerpt: Optional[str] = None
    url: Optional[str] = None
    at: Optional[datetime] = None


class Delivery(RelayModel):
    id: str
    event: Optional[WebhookEventType] = None
    conversation_id: Optional[str] = None
    status: Optional[DeliveryStatus] = None
    attempts: Optional[int] = None
    next_attempt_at: Optional[datetime] = None
    last_status_code: Optional[int] = None
    last_latency_ms: Optional[int] = None
    last_error: Optional[str] = None
    delivered_at: Optional[datetime] = None
    created_at: Optional[datetime] = None
    data: Any = None
    attempt_log: Optional[List[DeliveryAttempt]] = None


class SecretRotation(RelayModel):
    tenant_secret: str
    previous_secret_valid_hours: Optional[float] = None


class WidgetKeyRotation(RelayModel):
    widget_public_key: str


class UsageDay(RelayModel):
    day: Optional[str] = None
    sessions: int = 0
    messages: int = 0
    api_calls: int = 0
    webhooks_sent: int = 0


class Usage(RelayModel):
    days: List[UsageDay] = Field(default_factory=list)
    totals: UsageDay = Field(default_factory=UsageDay)


class WebhookEvent(RelayModel):
    """A webhook's body: `{id, type, tenant_id, created_at, data}`. `data` is the event's own
    fields (README "Webhooks"); the typed accessors read the common ones."""

    id: str
    type: WebhookEventType
    tenant_id: Optional[str] = None
    created_at: Optional[datetime] = None
    data: Dict[str, Any] = Field(default_factory=dict)
    attempt: Optional[int] = None

    @property
    def conversation_id(self) -> Optional[str]:
        return self.data.get("conversation_id")

    @property
    def message(self) -> Optional[Message]:
        """`message-received`'s message, typed."""
        raw = self.data.get("message")
        return Message.parse_obj(raw) if isinstance(raw, dict) else None

    @property
    def ticket(self) -> Optional[Ticket]:
        """The ticket events' ticket, typed (`ticket_id` becomes the ticket's `id`)."""
        if "ticket_id" not in self.data:
            return None
        fields = dict(self.data)
        fields["id"] = fields.pop("ticket_id")
        return Ticket.parse_obj(fields)

    @property
    def agent(self) -> Optional[Person]:
        raw = self.data.get("agent")
        return Person.parse_obj(raw) if isinstance(raw, dict) else None

    @property
    def is_test(self) -> bool:
        return bool(self.data.get("test"))


T = TypeVar("T")


class Page(GenericModel, Generic[T]):
    """One page of a list: its items, and the cursor of the next page (None on the last)."""

    items: List[T]
    next_cursor: Optional[str] = None


