// Leaving an email and rating through the client core, against the real server (the package as
// built, as a tenant installs it): `ChatClient.leaveContact` and `ChatClient.submitRating`, the
// `rating_request` frame through `WSClient`'s `onRatingRequest`, refusals as `ChatApiError`s, and
// what agents and the tenant's backend then read: the email on the conversation, the rating on the
// signed API's `GET /api/v1/relay/conversations/:id`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { WebSocket } from 'ws';
import { ChatApiError, ChatClient, WSClient, type RatingRequestFrame } from '@switchboard/client-core';
import { loginAgent, startApp, type TestApp } from '../../../test/helpers/app.js';
import { dbModes } from '../../../test/helpers/db.js';
import { createAgent } from '../../../test/helpers/factories.js';
import { createTenant, SHOP, signedCall } from '../../../test/helpers/relay.js';
import { eventually } from '../../../test/helpers/sockets.js';

/** A refusal of this code and status, as the client core throws it. */
const refused = (code: string, status: number, param?: string) => (e: unknown) => {
  assert.ok(e instanceof ChatApiError, String(e));
  assert.equal(e.code, code);
  assert.equal(e.status_code, status);
  if (param) assert.equal(e.param, param);
  return true;
};

describe('the client core: leaveContact, submitRating and onRatingRequest', () => {
  let t: TestApp;
  const clients: WSClient[] = [];
  before(async () => {
    t = await startApp(await dbModes[0]!.open());
  });
  after(async () => {
    for (const c of clients) c.close();
    await t.stop();
    await t.database.close();
  });

  /** A relay visitor connected over the WebSocket, having written once, and an agent of the tenant. */
  async function visitor() {
    const tn = await createTenant(t.services);
    const client = new ChatClient({ baseUrl: t.url, tenantId: tn.id, widgetPublicKey: tn.pk, origin: SHOP });
    const sess = await client.createVisitorSession({ locale: 'en' });
    const ratingRequests: RatingRequestFrame[] = [];
    const ws = new WSClient(
      { baseUrl: t.url, visitorToken: sess.visitor_token, WebSocket },
      { onRatingRequest: (f) => ratingRequests.push(f) },
    );
    clients.push(ws);
    ws.connect();
    await eventually(() => ws.state === 'open');
    ws.sendMessage('Where is my parcel?');
    await eventually(
      async () =>
        (await t.database.prisma.message.count({ where: { conversationId: sess.conversation_id } })) === 1,
    );
    const agent = await createAgent(t.services, tn.id);
    return { tn, client, sess, ws, ratingRequests, agent };
  }

  test('leaveContact: stored unverified, shown to agents; a bad address or token is a ChatApiError', async () => {
    const { client, sess, agent } = await visitor();
    await assert.rejects(
      client.leaveContact(sess.visitor_token, 'not-an-email'),
      refused('request/invalid', 400, 'email'),
    );
    await assert.rejects(client.leaveContact('vt_forged', 'ana@example.com'), (e: unknown) => {
      assert.ok(e instanceof ChatApiError);
      assert.equal(e.status_code, 401);
      assert.match(e.code, /^token\//);
      return true;
    });
    const contact = await client.leaveContact(sess.visitor_token, '  ana@example.com ');
    assert.deepEqual(contact, { email: 'ana@example.com', verified: false });

    // The agent sees it on the conversation.
    const s = await loginAgent(t.url, agent.user.email, agent.password);
    const res = await request(t.url)
      .get(`/api/conversations/${sess.conversation_id}`)
      .set('Cookie', s.cookie);
    assert.equal(res.status, 200);
    assert.match(JSON.stringify(res.body), /ana@example\.com/);
  });

  test('submitRating: 409 before a resolve; the rating_request frame; 1–5 with a comment; again updates', async () => {
    const { tn, client, sess, ratingRequests, agent } = await visitor();
    await assert.rejects(
      client.submitRating(sess.visitor_token, { score: 5 }),
      refused('rating/not_resolved', 409),
    );

    await t.services.conversations.resolve(agent.actor, sess.conversation_id, { tags: [] });
    await eventually(() => ratingRequests.length === 1);
    const frame = ratingRequests[0]!;
    assert.equal(frame.type, 'rating_request');
    assert.equal(frame.conversation_id, sess.conversation_id);
    assert.match(frame.session_id, /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(frame.resolved_at)));

    for (const score of [0, 6, 2.5]) {
      await assert.rejects(
        client.submitRating(sess.visitor_token, { score, sessionId: frame.session_id }),
        refused('request/invalid', 400, 'score'),
      );
    }
    const first = await client.submitRating(sess.visitor_token, {
      score: 4,
      comment: '  Quick and kind  ',
      sessionId: frame.session_id,
    });
    assert.equal(first.score, 4);
    assert.equal(first.comment, 'Quick and kind');
    assert.equal(first.session_id, frame.session_id);
    assert.equal(first.conversation_id, sess.conversation_id);
    // Again (no session named: the latest resolved one): the same rating, updated.
    const again = await client.submitRating(sess.visitor_token, { score: 5 });
    assert.equal(again.session_id, frame.session_id);
    assert.equal(again.score, 5);
    assert.equal(again.comment, null);
    assert.equal(
      await t.database.prisma.rating.count({ where: { conversationId: sess.conversation_id } }),
      1,
    );

    // The tenant's backend reads it on the signed API.
    const got = await signedCall(t.url, tn, 'GET', `/api/v1/relay/conversations/${sess.conversation_id}`);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    const rating = (got.body.data as { rating: Record<string, unknown> | null }).rating;
    assert.ok(rating);
    assert.equal(rating.score, 5);
    assert.equal(rating.comment, null);
    assert.equal(rating.session_id, frame.session_id);
    assert.equal(rating.conversation_id, sess.conversation_id);
  });

  test("the signed API's rating is null before any rating", async () => {
    const { tn, sess } = await visitor();
    const got = await signedCall(t.url, tn, 'GET', `/api/v1/relay/conversations/${sess.conversation_id}`);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.equal((got.body.data as { rating: unknown }).rating, null);
  });
});
