import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createOrg, message } from '../../test/helpers/factories.js';
import { paths } from '../shared/paths.js';

type PageConfig = {
  conversation_id: string;
  external_id: string;
  host_origin: string | null;
  launcher: boolean;
  history: { id: string; content: string; sender_type: string; session_id?: unknown; read_by?: unknown }[];
};

/** A visitor id as embed.js makes it: `v_` and 128 random bits in hex. */
const visitorId = () => `v_${randomBytes(16).toString('hex')}`;

function widgetUrl(app: TestApp, params: Record<string, string>): string {
  return `${app.url}/chat-widget?${new URLSearchParams(params)}`;
}

/** A request as a browser makes it for an iframe (`framed`) or a top-level page. */
function load(url: string, opts: { referer?: string; framed?: boolean } = {}) {
  const headers: Record<string, string> = { 'sec-fetch-dest': opts.framed === false ? 'document' : 'iframe' };
  if (opts.referer) headers.referer = opts.referer;
  return fetch(url, { headers });
}

function configOf(html: string): PageConfig {
  const json = /<script type="application\/json" id="cw-config">([^<]*)<\/script>/.exec(html)?.[1];
  assert.ok(json, 'page has its config block');
  return JSON.parse(json) as PageConfig;
}

async function errorOf(res: Response): Promise<string> {
  return ((await res.json()) as { error: string }).error;
}

for (const mode of dbModes) {
  test(`the widget page opens and reuses the visitor's conversation with its history (${mode.name})`, async (t) => {
    const database = await mode.open();
    const app = await startApp(database);
    t.after(async () => {
      await app.stop();
      await database.close();
    });
    const { org, embedToken } = await createOrg(app.services);
    const sid = visitorId();

    const first = await load(
      widgetUrl(app, { embed_token: embedToken, session_id: sid, customer_name: 'Ann' }),
      {
        referer: 'https://anywhere.example/page',
      },
    );
    assert.equal(first.status, 200);
    assert.match(first.headers.get('content-type') ?? '', /text\/html/);
    const c1 = configOf(await first.text());
    assert.equal(c1.external_id, sid);
    assert.equal(c1.host_origin, 'https://anywhere.example');
    assert.deepEqual(c1.history, []);

    const endUser = await database.prisma.endUser.findFirstOrThrow({
      where: { organizationId: org.id, externalId: sid },
    });
    assert.equal(endUser.displayName, 'Ann');

    const xss = '<img src=x onerror=alert(1)></script><script>alert(2)</script>';
    await app.services.messages.send(
      { kind: 'end_user', organizationId: org.id, endUserId: endUser.id, externalId: sid },
      message({
        conversation_id: c1.conversation_id,
        content: xss,
        sender_type: 'end_user',
        external_id: sid,
      }),
    );

    const again = await load(widgetUrl(app, { embed_token: embedToken, session_id: sid }));
    assert.equal(again.status, 200);
    const html = await again.text();
    // The message is data inside the JSON block, never markup: no tag from it survives.
    assert.ok(!html.includes('<img src=x'), 'no raw tag from a message in the page');
    assert.equal(html.match(/<script/g)?.length, 2, 'only the bundle and the data block');
    assert.match(html, /<script src="\/chat-widget\/widget\.js\?v=[0-9a-f]{10}" defer><\/script>/);
    const c2 = configOf(html);
    assert.equal(c2.conversation_id, c1.conversation_id, 'same visitor, same conversation');
    assert.equal(c2.history.length, 1);
    assert.equal(c2.history[0]!.content, xss);
    assert.equal(c2.history[0]!.sender_type, 'end_user');
    assert.ok(!('session_id' in c2.history[0]!) && !('read_by' in c2.history[0]!), 'widget shape');
  });
}

test('GET /chat-widget checks the token, the host origin, and sends the framing headers', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  t.after(async () => {
    await app.stop();
    await database.close();
  });
  const { org, embedToken: openToken } = await createOrg(app.services);
  const { token } = await app.services.channels.createEmbedToken({
    organizationId: org.id,
    name: 'Web chat',
    allowedOrigins: ['https://shop.example', 'http://localhost:8080'],
  });
  // One visitor for the whole test, as the widget keeps its id across page views.
  const sid = visitorId();
  const page = (extra: Record<string, string> = {}) =>
    widgetUrl(app, { embed_token: token, session_id: sid, ...extra });

  await t.test('bad parameters are 400 and name the parameter', async () => {
    const res = await load(`${app.url}/chat-widget?session_id=x`);
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(body.error, 'request/invalid');
    assert.match(body.message, /embed_token/);
    assert.equal((await load(page({ origin: 'not an origin' }))).status, 400);
    assert.equal((await load(page({ customer_name: 'x'.repeat(500) }))).status, 400);
  });

  await t.test('an unknown or revoked token is 403', async () => {
    const unknown = await load(
      widgetUrl(app, { embed_token: 'ew_doesnotexist000000000000', session_id: visitorId() }),
    );
    assert.equal(unknown.status, 403);
    assert.equal(await errorOf(unknown), 'embed_token/invalid');
    const { token: revoked } = await app.services.channels.createEmbedToken({
      organizationId: org.id,
      name: 'Web chat',
      allowedOrigins: [],
    });
    const record = await app.services.channels.findEmbedToken(revoked);
    await database.prisma.embedToken.update({ where: { id: record!.id }, data: { revokedAt: new Date() } });
    const res = await load(widgetUrl(app, { embed_token: revoked, session_id: visitorId() }));
    assert.equal(res.status, 403);
    assert.equal(await errorOf(res), 'embed_token/invalid');
  });

  await t.test('a host page outside the allowed origins is 403', async () => {
    const res = await load(page(), { referer: 'https://evil.example/' });
    assert.equal(res.status, 403);
    assert.equal(await errorOf(res), 'origin/forbidden');
    // The browser's Referer wins over a claimed origin parameter.
    const lying = await load(page({ origin: 'https://shop.example' }), { referer: 'https://evil.example/' });
    assert.equal(lying.status, 403);
    // Without a Referer the parameter from embed.js decides; framed with neither is refused.
    assert.equal((await load(page({ origin: 'https://evil.example' }))).status, 403);
    assert.equal((await load(page())).status, 403);
  });

  await t.test('an allowed host page gets a page it may frame, and nobody else may', async () => {
    const res = await load(page(), { referer: 'https://shop.example/products/1' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-frame-options'), null);
    assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'self' https:\/\/shop\.example http:\/\/localhost:8080(;|$)/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /default-src 'none'/);
    assert.equal(configOf(await res.text()).host_origin, 'https://shop.example');

    const byParam = await load(page({ origin: 'http://localhost:8080', launcher: '1' }));
    assert.equal(byParam.status, 200);
    const cfg = configOf(await byParam.text());
    assert.equal(cfg.host_origin, 'http://localhost:8080');
    assert.equal(cfg.launcher, true);
  });

  await t.test("the platform's own pages (the demo page) may embed any token", async () => {
    const res = await load(page(), { referer: `${app.url}/demo?embed_token=${token}` });
    assert.equal(res.status, 200);
  });

  await t.test('a top-level visit (WebView, link) without a host page is allowed', async () => {
    const res = await load(page(), { framed: false });
    assert.equal(res.status, 200);
    assert.equal(configOf(await res.text()).host_origin, null);
  });

  await t.test('a token without origins may be framed anywhere', async () => {
    const res = await load(widgetUrl(app, { embed_token: openToken, session_id: visitorId() }), {
      referer: 'https://any.example/',
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors \*/);
  });

  await t.test('title and name are text, with the default title', async () => {
    const plain = await (await load(page(), { referer: 'https://shop.example/' })).text();
    assert.match(plain, /<h1 class="cw-title">Chat with us<\/h1>/);
    const res = await load(page({ title: '<b onclick=x>Help</b>', customer_name: '<i>Bob</i>' }), {
      referer: 'https://shop.example/',
    });
    const html = await res.text();
    assert.ok(html.includes('&lt;b onclick=x&gt;Help&lt;/b&gt;'));
    assert.ok(!html.includes('<b onclick'));
    assert.ok(!html.includes('<i>Bob'));
  });

  await t.test('POST /chat-widget/profile renames the visitor', async () => {
    const renamed = visitorId();
    assert.equal(
      (await load(page({ session_id: renamed }), { referer: 'https://shop.example/' })).status,
      200,
    );
    const post = (body: unknown) =>
      fetch(`${app.url}/chat-widget/profile`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal(
      (await post({ embed_token: token, session_id: renamed, customer_name: 'Carla' })).status,
      204,
    );
    const user = await database.prisma.endUser.findFirstOrThrow({
      where: { organizationId: org.id, externalId: renamed },
    });
    assert.equal(user.displayName, 'Carla');
    const bad = await post({ embed_token: token, session_id: renamed, customer_name: '' });
    assert.equal(bad.status, 400);
    const wrong = await post({
      embed_token: 'ew_nope00000000000000',
      session_id: renamed,
      customer_name: 'Eve',
    });
    assert.equal(wrong.status, 403);
    const still = await database.prisma.endUser.findFirstOrThrow({ where: { id: user.id } });
    assert.equal(still.displayName, 'Carla');
  });
});

test('embed.js is served cross-origin, cached briefly, and both bundles fit their budgets', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  t.after(async () => {
    await app.stop();
    await database.close();
  });
  const res = await fetch(`${app.url}/chat-widget/embed.js`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin');
  assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
  assert.ok(res.headers.get('etag'));
  const body = Buffer.from(await res.arrayBuffer());
  const embedGz = gzipSync(body, { level: 9 }).length;
  assert.ok(embedGz < 5 * 1024, `embed.js is ${embedGz} bytes gzipped (budget 5 KB)`);

  const widgetJs = readFileSync(`${paths.public}/build/widget.js`);
  const widgetGz = gzipSync(widgetJs, { level: 9 }).length;
  assert.ok(widgetGz < 60 * 1024, `widget.js is ${widgetGz} bytes gzipped (budget 60 KB)`);
  // Both go out gzipped to browsers that take it, and as they are to those that do not.
  assert.equal(res.headers.get('content-encoding'), 'gzip');
  assert.match(res.headers.get('vary') ?? '', /Accept-Encoding/);
  const plain = await fetch(`${app.url}/chat-widget/widget.js`, {
    headers: { 'accept-encoding': 'identity' },
  });
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get('content-encoding'), null);
  assert.deepEqual(Buffer.from(await plain.arrayBuffer()), widgetJs);
  assert.match(plain.headers.get('cache-control') ?? '', /immutable/);
  t.diagnostic(`embed.js ${embedGz} B gzipped, widget.js ${widgetGz} B gzipped`);
});

test('one client opening widget pages in bulk is slowed down, per token, without creating visitors', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  t.after(async () => {
    await app.stop();
    await database.close();
  });
  const { org, embedToken } = await createOrg(app.services);
  // Each page view is a new visitor, as when a script opens pages without keeping the id.
  const open = () =>
    load(widgetUrl(app, { embed_token: embedToken, session_id: visitorId() }), { framed: false });
  const answers = [];
  for (let i = 0; i < 60; i++) answers.push((await open()).status);
  assert.deepEqual(new Set(answers), new Set([200]));
  const limited = await open();
  assert.equal(limited.status, 429);
  assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/);
  assert.equal(await errorOf(limited), 'rate_limited');
  assert.equal(
    await database.prisma.endUser.count({ where: { organizationId: org.id } }),
    60,
    'no 61st visitor',
  );
});
