import http from 'node:http';
import https from 'node:https';
import type { Organization } from '../generated/prisma/client.js';
import { signRequest } from '../relay/hmac.js';
import type { Usage } from '../relay/usage.js';
import { decryptSecret } from '../shared/crypto.js';
import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import { createOutboxPoller, logRejected } from '../shared/outbox-poller.js';
import { webhookBody } from './webhooks.dto.js';
import { callbackPath } from './webhooks.events.js';
import { guardedLookup } from './url-guard.js';

export type WebhookWorker = ReturnType<typeof createWebhookWorker>;

export type WebhookPolicy = {
  allowPrivate: boolean;
  /** First retry after this long, ×3 per attempt, capped at `maxDelayMs`, ±20 % jitter. */
  retryBaseMs: number;
  maxDelayMs: number;
  /** Attempts in a round before the event is `failed`. */
  maxAttempts: number;
  timeoutMs: number;
  /** How long a claimed event is this node's; a node that dies frees it after this. */
  leaseS: number;
  retentionDays: number;
};

const BATCH = 50;
/** What the attempt log keeps of a receiver's answer. */
const EXCERPT_BYTES = 1024;
const PRUNE_EVERY_MS = 60 * 60_000;

/** Exponential back-off with ±20 % jitter: 5 s, 15 s, 45 s, … 6 h with the defaults (~a day in 12). */
export function webhookBackoffMs(attempt: number, p: Pick<WebhookPolicy, 'retryBaseMs' | 'maxDelayMs'>) {
  const raw = Math.min(p.maxDelayMs, p.retryBaseMs * 3 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}

type Claimed = {
  id: string;
  organization_id: string;
  conversation_id: string | null;
  type: string;
  data: unknown;
  attempts: number;
  total_attempts: number;
  created_at: Date;
};

type Outcome = {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  excerpt: string | null;
  latencyMs: number;
};

/** One POST: the receiver's status and the start of its answer, or the network error. Never throws. */
function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  p: Pick<WebhookPolicy, 'allowPrivate' | 'timeoutMs'>,
): Promise<Outcome> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Omit<Outcome, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...o, latencyMs: latency() });
    };
    const target = new URL(url);
    const request = (target.protocol === 'https:' ? https : http).request(target, {
      method: 'POST',
      headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
      lookup: guardedLookup(p.allowPrivate),
      timeout: p.timeoutMs,
      // A fresh connection per delivery: an address checked now is the one connected to.
      agent: false,
    });
    const timer = setTimeout(
      () => request.destroy(new Error(`no answer within ${p.timeoutMs} ms`)),
      p.timeoutMs,
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${p.timeoutMs} ms`)));
    request.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done({
        ok: false,
        statusCode: null,
        error: `${err.code ? `${err.code}: ` : ''}${err.message}`.slice(0, 500),
        excerpt: null,
      });
    });
    request.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < EXCERPT_BYTES) chunks.push(c);
        size += c.length;
        if (size > 64 * 1024) res.destroy();
      });
      const finish = () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        done({
          ok,
          statusCode: status,
          error: ok ? null : `HTTP ${status}`,
          excerpt: Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8') || null,
        });
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    request.end(body);
  });
}

/**
 * Delivers the webhook outbox. Every node runs one: it claims due events (`FOR UPDATE SKIP
 * LOCKED`; only the oldest undelivered event of each conversation, so a conversation's events
 * arrive in order), POSTs each signed with HMAC#1 under the tenant's current secret, and records
 * the attempt: delivered on any 2xx; otherwise retried with back-off until the round's attempts
 * run out (`failed`). A node killed while sending leaves its lease, after which another node sends
 * again: at least once, the event id telling duplicates apart.
 */
export function createWebhookWorker(deps: {
  db: Db;
  encryptionKey: Buffer;
  logger: Logger;
  policy: WebhookPolicy;
  usage?: Pick<Usage, 'countWebhookSent'> | undefined;
  /** Each POST's outcome: the receiver's HTTP status, or `error` (metrics). */
  onAttempt?: ((status: string) => void) | undefined;
}) {
  const { db, logger, policy } = deps;
  let lastPrune = 0;

  async function claim(): Promise<Claimed[]> {
    return db.$queryRaw<Claimed[]>`
      UPDATE "webhook_events"
         SET "attempts" = "attempts" + 1,
             "total_attempts" = "total_attempts" + 1,
             "next_attempt_at" = now() + make_interval(secs => ${policy.leaseS}),
             "updated_at" = now()
       WHERE "id" IN (
         SELECT e."id" FROM "webhook_events" e
          WHERE e."status" = 'pending' AND e."next_attempt_at" <= now()
            AND NOT EXISTS (
              SELECT 1 FROM "webhook_events" p
               WHERE p."conversation_id" = e."conversation_id" AND p."status" = 'pending'
                 AND p."position" < e."position")
          ORDER BY e."next_attempt_at"
          LIMIT ${BATCH}
          FOR UPDATE SKIP LOCKED)
      RETURNING "id", "organization_id", "conversation_id", "type", "data", "attempts",
                "total_attempts", "created_at"`;
  }

  async function send(event: Claimed, org: Organization | undefined): Promise<Outcome & { url: string }> {
    if (!org?.webhookUrl) {
      return {
        ok: false,
        statusCode: null,
        error: 'no callback URL configured',
        excerpt: null,
        latencyMs: 0,
        url: '',
      };
    }
    const url = org.webhookUrl + callbackPath(event.type);
    if (org.status !== 'active') {
      return { ok: false, statusCode: null, error: 'tenant suspended', excerpt: null, latencyMs: 0, url };
    }
    const body = webhookBody({
      id: event.id,
      type: event.type,
      organizationId: event.organization_id,
      createdAt: event.created_at,
      data: event.data as never,
    });
    const target = new URL(url);
    const headers = {
      'Content-Type': 'application/json',
      'User-Agent': 'Switchboard-Webhooks/1',
      'X-Relay-Event': event.type,
      'X-Relay-Event-Id': event.id,
      'X-Relay-Attempt': String(event.total_attempts),
      ...signRequest({
        method: 'POST',
        pathAndQuery: target.pathname + target.search,
        body,
        tenantId: org.id,
        secret: decryptSecret(deps.encryptionKey, org.tenantSecretEnc),
      }),
    };
    return { ...(await post(url, headers, body, policy)), url };
  }

  async function handle(event: Claimed, org: Organization | undefined) {
    const outcome = await send(event, org);
    deps.onAttempt?.(outcome.statusCode === null ? 'error' : String(outcome.statusCode));
    await db.webhookAttempt.create({
      data: {
        eventId: event.id,
        attempt: event.total_attempts,
        url: outcome.url,
        statusCode: outcome.statusCode,
        ok: outcome.ok,
        error: outcome.error,
        latencyMs: outcome.latencyMs,
        responseExcerpt: outcome.excerpt,
      },
    });
    if (outcome.ok) {
      await db.webhookEvent.update({
        where: { id: event.id },
        data: {
          status: 'delivered',
          deliveredAt: new Date(),
          lastStatusCode: outcome.statusCode,
          lastLatencyMs: outcome.latencyMs,
          lastError: null,
        },
      });
      deps.usage?.countWebhookSent(event.organization_id);
      return;
    }
    const permanent = !org?.webhookUrl;
    const log = { eventId: event.id, type: event.type, attempts: event.attempts, error: outcome.error };
    if (!permanent && event.attempts < policy.maxAttempts) {
      const wait = webhookBackoffMs(event.attempts, policy);
      logger.info({ ...log, retryInMs: wait }, 'webhook not delivered; will retry');
      await db.webhookEvent.update({
        where: { id: event.id },
        data: {
          lastStatusCode: outcome.statusCode,
          lastLatencyMs: outcome.latencyMs,
          lastError: outcome.error,
          nextAttemptAt: new Date(Date.now() + wait),
        },
      });
      return;
    }
    logger.warn(log, 'webhook not delivered; giving up');
    await db.webhookEvent.update({
      where: { id: event.id },
      data: {
        status: 'failed',
        lastStatusCode: outcome.statusCode,
        lastLatencyMs: outcome.latencyMs,
        lastError: outcome.error,
      },
    });
  }

  /** Delivered and failed events past retention go, with their attempts; pending ones never. */
  async function prune() {
    if (Date.now() - lastPrune < PRUNE_EVERY_MS) return;
    lastPrune = Date.now();
    const before = new Date(Date.now() - policy.retentionDays * 86_400_000);
    await db.webhookEvent.deleteMany({ where: { status: { not: 'pending' }, createdAt: { lt: before } } });
  }

  const poller = createOutboxPoller({
    name: 'webhook outbox',
    effect: 'webhooks wait in the outbox',
    logger,
    async batch() {
      const events = await claim();
      if (!events.length) return 0;
      const orgIds = [...new Set(events.map((e) => e.organization_id))];
      const orgs = new Map(
        (await db.organization.findMany({ where: { id: { in: orgIds } } })).map((o) => [o.id, o]),
      );
      // A failing bookkeeping step must not stop the others: its lease expires and it is sent again.
      logRejected(
        logger,
        'webhook',
        await Promise.allSettled(events.map((e) => handle(e, orgs.get(e.organization_id)))),
      );
      return events.length;
    },
    afterPass: prune,
  });

  return {
    /** Starts polling; due retries are picked up within one poll interval. */
    start: (pollMs = Math.min(1000, policy.retryBaseMs)) => poller.start(pollMs),
    /** A new event was queued on this node: deliver it now rather than at the next poll. */
    kick: poller.kick,
    /**
     * Stops claiming. Deliveries under way get a moment to finish; one that does not (a receiver
     * that hangs) is left to its lease and sent again by a node that runs.
     */
    stop: (graceMs = 3000) => poller.stop(graceMs),
  };
}
