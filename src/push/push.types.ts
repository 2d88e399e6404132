/** A notification as both providers get it: one per message per device. */
export type PushPayload = {
  title: string;
  body: string;
  /** Also the collapse / thread id: one per conversation, so a device shows one stack per chat. */
  conversationId: string;
  messageId: string;
};

/** What a provider said about one send. */
export type PushOutcome =
  | { ok: true }
  /** The token is dead (uninstalled app, bad or foreign token): disable it. */
  | { ok: false; kind: 'invalid_token'; reason: string }
  /** Try again later (outage, throttling, network). */
  | { ok: false; kind: 'transient'; reason: string; retryAfterMs?: number }
  /** Retrying will not help (bad credentials, rejected payload); the token stays. */
  | { ok: false; kind: 'permanent'; reason: string };
