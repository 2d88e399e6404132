import type { PushProvider } from '../generated/prisma/client.js';

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

/** What the worker needs to send through FCM; never leaves the server. */
export type FcmSecret = {
  service_account?: { project_id: string; client_email: string; private_key: string } & Record<
    string,
    unknown
  >;
  server_key?: string;
};
/** The APNs .p8 key. */
export type ApnsSecret = { private_key: string };

/** A channel's decrypted credentials for one provider. */
export type PushCredentialFor<P extends PushProvider> = {
  id: string;
  /** Changes whenever the credential is replaced, so cached provider clients are rebuilt. */
  version: string;
  publicConfig: Record<string, string | null>;
  secret: P extends 'fcm' ? FcmSecret : ApnsSecret;
};

/**
 * Whether an end user has a socket connected, as the realtime gateway knows it: `here` on this
 * node (no I/O), `anywhere` on any node (false when unsure: a duplicate alert beats a missed one).
 */
export type EndUserPresence = {
  here(endUserId: string): boolean;
  anywhere(endUserId: string): Promise<boolean>;
};
