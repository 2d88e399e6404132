// A node whose database goes away, as seen by its users: the REST API and the socket answer
// `unavailable` (503 with Retry-After; the ack with retry_after), the outage is logged once, failed
// sends cost no flood quota, and everything works again when the database is back, with no
// restart. A commit whose answer is lost is found by its id and broadcast once.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import request from 'supertest';
import type { Socket } from 'socket.io-client';
import { createApp, type App } from '../src/app.js';
import type { Database, Query } from '../src/shared/db.js';
import { testConfig } from './helpers/config.js';
import { createAgent, createConversation, createOrg } from './helpers/factories.js';
import { loginAgent, type AgentSession } from './helpers/http.js';
import { servicesFor } from './helpers/services.js';
import { connectSocket, emitAck, eventually, nextEvent, record } from './helpers/sockets.js';
import { proxiedTestDatabase, type LogLine, type ProxiedDatabase } from './helpers/proxied-db.js';
import type { TcpProxy } from './helpers/tcp-proxy.js';

const FLOOD_LIMIT = 6;

let db: ProxiedDatabase;
let proxy: TcpProxy;
let direct: Database;
let logLines: LogLine[];
let app: App;
let url: string;
const sockets: Socket[] = [];

before(async () => {
  db = await proxiedTestDatabase();
  ({ proxy, direct, logLines } = db);
  const config = testConfig({
    END_USER_RATE_LIMIT: String(FLOOD_LIMIT),
    END_USER_RATE_WINDOW_S: '600',
  });
  app = await createApp({ config, logger: db.logger, database: db.proxied });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

after(async () => {
  for (const s of sockets) s.disconnect();
  proxy.set('pass');
  await app.close();
  await new Promise<void>((resolve) => app.server.close(() => resolve()));
  await db.close();
});

/** An organization with an agent signed in and a visitor joined, both on sockets. */
async function world() {
  const { services } = servicesFor(direct);
  const { org, channelId, embedToken } = await createOrg(services);
  const agent = await createAgent(services, org.id);
  const conv = await createConversation(services, { organizationId: org.id, channelId });
  const session: AgentSession = await loginAgent(url, agent.user.email, agent.password);
  const agentSocket = await connectSocket(url, { cookie: session.cookie });
  const visitor = await connectSocket(url);
  sockets.push(agentSocket, visitor);
  const id = conv.conversation.id;
  assert.equal((await emitAck(agentSocket, 'join_conversation', { conversation_id: id })).ok, true);
  const joined = await emitAck(visitor, 'join_conversation', {
    conversation_id: id,
    external_id: conv.externalId,
  });
  assert.equal(joined.ok, true);
  const send = (content: string, clientMsgId?: string) =>
    emitAck(visitor, 'send_message', {
      conversation_id: id,
      content,
      sender_type: 'end_user',
      ...(clientMsgId ? { client_msg_id: clientMsgId } : {}),
    });
  const stored = () =>
    direct.prisma.message.findMany({ where: { conversationId: id }, orderBy: { seq: 'asc' } });
  assert.equal((await emitAck(agentSocket, 'join_queue')).ok, true);
  /**
   * The first message: a session opens, and the queue hears of it with its row, which the node
   * reads after the commit; once heard, the node is quiet again and a test may cut the database.
   */
  const open = async (content: string, clientMsgId: string) => {
    const heard = nextEvent<{ conversation_id: string }>(
      agentSocket,
      'conversation_updated',
      (e) => e.conversation_id === id,
    );
    const ack = await send(content, clientMsgId);
    await heard;
    return ack;
  };
  return { id, session, agentSocket, visitor, send, open, stored, embedToken };
}

const logged = (re: RegExp, level?: number) =>
  logLines.filter((l) => re.test(l.msg) && (level === undefined || l.level === level));

test('a database outage answers unavailable, is logged once, costs no flood quota, and heals without a restart', async () => {
  const w = await world();
  assert.equal((await w.open('before', 'm-0')).ok, true);
  const visitorErrors = record(w.visitor, 'error');
  const errorsBefore = logged(/request failed|socket handler failed/).length;

  proxy.set('refuse');
  const rest = await request(url).get('/api/conversations').set('Cookie', w.session.cookie);
  assert.equal(rest.status, 503);
  assert.equal(rest.headers['retry-after'], '3');
  assert.equal(rest.body.error, 'unavailable');
  assert.match(rest.body.message, /try again/);
  // The widget's page, in its iframe: a page that says so and reloads itself, not JSON.
  const page = await request(url)
    .get(`/chat-widget?embed_token=${w.embedToken}&session_id=v_${'a'.repeat(32)}`)
    .set('Accept', 'text/html');
  assert.equal(page.status, 503);
  assert.match(page.text, /briefly unavailable/);
  assert.match(page.text, /http-equiv="refresh" content="3"/);
  assert.equal(page.headers['x-frame-options'], undefined);

  const ids = ['m-1', 'm-2', 'm-3', 'm-4', 'm-5'];
  for (const id of ids) {
    const ack = await w.send(`during ${id}`, id);
    assert.deepEqual(
      { ok: ack.ok, error: ack.error, retry_after: ack.retry_after },
      { ok: false, error: 'unavailable', retry_after: 3 },
    );
  }
  await eventually(() => visitorErrors.length === ids.length);
  assert.equal((await request(url).get('/readyz')).status, 503);

  proxy.set('pass');
  // The same sends again: five failures and the first message make six, the limit, so had the
  // failures been charged these would be dropped.
  for (const id of ids) {
    const ack = await w.send(`during ${id}`, id);
    assert.equal(ack.ok, true, `${id}: ${String(ack.message)}`);
  }
  const over = await w.send('one too many', 'm-6');
  assert.equal(over.error, 'rate_limited');
  assert.equal((await request(url).get('/api/conversations').set('Cookie', w.session.cookie)).status, 200);
  assert.equal((await request(url).get('/readyz')).status, 200);

  assert.deepEqual(
    (await w.stored()).map((m) => [m.seq, m.content]),
    [[1, 'before'], ...ids.map((id, i) => [i + 2, `during ${id}`])],
  );
  // One line when it went, one when it came back; none per failed request.
  assert.equal(logged(/^database unavailable/).length, 1);
  assert.equal(logged(/^database available again/).length, 1);
  assert.equal(logged(/request failed|socket handler failed/).length, errorsBefore);
  assert.deepEqual(
    logLines.filter((l) => l.level >= 50).map((l) => l.msg),
    [],
    'nothing at error level',
  );
});

test('a commit whose answer is lost is found by its id: answered and broadcast once, stored once', async () => {
  const w = await world();
  assert.equal((await w.open('opens the session', 'x-0')).ok, true);
  const agentSees = record<{ id: string; content: string; seq: number }>(w.agentSocket, 'message_received');

  // The statement reaches PostgreSQL and commits; its answer is dropped on the way back.
  proxy.set('drop-replies');
  const pending = w.send('no client_msg_id here');
  await eventually(async () => (await w.stored()).length === 2);
  // The connection then dies, as it would; the node asks what committed before writing again.
  proxy.set('pass');
  proxy.cut();
  const ack = await pending;
  assert.equal(ack.ok, true, String(ack.message));
  assert.equal(ack.duplicate, false);
  assert.deepEqual(
    (await w.stored()).map((m) => [m.seq, m.content]),
    [
      [1, 'opens the session'],
      [2, 'no client_msg_id here'],
    ],
  );
  await eventually(() => agentSees.some((m) => m.content === 'no client_msg_id here'));
  assert.equal((await w.send('after', 'x-2')).ok, true);
  await eventually(() => agentSees.some((m) => m.content === 'after'));
  assert.deepEqual(
    agentSees.map((m) => [m.seq, m.content]),
    [
      [2, 'no client_msg_id here'],
      [3, 'after'],
    ],
  );
  assert.equal(logged(/message batch lost its answer; the rest are sent one by one/).length, 1);
});

test('a commit whose answer is lost while the database stays away: the sender retries and it is broadcast then', async () => {
  const w = await world();
  assert.equal((await w.open('opens the session', 'y-0')).ok, true);
  const agentSees = record<{ id: string; content: string }>(w.agentSocket, 'message_received');

  proxy.set('drop-replies');
  const first = await w.send('retried', 'y-1');
  // The query timed out and the lookup could not be answered either: the sender is told to retry.
  assert.equal(first.error, 'unavailable');
  assert.equal((await w.stored()).filter((m) => m.content === 'retried').length, 1);
  assert.equal(agentSees.length, 0);

  proxy.set('pass');
  proxy.cut();
  const retry = await w.send('retried', 'y-1');
  assert.equal(retry.ok, true);
  assert.equal(retry.duplicate, true);
  await eventually(() => agentSees.some((m) => m.content === 'retried'));
  assert.equal((await w.stored()).filter((m) => m.content === 'retried').length, 1);
});

test("a visitor's join while the database is away answers unavailable, and joins once it is back", async () => {
  const w = await world();
  assert.equal((await w.open('before the outage', 'j-0')).ok, true);
  // The visitor comes back on a new socket (a reload) while the database is away: the join's
  // reads (the end user's access, where the conversation stands; prepared statements on the
  // pool) cannot be answered, and the failure is the driver's, told apart as an outage.
  const { externalId } = await direct.prisma.endUser.findFirstOrThrow({
    where: { conversations: { some: { id: w.id } } },
    select: { externalId: true },
  });
  const again = await connectSocket(url);
  sockets.push(again);
  proxy.set('refuse');
  const refused = await emitAck(again, 'join_conversation', {
    conversation_id: w.id,
    external_id: externalId,
  });
  assert.deepEqual(
    { ok: refused.ok, error: refused.error, retry_after: refused.retry_after },
    { ok: false, error: 'unavailable', retry_after: 3 },
  );
  const heard = record<{ content: string }>(again, 'message_received');

  proxy.set('pass');
  const joined = await emitAck(again, 'join_conversation', {
    conversation_id: w.id,
    external_id: externalId,
    last_seq: 0,
  });
  assert.equal(joined.ok, true, String(joined.message));
  assert.equal(joined.missed, 1);
  await eventually(() => heard.some((m) => m.content === 'before the outage'));
  assert.equal((await w.send('after the outage', 'j-1')).ok, true);
  await eventually(() => heard.some((m) => m.content === 'after the outage'));
});

test('a transaction through the driver commits whole or not at all; a connection lost inside it is closed, not pooled again', async () => {
  const w = await world();
  const openSession = (q: Query) =>
    q(
      't_open_session',
      `INSERT INTO conversation_sessions (id, organization_id, conversation_id, created_at, updated_at)
       SELECT gen_random_uuid(), organization_id, id, now(), now() FROM conversations WHERE id = $1::uuid`,
      [w.id],
    );
  const sessions = () => direct.prisma.conversationSession.count({ where: { conversationId: w.id } });

  await assert.rejects(
    db.proxied.transaction(async (q) => {
      await openSession(q);
      throw new Error('changed my mind');
    }),
    /changed my mind/,
  );
  assert.equal(await sessions(), 0);

  // The connection dies between two statements: the driver reports it on the idle client (a crash,
  // unheard), the next statement fails, and nothing of the transaction is committed.
  await assert.rejects(
    db.proxied.transaction(async (q) => {
      await openSession(q);
      proxy.cut();
      await new Promise((r) => setTimeout(r, 200));
      await q('t_after_cut', 'SELECT 1', []);
    }),
  );
  assert.equal(await sessions(), 0);

  // The pool hands out a working connection again.
  await db.proxied.transaction(async (q) => openSession(q));
  assert.equal(await sessions(), 1);
});

test('the pool keeps its connections through a quiet spell: traffic that returns finds the same backends', async () => {
  // Both of the pool's connections in use at once, then idle for longer than node-postgres'
  // default idle timeout (10 s).
  const pids = async () =>
    new Set(
      (
        await Promise.all(
          [1, 2].map(() =>
            direct.query<{ pid: number }>('pool_pid', 'SELECT pg_backend_pid() AS pid, pg_sleep(0.1)', []),
          ),
        )
      ).map((rows) => rows[0]!.pid),
    );
  const before = await pids();
  assert.equal(before.size, 2);
  await new Promise((r) => setTimeout(r, 11_000));
  assert.equal(direct.poolState!().total, 2);
  assert.deepEqual(await pids(), before);
});

test('reads while the database is away answer unavailable, record nothing, and are recorded once it is back', async () => {
  const w = await world();
  const question = await w.open('a question', 'r-0');
  const answer = await emitAck(w.agentSocket, 'send_message', {
    conversation_id: w.id,
    content: 'an answer',
    sender_type: 'agent',
  });
  assert.equal(question.ok && answer.ok, true);
  const idOf = (ack: { message?: unknown }) => (ack.message as { id: string }).id;
  const [q, a] = [idOf(question), idOf(answer)];
  const visitorHeard = record<{ message_ids: string[]; reader_type: string }>(w.visitor, 'messages_read');
  // Both sides read at once (one statement for the two): both are told, and nothing is stored.
  const read = () =>
    Promise.all([
      emitAck(w.agentSocket, 'mark_read', { conversation_id: w.id, message_ids: [q] }),
      emitAck(w.visitor, 'mark_read', { conversation_id: w.id, message_ids: [a] }),
    ]);
  const readBy = async () => (await w.stored()).map((m) => Object.keys(m.readBy as object).length);

  proxy.set('refuse');
  for (const ack of await read()) {
    assert.deepEqual(
      { ok: ack.ok, error: ack.error, retry_after: ack.retry_after },
      { ok: false, error: 'unavailable', retry_after: 3 },
    );
  }
  proxy.set('pass');
  assert.deepEqual(await readBy(), [0, 0], 'nothing recorded while it was away');

  const [byAgent, byVisitor] = await read();
  assert.deepEqual([byAgent.ok, byAgent.message_ids], [true, [q]]);
  assert.deepEqual([byVisitor.ok, byVisitor.message_ids], [true, [a]]);
  assert.deepEqual(await readBy(), [1, 1]);
  await eventually(() => visitorHeard.some((e) => e.reader_type === 'agent' && e.message_ids[0] === q));
});
