// The attack: a visitor's credentials travel in query strings (`?external_id=…` for history, the
// WebView's `?session_id=…`, `embed_token`, `user_hash`), and the access log wrote every URL whole,
// so whoever reads the logs could read any visitor's conversation. Now the values are redacted.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { createApp, type App } from '../app.js';
import { testConfig } from '../../test/helpers/config.js';
import { dbModes } from '../../test/helpers/db.js';
import { createConversation, createOrg } from '../../test/helpers/factories.js';
import type { Database } from './db.js';
import { createLogger, redactUrl } from './logger.js';

const postgres = dbModes.find((m) => m.name === 'postgres')!;

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  },
});

let database: Database;
let app: App;
let url: string;
before(async () => {
  database = await postgres.open();
  // The production logger, writing into `lines`, at the level that logs every request.
  app = await createApp({ config: testConfig(), logger: createLogger('info', sink), database });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
after(async () => {
  await app.close();
  await new Promise<void>((resolve) => app.server.close(() => resolve()));
  await database.close();
});

/** The access-log line of the request that carried `X-Request-Id: id`. */
function accessLine(id: string) {
  const line = lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.reqId === id && l.req);
  assert.ok(line, `no access log line for ${id}`);
  return line as { req: { url: string }; res: { statusCode: number } };
}

test("access logs carry no visitor's credentials: history, the widget page, a wrong guess", async () => {
  const { services } = app;
  const { org, channelId, embedToken } = await createOrg(services);
  const secretId = `secret-id-${randomUUID()}`;
  const conv = await createConversation(services, {
    organizationId: org.id,
    channelId,
    externalId: secretId,
  });
  const visitorId = `v_${randomBytes(16).toString('hex')}`;
  const userHash = randomBytes(32).toString('hex');
  const secrets = [secretId, visitorId, userHash, embedToken];

  // Whatever they answer (identity checks may refuse some), none may leave a credential behind.
  const calls = [
    { path: `/chat-widget/history/${conv.conversation.id}?external_id=${secretId}` },
    // A guess logs the same way: the guessed id is somebody's credential too.
    { path: `/chat-widget/history/${randomUUID()}?external_id=${secretId}&user_hash=${userHash}` },
    {
      path: `/chat-widget?embed_token=${encodeURIComponent(embedToken)}&session_id=${visitorId}&user_hash=${userHash}&lang=en`,
    },
  ];
  for (const call of calls) {
    const id = randomUUID();
    const res = await request(url).get(call.path).set({ 'X-Request-Id': id, Accept: 'text/html' });
    const line = accessLine(id);
    assert.equal(line.res.statusCode, res.status);
    // The path and the harmless parameters stay, for whoever reads the log.
    assert.equal(line.req.url.split('?')[0], call.path.split('?')[0]);
    assert.match(line.req.url, /=\[redacted\]/);
    if (call.path.includes('lang=en')) assert.match(line.req.url, /&lang=en$/);
  }
  const all = lines.join('\n');
  for (const s of secrets) assert.ok(!all.includes(s), `a log line holds ${s}`);
});

test('objects logged by the code are redacted too: a visitor id, a hash, a password', () => {
  const out: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _enc, done) {
        out.push(chunk.toString());
        done();
      },
    }),
  );
  logger.warn({ organizationId: 'org-1', externalId: 'user-1001' }, 'end-user rate limit hit');
  logger.info({ visitor: { external_id: 'user-1002', user_hash: 'abc123' }, body: { password: 'hunter2' } });
  const text = out.join('');
  for (const s of ['user-1001', 'user-1002', 'abc123', 'hunter2']) assert.ok(!text.includes(s), s);
  assert.match(text, /org-1/);
});

test('redactUrl: every spelling of a credential parameter, nothing else', () => {
  assert.equal(redactUrl('/chat-widget/history/1'), '/chat-widget/history/1');
  assert.equal(
    redactUrl('/x?external_id=a&EXTERNAL_ID=b&external%5Fid=c&session_id=d&lang=en'),
    '/x?external_id=[redacted]&EXTERNAL_ID=[redacted]&external%5Fid=[redacted]&session_id=[redacted]&lang=en',
  );
  assert.equal(
    redactUrl('/x?token=a&embed_token=b&user_hash=c&api_key=d&access_token=e&next=/inbox&v=3'),
    '/x?token=[redacted]&embed_token=[redacted]&user_hash=[redacted]&api_key=[redacted]&access_token=[redacted]&next=/inbox&v=3',
  );
  // A bare name, an empty value and a malformed escape are still redacted or left intact, never thrown on.
  assert.equal(redactUrl('/x?token&session_id=&%E0=1'), '/x?token=[redacted]&session_id=[redacted]&%E0=1');
});
