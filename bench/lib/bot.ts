// The bot step: a tenant with the help-centre fixture (test/fixtures/help-centre.json) as its
// knowledge base, provisioned and loaded through the relay's own API; visitors in bot mode each
// ask one of the fixture's questions over the raw WebSocket, and the time from the question sent
// to the bot's answer received is measured. Also how often the bot answered from a passage rather
// than saying it found nothing.
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { signRequest } from '../../src/relay/hmac.js';
import { loadHelpCentre } from '../../test/helpers/retrieval.js';
import { percentile, round } from './stats.js';

export type BotResult = {
  questions: number;
  answered: number;
  no_answer: number;
  failed: number;
  p50_ms: number | null;
  p95_ms: number | null;
  max_ms: number | null;
};

const ORIGIN = 'https://shop.bench.example';

async function call(
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

export async function botStep(url: string, adminKey: string, visitors = 40): Promise<BotResult> {
  const tenant = await call(url, '/api/v1/provision/tenant', {
    method: 'POST',
    headers: { 'x-admin-key': adminKey },
    body: {
      tenant_name: `Bot bench ${randomUUID().slice(0, 6)}`,
      allowed_origins: [ORIGIN],
      rate_limit_per_min: 100_000,
    },
  });
  const tn = {
    id: String(tenant.tenant_id),
    secret: String(tenant.tenant_secret),
    pk: String(tenant.widget_public_key),
  };
  const fixture = loadHelpCentre();
  for (const d of fixture.documents) {
    const path = '/api/v1/relay/knowledge/documents';
    const body = {
      title: d.title,
      body: d.body,
      format: d.format,
      url: d.url,
      tags: d.tags,
      language: d.language,
    };
    const raw = JSON.stringify(body);
    await call(url, path, {
      method: 'POST',
      headers: signRequest({
        method: 'POST',
        pathAndQuery: path,
        body: raw,
        tenantId: tn.id,
        secret: tn.secret,
      }),
      body,
    });
  }
  const questions = fixture.questions.filter((q) => !/[àâçéèêëîïôûù]/i.test(q.question)).slice(0, visitors);
  const times: number[] = [];
  let answered = 0;
  let failed = 0;
  for (const q of questions) {
    try {
      const session = await call(url, '/api/v1/create/visitor-session', {
        method: 'POST',
        headers: { origin: ORIGIN },
        body: { tenant_id: tn.id, widget_public_key: tn.pk, origin: ORIGIN, locale: 'en' },
      });
      const r = await ask(url, String(session.visitor_token), q.question);
      times.push(r.ms);
      if (r.answered) answered += 1;
    } catch {
      failed += 1;
    }
  }
  times.sort((a, b) => a - b);
  return {
    questions: questions.length,
    answered,
    no_answer: times.length - answered,
    failed,
    p50_ms: percentile(times, 50),
    p95_ms: percentile(times, 95),
    max_ms: times.length ? round(times.at(-1)!, 2) : null,
  };
}
