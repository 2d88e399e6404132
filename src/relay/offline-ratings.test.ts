// Business hours, the offline email and ratings, as the relay's visitors, the embed widget's end
// users, agents and admins meet them: over HTTP and the visitor WebSocket on a real server, with
// the app's clock moved (never slept on), on PostgreSQL and PGlite.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { agentHttp, type AgentSession } from '../../test/helpers/http.js';
import { createTenant, createVisitorSession, SHOP, type Tenant } from '../../test/helpers/relay.js';
import { connectSocket, eventually } from '../../test/helpers/sockets.js';
import { connectWs, widgetWsUrl } from '../../test/helpers/ws.js';

type Envelope = {
  status_code: number;
  data: Record<string, unknown> | null;
  error?: string;
  message: string;
};

/** Monday 30 November 2026, 11:00 in Paris (10:00 UTC). */
const MONDAY_11_PARIS = Date.parse('2026-11-30T10:00:00Z');
const HOUR_MS = 3_600_000;
const WEEKDAYS_9_TO_18 = {
  time_zone: 'Europe/Paris',
  days: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, [['09:00', '18:00']]])),
};

for (const mode of dbModes) {
  describe(`offline hours and ratings on ${mode.name}`, () => {
    let t: TestApp;
    let clock = MONDAY_11_PARIS;
    before(async () => {
      t = await startApp(await mode.open(), { now: () => clock });
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    /** A relay tenant with an admin signed in to its console. */
    async function tenantWithAdmin() {
      const tn = await createTenant(t.services);
      const admin = await createAgent(t.services, tn.id, { role: 'admin' });
      const session = await loginAgent(t.url, admin.user.email, admin.password);
      return { tn, admin, session };
    }
    const patchOrg = (s: AgentSession, body: object) =>
      request(t.url).patch('/api/organization').set('Cookie', s.cookie).set('X-CSRFToken', s.csrf).send(body);
    const widgetConfig = async (tn: Tenant) => {
      const res = await request(t.url)
        .get('/api/v1/fetch/widget-config')
        .query({ tenant_id: tn.id, widget_public_key: tn.pk, origin: SHOP });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return (res.body as Envelope).data!;
    };
    const visitorPost = (path: string, token: string | undefined, body: unknown) => {
      const req = request(t.url).post(`/api/v1/visitor/${path}`).set('Origin', SHOP);
      return (token ? req.set('Authorization', `Bearer ${token}`) : req).send(body as object);
    };

    test('business hours: validated, set and cleared through PATCH /api/organization', async () => {
      clock = MONDAY_11_PARIS;
      const { tn, session } = await tenantWithAdmin();
      const bad: [unknown, RegExp][] = [
        [{ time_zone: 'Mars/Olympus', days: {} }, /IANA time zone/],
        [{ time_zone: 'Europe/Paris', days: { mon: [['9h', '18:00']] } }, /time such as 09:00/],
        [{ time_zone: 'Europe/Paris', days: { mon: [['18:00', '09:00']] } }, /start before it ends/],
        [
          {
            time_zone: 'Europe/Paris',
            days: {
              mon: [
                ['09:00', '13:00'],
                ['12:00', '18:00'],
              ],
            },
          },
          /must not overlap/,
        ],
      ];
      for (const [business_hours, why] of bad) {
        const res = await patchOrg(session, { business_hours });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.match(JSON.stringify(res.body), why);
      }
      const row = await t.database.prisma.organization.findUniqueOrThrow({ where: { id: tn.id } });
      assert.deepEqual(row.config, {});

      const set = await patchOrg(session, { business_hours: WEEKDAYS_9_TO_18 });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual((set.body as { business_hours: unknown }).business_hours, WEEKDAYS_9_TO_18);
      const read = await agentHttp(t.url, session).get('/api/organization');
      assert.deepEqual((read.body as { business_hours: unknown }).business_hours, WEEKDAYS_9_TO_18);

      const cleared = await patchOrg(session, { business_hours: null });
      assert.equal((cleared.body as { business_hours: unknown }).business_hours, null);
    });

    test('widget config: is_open follows the business hours on the app clock, available needs an agent online', async () => {
      clock = MONDAY_11_PARIS;
      const { tn, session } = await tenantWithAdmin();
      // No business hours: always open; nobody online: not available.
      assert.deepEqual(
        { open: (await widgetConfig(tn)).is_open, available: (await widgetConfig(tn)).available },
        { open: true, available: false },
      );
      await patchOrg(session, { business_hours: WEEKDAYS_9_TO_18, offline_message: 'Back at 9.' }).expect(
        200,
      );
      let cfg = await widgetConfig(tn);
      assert.equal(cfg.is_open, true);
      assert.equal(cfg.available, false);

      const socket = await connectSocket(t.url, { cookie: session.cookie });
      try {
        await eventually(async () => (await widgetConfig(tn)).available === true);
        // 18:30 in Paris: closed, so not available even with the agent online.
        clock = MONDAY_11_PARIS + 7.5 * HOUR_MS;
        cfg = await widgetConfig(tn);
        assert.equal(cfg.is_online, true);
        assert.equal(cfg.is_open, false);
        assert.equal(cfg.available, false);
        assert.equal((cfg.branding as Record<string, unknown>).offline_message, 'Back at 9.');
        // A session's config and the WebSocket's welcome say the same.
        const s = (
          await request(t.url)
            .post('/api/v1/create/visitor-session')
            .send({ tenant_id: tn.id, widget_public_key: tn.pk, origin: SHOP })
            .expect(201)
        ).body as Envelope;
        const wc = s.data!.widget_config as Record<string, unknown>;
        assert.equal(wc.is_open, false);
        assert.equal(wc.available, false);
        const ws = await connectWs(widgetWsUrl(t.url, { token: String(s.data!.visitor_token) }));
        try {
          const welcome = await ws.next('welcome');
          assert.equal((welcome.widget_config as Record<string, unknown>).is_open, false);
        } finally {
          ws.close();
        }
      } finally {
        socket.disconnect();
        clock = MONDAY_11_PARIS;
      }
    });

    test('leaving an email: validated, stored unverified on the end user, shown to agents, only on one’s own conversation', async () => {
      clock = MONDAY_11_PARIS;
      const { tn, session } = await tenantWithAdmin();
      const a = await createVisitorSession(t.url, tn);
      const b = await createVisitorSession(t.url, tn);
      const endUserOf = async (conversationId: string) =>
        (
          await t.database.prisma.conversation.findUniqueOrThrow({
            where: { id: conversationId },
            include: { endUser: true },
          })
        ).endUser;

      for (const body of [{ email: 'not-an-email' }, { email: '' }, {}, { email: 'a@b.co', extra: 1 }]) {
        const res = await visitorPost('contact', a.visitor_token, body);
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal((res.body as Envelope).error, 'request/invalid');
      }
      assert.deepEqual((await endUserOf(a.conversation_id)).metadata, {});
      assert.equal((await visitorPost('contact', undefined, { email: 'a@example.com' })).status, 401);
      assert.equal((await visitorPost('contact', 'not.a.token', { email: 'a@example.com' })).status, 401);

      const ok = await visitorPost('contact', a.visitor_token, { email: '  ana@example.com ' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual((ok.body as Envelope).data, { email: 'ana@example.com', verified: false });
      assert.deepEqual((await endUserOf(a.conversation_id)).metadata, {
        email: 'ana@example.com',
        email_verified: false,
      });
      // Visitor B's token writes B's end user only.
      await visitorPost('contact', b.visitor_token, { email: 'bob@example.com' }).expect(200);
      assert.equal(
        ((await endUserOf(a.conversation_id)).metadata as Record<string, unknown>).email,
        'ana@example.com',
      );

      const conv = await agentHttp(t.url, session).get(`/api/conversations/${a.conversation_id}`);
      assert.equal(conv.status, 200);
      const endUser = (conv.body as { end_user: Record<string, unknown> }).end_user;
      assert.equal(endUser.contact_email, 'ana@example.com');
      assert.equal(endUser.contact_email_verified, false);
    });

    test('ratings: 409 before a resolve, 201 after, rating again updates, bad input 400; agents and usage see them', async () => {
      clock = MONDAY_11_PARIS;
      const { tn, admin, session } = await tenantWithAdmin();
      const v = await createVisitorSession(t.url, tn, { mode: 'human' });
      const ws = await connectWs(widgetWsUrl(t.url, { token: v.visitor_token }));
      try {
        await ws.next('welcome');
        const early = await visitorPost('rating', v.visitor_token, { score: 5 });
        assert.equal(early.status, 409, JSON.stringify(early.body));
        assert.equal((early.body as Envelope).error, 'rating/not_resolved');

        ws.send({ type: 'msg', client_msg_id: 'c1', content: 'Where is my parcel?' });
        await ws.next('ack');
        const agent = agentHttp(t.url, session);
        await agent.post(`/api/conversations/${v.conversation_id}/resolve`, { tags: [] }).expect(200);
        const asked = await ws.next('rating_request');
        assert.equal(asked.conversation_id, v.conversation_id);
        assert.equal(typeof asked.session_id, 'string');

        for (const body of [
          { score: 0 },
          { score: 6 },
          { score: 4.5 },
          { score: '4' },
          {},
          { score: 4, comment: 'x'.repeat(1001) },
          { score: 4, stars: 4 },
        ]) {
          const res = await visitorPost('rating', v.visitor_token, body);
          assert.equal(res.status, 400, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
        }
        assert.equal(await t.database.prisma.rating.count({ where: { organizationId: tn.id } }), 0);

        const first = await visitorPost('rating', v.visitor_token, { score: 2, comment: 'Slow' });
        assert.equal(first.status, 201, JSON.stringify(first.body));
        assert.equal((first.body as Envelope).data!.session_id, asked.session_id);
        const again = await visitorPost('rating', v.visitor_token, {
          score: 4,
          comment: ' Quick in the end ',
        });
        assert.equal(again.status, 200, JSON.stringify(again.body));
        const rows = await t.database.prisma.rating.findMany({ where: { organizationId: tn.id } });
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.score, 4);
        assert.equal(rows[0]!.comment, 'Quick in the end');

        const conv = (await agent.get(`/api/conversations/${v.conversation_id}`).expect(200)).body as {
          rating: Record<string, unknown> | null;
        };
        assert.equal(conv.rating?.score, 4);
        assert.equal(conv.rating?.comment, 'Quick in the end');

        const usage = (await agent.get('/api/organization/usage?days=7').expect(200)).body as {
          ratings: unknown;
        };
        assert.deepEqual(usage.ratings, { count: 1, average: 4, by_score: { 1: 0, 2: 0, 3: 0, 4: 1, 5: 0 } });
        assert.ok(admin.user.id);
      } finally {
        ws.close();
      }
    });

    test('the embed widget: availability, email and rating, its end user proven as for its history', async () => {
      clock = MONDAY_11_PARIS;
      const o = await createOrg(t.services);
      await t.services.tenants.configure(o.org.id, {
        greeting: 'Hello there',
        business_hours: WEEKDAYS_9_TO_18,
      });
      const agent = await createAgent(t.services, o.org.id);
      const c = await createConversation(t.services, { organizationId: o.org.id, channelId: o.channelId });
      const proof = { conversation_id: c.conversation.id, external_id: c.externalId };

      clock = MONDAY_11_PARIS - 3 * HOUR_MS; // 08:00 in Paris
      const avail = await request(t.url).get('/api/widget/availability').query(proof).expect(200);
      assert.deepEqual(avail.body, {
        is_online: false,
        is_open: false,
        available: false,
        greeting: 'Hello there',
        offline_message: null,
      });
      clock = MONDAY_11_PARIS;

      const stranger = { ...proof, external_id: 'v_someone-else-entirely-000000' };
      assert.equal(
        (
          await request(t.url)
            .post('/api/widget/contact')
            .send({ ...stranger, email: 'x@y.io' })
        ).status,
        403,
      );
      assert.equal(
        (
          await request(t.url)
            .post('/api/widget/contact')
            .send({ ...proof, email: 'nope' })
        ).status,
        400,
      );
      await request(t.url)
        .post('/api/widget/contact')
        .send({ ...proof, email: 'eve@example.com' })
        .expect(200);
      const eu = await t.database.prisma.endUser.findUniqueOrThrow({ where: { id: c.endUser.id } });
      assert.equal((eu.metadata as Record<string, unknown>).email, 'eve@example.com');

      const early = await request(t.url)
        .post('/api/widget/rating')
        .send({ ...proof, score: 5 });
      assert.equal(early.status, 409);
      await t.services.messages.send(
        c.actor,
        message({
          conversation_id: c.conversation.id,
          content: 'Hi',
          sender_type: 'end_user',
          external_id: c.externalId,
        }),
      );
      await t.services.conversations.resolve(agent.actor, c.conversation.id, { tags: [] });
      assert.equal(
        (
          await request(t.url)
            .post('/api/widget/rating')
            .send({ ...stranger, score: 5 })
        ).status,
        403,
      );
      assert.equal(
        (
          await request(t.url)
            .post('/api/widget/rating')
            .send({ ...proof, score: 9 })
        ).status,
        400,
      );
      const rated = await request(t.url)
        .post('/api/widget/rating')
        .send({ ...proof, score: 5, comment: 'Great' });
      assert.equal(rated.status, 201, JSON.stringify(rated.body));
      assert.equal((rated.body as { score: number }).score, 5);
    });
  });
}
