"""switchboard_relay: the Python SDK of a Switchboard relay's tenant backend.

A synchronous and an asynchronous client of the signed API (HMAC#1 signing included), settings
from SWITCHBOARD_*, pydantic business types and enums, the webhook verifier, and adapters for
FastAPI (`switchboard_relay.adapters.fastapi`) and Django (`switchboard_relay.adapters.django`)."""

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    RelayAuthError,
    RelayConflictError,
    RelayConnectionError,
    RelayError,
    RelayNotFoundError,
    RelayRateLimitError,
    RelayValidationError,
)
from .models import (  # noqa: E402
    Attachment,
    Conversation,
    ConversationMode,
    ConversationStatus,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Escalation,
    KnowledgeDocument,
    KnowledgeHit,
    Message,
    MessageRole,
    Operator,
    OperatorRole,
    OperatorToken,
    Page,
    Person,
    SecretRotation,
    Ticket,
    TicketPriority,
    TicketStatus,
    Usage,
    UsageDay,
    VisitorToken,
    WebhookConfig,
    WebhookEvent,
    WebhookEventType,
    WidgetKeyRotation,
)
from .settings import RelaySettings, RelaySettingsError  # noqa: E402
from .signing import (  # noqa: E402
    NonceStore,
    VerificationResult,
    compute_signature,
    sign_request,
    string_to_sign,
    verify_request,
)
from .client import (  # noqa: E402
    UNSET,
    AsyncRelayClient,
    RelayClient,
    get_async_chat_client,
    get_chat_client,
    reset_chat_client,
)
from .webhooks import WebhookOutcome, WebhookReceiver  # noqa: E402

verify_webhook = verify_request
"""Verify a webhook (HMAC#1): `verify_webhook(secrets, headers, method, path_and_query, raw_body,
window_s=300, nonce_store=NonceStore())`."""

import types as _types  # noqa: E402

__all__ = [n for n, v in dict(globals()).items() if not n.startswith("_") and not isinstance(v, _types.ModuleType)]
