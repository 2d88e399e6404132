import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { launchBrowser } from '../../test/helpers/browser.js';
import { loginAgent, startApp } from '../../test/helpers/app.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { userHash } from '../tenants/identity.js';
import { connectSocket, emitAck, eventually, record } from '../../test/helpers/sockets.js';

const artifacts = path.resolve(import.meta.dirname, '../../test/artifacts');

// Option A: an app loads the widget URL in a WebView. A phone-sized Chromium stands in for it.
test('the widget URL works in a phone-sized WebView, and that user can get push', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  const { org, tenantSecret, embedToken, botId } = await createOrg(app.services);
  const { user, password } = await createAgent(app.services, org.id, { role: 'admin' });
  const session = await loginAgent(app.url, user.email, password);
  const agent = await connectSocket(app.url, { cookie: session.cookie });
  // Cleanup is registered before anything can fail (Chromium missing, say): all opened is closed.
  const launching = launchBrowser();
  t.after(async () => {
    await (await launching.catch(() => undefined))?.close();
    agent.close();
    await app.stop();
    await database.close();
  });
  const browser = await launching;

  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 3,
    isMobile: true,
    hasTouch: true,
    userAgent:
      'Mozilla/5.0 (Linux; Android 14; Pixel 8; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/126.0 Mobile Safari/537.36',
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The app's own user id, with the user_hash its backend computed for it.
  const sessionId = `mobile-user-${randomUUID().slice(0, 8)}`;
  const hash = userHash(tenantSecret, sessionId);
  const url =
    `${app.url}/chat-widget?embed_token=${encodeURIComponent(embedToken)}` +
    `&session_id=${sessionId}&user_hash=${hash}&customer_name=Alice+Smith&title=Support+Chat`;
  const res = await page.goto(url);
  assert.equal(res?.status(), 200);
  assert.equal((await page.locator('h1').textContent())?.trim(), 'Support Chat');

  // It fits the phone: no sideways scrolling, the message box and Send button on screen.
  const fit = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  assert.ok(fit.scroll <= fit.width, `page is ${fit.scroll}px wide in a ${fit.width}px viewport`);
  for (const sel of ['#cw-input', '#cw-send']) {
    const box = await page.locator(sel).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390 && box.y + box.height <= 844, `${sel} on screen`);
  }

  const conv = await database.prisma.conversation.findFirstOrThrow({
    where: { organizationId: org.id },
    include: { endUser: true },
  });
  assert.equal(conv.endUser.externalId, sessionId);
  assert.equal(conv.endUser.displayName, 'Alice Smith');

  // Chat both ways.
  const toAgent = record<{ content: string; sender_type: string }>(agent, 'message_received');
  assert.equal((await emitAck(agent, 'join_conversation', { conversation_id: conv.id })).ok, true);
  await page.locator('#cw-input').tap();
  await page.locator('#cw-input').fill('Hello from the app');
  await page.locator('#cw-send').tap();
  await eventually(() =>
    toAgent.some((m) => m.sender_type === 'end_user' && m.content === 'Hello from the app'),
  );
  const ack = await emitAck(agent, 'send_message', {
    conversation_id: conv.id,
    sender_type: 'agent',
    content: 'Hi Alice, how can I help?',
  });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  await page.getByText('Hi Alice, how can I help?').waitFor();
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'mobile-webview.png') });

  // The same app user can register a push token for this conversation once the bot has a
  // mobile channel (credentials live there).
  const http = request(app.url);
  await http
    .post('/api/mobile/channels')
    .set('Cookie', session.cookie)
    .set('X-CSRFToken', session.csrf)
    .send({ bot_id: botId })
    .expect(201);
  const reg = await http.post('/api/mobile/devices').send({
    conversation_id: conv.id,
    external_id: sessionId,
    user_hash: hash,
    platform: 'apns',
    token: 'ab'.repeat(32),
  });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  assert.deepEqual(errors, []);
});
