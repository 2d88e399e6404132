// The console's organization API (`/api/organization`): settings (name, origins, branding, flags)
// reach the widgets; refusals change nothing; the widget key and the secret rotate (the secret
// with a grace period measured on the app's clock, moved here rather than slept); the usage
// carries the quota and the current minute; only the owner deletes the organization, and then
// nothing of it answers. Agents get none of it; admins all but the owner's actions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent } from '../../test/helpers/factories.js';
import {
  createTenant,
  createVisitorSession,
  refreshVisitorToken,
  SHOP,
  signedCall,
} from '../../test/helpers/relay.js';
import { connectWs, widgetWsUrl } from '../../test/helpers/ws.js';

const HOUR = 3_600_000;

for (const mode of dbModes) {
  const full = mode.name === 'postgres';
  describe(`the console's organization API on ${mode.name}`, () => {
    let t: TestApp;
    let offset = 0;
    before(async () => {
      t = await startApp(await mode.open(), { redis: full, now: () => Date.now() + offset });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    /** A relay tenant with an owner, an admin and an agent signed in. */
    async function tenant(o: { rateLimitPerMin?: number } = {}) {
      const tn = await createTenant(t.services, o);
      const sessionOf = async (role: 'owner' | 'admin' | 'agent') => {
        const a = await createAgent(t.services, tn.id, { role });
        const s = await loginAgent(t.url, a.user.email, a.password);
        return (method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: object) => {
          const r = request(t.url)[method](path).set('Cookie', s.cookie).set('X-CSRFToken', s.csrf);
          return body ? r.send(body) : r;
        };
      };
      return {
        ...tn,
        owner: await sessionOf('owner'),
        admin: await sessionOf('admin'),
        agent: await sessionOf('agent'),
      };
    }

    const widgetConfig = (tn: { id: string; pk: string }, origin = SHOP) =>
      request(t.url)
        .get('/api/v1/fetch/widget-config')
        .query({ tenant_id: tn.id, widget_public_key: tn.pk, origin });
    const visitorSession = (tn: { id: string; pk: string }, body: object = {}) =>
      request(t.url)
        .post('/api/v1/create/visitor-session')
        .send({ tenant_id: tn.id, widget_public_key: tn.pk, origin: SHOP, ...body });

    test('settings: name, origins, branding and flags are saved and reach the widget', async () => {
      const tn = await tenant();
      const res = await tn.admin('patch', '/api/organization', {
        name: 'Acme Shop',
        allowed_origins: [SHOP, 'https://www.acme.com/', 'app://acme_app', SHOP],
        primary_color: '#c81e3c',
        launcher_text: 'Questions?',
        greeting: 'Hello! Ask us anything.',
        offline_message: 'We are away; we answer within a day.',
        avatar_url: 'https://cdn.acme.com/avatar.png',
        locale: 'en',
        default_mode: 'human',
        offline_behaviour: 'hide',
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      // Normalised (no trailing slash) and deduplicated.
      assert.deepEqual(res.body.allowed_origins, [SHOP, 'https://www.acme.com', 'app://acme_app']);
      assert.equal(res.body.name, 'Acme Shop');
      assert.equal(res.body.default_mode, 'human');
      assert.equal(res.body.offline_behaviour, 'hide');
      assert.equal(res.body.locale, 'en');
      assert.deepEqual(res.body.branding, {
        primary_color: '#c81e3c',
        greeting: 'Hello! Ask us anything.',
        launcher_text: 'Questions?',
        avatar_url: 'https://cdn.acme.com/avatar.png',
        offline_message: 'We are away; we answer within a day.',
      });

      const cfg = await widgetConfig(tn);
      assert.equal(cfg.status, 200, JSON.stringify(cfg.body));
      assert.equal(cfg.body.data.tenant_name, 'Acme Shop');
      assert.equal(cfg.body.data.locale, 'en');
      assert.equal(cfg.body.data.offline_behaviour, 'hide');
      assert.equal(cfg.body.data.branding.primary_color, '#c81e3c');
      assert.equal(cfg.body.data.branding.launcher_text, 'Questions?');
      assert.equal(cfg.body.data.branding.offline_message, 'We are away; we answer within a day.');

      // The default mode applies when the widget does not ask; an explicit mode still wins.
      const plain = await visitorSession(tn);
      assert.equal(plain.status, 201, JSON.stringify(plain.body));
      assert.equal(plain.body.data.mode, 'human');
      assert.equal((await visitorSession(tn, { mode: 'bot' })).body.data.mode, 'bot');
      // An app scheme added in the console is let in.
      assert.equal((await visitorSession(tn, { origin: 'app://acme_app' })).status, 201);

      // null clears a branding field; the others stay.
      const cleared = await tn.admin('patch', '/api/organization', { greeting: null });
      assert.equal(cleared.status, 200);
      assert.equal(cleared.body.branding.greeting, undefined);
      assert.equal(cleared.body.branding.launcher_text, 'Questions?');
      assert.equal((await widgetConfig(tn)).body.data.branding.greeting, undefined);
    });

    test('an origin taken off the list is refused: 403 origin/forbidden on session and config', async () => {
      const tn = await tenant();
      const session = await createVisitorSession(t.url, tn);
      assert.equal(
        (await tn.owner('patch', '/api/organization', { allowed_origins: ['https://new.acme.com'] })).status,
        200,
      );
      const refused = await visitorSession(tn);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.error, 'origin/forbidden');
      assert.equal((await widgetConfig(tn)).status, 403);
      // A session opened from it before cannot be renewed from it either.
      await assert.rejects(refreshVisitorToken(t.url, session.visitor_token), /403|origin/);
      assert.equal((await visitorSession(tn, { origin: 'https://new.acme.com' })).status, 201);
    });

    test('bad input is refused with the field named, and changes nothing', async () => {
      const tn = await tenant();
      const before = (await tn.admin('get', '/api/organization')).body;
      const cases: [object, string][] = [
        [{ allowed_origins: ['https://shop.example.com/cart'] }, 'allowed_origins'],
        [{ allowed_origins: ['shop.example.com'] }, 'allowed_origins'],
        [{ primary_color: 'red' }, 'primary_color'],
        [{ avatar_url: 'javascript:alert(1)' }, 'avatar_url'],
        [{ launcher_text: 'x'.repeat(61) }, 'launcher_text'],
        [{ locale: 'not a locale' }, 'locale'],
        [{ default_mode: 'robot' }, 'default_mode'],
        [{ offline_behaviour: 'vanish' }, 'offline_behaviour'],
        [{ name: '   ' }, 'name'],
        [{ name: 'ok', widget_public_key: 'pk_mine' }, 'widget_public_key'],
        [{ greeting: 'a\u0000b' }, 'greeting'],
        [{}, ''],
      ];
      for (const [body, param] of cases) {
        const res = await tn.admin('patch', '/api/organization', body);
        assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status}`);
        assert.equal(res.body.error, 'request/invalid');
        assert.match(JSON.stringify(res.body), new RegExp(param), JSON.stringify(res.body));
      }
      const tooMany = Array.from({ length: 101 }, (_, i) => `https://s${i}.example.com`);
      assert.equal((await tn.admin('patch', '/api/organization', { allowed_origins: tooMany })).status, 400);
      assert.deepEqual((await tn.admin('get', '/api/organization')).body, before);
    });

    test('the widget key rotates at once: the old key is unknown and its sessions end', async () => {
      const tn = await tenant();
      const session = await createVisitorSession(t.url, tn);
      const ws = await connectWs(widgetWsUrl(t.url, { token: session.visitor_token }), { origin: SHOP });
      await ws.next('welcome');
      assert.equal((await tn.agent('post', '/api/organization/widget-key/rotate')).status, 403);
      const res = await tn.admin('post', '/api/organization/widget-key/rotate');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const pk = res.body.widget_public_key as string;
      assert.match(pk, /^pk_/);
      assert.notEqual(pk, tn.pk);
      assert.equal((await widgetConfig(tn)).status, 404);
      assert.equal((await widgetConfig({ id: tn.id, pk })).status, 200);
      await assert.rejects(refreshVisitorToken(t.url, session.visitor_token), /session\/expired/);
      // The open socket is told at once.
      assert.deepEqual(await ws.closed, { code: 4404, reason: 'Widget key rotated' });
    });

    test('the secret: owners rotate, the old one signs until the grace period ends on the app clock', async () => {
      const tn = await tenant();
      const old = { id: tn.id, secret: tn.secret };
      assert.equal(
        (await tn.admin('post', '/api/organization/secret/rotate', { grace_hours: 1 })).status,
        403,
      );
      const res = await tn.owner('post', '/api/organization/secret/rotate', { grace_hours: 1 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const fresh = { id: tn.id, secret: res.body.tenant_secret as string };
      assert.equal((await signedCall(t.url, old, 'GET', '/api/v1/relay/conversations')).status, 200);
      assert.equal((await signedCall(t.url, fresh, 'GET', '/api/v1/relay/conversations')).status, 200);
      // Signed at the server's (moved) time, as a backend with a correct clock would.
      const at = (tn: { id: string; secret: string }) =>
        signedCall(
          t.url,
          tn,
          'GET',
          '/api/v1/relay/conversations',
          undefined,
          Math.floor((Date.now() + offset) / 1000),
        );
      try {
        offset = HOUR - 60_000; // a minute before the end
        assert.equal((await at(old)).status, 200);
        assert.ok((await tn.owner('get', '/api/organization')).body.previous_secret_valid_until);
        offset = HOUR + 60_000; // a minute after
        const late = await at(old);
        assert.equal(late.status, 401);
        assert.equal(late.body.error, 'hmac/bad_signature');
        assert.equal((await at(fresh)).status, 200);
        assert.equal((await tn.owner('get', '/api/organization')).body.previous_secret_valid_until, null);
      } finally {
        offset = 0;
      }
    });

    test('usage: days, the quota and what the current minute has used of it', async () => {
      const tn = await tenant({ rateLimitPerMin: 5 });
      for (let i = 0; i < 3; i++) await createVisitorSession(t.url, tn);
      await t.usage.flush();
      const res = await tn.admin('get', '/api/organization/usage?days=7');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.days.length, 7);
      assert.equal(res.body.days.at(-1).sessions, 3);
      assert.deepEqual(res.body.quota, { per_minute: 5 });
      const visitors = res.body.current_minute.find((c: { kind: string }) => c.kind === 'visitors');
      assert.equal(visitors.used, 3);
      assert.equal(visitors.refused, 0);
      assert.ok(visitors.resets_in_s > 0 && visitors.resets_in_s <= 60);
      for (let i = 0; i < 4; i++) await visitorSession(tn);
      const after = (await tn.admin('get', '/api/organization/usage?days=1')).body;
      const now = after.current_minute.find((c: { kind: string }) => c.kind === 'visitors');
      assert.deepEqual([now.used, now.refused], [5, 2]);
      assert.equal((await tn.agent('get', '/api/organization/usage')).status, 403);
    });

    test('delegated operators are marked in the team list', async () => {
      const tn = await tenant();
      const made = await signedCall(t.url, tn, 'POST', '/api/v1/relay/operators', {
        external_id: 'backend-user-42',
        display_name: 'Store 7 clerk',
        routing_keys: ['store-7'],
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const team = (await tn.admin('get', '/api/team')).body as {
        display_name: string;
        delegated: boolean;
        external_id?: string | null;
      }[];
      const op = team.find((m) => m.display_name === 'Store 7 clerk')!;
      assert.equal(op.delegated, true);
      assert.equal(op.external_id, 'backend-user-42');
      assert.ok(team.filter((m) => m !== op).every((m) => m.delegated === false));
      // Agents see who is on the team, not the backend's ids.
      const seen = (await tn.agent('get', '/api/team')).body as { external_id?: string }[];
      assert.ok(seen.every((m) => m.external_id === undefined));
    });

    test('deleting: owners only, with the name typed; then nothing of the tenant answers', async () => {
      const tn = await tenant();
      const name = (await tn.owner('get', '/api/organization')).body.name as string;
      const visitor = await createVisitorSession(t.url, tn);
      // A file the visitor sent: its bytes go with the organization.
      const png = Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
        'base64',
      );
      const up = await request(t.url)
        .post('/api/v1/attachments')
        .set('Authorization', `Bearer ${visitor.visitor_token}`)
        .set('X-Filename', 'dot.png')
        .set('Content-Type', 'application/octet-stream')
        .send(png);
      assert.equal(up.status, 201, JSON.stringify(up.body));
      const { storageKey } = await t.database.prisma.attachment.findUniqueOrThrow({
        where: { id: up.body.data.id as string },
      });
      await t.services.attachments.storage.get(storageKey);
      const forbidden = await tn.admin('delete', '/api/organization', { confirm_name: name });
      assert.equal(forbidden.status, 403);
      const wrong = await tn.owner('delete', '/api/organization', { confirm_name: `${name}x` });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body.param, 'confirm_name');
      assert.equal((await tn.owner('delete', '/api/organization', {})).status, 400);
      assert.ok(await t.database.prisma.organization.findUnique({ where: { id: tn.id } }));

      const gone = await tn.owner('delete', '/api/organization', { confirm_name: name });
      assert.equal(gone.status, 204, JSON.stringify(gone.body));
      assert.equal(await t.database.prisma.organization.findUnique({ where: { id: tn.id } }), null);
      assert.equal(await t.database.prisma.conversation.count({ where: { organizationId: tn.id } }), 0);
      await assert.rejects(t.services.attachments.storage.get(storageKey), 'the stored file is gone');
      assert.equal((await tn.owner('get', '/api/organization')).status, 401);
      assert.equal((await tn.admin('get', '/api/organization')).status, 401);
      assert.equal((await widgetConfig(tn)).status, 404);
      const signed = await signedCall(t.url, tn, 'GET', '/api/v1/relay/conversations');
      assert.equal(signed.status, 401);
      assert.equal(signed.body.error, 'hmac/unknown_tenant');
    });

    test('agents are refused every console call', async () => {
      const tn = await tenant();
      const calls: [Parameters<typeof tn.agent>[0], string, object?][] = [
        ['get', '/api/organization'],
        ['patch', '/api/organization', { name: 'Mine now' }],
        ['post', '/api/organization/widget-key/rotate'],
        ['post', '/api/organization/secret/rotate', { grace_hours: 0 }],
        ['delete', '/api/organization', { confirm_name: 'x' }],
        ['get', '/api/organization/usage'],
        ['get', '/api/organization/webhooks'],
      ];
      for (const [method, path, body] of calls) {
        assert.equal((await tn.agent(method, path, body)).status, 403, `${method} ${path}`);
      }
      const page = await tn.agent('get', '/dashboard');
      assert.equal(page.status, 303);
      assert.equal(page.headers.location, '/inbox');
    });
  });
}
