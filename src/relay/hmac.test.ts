// HMAC#1: the published vectors hold for a signer written here from docs/hmac.md and for the
// product's; end to end, every refusal of the signed API has its code, a good call is counted, and
// the first signed endpoints open conversations and send messages that reach the inbox.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent } from '../../test/helpers/factories.js';
import { rootDir } from '../../test/helpers/process.js';
import { connectSocket, emitAck, nextEvent } from '../../test/helpers/sockets.js';
import { parseHmacHeaders, signRequest, stringToSign, verifyRequest } from './hmac.js';

const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

type Vector = {
  name: string;
  tenant_id: string;
  secret: string;
  method: string;
  path_and_query: string;
  timestamp: number;
  nonce: string;
  body: string;
  body_sha256: string;
  string_to_sign: string;
  signature: string;
  headers: Record<string, string>;
};

const vectors = (
  JSON.parse(readFileSync(`${rootDir}/docs/hmac-vectors.json`, 'utf8')) as { vectors: Vector[] }
).vectors;

/** The recipe of docs/hmac.md, written from the document, not from the product's code. */
function independentSign(
  secret: string,
  method: string,
  pathAndQuery: string,
  timestamp: number | string,
  nonce: string,
  body: string | Buffer,
) {
  const bodyHash = createHash('sha256')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('hex');
  const toSign = ['HMAC1', method.toUpperCase(), pathAndQuery, String(timestamp), nonce, bodyHash].join('\n');
  return { toSign, bodyHash, signature: createHmac('sha256', secret).update(toSign, 'utf8').digest('hex') };
}

describe('HMAC#1 vectors (docs/hmac-vectors.json)', () => {
  test('at least five, covering GET, POST with a body, unicode, a query string and an empty body', () => {
    assert.ok(vectors.length >= 5);
    assert.ok(vectors.some((v) => v.method === 'GET' && v.body === ''));
    assert.ok(vectors.some((v) => v.method === 'POST' && v.body.startsWith('{')));
    assert.ok(
      vectors.some((v) => Buffer.byteLength(v.body) > v.body.length),
      'a non-ASCII body',
    );
    assert.ok(vectors.some((v) => v.path_and_query.includes('?')));
    assert.ok(vectors.some((v) => v.method === 'POST' && v.body === ''));
  });

  for (const v of vectors) {
    test(`${v.name}: the independent signer and the product's agree with the vector`, () => {
      const mine = independentSign(v.secret, v.method, v.path_and_query, v.timestamp, v.nonce, v.body);
      assert.equal(mine.bodyHash, v.body_sha256);
      assert.equal(mine.toSign, v.string_to_sign);
      assert.equal(mine.signature, v.signature);
      assert.match(v.signature, /^[0-9a-f]{64}$/);

      const input = { method: v.method, pathAndQuery: v.path_and_query, body: v.body };
      assert.equal(stringToSign({ ...input, timestamp: v.timestamp, nonce: v.nonce }), v.string_to_sign);
      const headers = signRequest({
        ...input,
        tenantId: v.tenant_id,
        secret: v.secret,
        timestamp: v.timestamp,
        nonce: v.nonce,
      });
      assert.deepEqual(headers, v.headers);
      assert.equal(headers['X-Relay-Signature'], `v1=${v.signature}`);

      const lower = Object.fromEntries(Object.entries(v.headers).map(([k, x]) => [k.toLowerCase(), x]));
      const parsed = parseHmacHeaders(lower);
      const verify = (o: Partial<Parameters<typeof verifyRequest>[0]>) =>
        verifyRequest({
          ...input,
          body: Buffer.from(v.body, 'utf8'),
          headers: parsed,
          secrets: [v.secret],
          windowS: 300,
          nowMs: v.timestamp * 1000,
          ...o,
        });
      verify({});
      verify({ secrets: ['sk_previous', v.secret] });
      const bad = { code: 'hmac/bad_signature' };
      assert.throws(() => verify({ secrets: ['sk_other'] }), bad);
      assert.throws(() => verify({ body: Buffer.from(`${v.body} `, 'utf8') }), bad);
      assert.throws(() => verify({ pathAndQuery: `${v.path_and_query}x` }), bad);
      assert.throws(() => verify({ method: v.method === 'GET' ? 'POST' : 'GET' }), bad);
      assert.throws(() => verify({ nowMs: (v.timestamp + 301) * 1000 }), { code: 'hmac/stale_timestamp' });
      assert.throws(() => verify({ nowMs: (v.timestamp - 301) * 1000 }), { code: 'hmac/stale_timestamp' });
    });
  }
});

type Body = { status_code: number; data: unknown; message: string; error?: string; retry_after?: number };
type Tenant = { id: string; secret: string };

for (const mode of dbModes) {
  const full = mode.name === 'postgres';
  describe(`the signed API (HMAC#1) on ${mode.name}${full ? ' with Redis' : ''}`, () => {
    const prefix = `sb:hmac:${randomUUID().slice(0, 8)}`;
    const env = { ADMIN_KEY, REALTIME_REDIS_PREFIX: prefix };
    let clock = Date.now();
    let t: TestApp;
    before(async () => {
      t = await startApp(await mode.open(), { redis: full, env, now: () => clock });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    async function provision(rateLimitPerMin = 1000): Promise<Tenant> {
      const res = await fetch(`${t.url}/api/v1/provision/tenant`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
        body: JSON.stringify({
          tenant_name: `HMAC ${randomUUID().slice(0, 6)}`,
          rate_limit_per_min: rateLimitPerMin,
        }),
      });
      const body = (await res.json()) as { data: { tenant_id: string; tenant_secret: string } };
      assert.equal(res.status, 201, JSON.stringify(body));
      return { id: body.data.tenant_id, secret: body.data.tenant_secret };
    }

    type Call = {
      body?: string;
      secret?: string;
      timestamp?: number;
      nonce?: string;
      /** What is sent, when it is not what was signed (tampering). */
      send?: { method?: string; path?: string; body?: string };
      headers?: Record<string, string | undefined>;
      url?: string;
    };

    /** A request signed with the independent signer, sent with fetch (exact bytes and path). */
    async function call(tn: Tenant, method: string, path: string, o: Call = {}) {
      const timestamp = o.timestamp ?? Math.floor(clock / 1000);
      const nonce = o.nonce ?? randomBytes(18).toString('base64url');
      const { signature } = independentSign(
        o.secret ?? tn.secret,
        method,
        path,
        timestamp,
        nonce,
        o.body ?? '',
      );
      const headers: Record<string, string> = {
        'X-Relay-Tenant': tn.id,
        'X-Relay-Timestamp': String(timestamp),
        'X-Relay-Nonce': nonce,
        'X-Relay-Signature': `v1=${signature}`,
      };
      const sendBody = o.send?.body ?? o.body;
      if (sendBody !== undefined) headers['Content-Type'] = 'application/json';
      for (const [k, v] of Object.entries(o.headers ?? {})) {
        if (v === undefined) delete headers[k];
        else headers[k] = v;
      }
      const res = await fetch(`${o.url ?? t.url}${o.send?.path ?? path}`, {
        method: o.send?.method ?? method,
        headers,
        ...(sendBody !== undefined ? { body: sendBody } : {}),
      });
      const body = (await res.json()) as Body;
      assert.equal(body.status_code, res.status, 'HTTP status == status_code');
      return { status: res.status, body, headers: res.headers, nonce, timestamp };
    }

    const refused = async (p: Promise<{ status: number; body: Body }>, status: number, error: string) => {
      const { status: got, body } = await p;
      assert.equal(got, status, JSON.stringify(body));
      assert.equal(body.error, error);
      assert.equal(body.data, null);
      return body;
    };

    test('a good signed call: 200 in the envelope, its usage', async () => {
      const tn = await provision();
      const res = await call(tn, 'GET', '/api/v1/relay/usage?days=3');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const data = res.body.data as { days: { day: string }[]; totals: { api_calls: number } };
      assert.equal(data.days.length, 3);
      assert.equal(typeof data.totals.api_calls, 'number');
    });

    test('missing and malformed headers: 401 hmac/missing_headers, hmac/malformed', async () => {
      const tn = await provision();
      const usage = '/api/v1/relay/usage';
      for (const h of ['X-Relay-Tenant', 'X-Relay-Timestamp', 'X-Relay-Nonce', 'X-Relay-Signature']) {
        const body = await refused(
          call(tn, 'GET', usage, { headers: { [h]: undefined } }),
          401,
          'hmac/missing_headers',
        );
        assert.match(body.message, new RegExp(h, 'i'));
      }
      const malformed: Record<string, string>[] = [
        { 'X-Relay-Tenant': 'tenant-42' },
        { 'X-Relay-Timestamp': '1767225600.5' },
        { 'X-Relay-Timestamp': 'yesterday' },
        { 'X-Relay-Nonce': 'short' },
        { 'X-Relay-Nonce': 'has spaces in it, sixteen+' },
        { 'X-Relay-Signature': 'v2=' + 'a'.repeat(64) },
        { 'X-Relay-Signature': 'v1=' + 'A'.repeat(64) },
        { 'X-Relay-Signature': 'v1=' + 'a'.repeat(63) },
      ];
      for (const headers of malformed) {
        await refused(call(tn, 'GET', usage, { headers }), 401, 'hmac/malformed');
      }
    });

    test('an unknown tenant: 401 hmac/unknown_tenant', async () => {
      await refused(
        call({ id: randomUUID(), secret: 'sk_nobody' }, 'GET', '/api/v1/relay/usage'),
        401,
        'hmac/unknown_tenant',
      );
    });

    test('a stale timestamp, either way, also by moving the clock: 401 hmac/stale_timestamp', async () => {
      const tn = await provision();
      const nowS = Math.floor(clock / 1000);
      const usage = '/api/v1/relay/usage';
      await refused(call(tn, 'GET', usage, { timestamp: nowS - 301 }), 401, 'hmac/stale_timestamp');
      await refused(call(tn, 'GET', usage, { timestamp: nowS + 301 }), 401, 'hmac/stale_timestamp');
      assert.equal((await call(tn, 'GET', usage, { timestamp: nowS - 299 })).status, 200);
      assert.equal((await call(tn, 'GET', usage, { timestamp: nowS + 299 })).status, 200);
      const start = clock;
      try {
        clock = start + 301_000;
        await refused(call(tn, 'GET', usage, { timestamp: nowS }), 401, 'hmac/stale_timestamp');
        clock = start - 301_000;
        await refused(call(tn, 'GET', usage, { timestamp: nowS }), 401, 'hmac/stale_timestamp');
      } finally {
        clock = start;
      }
    });

    test('a tampered body, path, query or method: 401 hmac/bad_signature, saying nothing more', async () => {
      const tn = await provision();
      const open = '/api/v1/relay/conversations';
      const body = JSON.stringify({ visitor_user_id: 'user-1' });
      const messages = new Set<string>();
      const cases: Call[] = [
        { body, send: { body: JSON.stringify({ visitor_user_id: 'user-2' }) } },
        { body, send: { body: `${body} ` } },
        { body, send: { path: `${open}?x=1` } },
        { body, secret: 'sk_wrong' },
      ];
      for (const c of cases) {
        messages.add((await refused(call(tn, 'POST', open, c), 401, 'hmac/bad_signature')).message);
      }
      const usage = '/api/v1/relay/usage?days=1';
      messages.add(
        (
          await refused(
            call(tn, 'GET', usage, { send: { path: '/api/v1/relay/usage?days=2' } }),
            401,
            'hmac/bad_signature',
          )
        ).message,
      );
      messages.add(
        (await refused(call(tn, 'POST', usage, { send: { method: 'GET' } }), 401, 'hmac/bad_signature'))
          .message,
      );
      assert.equal(messages.size, 1, 'one message whatever differed');
      assert.ok((await call(tn, 'POST', open, { body })).status < 300, 'the untampered call goes through');
    });

    test('a replayed nonce: 401 hmac/replayed_nonce; a refused signature does not spend it', async () => {
      const tn = await provision();
      const usage = '/api/v1/relay/usage';
      const nonce = `replay_${randomBytes(8).toString('hex')}`;
      await refused(call(tn, 'GET', usage, { nonce, secret: 'sk_attacker' }), 401, 'hmac/bad_signature');
      assert.equal((await call(tn, 'GET', usage, { nonce })).status, 200);
      await refused(call(tn, 'GET', usage, { nonce }), 401, 'hmac/replayed_nonce');
      // Another tenant's nonces are its own.
      const other = await provision();
      assert.equal((await call(other, 'GET', usage, { nonce })).status, 200);
    });

    test('a suspended tenant: 401 hmac/tenant_suspended when correctly signed, bad_signature when not', async () => {
      const tn = await provision();
      await t.services.tenants.suspend(tn.id);
      await refused(call(tn, 'GET', '/api/v1/relay/usage'), 401, 'hmac/tenant_suspended');
      // Without the secret nobody learns the tenant's status.
      await refused(
        call(tn, 'GET', '/api/v1/relay/usage', { secret: 'sk_attacker' }),
        401,
        'hmac/bad_signature',
      );
      await t.services.tenants.reactivate(tn.id);
      assert.equal((await call(tn, 'GET', '/api/v1/relay/usage')).status, 200);
    });

    test('a rotated secret: the old one verifies during its grace, not after; the new one always', async () => {
      const tn = await provision();
      const usage = '/api/v1/relay/usage';
      const { tenantSecret } = await t.services.tenants.rotateSecret(tn.id, 1);
      assert.equal((await call(tn, 'GET', usage)).status, 200, 'old secret, in grace');
      assert.equal((await call(tn, 'GET', usage, { secret: tenantSecret })).status, 200);
      const start = clock;
      try {
        clock = start + 2 * 3_600_000;
        await refused(call(tn, 'GET', usage), 401, 'hmac/bad_signature');
        assert.equal((await call(tn, 'GET', usage, { secret: tenantSecret })).status, 200);
      } finally {
        clock = start;
      }
      // Rotating without grace ends the old secret at once.
      const { tenantSecret: third } = await t.services.tenants.rotateSecret(tn.id, 0);
      await refused(call(tn, 'GET', usage, { secret: tenantSecret }), 401, 'hmac/bad_signature');
      assert.equal((await call(tn, 'GET', usage, { secret: third })).status, 200);
    });

    test("the tenant's rate_limit_per_min: 429 rate_limited with Retry-After; calls are counted", async () => {
      const tn = await provision(3);
      const usage = '/api/v1/relay/usage?days=1';
      for (let i = 0; i < 3; i++) assert.equal((await call(tn, 'GET', usage)).status, 200);
      const over = await call(tn, 'GET', usage);
      const body = await refused(Promise.resolve(over), 429, 'rate_limited');
      assert.ok(typeof body.retry_after === 'number' && body.retry_after >= 1);
      assert.equal(over.headers.get('retry-after'), String(body.retry_after));

      const counted = await provision();
      for (let i = 0; i < 4; i++) await call(counted, 'GET', usage);
      await t.usage.flush();
      const res = await call(counted, 'GET', usage);
      assert.equal((res.body.data as { totals: { api_calls: number } }).totals.api_calls, 4);
    });

    test('open a conversation for a user (verified), send a visitor message that reaches the agents', async () => {
      const tn = await provision();
      const open = '/api/v1/relay/conversations';
      const userId = `user-${randomUUID()}`;
      const first = await call(tn, 'POST', open, {
        body: JSON.stringify({
          visitor_user_id: userId,
          visitor_display_name: 'Zoë Ünal',
          locale: 'de',
          metadata: { plan: 'pro', note: 'Grüße 🚀' },
        }),
      });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      const conv = first.body.data as Record<string, unknown>;
      assert.equal(conv.visitor_user_id, userId);
      assert.equal(conv.id, conv.conversation_id);
      assert.equal(conv.visitor_display_name, 'Zoë Ünal');
      assert.equal(conv.locale, 'de');
      assert.deepEqual(conv.metadata, { plan: 'pro', note: 'Grüße 🚀' });
      assert.equal(conv.created, true);
      const again = await call(tn, 'POST', open, { body: JSON.stringify({ visitor_user_id: userId }) });
      assert.equal(again.status, 200);
      assert.equal((again.body.data as Record<string, unknown>).conversation_id, conv.conversation_id);
      assert.equal((again.body.data as Record<string, unknown>).created, false);
      const endUser = await t.database.prisma.endUser.findUniqueOrThrow({
        where: { organizationId_externalId: { organizationId: tn.id, externalId: userId } },
      });
      assert.ok(endUser.verifiedAt, 'the backend vouches for its user');

      const agent = await createAgent(t.services, tn.id);
      const login = await loginAgent(t.url, agent.user.email, agent.password);
      const socket = await connectSocket(t.url, { cookie: login.cookie });
      try {
        await emitAck(socket, 'join_queue');
        const queued = nextEvent<{ conversation_id: string; content: string }>(
          socket,
          'conversation_updated',
          (e) => e.conversation_id === conv.conversation_id,
        );
        const path = `/api/v1/relay/conversations/${String(conv.conversation_id)}/messages`;
        const msg = JSON.stringify({
          role: 'visitor',
          content: 'Hallo aus dem Backend — 你好',
          client_msg_id: 'c-1',
        });
        const sent = await call(tn, 'POST', path, { body: msg });
        assert.equal(sent.status, 201, JSON.stringify(sent.body));
        const data = sent.body.data as Record<string, unknown>;
        assert.equal(data.sender_type, 'end_user');
        assert.equal(data.role, 'visitor');
        assert.equal(data.content, 'Hallo aus dem Backend — 你好');
        assert.equal((await queued).content, 'Hallo aus dem Backend — 你好');
        const dup = await call(tn, 'POST', path, { body: msg });
        assert.equal(dup.status, 200);
        assert.equal((dup.body.data as Record<string, unknown>).id, data.id);

        await refused(
          // `agent` is not available through the signed API yet (bot and system are: backend.test.ts).
          call(tn, 'POST', path, { body: JSON.stringify({ role: 'agent', content: 'Hi' }) }),
          400,
          'request/invalid',
        );
        await refused(
          call(tn, 'POST', path, { body: JSON.stringify({ role: 'visitor', content: '  ' }) }),
          400,
          'request/invalid',
        );
        // Another tenant's conversation does not exist for this one.
        const other = await provision();
        await refused(
          call(other, 'POST', path, { body: JSON.stringify({ role: 'visitor', content: 'x' }) }),
          404,
          'conversation/not_found',
        );
      } finally {
        socket.disconnect();
      }
    });

    if (full) {
      test('a nonce used on one node is refused on another (Redis)', async () => {
        const second = await startApp(await mode.open(), { redis: true, env, now: () => clock });
        try {
          const tn = await provision();
          const nonce = `multinode_${randomBytes(8).toString('hex')}`;
          const usage = '/api/v1/relay/usage';
          assert.equal((await call(tn, 'GET', usage, { nonce })).status, 200);
          await refused(call(tn, 'GET', usage, { nonce, url: second.url }), 401, 'hmac/replayed_nonce');
        } finally {
          await second.stop();
          await second.database.close();
        }
      });
    }
  });
}
