// The inbox list's `last_message` and the visitor panel's API, in both database modes, over the
// real app: what the list shows after a reload (text, image, note; newest first), the visitor's
// profile with the browser and OS parsed from their User-Agent, and agents correcting the name
// and email (a bad email changes nothing; another tenant or another queue is a 404).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import request from 'supertest';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { agentHttp } from '../../test/helpers/http.js';

const CHROME_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

type Row = {
  id: string;
  last_message: {
    sender_type: string;
    content_type: string;
    content: string;
    created_at: string;
    internal: boolean;
  } | null;
};

async function signedIn(app: TestApp, organizationId: string, routingKeys: string[] = []) {
  const a = await createAgent(app.services, organizationId, { routingKeys });
  const session = await loginAgent(app.url, a.user.email, a.password);
  const patch = (path: string, body: object) =>
    request(app.url).patch(path).set('Cookie', session.cookie).set('X-CSRFToken', session.csrf).send(body);
  return { ...a, http: agentHttp(app.url, session), patch };
}

for (const mode of dbModes) {
  describe(`list and visitor panel (${mode.name})`, () => {
    test('the list carries each conversation’s last message, newest first', async (t) => {
      const database = await mode.open();
      const app = await startApp(database);
      t.after(async () => {
        await app.stop();
        await database.close();
      });
      const { org, channelId } = await createOrg(app.services);
      const ann = await signedIn(app, org.id);
      const open = () => createConversation(app.services, { organizationId: org.id, channelId });
      const say = (c: Awaited<ReturnType<typeof open>>, payload: object) =>
        app.services.messages.send(
          c.actor,
          message({ conversation_id: c.conversation.id, sender_type: 'end_user', ...payload }),
        );

      const text = await open();
      await say(text, { content: 'Hello there' });
      await say(text, { content: `Long ${'x'.repeat(300)}` });
      const image = await open();
      await say(image, {
        content: '',
        content_type: 'image',
        rich_media: { url: 'https://example.com/a.png' },
      });
      const noted = await open();
      await say(noted, { content: 'Need help' });
      await app.services.messages.send(
        ann.actor,
        message({
          conversation_id: noted.conversation.id,
          sender_type: 'agent',
          content: 'VIP customer',
          internal: true,
        }),
      );
      const silent = await open();

      const res = await ann.http.get('/api/conversations/?filter=all');
      assert.equal(res.status, 200);
      const rows = res.body as Row[];
      const byId = new Map(rows.map((r) => [r.id, r]));
      // Newest activity first (a conversation opened without a message counts from its opening).
      assert.deepEqual(rows.map((r) => r.id).slice(0, 4), [
        silent.conversation.id,
        noted.conversation.id,
        image.conversation.id,
        text.conversation.id,
      ]);
      const last = byId.get(text.conversation.id)!.last_message!;
      assert.equal(last.sender_type, 'end_user');
      assert.equal(last.content_type, 'text');
      assert.ok(last.content.startsWith('Long xxx'));
      assert.ok(last.content.length <= 141, 'cut to ~140 characters');
      assert.equal(last.internal, false);
      assert.match(last.created_at, /^\d{4}-/);
      assert.equal(byId.get(image.conversation.id)!.last_message!.content_type, 'image');
      const note = byId.get(noted.conversation.id)!.last_message!;
      assert.deepEqual([note.sender_type, note.content, note.internal], ['agent', 'VIP customer', true]);
      assert.equal(byId.get(silent.conversation.id)!.last_message, null);
    });

    test('the visitor profile: identity, page, browser and OS, history; edits are checked and scoped', async (t) => {
      const database = await mode.open();
      const app = await startApp(database);
      t.after(async () => {
        await app.stop();
        await database.close();
      });
      const { org, channelId, embedToken } = await createOrg(app.services);
      const ann = await signedIn(app, org.id);
      const queueAgent = await signedIn(app, org.id, ['store-9']);
      const other = await createOrg(app.services);
      const stranger = await signedIn(app, other.org.id);

      // The widget page opens as a browser would: its UA, language, and the page embed.js reports.
      const sessionId = `v_${'a'.repeat(24)}`;
      const page = await request(app.url)
        .get('/chat-widget')
        .query({
          embed_token: embedToken,
          session_id: sessionId,
          page_url: 'https://shop.example/checkout?step=2',
          referrer: 'https://search.example/?q=shoes',
        })
        .set('User-Agent', CHROME_UA)
        .set('Accept-Language', 'de-DE,de;q=0.9,en;q=0.8');
      assert.equal(page.status, 200);
      const conv = await database.prisma.conversation.findFirstOrThrow({
        where: { organizationId: org.id, endUser: { externalId: sessionId } },
      });

      const res = await ann.http.get(`/api/conversations/${conv.id}/visitor`);
      assert.equal(res.status, 200);
      const u = res.body.end_user;
      assert.equal(u.external_id, sessionId);
      assert.equal(u.verified, false);
      assert.equal(u.page_url, 'https://shop.example/checkout?step=2');
      assert.equal(u.referrer, 'https://search.example/?q=shoes');
      assert.equal(u.locale, 'de-DE');
      assert.equal(u.user_agent, CHROME_UA);
      assert.equal(u.browser.name, 'Chrome');
      assert.equal(u.browser.version, '131.0.0.0');
      assert.equal(u.os.name, 'Windows');
      assert.match(u.first_seen_at, /^\d{4}-/);
      assert.match(u.last_seen_at, /^\d{4}-/);
      assert.deepEqual(res.body.other_conversations, []);

      // A signed-in user of the tenant's site is verified.
      const known = await createConversation(app.services, {
        organizationId: org.id,
        channelId,
        externalId: 'customer-42',
      });
      const verified = await ann.http.get(`/api/conversations/${known.conversation.id}/visitor`);
      assert.equal(verified.body.end_user.verified, true);

      // A bad email: 400 naming the field, nothing changed.
      const bad = await ann.patch(`/api/conversations/${conv.id}/visitor`, {
        display_name: 'Should Not Stick',
        email: 'not-an-email',
      });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.body), /email/);
      const unchanged = await database.prisma.endUser.findUniqueOrThrow({ where: { id: conv.endUserId } });
      assert.equal(unchanged.displayName, null);
      assert.equal(unchanged.email, null);
      assert.equal((await ann.patch(`/api/conversations/${conv.id}/visitor`, {})).status, 400);

      // Another tenant's agent and an agent of another queue: not found, nothing changed.
      for (const outsider of [stranger, queueAgent]) {
        assert.equal((await outsider.http.get(`/api/conversations/${conv.id}/visitor`)).status, 404);
        const refused = await outsider.patch(`/api/conversations/${conv.id}/visitor`, {
          display_name: 'Mallory',
        });
        assert.equal(refused.status, 404);
      }

      const ok = await ann.patch(`/api/conversations/${conv.id}/visitor`, {
        display_name: 'Greta Gast',
        email: 'greta@example.com',
      });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body, {
        id: conv.endUserId,
        display_name: 'Greta Gast',
        email: 'greta@example.com',
      });
      const after = await ann.http.get(`/api/conversations/${conv.id}/visitor`);
      assert.equal(after.body.end_user.display_name, 'Greta Gast');
      assert.equal(after.body.end_user.email, 'greta@example.com');
      const list = await ann.http.get('/api/conversations/?filter=all');
      const row = (list.body as { id: string; end_user: { display_name: string } }[]).find(
        (r) => r.id === conv.id,
      );
      assert.equal(row?.end_user.display_name, 'Greta Gast');
    });
  });
}
