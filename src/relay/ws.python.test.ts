// A foreign client of the visitor WebSocket: Python's websocket-client (Debian python3-websocket)
// talks to an agent on socket.io-client.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent } from '../../test/helpers/factories.js';
import { rootDir } from '../../test/helpers/process.js';
import { createTenant, createVisitorSession } from '../../test/helpers/relay.js';
import { connectSocket, emitAck, nextEvent } from '../../test/helpers/sockets.js';
import { widgetWsUrl } from '../../test/helpers/ws.js';

// Debian's interpreter, which has python3-websocket; not whatever `python3` is first on PATH.
const PYTHON = '/usr/bin/python3';

let app: TestApp;
before(async () => {
  app = await startApp(await dbModes[0]!.open(), { redis: true });
});
after(async () => {
  await app.stop();
  await app.database.close();
});

test('a Python websocket-client visitor talks to an agent on socket.io-client', async () => {
  const tn = await createTenant(app.services);
  const agent = await createAgent(app.services, tn.id);
  const login = await loginAgent(app.url, agent.user.email, agent.password);
  const agentSocket = await connectSocket(app.url, { cookie: login.cookie });
  await emitAck(agentSocket, 'join_queue');
  const s = await createVisitorSession(app.url, tn);

  const queued = nextEvent(agentSocket, 'conversation_updated');
  const py = spawn(
    PYTHON,
    ['test/python/ws_visitor_client.py', widgetWsUrl(app.url, { token: s.visitor_token })],
    {
      cwd: rootDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  py.stdout.on('data', (d: Buffer) => (out += d.toString()));
  py.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = once(py, 'exit');

  assert.equal((await queued).content, 'Hello from Python');
  await emitAck(agentSocket, 'claim_conversation', { conversation_id: s.conversation_id });
  const reply = await emitAck(agentSocket, 'send_message', {
    conversation_id: s.conversation_id,
    content: 'Hello from the inbox',
    sender_type: 'agent',
  });
  assert.equal(reply.ok, true);

  const [code] = (await exited) as [number | null];
  agentSocket.disconnect();
  assert.equal(code, 0, `python client failed:\n${out}\n${err}`);
  const frames = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: string; frame?: { type: string; [k: string]: unknown } })
    .filter((l) => l.frame)
    .map((l) => l.frame!);
  assert.deepEqual(
    frames.map((f) => f.type),
    ['welcome', 'error', 'pong', 'ack', 'msg'],
  );
  assert.equal(frames[4]!.content, 'Hello from the inbox');
});
