import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, createOrg } from '../../test/helpers/factories.js';
import { rootDir } from '../../test/helpers/process.js';
import { connectSocket, emitAck, nextEvent } from '../../test/helpers/sockets.js';

// Debian's interpreter, which has python3-socketio; not whatever `python3` is first on PATH.
const PYTHON = '/usr/bin/python3';

let app: TestApp;
before(async () => {
  app = await startApp(await dbModes[0]!.open(), { redis: true });
});
after(async () => {
  await app.stop();
  await app.database.close();
});

test('a native Python Socket.IO client talks to an agent on socket.io-client', async () => {
  const { org, channelId } = await createOrg(app.services);
  const agent = await createAgent(app.services, org.id);
  const login = await loginAgent(app.url, agent.user.email, agent.password);
  // A native app's signed-in user: its own id, signed by the tenant's backend (user_hash).
  const conv = await createConversation(app.services, {
    organizationId: org.id,
    channelId,
    externalId: `app-user-${randomUUID()}`,
  });
  assert.ok(conv.userHash);
  const agentSocket = await connectSocket(app.url, { cookie: login.cookie });
  await emitAck(agentSocket, 'join_queue');

  // The agent answers whatever the app user says.
  const queued = nextEvent(agentSocket, 'conversation_updated');
  const py = spawn(
    PYTHON,
    ['test/python/enduser_client.py', app.url, conv.conversation.id, conv.externalId, conv.userHash],
    { cwd: rootDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  py.stdout.on('data', (d: Buffer) => (out += d.toString()));
  py.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = once(py, 'exit');

  const update = await queued;
  assert.equal(update.content, 'Hello from Python');
  await emitAck(agentSocket, 'claim_conversation', { conversation_id: conv.conversation.id });
  const reply = await emitAck(agentSocket, 'send_message', {
    conversation_id: conv.conversation.id,
    content: 'Hello from the inbox',
    sender_type: 'agent',
  });
  assert.equal(reply.ok, true);

  const [code] = (await exited) as [number | null];
  agentSocket.disconnect();
  assert.equal(code, 0, `python client failed:\n${out}\n${err}`);
  const steps = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: string; [k: string]: unknown });
  const bad = steps.find((s) => s.step === 'bad_ack')!.ack as { ok: boolean; error: string };
  assert.deepEqual([bad.ok, bad.error], [false, 'request/invalid']);
  assert.ok(
    steps.some((s) => s.step === 'error'),
    'the bad payload also got the `error` event',
  );
  const messages = steps
    .filter((s) => s.step === 'message_received')
    .map((s) => s.message as { content: string; sender_type: string });
  assert.deepEqual(
    messages.map((m) => [m.sender_type, m.content]),
    [
      ['end_user', 'Hello from Python'],
      ['agent', 'Hello from the inbox'],
    ],
  );
});
