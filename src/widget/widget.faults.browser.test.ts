// The widget on a bad day, in real headless Chromium: a database outage while the visitor types
// (sends are retried until stored, each exactly once), live messages lost on their way (a gap,
// noticed by seq and filled), `resync`, and live traffic while a rejoin is still under way.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import type { Socket } from 'socket.io-client';
import { launchBrowser } from '../../test/helpers/browser.js';
import { loginAgent, startApp } from '../../test/helpers/app.js';
import { dbModes, testDatabaseUrl } from '../../test/helpers/db.js';
import { createAgent, createOrg, message } from '../../test/helpers/factories.js';
import { connectSocket, emitAck, eventually, record } from '../../test/helpers/sockets.js';
import { loseNext } from '../../test/helpers/faults.js';
import { startTcpProxy } from '../../test/helpers/tcp-proxy.js';
import type { RealtimeSocket } from '../realtime/realtime.types.js';
import { openPostgres, type Database } from '../shared/db.js';
import { rootDir } from '../shared/paths.js';

const artifacts = path.join(rootDir, 'test', 'artifacts');
const T = 15_000;

type Received = { conversation_id: string; sender_type: string; content: string };
type ServerSocket = RealtimeSocket;

/** The visitor's widget sockets on the server: the only ones without an agent's cookie. */
const isVisitor = (s: ServerSocket) => !s.handshake.headers.cookie;

/** A customer page with the snippet, on another origin than the chat server. */
function startHost(appUrl: string, token: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body>
<h1>Shop</h1><script src="${appUrl}/chat-widget/embed.js" data-embed-token="${token()}"></script></body></html>`,
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

type Defer = (close: () => unknown) => void;

/** Closes what a test opened, last opened first, whether or not the test failed. */
function closer(t: TestContext): Defer {
  const stack: (() => unknown)[] = [];
  t.after(async () => {
    while (stack.length) await stack.pop()!();
  });
  return (close) => void stack.push(close);
}

async function widgetFrame(page: Page): Promise<Frame> {
  let frame: Frame | undefined;
  await eventually(() => !!(frame = page.frames().find((f) => f.url().includes('/chat-widget?'))), T);
  await frame!.locator('#cw-input').waitFor({ state: 'attached', timeout: T });
  await page.evaluate(() =>
    (window as unknown as { SwitchboardChat: { open(): void } }).SwitchboardChat.open(),
  );
  await frame!.locator('#cw-input').waitFor({ state: 'visible', timeout: T });
  return frame!;
}

/**
 * An app over `database`, an organization with an admin on a Socket.IO client, a host page with
 * the widget open in Chromium, and the visitor's conversation joined by the agent. Everything is
 * closed after the test.
 */
async function scene(defer: Defer, database: Database, check: Database = database) {
  const app = await startApp(database);
  defer(() => app.stop());
  const { org } = await createOrg(app.services);
  const { user, password, actor } = await createAgent(app.services, org.id, { role: 'admin' });
  const session = await loginAgent(app.url, user.email, password);
  const agent: Socket = await connectSocket(app.url, { cookie: session.cookie });
  defer(() => agent.close());
  let token = '';
  const host = await startHost(app.url, () => token);
  defer(() => new Promise((r) => host.close(r)));
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  token = (
    await app.services.channels.createEmbedToken({
      organizationId: org.id,
      name: 'Web chat',
      allowedOrigins: [hostUrl],
    })
  ).token;
  const launching = launchBrowser();
  defer(async () => (await launching.catch(() => undefined))?.close());
  const browser = await launching;
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${hostUrl}/`);
  let frame = await widgetFrame(page);
  const conversation = await check.prisma.conversation.findFirstOrThrow({
    where: { organizationId: org.id },
  });
  const toAgent = record<Received>(agent, 'message_received');
  assert.equal((await emitAck(agent, 'join_conversation', { conversation_id: conversation.id })).ok, true);

  return {
    app,
    actor,
    context,
    page,
    get frame() {
      return frame;
    },
    /** Reloads the host page: a new widget frame, its history from the server. */
    async reload() {
      await page.reload();
      frame = await widgetFrame(page);
    },
    pageErrors,
    conversationId: conversation.id,
    /** What the agent received from the visitor with this text. */
    atAgent: (content: string) =>
      toAgent.filter((m) => m.sender_type === 'end_user' && m.content === content).length,
    async agentSays(content: string) {
      const ack = await emitAck(agent, 'send_message', {
        conversation_id: conversation.id,
        sender_type: 'agent',
        content,
      });
      assert.equal(ack.ok, true, JSON.stringify(ack));
    },
    async visitorTypes(content: string) {
      await frame.locator('#cw-input').fill(content);
      await frame.locator('#cw-input').press('Enter');
    },
    /** The stored messages the widget shows, top to bottom. */
    shown: () => frame.locator('#cw-log .cw-msg:not(.cw-msg--pending) .cw-text').allTextContents(),
    stored: (content: string) =>
      check.prisma.message.count({ where: { conversationId: conversation.id, content } }),
  };
}

/** `texts` as they appear in `shown`, in its order. */
const inOrder = (shown: string[], texts: string[]) => shown.filter((s) => texts.includes(s));

test('a 5 s database outage: the visitor sees the messages wait and retry; both arrive once', async (t) => {
  const defer = closer(t);
  const pg = new URL(testDatabaseUrl());
  const proxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
  defer(() => proxy.close());
  // The app's pool goes through the proxy; the test reads the database directly.
  const database = openPostgres(proxy.url(testDatabaseUrl()), {
    poolSize: 5,
    timeouts: { connectMs: 2000, statementMs: 2000, queryMs: 3000 },
  });
  defer(() => database.close());
  const direct = await dbModes[0]!.open();
  defer(() => direct.close());
  const s = await scene(defer, database, direct);
  mkdirSync(artifacts, { recursive: true });

  await s.visitorTypes('Before the outage');
  await eventually(() => s.atAgent('Before the outage') === 1, T);

  const first = 'First, during the outage';
  const second = 'Second, during the outage';
  proxy.set('refuse');
  const downAt = Date.now();
  await s.visitorTypes(first);
  await s.visitorTypes(second);
  const pending = s.frame.locator('.cw-msg--pending');
  // The server answers `unavailable`: both wait, say so, and offer to retry now.
  await pending
    .filter({ hasText: first })
    .filter({ hasText: /Not sent yet — retrying in \d+ s/ })
    .waitFor({ timeout: 4000 });
  await pending.filter({ hasText: second }).waitFor({ timeout: 1000 });
  await s.frame.getByRole('button', { name: 'Retry now' }).first().waitFor({ timeout: 1000 });
  await s.page.screenshot({ path: path.join(artifacts, 'widget-outage-retrying.png') });
  assert.equal(s.atAgent(first) + s.atAgent(second), 0);

  await new Promise((r) => setTimeout(r, Math.max(0, 5000 - (Date.now() - downAt))));
  proxy.set('pass');
  // Back-off: the next automatic retry comes within ~8 s of the outage's end, without a reconnect.
  await eventually(() => s.atAgent(first) === 1 && s.atAgent(second) === 1, 30_000);
  await pending.first().waitFor({ state: 'detached', timeout: T });
  await new Promise((r) => setTimeout(r, 1500));

  assert.equal(s.atAgent(first), 1, 'the agent got the first message once');
  assert.equal(s.atAgent(second), 1, 'the agent got the second message once');
  assert.deepEqual(inOrder(await s.shown(), ['Before the outage', first, second]), [
    'Before the outage',
    first,
    second,
  ]);
  assert.equal(await s.stored(first), 1);
  assert.equal(await s.stored(second), 1);
  assert.deepEqual(s.pageErrors, []);
});

test('gaps: lost live messages, resync, and traffic during a rejoin are all shown once, in order', async (t) => {
  const defer = closer(t);
  const database = await dbModes[0]!.open();
  defer(() => database.close());
  const s = await scene(defer, database);

  await t.test('a message lost on its way is fetched as soon as the next one shows the gap', async () => {
    await s.agentSays('Hello, how can I help?');
    await s.frame.getByText('Hello, how can I help?').waitFor({ timeout: T });
    loseNext(s.app, isVisitor, 'Lost on the way');
    await s.agentSays('Lost on the way');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!(await s.shown()).includes('Lost on the way'), 'the broadcast was lost');
    await s.agentSays('Shows the gap');
    await s.frame.getByText('Lost on the way').waitFor({ timeout: T });
    await s.frame.getByText('Shows the gap').waitFor({ timeout: T });
    const texts = ['Hello, how can I help?', 'Lost on the way', 'Shows the gap'];
    assert.deepEqual(inOrder(await s.shown(), texts), texts);
  });

  await t.test('resync: what was lost while the Redis link was down appears', async () => {
    loseNext(s.app, isVisitor, 'Lost while Redis was away');
    await s.agentSays('Lost while Redis was away');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!(await s.shown()).includes('Lost while Redis was away'));
    s.app.io.emit('resync', { reason: 'redis_reconnected' });
    await s.frame.getByText('Lost while Redis was away').waitFor({ timeout: T });
    assert.equal(inOrder(await s.shown(), ['Lost while Redis was away']).length, 1);
  });

  await t.test('messages sent and received before a rejoin finishes leave no hole', async () => {
    // Offline: two answers are missed.
    await s.context.setOffline(true);
    for (const socket of s.app.io.sockets.sockets.values()) if (isVisitor(socket)) socket.conn.close();
    await s.frame.getByText(/Connection lost/).waitFor({ timeout: T });
    await s.agentSays('Missed one');
    await s.agentSays('Missed two');
    // The visitor's first join after the reconnect is held, and then fails (`unavailable`, as in
    // a database outage): meanwhile the visitor sends (which joins the room) and the agent answers
    // live, so the retried join must still ask from before the missed ones.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let joins = 0;
    const hold = (socket: ServerSocket) => {
      if (!isVisitor(socket)) return;
      socket.use((packet, next) => {
        if (packet[0] !== 'join_conversation' || joins++ > 0) return next();
        const ack = packet.at(-1) as (reply: unknown) => void;
        void held.then(() =>
          ack({ ok: false, error: 'unavailable', message: 'Try again shortly', retry_after: 1 }),
        );
      });
    };
    s.app.io.on('connection', hold);
    t.after(() => void s.app.io.off('connection', hold));
    await s.context.setOffline(false);
    await eventually(async () => joins > 0, T);
    await s.visitorTypes('Sent during the rejoin');
    await eventually(() => s.atAgent('Sent during the rejoin') === 1, T);
    await s.agentSays('Answered during the rejoin');
    await s.frame.getByText('Answered during the rejoin').waitFor({ timeout: T });
    assert.ok(!(await s.shown()).includes('Missed one'), 'the rejoin has not been answered yet');
    release();
    await s.frame.getByText('Missed one').waitFor({ timeout: T });
    await s.frame.getByText('Missed two').waitFor({ timeout: T });
    const texts = ['Missed one', 'Missed two', 'Sent during the rejoin', 'Answered during the rejoin'];
    assert.deepEqual(inOrder(await s.shown(), texts), texts);
    assert.equal(await s.frame.locator('.cw-msg--pending').count(), 0);
  });

  await t.test('after all that, a reload shows the same messages in the same order', async () => {
    const before = await s.shown();
    await s.reload();
    await s.frame.getByText('Answered during the rejoin').waitFor({ timeout: T });
    assert.deepEqual(await s.shown(), before, 'live order = stored order');
    assert.deepEqual(s.pageErrors, []);
  });

  await t.test(
    'a long absence: more than one replay (`has_more`) comes back complete, in order',
    async () => {
      await s.context.setOffline(true);
      for (const socket of s.app.io.sockets.sockets.values()) if (isVisitor(socket)) socket.conn.close();
      await s.frame.getByText(/Connection lost/).waitFor({ timeout: T });
      const backlog = Array.from({ length: 520 }, (_, i) => `Backlog ${i + 1}`);
      for (const content of backlog) {
        await s.app.services.messages.send(
          s.actor,
          message({ conversation_id: s.conversationId, sender_type: 'agent', content }),
        );
      }
      await s.context.setOffline(false);
      await s.frame.getByText('Backlog 520', { exact: true }).waitFor({ timeout: 30_000 });
      assert.deepEqual(
        (await s.shown()).filter((text) => text.startsWith('Backlog ')),
        backlog,
      );
    },
  );
});
