// The webhook part of the gateways step: a tenant whose callback base URL is an HTTP server in the
// bench process; messages go into its conversations through the signed API as fast as they are
// accepted, and the receiver counts what arrives, how long after the event was written, and checks
// each signature with the same HMAC#1 code a tenant's backend would use.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseHmacHeaders, verifyRequest } from '../../src/relay/hmac.js';
import { provisionTenant, signedCall, type Tenant } from './bot.js';
import { mapLimit } from './seed.js';
import { percentile, round } from './stats.js';

export type WebhooksResult = {
  conversations: number;
  /** Messages sent through the signed API, and how many it stored (201). */
  messages_sent: number;
  messages_stored: number;
  /** Messages stored per second while they were being sent. */
  generate_per_s: number;
  /** Distinct events received, by type. */
  received: Record<string, number>;
  /** Distinct deliveries per second, from the first message sent to the last delivery. */
  deliveries_per_s: number;
  /** From the event's `created_at` (written in the message's transaction) to its arrival. */
  lag_ms: { p50: number | null; p95: number | null; max: number | null };
  /** Seconds from the last message stored to the last delivery. */
  drain_s: number;
  lost: number;
  duplicates: number;
  bad_signatures: number;
};

type Arrival = { id: string; type: string; lagMs: number; at: number };

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * `messages` messages spread over `conversations` conversations, `concurrency` signed calls at a
 * time; waits until every expected event arrived or none arrived for `quietS` seconds.
 */
export async function webhooksBench(
  url: string,
  adminKey: string,
  opts: { conversations: number; messages: number; concurrency: number; quietS: number },
): Promise<WebhooksResult> {
  let tn: Tenant | undefined;
  const arrivals: Arrival[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  let badSignatures = 0;
  const receiver = createServer((req, res) => {
    void readBody(req).then((body) => {
      const at = Date.now();
      try {
        verifyRequest({
          method: req.method ?? 'POST',
          pathAndQuery: req.url ?? '/',
          body,
          headers: parseHmacHeaders(req.headers),
          secrets: tn ? [tn.secret] : [],
          windowS: 300,
          nowMs: at,
        });
      } catch {
        badSignatures += 1;
      }
      const e = JSON.parse(body.toString('utf8')) as { id: string; type: string; created_at: string };
      if (seen.has(e.id)) duplicates += 1;
      else {
        seen.add(e.id);
        arrivals.push({ id: e.id, type: e.type, lagMs: at - Date.parse(e.created_at), at });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"received":true}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  try {
    const port = (receiver.address() as AddressInfo).port;
    tn = await provisionTenant(url, adminKey, 'Webhook bench', {
      callback_base_url: `http://127.0.0.1:${port}/hooks`,
    });
    const tenant = tn;
    const convs = await mapLimit(
      Array.from({ length: opts.conversations }, (_, i) => i),
      8,
      async (i) =>
        String(
          (
            await signedCall(url, tenant, 'POST', '/api/v1/relay/conversations', {
              visitor_user_id: `wh-user-${i}`,
            })
          ).id,
        ),
    );
    const genStart = Date.now();
    let stored = 0;
    await mapLimit(
      Array.from({ length: opts.messages }, (_, i) => i),
      opts.concurrency,
      async (i) => {
        const id = convs[i % convs.length]!;
        try {
          await signedCall(url, tenant, 'POST', `/api/v1/relay/conversations/${id}/messages`, {
            role: 'visitor',
            content: `webhook bench message ${i}`,
            client_msg_id: `wh-${i}`,
          });
          stored += 1;
        } catch {
          // Counted as not stored: no event is expected for it.
        }
      },
    );
    const genEnd = Date.now();
    const expected = stored + convs.length; // message-received each, conversation-started each
    let last = arrivals.length;
    let quietSince = Date.now();
    while (arrivals.length < expected && Date.now() - quietSince < opts.quietS * 1000) {
      await new Promise((r) => setTimeout(r, 100));
      if (arrivals.length !== last) {
        last = arrivals.length;
        quietSince = Date.now();
      }
    }
    const byType: Record<string, number> = {};
    for (const a of arrivals) byType[a.type] = (byType[a.type] ?? 0) + 1;
    const lags = arrivals.map((a) => a.lagMs).sort((a, b) => a - b);
    const lastAt = Math.max(genEnd, ...arrivals.map((a) => a.at));
    return {
      conversations: convs.length,
      messages_sent: opts.messages,
      messages_stored: stored,
      generate_per_s: Math.round(stored / ((genEnd - genStart) / 1000 || 1)),
      received: byType,
      deliveries_per_s: Math.round(arrivals.length / ((lastAt - genStart) / 1000 || 1)),
      lag_ms: { p50: percentile(lags, 50), p95: percentile(lags, 95), max: lags.at(-1) ?? null },
      drain_s: round((lastAt - genEnd) / 1000, 2),
      lost:
        Math.max(0, stored - (byType['message-received'] ?? 0)) +
        Math.max(0, convs.length - (byType['conversation-started'] ?? 0)),
      duplicates,
      bad_signatures: badSignatures,
    };
  } finally {
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  }
}
