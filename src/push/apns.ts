import { rootCertificates } from 'node:tls';
import apn from '@parse/node-apn';
import type { PushCredentialFor } from './push.types.js';
import type { PushOutcome, PushPayload } from './push.types.js';

// APNs reasons that mean this token will never be delivered to (app removed, token foreign or malformed).
const DEAD_TOKEN = new Set(['Unregistered', 'BadDeviceToken', 'DeviceTokenNotForTopic']);
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** `host[:port]` → node-apn's options (it dials `port`, whatever the address says). */
function hostAndPort(hostPort: string) {
  const i = hostPort.lastIndexOf(':');
  return i > 0
    ? { address: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) }
    : { address: hostPort };
}

type ApnsFailure = {
  status?: number | string;
  response?: { reason?: string };
  error?: Error;
};

/**
 * APNs over HTTP/2 with token-based auth (@parse/node-apn signs and refreshes the ES256 provider
 * JWT). One client per stored credential version; `host` overrides Apple's hosts.
 */
export function createApnsSender(opts: { host?: string | undefined; ca?: string | undefined }) {
  const providers = new Map<string, { version: string; provider: apn.Provider }>();

  function providerFor(cred: PushCredentialFor<'apns'>): apn.Provider {
    const found = providers.get(cred.id);
    if (found?.version === cred.version) return found.provider;
    if (found) {
      providers.delete(cred.id);
      found.provider.shutdown();
    }
    const pub = cred.publicConfig;
    const provider = new apn.Provider({
      token: { key: cred.secret.private_key, keyId: pub.key_id!, teamId: pub.team_id! },
      production: pub.environment === 'production',
      ...(opts.host ? hostAndPort(opts.host) : {}),
      ...(opts.ca ? { ca: [...rootCertificates, opts.ca] } : {}),
      // One quick retry inside the client for a blip; outages are the outbox's to retry, with backoff.
      connectionRetryLimit: 1,
      requestTimeout: 10_000,
    });
    providers.set(cred.id, { version: cred.version, provider });
    return provider;
  }

  return {
    async send(cred: PushCredentialFor<'apns'>, token: string, p: PushPayload): Promise<PushOutcome> {
      const note = new apn.Notification();
      note.topic = cred.publicConfig.bundle_id!;
      note.pushType = 'alert';
      note.priority = 10;
      note.expiry = Math.floor(Date.now() / 1000) + 24 * 3600;
      note.alert = { title: p.title, body: p.body };
      note.sound = 'default';
      note.threadId = p.conversationId;
      note.collapseId = p.conversationId;
      note.payload = { conversation_id: p.conversationId, message_id: p.messageId, type: 'message' };
      let result: Awaited<ReturnType<apn.Provider['send']>>;
      try {
        result = await providerFor(cred).send(note, token);
      } catch (err) {
        return { ok: false, kind: 'transient', reason: `apns: ${(err as Error).message}` };
      }
      if (result.sent.length) return { ok: true };
      const failure = (result.failed[0] ?? {}) as ApnsFailure;
      const status = Number(failure.status) || 0;
      const reason = failure.response?.reason ?? failure.error?.message ?? 'unknown error';
      const text = `apns ${status || 'error'}: ${reason}`.slice(0, 500);
      if (status === 410 || DEAD_TOKEN.has(reason)) return { ok: false, kind: 'invalid_token', reason: text };
      if (!status || TRANSIENT_STATUS.has(status)) return { ok: false, kind: 'transient', reason: text };
      return { ok: false, kind: 'permanent', reason: text };
    },

    async close() {
      const all = [...providers.values()];
      providers.clear();
      await Promise.all(all.map((p) => new Promise<void>((resolve) => p.provider.shutdown(() => resolve()))));
    },
  };
}
