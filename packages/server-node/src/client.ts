import { RelayError } from './errors.js';
import { signRequest } from './hmac.js';
import type {
  Attachment,
  ContentType,
  Conversation,
  ConversationDetail,
  Delivery,
  DeliveryDetail,
  DeliveryStatus,
  Envelope,
  Escalation,
  JsonObject,
  KnowledgeDocument,
  KnowledgeHit,
  Message,
  MessageRole,
  OpenedConversation,
  Operator,
  OperatorRole,
  OperatorToken,
  Page,
  RotatedSecret,
  SentMessage,
  Ticket,
  TicketPriority,
  TicketStatus,
  Usage,
  VisitorToken,
  WebhookConfig,
  WebhookEventType,
} from './types.js';

export type RelayClientOptions = {
  /** The relay's base URL, e.g. `https://chat.example.com` (a path prefix is kept). */
  baseUrl: string;
  tenantId: string;
  /** `sk_…`: server-side only. */
  tenantSecret: string;
  /** Your backend's public base URL, for `webhooks.configure()` without an argument. */
  callbackBaseUrl?: string | undefined;
  /** A `fetch` of your own (tests, proxies); the global one otherwise. */
  fetch?: typeof fetch | undefined;
  /** Per attempt; default 10 000 ms. */
  timeoutMs?: number | undefined;
  /** How many times a GET is tried again on 503 or a network error; default 2. */
  maxRetries?: number | undefined;
};

/** The environment variables `RelayClient.fromEnv` reads. */
export const ENV = {
  baseUrl: 'SWITCHBOARD_BASE_URL',
  tenantId: 'SWITCHBOARD_TENANT_ID',
  tenantSecret: 'SWITCHBOARD_TENANT_SECRET',
  callbackBaseUrl: 'SWITCHBOARD_CALLBACK_BASE_URL',
} as const;

type Query = Record<string, string | number | boolean | null | undefined>;
type PageParams = { limit?: number; cursor?: string };

export type OpenConversationInput = {
  visitor_user_id: string;
  visitor_display_name?: string;
  locale?: string;
  metadata?: JsonObject;
  routing_key?: string;
};
type MessageBody = {
  /** Required for `text`; a caption (or `''`, the default) for rich media. */
  content?: string;
  /** `text` by default. */
  content_type?: ContentType;
  /** The fields of a rich-media message (`{url, alt}` for an image, …); none for `text`. */
  rich_media?: JsonObject | null;
  client_msg_id?: string;
};
export type SendMessageInput =
  | (MessageBody & { role: Exclude<MessageRole, 'agent'> })
  | (MessageBody & {
      role: 'agent';
      operator_external_id: string;
      /** An internal note: only agents see it; the visitor and webhooks never do. */
      internal?: boolean;
    });
export type ListMessagesParams = PageParams & {
  /** Operators' internal notes too (left out by default). */
  include_internal?: boolean;
};
export type UploadAttachmentInput = {
  /** Sent URI-encoded in `X-Filename`; the relay keeps a cleaned version. */
  filename: string;
  /** A hint only: the relay trusts what the bytes prove (default `application/octet-stream`). */
  content_type?: string;
};
export type EscalateInput = { reason?: string; subject?: string; priority?: TicketPriority };
export type ListTicketsParams = PageParams & {
  status?: TicketStatus;
  priority?: TicketPriority;
  assignee_id?: string;
  routing_key?: string;
  conversation_id?: string;
};
export type CreateTicketInput = {
  subject: string;
  summary?: string;
  priority?: TicketPriority;
  conversation_id?: string;
  routing_key?: string;
};
export type UpdateTicketInput = {
  status?: TicketStatus;
  priority?: TicketPriority;
  subject?: string;
  /** null unassigns. */
  assignee_id?: string | null;
  /** The assignee by operator `external_id` (instead of `assignee_id`). */
  assignee_external_id?: string;
};
export type CreateDocumentInput = {
  title: string;
  body: string;
  format?: 'text' | 'markdown';
  url?: string | null;
  tags?: string[];
  language?: string;
};
export type UpdateDocumentInput = Partial<CreateDocumentInput>;
export type ListDocumentsParams = PageParams & { tag?: string; q?: string };
export type SearchParams = { q: string; limit?: number; language?: string };
export type CreateOperatorInput = {
  external_id: string;
  display_name?: string;
  email?: string;
  role?: OperatorRole;
  routing_keys?: string[];
};
export type UpdateOperatorInput = { routing_keys?: string[]; display_name?: string; role?: OperatorRole };
export type MintVisitorTokenInput = {
  visitor_user_id: string;
  /** Must be one of the tenant's `allowed_origins` (`https://…` or `app://…`). */
  origin: string;
  visitor_email_hash?: string;
  ttl_seconds?: number;
};
export type WebhookConfigInput = { callback_base_url: string | null; events?: WebhookEventType[] };
export type ListDeliveriesParams = PageParams & { status?: DeliveryStatus; event?: WebhookEventType };

const enc = encodeURIComponent;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The query string of `q`, keys in the given order, empty values left out. */
function queryString(q: Query = {}): string {
  const parts = Object.entries(q)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${enc(k)}=${enc(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Every item of every page, fetching the next page only when the previous one is consumed. */
export async function* paginate<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>) {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

/**
 * The signed client of the relay's backend API (`/api/v1/relay/*`): every call signed with
 * HMAC#1, every answer unwrapped from its envelope, every refusal a `RelayError`.
 */
export class RelayClient {
  readonly baseUrl: string;
  readonly tenantId: string;
  readonly callbackBaseUrl: string | undefined;
  #secret: string;
  #previousSecret: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;

  constructor(o: RelayClientOptions) {
    if (!o.baseUrl || !o.tenantId || !o.tenantSecret) {
      throw new TypeError('RelayClient needs baseUrl, tenantId and tenantSecret');
    }
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
    this.tenantId = o.tenantId;
    this.callbackBaseUrl = o.callbackBaseUrl;
    this.#secret = o.tenantSecret;
    this.#fetch = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.#timeoutMs = o.timeoutMs ?? 10_000;
    this.#maxRetries = o.maxRetries ?? 2;
  }

  /** A client from `SWITCHBOARD_BASE_URL`, `_TENANT_ID`, `_TENANT_SECRET` (`_CALLBACK_BASE_URL` optional). */
  static fromEnv(
    env: Record<string, string | undefined> = process.env,
    options: Omit<RelayClientOptions, 'baseUrl' | 'tenantId' | 'tenantSecret'> = {},
  ): RelayClient {
    const missing = [ENV.baseUrl, ENV.tenantId, ENV.tenantSecret].filter((k) => !env[k]);
    if (missing.length) throw new TypeError(`RelayClient.fromEnv: set ${missing.join(', ')}`);
    return new RelayClient({
      baseUrl: env[ENV.baseUrl]!,
      tenantId: env[ENV.tenantId]!,
      tenantSecret: env[ENV.tenantSecret]!,
      callbackBaseUrl: env[ENV.callbackBaseUrl] || undefined,
      ...options,
    });
  }

  /**
   * The secrets a webhook may be signed with: the current one, and the one this client used
   * before `rotateTenantSecret` (in-flight webhooks were signed with it).
   */
  get webhookSecrets(): string[] {
    return this.#previousSecret ? [this.#secret, this.#previousSecret] : [this.#secret];
  }

  /**
   * One signed call; the envelope's `data` on success. GETs are tried again (freshly signed, a new
   * nonce each time) on 503 and network errors; nothing else is, since it may have taken effect.
   */
  async request<T>(
    method: string,
    path: string,
    o: {
      query?: Query;
      /** Sent as JSON. */
      body?: unknown;
      /** Sent as they are (and signed as they are), with their own headers: a file upload. */
      raw?: { bytes: Uint8Array; headers: Record<string, string> };
    } = {},
  ): Promise<T> {
    const pathAndQuery = `${new URL(this.baseUrl).pathname.replace(/\/+$/, '')}/api/v1/relay${path}${queryString(o.query)}`;
    const url = new URL(this.baseUrl).origin + pathAndQuery;
    const body: string | Uint8Array | undefined = o.raw
      ? o.raw.bytes
      : o.body === undefined
        ? undefined
        : JSON.stringify(o.body);
    const contentHeaders: Record<string, string> = o.raw
      ? o.raw.headers
      : body === undefined
        ? {}
        : { 'content-type': 'application/json' };
    const retries = method === 'GET' ? this.#maxRetries : 0;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {
        ...signRequest({
          tenantId: this.tenantId,
          secret: this.#secret,
          method,
          pathAndQuery,
          body: body ?? '',
        }),
        accept: 'application/json',
        ...contentHeaders,
      };
      let res: Response;
      try {
        res = await this.#fetch(url, {
          method,
          headers,
          // A Uint8Array is a valid body; this lib's DOM-less typing only lacks the ArrayBufferLike case.
          ...(body === undefined ? {} : { body: body as string | Uint8Array<ArrayBuffer> }),
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
      } catch (err) {
        if (attempt < retries) {
          await sleep(backoff(attempt));
          continue;
        }
        const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
        throw new RelayError({
          status_code: 0,
          code: timedOut ? 'timeout' : 'network',
          message: timedOut
            ? `${method} ${pathAndQuery}: no answer within ${this.#timeoutMs} ms`
            : `${method} ${pathAndQuery}: ${err instanceof Error ? err.message : String(err)}`,
          cause: err,
        });
      }
      const text = await res.text();
      let envelope: Envelope<T> | null;
      try {
        envelope = JSON.parse(text) as Envelope<T>;
      } catch {
        envelope = null;
      }
      if (res.ok && envelope && typeof envelope === 'object' && 'data' in envelope) return envelope.data;
      const retryAfter = Number(res.headers.get('retry-after') ?? envelope?.retry_after ?? NaN);
      if (res.status === 503 && attempt < retries) {
        await sleep(Number.isFinite(retryAfter) ? Math.min(retryAfter * 1000, 5_000) : backoff(attempt));
        continue;
      }
      throw new RelayError({
        status_code: res.status,
        code: envelope?.error ?? (res.ok ? 'invalid_response' : `http_${res.status}`),
        message: envelope?.message ?? `${method} ${pathAndQuery}: HTTP ${res.status}`,
        param: typeof envelope?.param === 'string' ? envelope.param : undefined,
        retry_after: Number.isFinite(retryAfter) ? retryAfter : undefined,
        body: envelope,
      });
    }
  }

  /** `GET /usage`: counts per UTC day (1–366 days, default 30), oldest first. */
  usage(days?: number): Promise<Usage> {
    return this.request('GET', '/usage', { query: { days } });
  }

  readonly conversations = {
    /** Opens the user's conversation, or finds it (`created` says which). */
    create: (input: OpenConversationInput) =>
      this.request<OpenedConversation>('POST', '/conversations', { body: input }),
    get: (id: string) => this.request<ConversationDetail>('GET', `/conversations/${enc(id)}`),
    /** One page, newest first. */
    list: (params: PageParams & { visitor_user_id?: string } = {}) =>
      this.request<Page<Conversation>>('GET', '/conversations', { query: params }),
    /** Every conversation, page after page. */
    iterate: (params: { limit?: number; visitor_user_id?: string } = {}) =>
      paginate((cursor) => this.conversations.list({ ...params, ...(cursor ? { cursor } : {}) })),
    /** Hands the conversation from the bot to the humans and files a ticket. */
    escalate: (id: string, input: EscalateInput = {}) =>
      this.request<Escalation>('POST', `/conversations/${enc(id)}/escalate`, { body: input }),
  };

  readonly messages = {
    /** Sends as the visitor, the bot, the platform (`system`) or an operator (`agent`). */
    send: (conversationId: string, input: SendMessageInput) =>
      this.request<SentMessage>('POST', `/conversations/${enc(conversationId)}/messages`, { body: input }),
    /** One page, oldest first; internal notes only with `include_internal: true`. */
    list: (conversationId: string, params: ListMessagesParams = {}) =>
      this.request<Page<Message>>('GET', `/conversations/${enc(conversationId)}/messages`, { query: params }),
    iterate: (conversationId: string, params: Omit<ListMessagesParams, 'cursor'> = {}) =>
      paginate((cursor) => this.messages.list(conversationId, { ...params, ...(cursor ? { cursor } : {}) })),
  };

  readonly attachments = {
    /**
     * Stores a file in the conversation (the raw bytes are the signed body) and returns its URL;
     * send it with `messages.send({content_type: 'image' | 'file', rich_media: {url, …}})`.
     */
    upload: (conversationId: string, bytes: Uint8Array, input: UploadAttachmentInput) =>
      this.request<Attachment>('POST', `/conversations/${enc(conversationId)}/attachments`, {
        raw: {
          bytes,
          headers: {
            'content-type': input.content_type ?? 'application/octet-stream',
            'x-filename': enc(input.filename),
          },
        },
      }),
  };

  readonly tickets = {
    list: (params: ListTicketsParams = {}) =>
      this.request<Page<Ticket>>('GET', '/tickets', { query: params }),
    iterate: (params: Omit<ListTicketsParams, 'cursor'> = {}) =>
      paginate((cursor) => this.tickets.list({ ...params, ...(cursor ? { cursor } : {}) })),
    get: (id: string) => this.request<Ticket>('GET', `/tickets/${enc(id)}`),
    create: (input: CreateTicketInput) => this.request<Ticket>('POST', '/tickets', { body: input }),
    update: (id: string, input: UpdateTicketInput) =>
      this.request<Ticket>('PATCH', `/tickets/${enc(id)}`, { body: input }),
  };

  readonly knowledge = {
    create: (input: CreateDocumentInput) =>
      this.request<KnowledgeDocument>('POST', '/knowledge/documents', { body: input }),
    list: (params: ListDocumentsParams = {}) =>
      this.request<Page<KnowledgeDocument>>('GET', '/knowledge/documents', { query: params }),
    iterate: (params: Omit<ListDocumentsParams, 'cursor'> = {}) =>
      paginate((cursor) => this.knowledge.list({ ...params, ...(cursor ? { cursor } : {}) })),
    get: (id: string) => this.request<KnowledgeDocument>('GET', `/knowledge/documents/${enc(id)}`),
    update: (id: string, input: UpdateDocumentInput) =>
      this.request<KnowledgeDocument>('PATCH', `/knowledge/documents/${enc(id)}`, { body: input }),
    delete: (id: string) =>
      this.request<{ id: string; deleted: true }>('DELETE', `/knowledge/documents/${enc(id)}`),
    /** What the bot would retrieve for a question, best first. */
    search: (params: SearchParams) =>
      this.request<{ items: KnowledgeHit[] }>('GET', '/knowledge/search', { query: params }),
  };

  readonly operators = {
    create: (input: CreateOperatorInput) => this.request<Operator>('POST', '/operators', { body: input }),
    list: (params: PageParams = {}) => this.request<Page<Operator>>('GET', '/operators', { query: params }),
    iterate: (params: { limit?: number } = {}) =>
      paginate((cursor) => this.operators.list({ ...params, ...(cursor ? { cursor } : {}) })),
    get: (externalId: string) => this.request<Operator>('GET', `/operators/${enc(externalId)}`),
    update: (externalId: string, input: UpdateOperatorInput) =>
      this.request<Operator>('PATCH', `/operators/${enc(externalId)}`, { body: input }),
    /** Ends their inbox sessions and closes their sockets at once. */
    deactivate: (externalId: string) =>
      this.request<Operator>('POST', `/operators/${enc(externalId)}/deactivate`),
    reactivate: (externalId: string) =>
      this.request<Operator>('POST', `/operators/${enc(externalId)}/reactivate`),
    /** A single-use sign-in link to the inbox (`login_url`) for this operator. */
    token: (externalId: string, input: { ttl_seconds?: number } = {}) =>
      this.request<OperatorToken>('POST', `/operators/${enc(externalId)}/token`, { body: input }),
  };

  readonly webhooks = {
    get: () => this.request<WebhookConfig>('GET', '/webhooks'),
    /**
     * Where webhooks go and which; without an argument, `callbackBaseUrl` (from
     * `SWITCHBOARD_CALLBACK_BASE_URL`) and every event.
     */
    configure: async (input?: WebhookConfigInput) => {
      // Without an argument and without a callback URL this would turn webhooks off: refuse instead.
      if (!input && !this.callbackBaseUrl) {
        throw new TypeError(`webhooks.configure(): pass {callback_base_url} or set ${ENV.callbackBaseUrl}`);
      }
      const body = input ?? { callback_base_url: this.callbackBaseUrl! };
      return this.request<WebhookConfig>('PUT', '/webhooks', { body });
    },
    /** Queues a test event (`data: {test: true, note}`). */
    test: (event?: WebhookEventType) =>
      this.request<Delivery>('POST', '/webhooks/test', { body: event ? { event } : {} }),
    deliveries: (params: ListDeliveriesParams = {}) =>
      this.request<Page<Delivery>>('GET', '/webhooks/deliveries', { query: params }),
    iterateDeliveries: (params: Omit<ListDeliveriesParams, 'cursor'> = {}) =>
      paginate((cursor) => this.webhooks.deliveries({ ...params, ...(cursor ? { cursor } : {}) })),
    /** A delivery with its `data` and every attempt. */
    delivery: (id: string) => this.request<DeliveryDetail>('GET', `/webhooks/deliveries/${enc(id)}`),
    /** Sends it again now, with a full retry schedule, whatever its state. */
    redeliver: (id: string) => this.request<Delivery>('POST', `/webhooks/deliveries/${enc(id)}/redeliver`),
  };

  /** A visitor session and its token for the in-app SDKs; the backend vouches for the user. */
  mintVisitorToken(input: MintVisitorTokenInput): Promise<VisitorToken> {
    return this.request('POST', '/visitor-token', { body: input });
  }

  /** A new widget public key; sessions made with the old one end. */
  rotateWidgetKey(): Promise<{ widget_public_key: string }> {
    return this.request('POST', '/rotate/widget-key', { body: {} });
  }

  /**
   * A new tenant secret (shown once: store it). This client signs with it from now on and keeps
   * verifying webhooks with the old one too (`webhookSecrets`) for the grace period's sake.
   */
  async rotateTenantSecret(input: { grace_hours?: number } = {}): Promise<RotatedSecret> {
    const out = await this.request<RotatedSecret>('POST', '/rotate/tenant-secret', { body: input });
    this.#previousSecret = input.grace_hours === 0 ? undefined : this.#secret;
    this.#secret = out.tenant_secret;
    return out;
  }
}

/** 200 ms, 400 ms, 800 ms … (±25 %), at most 5 s. */
function backoff(attempt: number): number {
  return Math.min(200 * 2 ** attempt, 5_000) * (0.75 + Math.random() * 0.5);
}
