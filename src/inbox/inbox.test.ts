// The inbox and dashboard pages over HTTP: who gets which page, the CSP, no inline script, no
// CDN. What the pages do is tested in Chromium (inbox.browser.test.ts).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loginAgent, startApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';
import { rootDir } from '../shared/paths.js';

test('inbox and dashboard pages: role gating, strict CSP, bundles served from /build', async (t) => {
  const database = await dbModes[0]!.open();
  const app = await startApp(database);
  t.after(async () => {
    await app.stop();
    await database.close();
  });
  const { org } = await createOrg(app.services);
  const admin = await createAgent(app.services, org.id, { role: 'admin' });
  const agent = await createAgent(app.services, org.id, { role: 'agent' });
  const adminS = await loginAgent(app.url, admin.user.email, admin.password);
  const agentS = await loginAgent(app.url, agent.user.email, agent.password);
  const get = (p: string, cookie?: string) =>
    fetch(`${app.url}${p}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });

  // Signed out: both pages send the browser to the login page and back.
  for (const p of ['/inbox', '/dashboard']) {
    const res = await get(p);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), `/auth/login?next=${encodeURIComponent(p)}`);
  }
  // Agents see only the inbox.
  const agentDash = await get('/dashboard', agentS.cookie);
  assert.equal(agentDash.status, 303);
  assert.equal(agentDash.headers.get('location'), '/inbox');
  const agentInbox = await get('/inbox', agentS.cookie);
  assert.equal(agentInbox.status, 200);
  assert.doesNotMatch(await agentInbox.text(), /href="\/dashboard"/);

  for (const [p, bundle] of [
    ['/inbox', 'inbox.js'],
    ['/dashboard', 'dashboard.js'],
  ] as const) {
    const res = await get(p, adminS.cookie);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /script-src-attr 'none'/);
    assert.match(csp, /default-src 'self'/);
    const html = await res.text();
    assert.match(html, /<meta name="csrf-token" content="[^"]+">/);
    assert.match(html, /href="\/dashboard"/);
    // Every script has a src on this origin; no inline script or handler anywhere.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    const srcs = scripts.map(([, attrs, body]) => {
      assert.equal(body!.trim(), '');
      return /src="([^"]+)"/.exec(attrs!)![1]!;
    });
    // The page's bundle; the dashboard also loads <switchboard-chat> for its live preview.
    const src = srcs.find((s) => s.startsWith('/build/'))!;
    assert.deepEqual(
      srcs.filter((s) => s !== src),
      p === '/dashboard' ? ['/sdk/switchboard-chat.js'] : [],
    );
    assert.match(src, new RegExp(`^/build/${bundle.replace('.', '\\.')}\\?v=[0-9a-z]+$`));
    assert.doesNotMatch(html, /\son[a-z]+=/i);
    // Nothing loads from another host (no CDN).
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);

    const js = await get(src);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const code = await js.text();
    assert.ok(code.length > 1000);
    assert.doesNotMatch(code, /\binnerHTML\s*=|insertAdjacentHTML|document\.write/);
  }
  const css = await get('/static/inbox.css');
  assert.equal(css.status, 200);
  assert.doesNotMatch(await css.text(), /@import|url\(\s*['"]?https?:/);

  // User text in the page shell is escaped (Eta), e.g. a display name with markup.
  await database.prisma.user.update({
    where: { id: agent.user.id },
    data: { displayName: '<img src=x onerror=alert(1)>' },
  });
  const escaped = await (await get('/inbox', agentS.cookie)).text();
  assert.doesNotMatch(escaped, /<img src=x/);
  assert.match(escaped, /&lt;img src=x onerror=alert\(1\)&gt;/);
});

test('the browser code renders user text as text only (no HTML sinks in the sources)', () => {
  let files = 0;
  for (const dir of ['src/inbox/client', 'src/dashboard/client']) {
    for (const f of readdirSync(path.join(rootDir, dir)).filter((n) => n.endsWith('.ts'))) {
      const src = readFileSync(path.join(rootDir, dir, f), 'utf8');
      assert.doesNotMatch(
        src,
        /\.(inner|outer)HTML\b|insertAdjacentHTML|document\.write|\beval\(/,
        `${dir}/${f}`,
      );
      files++;
    }
  }
  assert.ok(files >= 6);
});
