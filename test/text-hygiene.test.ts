// The attack: a NUL byte or half of a UTF-16 surrogate pair in any string. PostgreSQL stores
// neither (22021; Prisma cannot encode a lone surrogate), so each one used to be a 500 with a full
// stack logged at error level: an unauthenticated log flood. Every public input, every agent write
// that takes names or tags, and every socket event must answer 400 / `request/invalid` naming the
// field, store nothing and log nothing at error level. An unexpected error still logs one line at
// error level with the request id, and its stack only at debug.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { Socket } from 'socket.io-client';
import request from 'supertest';
import { createApp, type App } from '../src/app.js';
import { openPostgres, type Database } from '../src/shared/db.js';
import { userHash } from '../src/tenants/identity.js';
import { jsonText, text } from '../src/shared/validation.js';
import { testConfig } from './helpers/config.js';
import { testDatabaseUrl } from './helpers/db.js';
import { createAgent, createConversation, createOrg } from './helpers/factories.js';
import { loginAgent } from './helpers/http.js';
import { connectSocket, emitAck, eventually, record, type Ack } from './helpers/sockets.js';

const NUL = 'x\u0000y';
const LONE_HIGH = 'x\ud800y';
const BAD: [string, string][] = [
  ['a NUL', NUL],
  ['a lone surrogate', LONE_HIGH],
];
const REJECTED = /must not contain (NUL characters|unpaired UTF-16 surrogates)/;

type LogLine = { level: number; msg: string; reqId?: string; err?: Record<string, unknown> };
const ERROR = 50;
const DEBUG = 20;

describe('text hygiene (unit)', () => {
  test('text() takes any well-formed string and refuses NUL and every lone surrogate', () => {
    for (const ok of [
      '',
      'plain',
      'émoji 😀 and 𝄞',
      '\ud83d\ude00',
      'tab\tand\nnewline',
      '\u0001 other controls',
    ])
      assert.equal(text().safeParse(ok).success, true, JSON.stringify(ok));
    for (const bad of [
      '\u0000',
      'a\u0000',
      '\ud800',
      'a\ud800',
      '\udc00a',
      '\ude00\ud83d',
      '\ud83d\ud83d\ude00x\udfff',
    ]) {
      const r = text().trim().min(1).max(3).safeParse(bad);
      assert.equal(r.success, false, JSON.stringify(bad));
      // The hygiene check runs first and stops the others: its message is the one reported.
      assert.equal(r.error!.issues.length, 1);
      assert.match(r.error!.issues[0]!.message, REJECTED);
    }
  });

  test('jsonText() finds the bad string anywhere in a JSON value, keys included', () => {
    assert.equal(jsonText.safeParse({ a: [1, 'ok', { b: null, c: '😀' }], d: true }).success, true);
    const deep = jsonText.safeParse({ a: [1, 'ok', { b: null, c: LONE_HIGH }] });
    assert.deepEqual(deep.error?.issues[0]?.path, ['a', 2, 'c']);
    assert.equal(jsonText.safeParse({ ['k' + NUL]: 1 }).success, false);
    // Deep nesting is refused without recursing through it (no stack overflow, no 500).
    const nested = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    assert.match(jsonText.safeParse(nested).error!.issues[0]!.message, /must not nest deeper than 32 levels/);
  });
});

describe('NUL and lone surrogates are refused at every input (PostgreSQL)', () => {
  let database: Database;
  let app: App;
  let url: string;
  const logLines: LogLine[] = [];
  const sockets: Socket[] = [];

  before(async () => {
    database = openPostgres(testDatabaseUrl(), { poolSize: 5 });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
        done();
      },
    });
    app = await createApp({
      config: testConfig(),
      logger: pino({ level: 'debug' }, sink),
      database,
    });
    await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const s of sockets) s.disconnect();
    await app.close();
    await new Promise<void>((resolve) => app.server.close(() => resolve()));
    await database.close();
  });

  const errorLines = () => logLines.filter((l) => l.level >= ERROR);

  /** An organization with an admin signed in, a web conversation and a mobile channel. */
  async function world() {
    const o = await createOrg(app.services);
    const admin = await createAgent(app.services, o.org.id, { role: 'admin' });
    const session = await loginAgent(url, admin.user.email, admin.password);
    const conv = await createConversation(app.services, { organizationId: o.org.id, channelId: o.channelId });
    const as = (method: 'post' | 'patch' | 'put', path: string, body: object) =>
      request(url)[method](path).set('Cookie', session.cookie).set('X-CSRFToken', session.csrf).send(body);
    const mobile = await as('post', '/api/mobile/channels', { bot_id: o.botId });
    assert.equal(mobile.status, 201, JSON.stringify(mobile.body));
    return { ...o, admin, session, conv, as, mobileChannelId: mobile.body.id as string };
  }

  /** Everything the organization has stored that these inputs could write. */
  async function stored(orgId: string) {
    const p = database.prisma;
    const where = { where: { organizationId: orgId } };
    return {
      endUsers: await p.endUser.findMany({ ...where, select: { externalId: true, displayName: true } }),
      conversations: await p.conversation.count(where),
      messages: await p.message.count(where),
      sessions: await p.conversationSession.findMany({ ...where, select: { status: true, tags: true } }),
      users: await p.user.findMany({ ...where, select: { email: true, displayName: true, role: true } }),
      apiKeys: await p.apiKey.count(where),
      bots: await p.bot.findMany({ ...where, select: { name: true } }),
      embedTokens: await p.embedToken.count(where),
      devices: await p.deviceToken.count(where),
      pushCredentials: await p.pushCredential.count(where),
    };
  }

  function assertRefused(
    res: { status: number; body: Record<string, unknown> },
    param: string,
    what: string,
    reason = REJECTED,
  ) {
    assert.equal(res.status, 400, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error, 'request/invalid', what);
    assert.equal(res.body.param, param, what);
    assert.match(
      String(res.body.message),
      new RegExp(`^Invalid parameter '${param.replaceAll('.', '\\.')}': `),
      what,
    );
    assert.match(String(res.body.message), reason, what);
  }

  test('the widget page, its history and its profile refuse them in every parameter', async () => {
    const w = await world();
    const before = await stored(w.org.id);
    const errorsBefore = errorLines().length;
    // A random visitor id, as the widget makes: the id needs no user_hash, so each request below is
    // refused for the one bad parameter only.
    const visitor = `v_${randomBytes(16).toString('hex')}`;
    const good = { embed_token: w.embedToken, session_id: visitor, customer_name: 'Ann' };
    const query = (q: Record<string, string>) =>
      Object.entries(q)
        .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
        .join('&');

    for (const param of ['embed_token', 'session_id', 'user_hash', 'customer_name', 'title', 'origin']) {
      const res = await request(url).get(`/chat-widget?${query({ ...good, [param]: NUL })}`);
      assertRefused(res, param, `GET /chat-widget ${param}`);
    }
    // A query string is UTF-8: the bytes of a lone surrogate (WTF-8) decode to U+FFFD, which is
    // valid text, so the page opens; what matters is that nothing answers 500.
    const wtf8 = await request(url).get(
      `/chat-widget?${query({ embed_token: good.embed_token, session_id: good.session_id })}&customer_name=x%ED%A0%80y`,
    );
    assert.equal(wtf8.status, 200, wtf8.text);
    const history = await request(url).get(
      `/chat-widget/history/${w.conv.conversation.id}?external_id=${encodeURIComponent(NUL)}`,
    );
    assertRefused(history, 'external_id', 'widget history');
    const historyHash = await request(url).get(
      `/chat-widget/history/${w.conv.conversation.id}?external_id=${w.conv.externalId}&user_hash=${encodeURIComponent(NUL)}`,
    );
    assertRefused(historyHash, 'user_hash', 'widget history user_hash');
    const wtf8History = await request(url).get(
      `/chat-widget/history/${w.conv.conversation.id}?external_id=x%ED%A0%80`,
    );
    assert.equal(wtf8History.status, 403);

    const profile = { embed_token: w.embedToken, session_id: w.conv.externalId, customer_name: 'Bob' };
    for (const [what, bad] of BAD) {
      for (const param of ['embed_token', 'session_id', 'user_hash', 'customer_name'] as const) {
        const res = await request(url)
          .post('/chat-widget/profile')
          .send({ ...profile, [param]: bad });
        assertRefused(res, param, `profile ${param} with ${what}`);
      }
    }

    const after = await stored(w.org.id);
    // Only the one well-formed visit above was stored (its name has U+FFFD where the bytes were).
    assert.deepEqual(
      after.endUsers.filter((u) => u.externalId !== visitor),
      before.endUsers,
    );
    assert.equal(after.endUsers.find((u) => u.externalId === visitor)?.displayName, 'x\ufffd\ufffd\ufffdy');
    assert.deepEqual(errorLines().slice(errorsBefore), []);
  });

  test('native open and device registration refuse them in every string', async () => {
    const w = await world();
    const before = await stored(w.org.id);
    const errorsBefore = errorLines().length;
    // The app's own user id with a queue it picks: signed by the tenant's backend, as it must be.
    const open = {
      channel_id: w.mobileChannelId,
      external_id: 'user-1',
      user_hash: userHash(w.tenantSecret, 'user-1', 'eu'),
      display_name: 'Ann',
      routing_key: 'eu',
    };
    const device = {
      conversation_id: w.conv.conversation.id,
      external_id: w.conv.externalId,
      platform: 'fcm',
      token: 'f'.repeat(40),
    };
    for (const [what, bad] of BAD) {
      for (const param of ['external_id', 'user_hash', 'display_name', 'routing_key'] as const) {
        const res = await request(url)
          .post('/api/mobile/conversations')
          .send({ ...open, [param]: bad });
        assertRefused(res, param, `native open ${param} with ${what}`);
      }
      for (const param of ['external_id', 'user_hash', 'token'] as const) {
        for (const platform of ['fcm', 'apns']) {
          const res = await request(url)
            .post('/api/mobile/devices')
            .send({ ...device, platform, [param]: bad });
          assertRefused(res, param, `device ${platform} ${param} with ${what}`);
        }
      }
    }
    assert.deepEqual(await stored(w.org.id), before);
    assert.deepEqual(errorLines().slice(errorsBefore), []);
    // The well-formed requests the probes start from are accepted: each 400 above was for its one field.
    const opened = await request(url).post('/api/mobile/conversations').send(open);
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
  });

  test('sign-in refuses them in the email and the password (JSON and form)', async () => {
    const w = await world();
    const errorsBefore = errorLines().length;
    const page = await fetch(`${url}/auth/login`);
    const cookie = page.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(await page.text())![1]!;
    for (const [what, bad] of BAD) {
      for (const param of ['email', 'password'] as const) {
        const body = { email: w.admin.user.email, password: w.admin.password, [param]: bad };
        const res = await request(url)
          .post('/auth/login')
          .set('Cookie', cookie)
          .set('X-CSRFToken', csrf)
          .set('Accept', 'application/json')
          .send(body);
        assert.equal(res.status, 400, `login ${param} with ${what}: ${res.status} ${res.text}`);
        assert.equal(res.body.error, 'request/invalid');
        assert.match(res.body.message, new RegExp(`^Invalid parameter '${param}': `));
        assert.match(res.body.message, REJECTED);
      }
    }
    // A form post (the login page itself): the page is shown again with the reason, no 500.
    const form = await request(url)
      .post('/auth/login')
      .set('Cookie', cookie)
      .type('form')
      .send(`_csrf=${encodeURIComponent(csrf)}&email=a%00b%40example.com&password=whatever`);
    assert.equal(form.status, 400, form.text);
    assert.match(form.text, /Invalid parameter &#39;email&#39;|Invalid parameter 'email'/);
    assert.deepEqual(errorLines().slice(errorsBefore), []);
  });

  test('agent writes that take names and tags refuse them', async () => {
    const w = await world();
    const { as } = w;
    const id = w.conv.conversation.id;
    const before = await stored(w.org.id);
    const errorsBefore = errorLines().length;
    const member = {
      email: `new-${Date.now()}@example.com`,
      password: 'long-enough-pw',
      display_name: 'New',
    };
    const cases: [string, () => Promise<request.Response>, string, RegExp?][] = [];
    for (const [what, bad] of BAD) {
      cases.push(
        [
          `tags add with ${what}`,
          () => as('post', `/api/conversations/${id}/tags`, { add: ['ok', bad] }),
          'add.1',
        ],
        [
          `tags remove with ${what}`,
          () => as('post', `/api/conversations/${id}/tags`, { remove: [bad] }),
          'remove.0',
        ],
        [
          `resolve tags with ${what}`,
          () => as('post', `/api/conversations/${id}/resolve`, { tags: [bad] }),
          'tags.0',
        ],
        [
          `team name with ${what}`,
          () => as('post', '/api/team', { ...member, display_name: bad }),
          'display_name',
        ],
        [
          `team email with ${what}`,
          () => as('post', '/api/team', { ...member, email: `a${bad}@example.com` }),
          'email',
          // The address format refuses it first; the message still names the field.
          /must be an email address/,
        ],
        [
          `team password with ${what}`,
          () => as('post', '/api/team', { ...member, password: `long-enough${bad}` }),
          'password',
        ],
        [
          `rename member with ${what}`,
          () => as('patch', `/api/team/${w.admin.user.id}`, { display_name: bad }),
          'display_name',
        ],
        [`api key name with ${what}`, () => as('post', '/api/api-keys', { name: bad }), 'name'],
        [`bot name with ${what}`, () => as('post', '/api/bots', { name: bad }), 'name'],
        [`bot rename with ${what}`, () => as('patch', `/api/bots/${w.botId}`, { name: bad }), 'name'],
        [
          `embed token name with ${what}`,
          () => as('post', '/api/embed-tokens', { bot_id: w.botId, name: bad }),
          'name',
        ],
        [
          `embed token origin with ${what}`,
          () =>
            as('post', '/api/embed-tokens', {
              bot_id: w.botId,
              name: 'Site',
              allowed_origins: [`https://a${bad}.com`],
            }),
          'allowed_origins.0',
        ],
        [
          `fcm server key with ${what}`,
          () =>
            as('put', `/api/mobile/channels/${w.mobileChannelId}/push/fcm`, {
              server_key: `k`.repeat(30) + bad,
            }),
          'server_key',
        ],
        [
          `fcm service account JSON with ${what}`,
          () =>
            as('put', `/api/mobile/channels/${w.mobileChannelId}/push/fcm`, {
              service_account_json: { project_id: 'my-project', extra: { note: bad } },
            }),
          'service_account_json.extra.note',
        ],
      );
    }
    for (const [what, call, param, reason] of cases) assertRefused(await call(), param, what, reason);
    assert.deepEqual(await stored(w.org.id), before);
    assert.deepEqual(errorLines().slice(errorsBefore), []);
  });

  test('socket events refuse them with the error event and a request/invalid ack', async () => {
    const w = await world();
    const id = w.conv.conversation.id;
    const visitor = await connectSocket(url);
    const agent = await connectSocket(url, { cookie: w.session.cookie });
    sockets.push(visitor, agent);
    const visitorErrors = record<{ message: string }>(visitor, 'error');
    const joined = await emitAck(visitor, 'join_conversation', {
      conversation_id: id,
      external_id: w.conv.externalId,
    });
    assert.equal(joined.ok, true, JSON.stringify(joined));
    assert.equal((await emitAck(agent, 'join_conversation', { conversation_id: id })).ok, true);
    const agentReceived = record(agent, 'message_received');
    const before = await stored(w.org.id);
    const errorsBefore = errorLines().length;

    const send = { conversation_id: id, sender_type: 'end_user', external_id: w.conv.externalId };
    const button = { label: 'Yes', value: 'yes' };
    const events: [string, Socket, string, Record<string, unknown>, string][] = [];
    for (const [what, bad] of BAD) {
      events.push(
        [
          `join external_id with ${what}`,
          visitor,
          'join_conversation',
          { conversation_id: id, external_id: bad },
          'external_id',
        ],
        [
          `join user_hash with ${what}`,
          visitor,
          'join_conversation',
          { conversation_id: id, external_id: w.conv.externalId, user_hash: bad },
          'user_hash',
        ],
        [
          `send content with ${what}`,
          visitor,
          'send_message',
          { ...send, content: `hello ${bad}` },
          'content',
        ],
        [
          `agent send content with ${what}`,
          agent,
          'send_message',
          { conversation_id: id, sender_type: 'agent', content: bad },
          'content',
        ],
        [
          `send external_id with ${what}`,
          visitor,
          'send_message',
          { ...send, content: 'hi', external_id: bad },
          'external_id',
        ],
        [
          `send user_hash with ${what}`,
          visitor,
          'send_message',
          { ...send, content: 'hi', user_hash: bad },
          'user_hash',
        ],
        [
          `send client_msg_id with ${what}`,
          visitor,
          'send_message',
          { ...send, content: 'hi', client_msg_id: bad },
          'client_msg_id',
        ],
        [
          `button label with ${what}`,
          agent,
          'send_message',
          {
            conversation_id: id,
            sender_type: 'agent',
            content: 'Pick one',
            content_type: 'quick_button',
            rich_media: { buttons: [button, { label: bad, value: 'no' }] },
          },
          'rich_media.buttons.1.label',
        ],
        [
          `carousel subtitle with ${what}`,
          agent,
          'send_message',
          {
            conversation_id: id,
            sender_type: 'agent',
            content_type: 'carousel',
            rich_media: { cards: [{ title: 'Card', subtitle: bad, buttons: [button] }] },
          },
          'rich_media.cards.0.subtitle',
        ],
        [
          `image alt with ${what}`,
          visitor,
          'send_message',
          { ...send, content_type: 'image', rich_media: { url: 'https://example.com/a.png', alt: bad } },
          'rich_media.alt',
        ],
        [
          `rich media on text with ${what}`,
          visitor,
          'send_message',
          { ...send, content: 'hi', rich_media: { note: bad } },
          'rich_media.note',
        ],
        [
          `typing external_id with ${what}`,
          visitor,
          'user_typing',
          { conversation_id: id, sender_type: 'end_user', external_id: bad },
          'external_id',
        ],
        [
          `typing user_hash with ${what}`,
          visitor,
          'user_typing',
          { conversation_id: id, sender_type: 'end_user', external_id: w.conv.externalId, user_hash: bad },
          'user_hash',
        ],
        [
          `mark_read external_id with ${what}`,
          visitor,
          'mark_read',
          { conversation_id: id, message_ids: [id], external_id: bad },
          'external_id',
        ],
        [
          `mark_read user_hash with ${what}`,
          visitor,
          'mark_read',
          { conversation_id: id, message_ids: [id], external_id: w.conv.externalId, user_hash: bad },
          'user_hash',
        ],
      );
    }
    for (const [what, socket, event, payload, param] of events) {
      const errors = socket === visitor ? visitorErrors.length : 0;
      const ack: Ack = await emitAck(socket, event, payload);
      assert.equal(ack.ok, false, `${what}: ${JSON.stringify(ack)}`);
      assert.equal(ack.error, 'request/invalid', `${what}: ${JSON.stringify(ack)}`);
      assert.match(
        String(ack.message),
        new RegExp(`^Invalid parameter '${param.replaceAll('.', '\\.')}': `),
        what,
      );
      assert.match(String(ack.message), REJECTED, what);
      if (socket === visitor) {
        assert.equal(visitorErrors.length, errors + 1, `${what}: one error event`);
        assert.equal(visitorErrors.at(-1)!.message, ack.message);
      }
    }
    // The same payload as a JSON string (some native clients send that) is refused the same way.
    const asString = await emitAck(visitor, 'send_message', JSON.stringify({ ...send, content: LONE_HIGH }));
    assert.equal(asString.error, 'request/invalid');

    assert.deepEqual(await stored(w.org.id), before);

    // Still joined and working: a well-formed message goes through after all that.
    const ok = await emitAck(visitor, 'send_message', { ...send, content: 'still here 😀' });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    await eventually(() => agentReceived.length > 0);
    assert.deepEqual(
      agentReceived.map((m) => m.content),
      ['still here 😀'],
    );
    assert.deepEqual(errorLines().slice(errorsBefore), []);
  });

  /** A 500 from a service failing unexpectedly, with every log line of that request. */
  async function unexpectedFailure() {
    const w = await world();
    const conversations = app.services.conversations;
    const original = conversations.list;
    conversations.list = () => Promise.reject(new Error('boom: something unexpected\nacross lines'));
    const from = logLines.length;
    try {
      const res = await request(url).get('/api/conversations/').set('Cookie', w.session.cookie);
      assert.equal(res.status, 500);
      assert.deepEqual(res.body, { error: 'internal', message: 'Internal server error' });
      const reqId = res.headers['x-request-id'];
      assert.ok(reqId);
      // The access log line is written when the response finishes.
      await eventually(() =>
        logLines.slice(from).some((l) => l.reqId === reqId && l.msg !== 'request failed'),
      );
      return logLines.slice(from).filter((l) => l.reqId === reqId);
    } finally {
      conversations.list = original;
    }
  }

  test('an unexpected error logs one line at error level with the request id; the stack only at debug', async () => {
    const lines = await unexpectedFailure();
    const failed = lines.filter((l) => l.msg === 'request failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.level, ERROR);
    assert.deepEqual(failed[0]!.err, { type: 'Error', message: 'boom: something unexpected across lines' });
    // The error's own stack is nowhere at error level; the whole error, stack included, is at debug.
    for (const l of lines.filter((x) => x.level >= ERROR))
      assert.doesNotMatch(JSON.stringify(l), /boom[^"]*\\n\s+at /);
    const debug = lines.filter((l) => l.level === DEBUG && l.err?.stack);
    assert.equal(debug.length, 1);
    assert.match(String(debug[0]!.err!.stack), /^Error: boom[^]*\n\s+at /);
  });

  test('the access log of a 500 adds no second error line with a stack', async () => {
    const lines = await unexpectedFailure();
    assert.deepEqual(
      lines.filter((l) => l.level >= ERROR).map((l) => l.msg),
      ['request failed'],
    );
    for (const l of lines.filter((x) => x.level >= ERROR)) assert.equal(l.err?.stack, undefined);
  });
});
