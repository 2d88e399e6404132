// <switchboard-chat>'s ticks in real Chromium against the real server: the visitor's message goes
// sent → delivered (an agent's client acknowledged it) → read (the agent read it), live, each with
// an accessible text; the agent's reply is acknowledged and read by the element (frames), and the
// state comes back after a reload (the welcome's `delivery`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import type { AddressInfo } from 'node:net';
import { browserFor, watch } from '../../../test/helpers/browser.js';
import { loginAgent, startApp } from '../../../test/helpers/app.js';
import { dbModes } from '../../../test/helpers/db.js';
import { createAgent } from '../../../test/helpers/factories.js';
import { createTenant } from '../../../test/helpers/relay.js';
import { connectSocket, emitAck, nextEvent } from '../../../test/helpers/sockets.js';

const T = 10_000;
const bundle = path.join(import.meta.dirname, '..', 'dist', 'switchboard-chat.js');

function startHost(html: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/switchboard-chat.js')
      return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(bundle, 'utf8'));
    if (url !== '/') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('<switchboard-chat>: ticks sent → delivered → read, both ways, and after a reload', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const ref: { tn?: Awaited<ReturnType<typeof createTenant>> } = {};
  const host = await startHost(
    () => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="/switchboard-chat.js" defer></script></head><body><h1>Shop</h1>
<switchboard-chat tenant-id="${ref.tn!.id}" widget-key="${ref.tn!.pk}" locale="en" base-url="${app.url}" mode="panel"></switchboard-chat>
</body></html>`,
  );
  const hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
  const tn = (ref.tn = await createTenant(app.services, { origins: [hostUrl] }));
  const agentUser = await createAgent(app.services, tn.id);
  const { cookie } = await loginAgent(app.url, agentUser.user.email, agentUser.password);
  const agent = await connectSocket(app.url, { cookie });
  const { browser, contexts } = await browserFor(t, async () => {
    agent.close();
    await new Promise((r) => host.close(r));
    await app.stop();
    await database.close();
  });
  const problems: string[] = [];
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  watch(page, problems, 'visitor');
  await page.goto(`${hostUrl}/`);
  const chat = page.locator('switchboard-chat');
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.waitFor({ timeout: T });
  assert.equal((await emitAck(agent, 'join_queue')).ok, true);
  const queued = nextEvent<{ conversation_id: string }>(agent, 'conversation_updated');
  await box.fill('Do you ship to Norway?');
  await box.press('Enter');
  const mine = chat.locator('li.msg.visitor', { hasText: 'Do you ship to Norway?' });
  await mine.locator('.ticks[data-state="sent"]').waitFor({ timeout: T });
  assert.equal(await mine.locator('.ticks .sr-only').textContent(), 'Sent');
  const convId = (await queued).conversation_id;
  assert.equal((await emitAck(agent, 'claim_conversation', { conversation_id: convId })).ok, true);
  const stored = await database.prisma.message.findFirstOrThrow({
    where: { conversationId: convId, senderType: 'end_user' },
  });

  // The agent's client received it, then read it: the element shows both, live.
  await emitAck(agent, 'message_delivered', { conversation_id: convId, seq: stored.seq });
  await mine.locator('.ticks[data-state="delivered"]').waitFor({ timeout: T });
  assert.equal(await mine.locator('.ticks .sr-only').textContent(), 'Delivered');
  await emitAck(agent, 'mark_read', { conversation_id: convId, message_ids: [stored.id] });
  await mine.locator('.ticks[data-state="read"]').waitFor({ timeout: T });
  assert.match((await mine.locator('.ticks .sr-only').textContent()) ?? '', /^Read \d{1,2}:\d{2}/);

  // The agent answers: the element acknowledges it and, on screen, reads it.
  const delivered = nextEvent<{ seq: number; recipient_type: string }>(
    agent,
    'messages_delivered',
    (e) => e.recipient_type === 'end_user',
  );
  const read = nextEvent<{ message_ids: string[]; reader_type: string }>(
    agent,
    'messages_read',
    (e) => e.reader_type === 'end_user',
  );
  const reply = await emitAck(agent, 'send_message', {
    conversation_id: convId,
    sender_type: 'agent',
    content: 'Yes, in three days.',
  });
  const replyMsg = reply.message as { id: string; seq: number };
  assert.equal((await delivered).seq, replyMsg.seq);
  assert.deepEqual((await read).message_ids, [replyMsg.id]);

  // A reload: the welcome's state draws the same ticks.
  await page.reload();
  await mine.locator('.ticks[data-state="read"]').waitFor({ timeout: T });
  assert.deepEqual(problems, []);
});
