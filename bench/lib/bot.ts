// The bot step: a tenant with the help-centre fixture (test/fixtures/help-centre.json) as its
// knowledge base — grown with synthetic product pages and FAQs (filler-docs.ts) when `documents`
// asks for more — provisioned and loaded through the relay's own API; visitors in bot mode each
// ask one of the fixture's questions over the raw WebSocket, and the time from the question sent
// to the bot's answer received is measured. Also how often the bot answered from a passage rather
// than saying it found nothing, and recall@3 of the signed search over the whole knowledge base.
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { signRequest } from '../../src/relay/hmac.js';
import { loadHelpCentre } from '../../test/helpers/retrieval.js';
import { fillerDocuments } from './filler-docs.js';
import { mapLimit } from './seed.js';
import { percentile, round } from './stats.js';

export type BotResult = {
  /** Documents in the knowledge base (the fixture's, then synthetic ones). */
  documents: number;
  /** Seconds the documents took to load through the signed API. */
  load_s: number;
  /** The fixture's questions whose document is in the signed search's first three hits. */
  recall_at_3: number | null;
  questions: number;
  answered: number;
  no_answer: number;
  failed: number;
  p50_ms: number | null;
  p95_ms: number | null;
  max_ms: number | null;
};

export const ORIGIN = 'https://shop.bench.example';

/** A relay call; answers the envelope's `data`, throws on a status of 300 or more. */
export async function call(
  url: string,
  path: string,
  init: { method: string; headers?: Record<string, string>; body?: unknown },
) {
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  const res = await fetch(url + path, {
    method: init.method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(body ? { body } : {}),
  });
  const json = (await res.json()) as { data: Record<string, unknown> };
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

export type Tenant = { id: string; secret: string; pk: string };

/** A call to the signed API (HMAC#1) as the tenant's backend makes it. */
export function signedCall(url: string, tn: Tenant, method: string, path: string, body?: unknown) {
  const raw = body === undefined ? '' : JSON.stringify(body);
  return call(url, path, {
    method,
    headers: signRequest({ method, pathAndQuery: path, body: raw, tenantId: tn.id, secret: tn.secret }),
    body,
  });
}

/** A new tenant through the provisioning API, with quotas the benchmark never reaches. */
export async function provisionTenant(
  url: string,
  adminKey: string,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<Tenant> {
  const tenant = await call(url, '/api/v1/provision/tenant', {
    method: 'POST',
    headers: { 'x-admin-key': adminKey },
    body: {
      tenant_name: `${name} ${randomUUID().slice(0, 6)}`,
      allowed_origins: [ORIGIN],
      rate_limit_per_min: 10_000_000,
      ...extra,
    },
  });
  return {
    id: String(tenant.tenant_id),
    secret: String(tenant.tenant_secret),
    pk: String(tenant.widget_public_key),
  };
}

/** A visitor session of the tenant's widget: its token. */
export async function visitorToken(url: string, tn: Tenant, mode?: 'bot' | 'human'): Promise<string> {
  const session = await call(url, '/api/v1/create/visitor-session', {
    method: 'POST',
    headers: { origin: ORIGIN },
    body: {
      tenant_id: tn.id,
      widget_public_key: tn.pk,
      origin: ORIGIN,
      locale: 'en',
      ...(mode ? { mode } : {}),
    },
  });
  return String(session.visitor_token);
}

/** One visitor, one question: ms from sending it to the bot's answer, and whether it answered. */
async function ask(url: string, token: string, question: string): Promise<{ ms: number; answered: boolean }> {
  const ws = new WebSocket(
    `${url.replace(/^http/, 'ws')}/api/v1/ws/widget?token=${encodeURIComponent(token)}`,
    {
      origin: ORIGIN,
    },
  );
  try {
    return await new Promise((resolve, reject) => {
      let sentAt = 0;
      const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
      ws.on('error', reject);
      ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as { type: string; role?: string; content?: string };
        if (f.type === 'welcome') {
          sentAt = performance.now();
          ws.send(JSON.stringify({ type: 'msg', client_msg_id: randomUUID(), content: question }));
        } else if (f.type === 'msg' && f.role === 'bot') {
          clearTimeout(timer);
          resolve({
            ms: performance.now() - sentAt,
            answered: !/couldn't find|n'ai pas trouvé/.test(f.content ?? ''),
          });
        }
      });
    });
  } finally {
    ws.close();
  }
}

/**
 * The bot's answer time over a knowledge base of `documents` (at least the fixture's 37; the rest
 * synthetic), loaded `concurrency` at a time through the signed API. `visitors` ask one question each.
 */
export async function botStep(
  url: string,
  adminKey: string,
  opts: { visitors?: number; documents?: number; concurrency?: number } = {},
): Promise<BotResult> {
  const tn = await provisionTenant(url, adminKey, 'Bot bench', { rate_limit_per_min: 100_000 });
  const fixture = loadHelpCentre();
  const docs = [
    ...fixture.documents,
    ...fillerDocuments(Math.max(0, (opts.documents ?? 0) - fixture.documents.length)),
  ];
  const idOf = new Map<string, string>();
  const loadStart = performance.now();
  await mapLimit(docs, opts.concurrency ?? 8, async (d) => {
    const created = await signedCall(url, tn, 'POST', '/api/v1/relay/knowledge/documents', {
      title: d.title,
      body: d.body,
      format: d.format,
      url: d.url,
      tags: d.tags,
      language: d.language,
    });
    idOf.set(d.key, String(created.id));
  });
  const loadS = (performance.now() - loadStart) / 1000;
  // Recall@3 of what the bot retrieves from, over every question of the fixture.
  let hits = 0;
  for (const q of fixture.questions) {
    // Encoded as fetch sends it (an apostrophe is %27 on the wire): the signature covers those bytes.
    const path = `/api/v1/relay/knowledge/search?${new URLSearchParams({ q: q.question, limit: '3' })}`;
    const found = (await signedCall(url, tn, 'GET', path)) as { items: { document_id: string }[] };
    if (found.items.some((h) => h.document_id === idOf.get(q.expected))) hits += 1;
  }
  const questions = fixture.questions
    .filter((q) => !/[àâçéèêëîïôûù]/i.test(q.question))
    .slice(0, opts.visitors ?? 40);
  const times: number[] = [];
  let answered = 0;
  let failed = 0;
  for (const q of questions) {
    try {
      const r = await ask(url, await visitorToken(url, tn), q.question);
      times.push(r.ms);
      if (r.answered) answered += 1;
    } catch {
      failed += 1;
    }
  }
  times.sort((a, b) => a - b);
  return {
    documents: docs.length,
    load_s: round(loadS, 2),
    recall_at_3: fixture.questions.length ? round(hits / fixture.questions.length, 2) : null,
    questions: questions.length,
    answered,
    no_answer: times.length - answered,
    failed,
    p50_ms: percentile(times, 50),
    p95_ms: percentile(times, 95),
    max_ms: times.length ? round(times.at(-1)!, 2) : null,
  };
}
