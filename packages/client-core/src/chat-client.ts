import { ChatApiError } from './errors.js';
import type {
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

/** The visitor API (`/api/v1/fetch|create|refresh|identify/…`): answers unwrapped from the envelope. */
export class ChatClient {
  readonly baseUrl: string;
  private readonly defaults: TenantParams;
  private readonly fetchFn: typeof fetch;

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
    if (!res.ok || !env || env.error) {
      throw new ChatApiError(
        env?.status_code ?? res.status,
        env?.error ?? (res.status >= 500 ? 'unavailable' : 'request/failed'),
        env?.message ?? `HTTP ${res.status}`,
        env?.param,
        env?.retry_after,
      );
    }
    return env.data;
  }
}
