import { ChatApiError } from './errors.js';
import type {
  Attachment,
  ConversationMode,
  Envelope,
  IdentifiedVisitor,
  VisitorSession,
  VisitorToken,
  WidgetConfig,
} from './types.js';

export type ChatClientOptions = {
  /** The chat server, e.g. `https://chat.example.com` (no `/api/v1`). */
  baseUrl: string;
  tenantId?: string;
  widgetPublicKey?: string;
  /** The page's origin (or an app's scheme, `app://…`); defaults to `location.origin` in a browser. */
  origin?: string;
  locale?: string;
  /** Injectable for tests and older runtimes; `globalThis.fetch` by default. */
  fetch?: typeof fetch;
};

/** Which tenant and origin; each call may override the client's defaults. */
export type TenantParams = {
  tenantId?: string;
  widgetPublicKey?: string;
  origin?: string;
  locale?: string;
};

export type CreateSessionParams = TenantParams & {
  /** Free-form context kept on the session (≤ 8 KB of JSON), e.g. an order id. */
  metadata?: Record<string, unknown>;
  /** A queue of the tenant's (one an agent is restricted to). */
  routingKey?: string;
  mode?: ConversationMode;
};

/** The user's id and `hex(hmac_sha256(tenant_secret, user_id))` from your backend, or `"userId:signature"`. */
export type IdentifyParams = { userId: string; userSignature: string } | { visitorTokenProvider: string };

/** What `uploadAttachment` sends: a `File` or `Blob` (browsers), or bytes (Node). */
export type AttachmentBody = Blob | ArrayBuffer | Uint8Array;

export type UploadOptions = {
  /** The file's name as the agent sees it (a `File`'s own name by default). */
  filename?: string;
  /** The MIME type; by default the `Blob`'s, else `application/octet-stream` (the server checks the bytes). */
  contentType?: string;
  /** Bytes sent so far and the total; in a browser as the upload goes, in Node once at the end. */
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
};

/** What `submitRating` sends: 1–5 stars and an optional comment (at most 1000 characters). */
export type RatingParams = {
  score: number;
  comment?: string;
  /** The resolved session to rate (a `rating_request` frame's `session_id`); the latest one by default. */
  sessionId?: string;
};

/** A visitor's rating as the server stored it. */
export type Rating = {
  session_id: string;
  conversation_id: string;
  score: number;
  comment: string | null;
  created_at: string;
  updated_at: string;
};

/** The email a visitor left, as the server keeps it: typed by them, so never verified. */
export type VisitorContact = { email: string; verified: boolean };

type Answer = { status: number; body: unknown };

/** The visitor API (`/api/v1/fetch|create|refresh|identify/…`): answers unwrapped from the envelope. */
export class ChatClient {
  readonly baseUrl: string;
  private readonly defaults: TenantParams;
  private readonly fetchFn: typeof fetch;
  /** A fetch given in the options is used for uploads too (no XMLHttpRequest then). */
  private readonly customFetch: boolean;

  constructor(options: ChatClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.defaults = {
      tenantId: options.tenantId,
      widgetPublicKey: options.widgetPublicKey,
      origin: options.origin,
      locale: options.locale,
    };
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('ChatClient: no fetch; pass options.fetch');
    this.fetchFn = f.bind(globalThis);
    this.customFetch = options.fetch !== undefined;
  }

  /** The widget's public config, to draw the launcher; creates nothing. */
  fetchWidgetConfig(params: TenantParams = {}): Promise<WidgetConfig> {
    const p = this.tenant(params);
    const q = new URLSearchParams({
      tenant_id: p.tenant_id,
      widget_public_key: p.widget_public_key,
      origin: p.origin,
    });
    if (p.locale) q.set('locale', p.locale);
    return this.call<WidgetConfig>('GET', `/fetch/widget-config?${q}`);
  }

  /** A new visitor session: its token (about an hour), its conversation and the widget config. */
  createVisitorSession(params: CreateSessionParams = {}): Promise<VisitorSession> {
    const p = this.tenant(params);
    const body: Record<string, unknown> = { ...p };
    if (!p.locale) delete body.locale;
    if (params.metadata) body.metadata = params.metadata;
    if (params.routingKey) body.routing_key = params.routingKey;
    if (params.mode) body.mode = params.mode;
    return this.call<VisitorSession>('POST', '/create/visitor-session', { body });
  }

  /** A new token for the same session and conversation; the old token may have expired. */
  refreshVisitorToken(visitorToken: string): Promise<VisitorToken> {
    return this.call<VisitorToken>('POST', '/refresh/visitor-token', { token: visitorToken });
  }

  /** Links the session to one of the tenant's users; reconnect with the token answered. */
  identifyVisitor(visitorToken: string, params: IdentifyParams): Promise<IdentifiedVisitor> {
    const body =
      'visitorTokenProvider' in params
        ? { visitor_token_provider: params.visitorTokenProvider }
        : { user_id: params.userId, user_signature: params.userSignature };
    return this.call<IdentifiedVisitor>('POST', '/identify/visitor', { token: visitorToken, body });
  }

  /**
   * Leaves an email to be answered at (`POST /api/v1/visitor/contact`), for when the tenant is
   * closed or nobody is online; agents see it on the conversation, marked unverified. A bad address
   * is a `ChatApiError` with code `request/invalid` and `param` `email`.
   */
  leaveContact(visitorToken: string, email: string): Promise<VisitorContact> {
    return this.call<VisitorContact>('POST', '/visitor/contact', { token: visitorToken, body: { email } });
  }

  /**
   * Rates the visitor's conversation after an agent resolved it (`POST /api/v1/visitor/rating`);
   * rating again updates it. Before any resolve: `ChatApiError` `rating/…` (409); a score outside
   * 1–5: `request/invalid` (400).
   */
  submitRating(visitorToken: string, params: RatingParams): Promise<Rating> {
    const comment = params.comment?.trim();
    const body: Record<string, unknown> = { score: params.score };
    if (comment) body.comment = comment;
    if (params.sessionId) body.session_id = params.sessionId;
    return this.call<Rating>('POST', '/visitor/rating', { token: visitorToken, body });
  }

  /**
   * Uploads a file for the visitor's conversation (`POST /api/v1/attachments`, the raw bytes) and
   * answers the stored `Attachment`; send it with `WSClient.sendAttachment`. In a browser it uses
   * XMLHttpRequest, for `onProgress`; elsewhere `fetch`. Refusals throw `ChatApiError`:
   * `attachment/too_large` (413), `attachment/type` (415), `token/…` (401).
   */
  async uploadAttachment(
    visitorToken: string,
    file: AttachmentBody,
    options: UploadOptions = {},
  ): Promise<Attachment> {
    const named = (file as { name?: unknown }).name;
    const filename = options.filename ?? (typeof named === 'string' && named ? named : 'file');
    const blobType = typeof Blob === 'function' && file instanceof Blob ? file.type : '';
    const headers: Record<string, string> = {
      Authorization: `Bearer ${visitorToken}`,
      'Content-Type': options.contentType || blobType || 'application/octet-stream',
      'X-Filename': encodeURIComponent(filename),
    };
    const url = `${this.baseUrl}/api/v1/attachments`;
    const total =
      file instanceof ArrayBuffer ? file.byteLength : 'size' in file ? file.size : file.byteLength;
    const viaXhr = typeof XMLHttpRequest === 'function' && !this.customFetch;
    let answer: Answer;
    try {
      answer = viaXhr
        ? await xhrPost(url, headers, file, options)
        : await this.fetchPost(url, headers, file, options.signal);
    } catch (err) {
      if ((err as { name?: string }).name === 'AbortError') throw err;
      throw new ChatApiError(0, 'network/failed', err instanceof Error ? err.message : String(err));
    }
    const a = this.unwrap<Attachment>(answer.status, answer.body as Envelope<Attachment> | undefined);
    if (!viaXhr) options.onProgress?.(total, total);
    // A relative URL would mean nothing in the page or app that shows it.
    return { ...a, url: new URL(a.url, `${this.baseUrl}/`).href };
  }

  private async fetchPost(
    url: string,
    headers: Record<string, string>,
    file: AttachmentBody,
    signal: AbortSignal | undefined,
  ): Promise<Answer> {
    const res = await this.fetchFn(url, {
      method: 'POST',
      headers,
      body: file as BodyInit,
      ...(signal ? { signal } : {}),
    });
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    return { status: res.status, body };
  }

  private tenant(params: TenantParams) {
    const tenantId = params.tenantId ?? this.defaults.tenantId;
    const widgetPublicKey = params.widgetPublicKey ?? this.defaults.widgetPublicKey;
    const origin = params.origin ?? this.defaults.origin ?? globalThis.location?.origin;
    if (!tenantId || !widgetPublicKey || !origin) {
      throw new TypeError('ChatClient: tenantId, widgetPublicKey and origin are required');
    }
    const locale = params.locale ?? this.defaults.locale;
    return { tenant_id: tenantId, widget_public_key: widgetPublicKey, origin, ...(locale ? { locale } : {}) };
  }

  private async call<T>(
    method: string,
    path: string,
    o: { body?: unknown; token?: string } = {},
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (o.body !== undefined) headers['Content-Type'] = 'application/json';
    if (o.token) headers.Authorization = `Bearer ${o.token}`;
    let res: Response;
    try {
      res = await this.fetchFn(`${this.baseUrl}/api/v1${path}`, {
        method,
        headers,
        ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
      });
    } catch (err) {
      throw new ChatApiError(0, 'network/failed', err instanceof Error ? err.message : String(err));
    }
    let env: Envelope<T> | undefined;
    try {
      env = (await res.json()) as Envelope<T>;
    } catch {
      env = undefined;
    }
    return this.unwrap(res.status, env);
  }

  /** The envelope's data, or its refusal as a `ChatApiError`. */
  private unwrap<T>(status: number, env: Envelope<T> | undefined): T {
    const ok = status >= 200 && status < 300;
    if (!ok || !env || typeof env !== 'object' || env.error) {
      throw new ChatApiError(
        env?.status_code ?? status,
        env?.error ?? (status >= 500 ? 'unavailable' : 'request/failed'),
        env?.message ?? `HTTP ${status}`,
        env?.param,
        env?.retry_after,
      );
    }
    return env.data;
  }
}

/** A POST with upload progress (browsers only: fetch cannot report it). */
function xhrPost(
  url: string,
  headers: Record<string, string>,
  file: AttachmentBody,
  o: UploadOptions,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.responseType = 'json';
    if (o.onProgress) {
      const report = o.onProgress;
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) report(e.loaded, e.total);
      };
    }
    xhr.onload = () => resolve({ status: xhr.status, body: xhr.response as unknown });
    xhr.onerror = () => reject(new Error('upload failed'));
    xhr.ontimeout = () => reject(new Error('upload timed out'));
    xhr.onabort = () => reject(new DOMException('upload aborted', 'AbortError'));
    o.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    if (o.signal?.aborted) return void xhr.abort();
    xhr.send(file as XMLHttpRequestBodyInit);
  });
}
