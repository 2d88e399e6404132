import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { agentHttp, ISO_8601 } from '../../test/helpers/http.js';
import type { UserRole } from '../../src/generated/prisma/client.js';
import { LIST_COUNT_CAP } from './conversations.service.js';

const postgres = dbModes.find((m) => m.name === 'postgres')!;
const pglite = dbModes.find((m) => m.name === 'pglite')!;

let app: TestApp;
before(async () => {
  app = await startApp(await postgres.open());
});
after(async () => {
  await app.stop();
  await app.database.close();
});

/** An organization with agents signed in through the real login. */
async function seed(t: TestApp, roles: UserRole[] = ['agent', 'agent']) {
  const { org, channelId } = await createOrg(t.services);
  const agents = await Promise.all(
    roles.map(async (role) => {
      const a = await createAgent(t.services, org.id, { role });
      const session = await loginAgent(t.url, a.user.email, a.password);
      return { ...a, session, http: agentHttp(t.url, session) };
    }),
  );
  /** A conversation; with `say`, the end user writes and so opens a session. */
  const conversation = async (o: { say?: string[]; routingKey?: string; displayName?: string } = {}) => {
    const c = await createConversation(t.services, {
      organizationId: org.id,
      channelId,
      ...(o.routingKey ? { routingKey: o.routingKey } : {}),
      ...(o.displayName ? { displayName: o.displayName } : {}),
    });
    for (const content of o.say ?? []) {
      await t.services.messages.send(
        c.actor,
        message({
          conversation_id: c.conversation.id,
          content,
          sender_type: 'end_user',
        }),
      );
    }
    return c;
  };
  return { org, channelId, agents, conversation };
}

const openSessionOf = (t: TestApp, conversationId: string) =>
  t.database.prisma.conversationSession.findFirst({ where: { conversationId, status: 'open' } });

test('list: default filter is unassigned; mine and all; every documented field', async () => {
  const { agents, conversation, channelId } = await seed(app);
  const [ann, bob] = agents;
  const waiting = await conversation({ say: ['Hello'], displayName: 'John Doe' });
  const annS = await conversation({ say: ['Hi'] });
  await app.services.conversations.assign(ann!.actor, annS.conversation.id);
  const silent = await conversation();
  const done = await conversation({ say: ['Thanks'] });
  await app.services.conversations.resolve(ann!.actor, done.conversation.id, { tags: [] });

  const res = await ann!.http.get('/api/conversations/');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type']!, /^application\/json/);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers['x-total-count'], '1');
  assert.equal(res.headers.link, undefined);
  assert.equal(res.body.length, 1);
  const item = res.body[0];
  const open = await openSessionOf(app, waiting.conversation.id);
  assert.equal(item.id, waiting.conversation.id);
  assert.deepEqual(item.end_user, {
    id: waiting.endUser.id,
    display_name: 'John Doe',
    external_id: waiting.externalId,
    // No email left by the visitor (the offline form).
    contact_email: null,
    contact_email_verified: false,
  });
  assert.equal(item.channel_id, channelId);
  assert.deepEqual(
    { id: item.active_session.id, status: item.active_session.status },
    { id: open!.id, status: 'open' },
  );
  assert.equal(item.active_session.assigned_agent_id, null);
  assert.deepEqual(item.active_session.tags, []);
  assert.match(item.created_at, ISO_8601);
  assert.match(item.updated_at, ISO_8601);

  // The explicit filter equals the default.
  const explicit = await ann!.http.get('/api/conversations?filter=unassigned');
  assert.deepEqual(explicit.body, res.body);

  const mine = await ann!.http.get('/api/conversations/?filter=mine');
  assert.deepEqual(
    mine.body.map((c: { id: string }) => c.id),
    [annS.conversation.id],
  );
  assert.equal(mine.body[0].active_session.assigned_agent_id, ann!.user.id);
  assert.equal((await bob!.http.get('/api/conversations/?filter=mine')).body.length, 0);

  const all = await bob!.http.get('/api/conversations/?filter=all');
  assert.equal(all.headers['x-total-count'], '4');
  assert.deepEqual(
    new Set(all.body.map((c: { id: string }) => c.id)),
    new Set([waiting, annS, silent, done].map((c) => c.conversation.id)),
  );
  const byId = new Map(all.body.map((c: { id: string }) => [c.id, c]));
  assert.equal((byId.get(silent.conversation.id) as { active_session: unknown }).active_session, null);
  assert.equal((byId.get(done.conversation.id) as { active_session: unknown }).active_session, null);
  // Newest activity first.
  const updated = all.body.map((c: { updated_at: string }) => c.updated_at);
  assert.deepEqual(updated, [...updated].sort().reverse());
});

test('list pages with limit/offset, X-Total-Count and a Link to the next page', async () => {
  const { agents, conversation } = await seed(app, ['agent']);
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await conversation({ say: [`m${i}`] })).conversation.id);
  const http = agents[0]!.http;

  const first = await http.get('/api/conversations/?limit=2');
  assert.equal(first.status, 200);
  assert.equal(first.body.length, 2);
  assert.equal(first.headers['x-total-count'], '5');
  assert.equal(first.headers.link, '</api/conversations/?filter=unassigned&limit=2&offset=2>; rel="next"');

  const seen: string[] = [];
  let next: string | undefined = '/api/conversations/?limit=2';
  while (next) {
    const page = await http.get(next);
    seen.push(...page.body.map((c: { id: string }) => c.id));
    next = /<([^>]+)>; rel="next"/.exec(page.headers.link ?? '')?.[1];
  }
  // Every conversation exactly once across the pages.
  assert.deepEqual([...seen].sort(), [...ids].sort());

  const last = await http.get('/api/conversations/?limit=2&offset=4');
  assert.equal(last.body.length, 1);
  assert.equal(last.headers.link, undefined);
  const beyond = await http.get('/api/conversations/?offset=50');
  assert.deepEqual(beyond.body, []);
  assert.equal(beyond.headers['x-total-count'], '5');
});

test('past 10,000 conversations the list is not counted: no X-Total-Count, a Link while pages are full', async () => {
  const { org, channelId, agents } = await seed(app, ['admin']);
  const http = agents[0]!.http;
  // 10,001 conversations (a big tenant's history), written set-based.
  const n = LIST_COUNT_CAP + 1;
  await app.database.prisma.$executeRawUnsafe(
    `INSERT INTO end_users (id, organization_id, external_id, created_at, updated_at)
     SELECT gen_random_uuid(), $1::uuid, 'cap_' || i, now(), now() FROM generate_series(1, $2::int) i`,
    org.id,
    n,
  );
  await app.database.prisma.$executeRawUnsafe(
    `INSERT INTO conversations (id, organization_id, channel_id, end_user_id, created_at, updated_at)
     SELECT gen_random_uuid(), $1::uuid, $2::uuid, e.id, now() - make_interval(secs => row_number() OVER ()), now() - make_interval(secs => row_number() OVER ())
     FROM end_users e WHERE e.organization_id = $1::uuid AND e.external_id LIKE 'cap\\_%'`,
    org.id,
    channelId,
  );
  const first = await http.get('/api/conversations/?filter=all&limit=100');
  assert.equal(first.status, 200);
  assert.equal(first.body.length, 100);
  assert.equal(first.headers['x-total-count'], undefined);
  assert.equal(first.headers.link, '</api/conversations/?filter=all&limit=100&offset=100>; rel="next"');
  // The last, short page ends the Link chain.
  const last = await http.get(`/api/conversations/?filter=all&limit=100&offset=${n - 1}`);
  assert.equal(last.body.length, 1);
  assert.equal(last.headers.link, undefined);
  // One fewer and the count is exact again.
  const one = await app.database.prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id } });
  await app.database.prisma.conversation.delete({ where: { id: one.id } });
  const exact = await http.get('/api/conversations/?filter=all&limit=1');
  assert.equal(exact.headers['x-total-count'], String(LIST_COUNT_CAP));
});

test('bad parameters are 400 naming the parameter, as JSON', async () => {
  const { agents, conversation } = await seed(app, ['agent']);
  const { conversation: c } = await conversation({ say: ['hi'] });
  const http = agents[0]!.http;
  const cases: [string, string][] = [
    ['/api/conversations/?filter=bogus', 'filter'],
    ['/api/conversations/?limit=0', 'limit'],
    ['/api/conversations/?limit=abc', 'limit'],
    ['/api/conversations/?limit=201', 'limit'],
    ['/api/conversations/?offset=-1', 'offset'],
    ['/api/conversations/not-a-uuid', 'id'],
    ['/api/conversations/not-a-uuid/messages', 'id'],
    [`/api/conversations/${c.id}/messages?limit=0`, 'limit'],
    [`/api/conversations/${c.id}/messages?offset=x`, 'offset'],
  ];
  for (const [path, param] of cases) {
    const res = await http.get(path);
    assert.equal(res.status, 400, path);
    assert.equal(res.body.error, 'request/invalid', path);
    assert.equal(res.body.param, param, path);
    assert.match(res.body.message, new RegExp(`'${param}'`), path);
  }
  const posts: [string, object | undefined, string][] = [
    [`/api/conversations/nope/assign`, undefined, 'id'],
    [`/api/conversations/${c.id}/resolve`, { tags: 'billing' }, 'tags'],
    [`/api/conversations/${c.id}/resolve`, { tags: ['a,b'] }, 'tags.0'],
    [`/api/conversations/${c.id}/resolve`, { tags: [''] }, 'tags.0'],
    [`/api/conversations/${c.id}/tags`, {}, 'add'],
    [`/api/conversations/${c.id}/tags`, { add: [42] }, 'add.0'],
  ];
  for (const [path, body, param] of posts) {
    const res = await http.post(path, body);
    assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}`);
    assert.equal(res.body.param, param, `${path} ${JSON.stringify(body)}`);
    assert.equal(typeof res.body.message, 'string');
  }
  const malformed = await http
    .post(`/api/conversations/${c.id}/resolve`)
    .set('content-type', 'application/json')
    .send('{"tags": [');
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error, 'request/invalid');
  // None of it changed the conversation.
  const open = await openSessionOf(app, c.id);
  assert.equal(open?.assignedAgentId, null);
  assert.deepEqual(open?.tags, []);
});

test('get: the list item shape; unknown id is 404 JSON', async () => {
  const { agents, conversation } = await seed(app, ['agent']);
  const { conversation: c } = await conversation({ say: ['hi'] });
  const http = agents[0]!.http;
  const one = await http.get(`/api/conversations/${c.id}`);
  assert.equal(one.status, 200);
  const list = await http.get('/api/conversations/?filter=all');
  // The one conversation adds the visitor's latest rating (none yet) to the list item's shape.
  const { rating, ...item } = one.body as Record<string, unknown>;
  assert.equal(rating, null);
  assert.deepEqual(item, list.body[0]);

  const missing = await http.get(`/api/conversations/${randomUUID()}`);
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { error: 'conversation/not_found', message: 'Conversation not found' });
});

test('agent history: every field, newest page first but oldest-first order, limit and offset', async () => {
  const { agents, conversation } = await seed(app, ['agent']);
  const [ann] = agents;
  const c = await conversation({ say: ['Hello'] });
  const convId = c.conversation.id;
  const reply = await app.services.messages.send(
    ann!.actor,
    message({
      conversation_id: convId,
      content: 'Hi, how can I help?',
      sender_type: 'agent',
    }),
  );
  await app.services.messages.send(
    c.actor,
    message({
      conversation_id: convId,
      content: 'Pick one',
      content_type: 'quick_button',
      rich_media: { buttons: [{ label: 'Yes', value: 'yes' }] },
      sender_type: 'end_user',
    }),
  );
  await app.services.messages.markRead(c.actor, { conversation_id: convId, message_ids: [reply.message.id] });
  const session = await openSessionOf(app, convId);

  const res = await ann!.http.get(`/api/conversations/${convId}/messages`);
  assert.equal(res.status, 200);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.deepEqual(
    res.body.map((m: { content: string }) => m.content),
    ['Hello', 'Hi, how can I help?', 'Pick one'],
  );
  const [first, second, third] = res.body;
  for (const m of res.body) {
    assert.equal(m.session_id, session!.id);
    assert.match(m.id, /^[0-9a-f-]{36}$/);
    assert.match(m.created_at, ISO_8601);
  }
  assert.equal(first.sender_type, 'end_user');
  assert.equal(first.sender_id, c.externalId);
  assert.equal(first.content_type, 'text');
  assert.equal(first.rich_media, null);
  assert.deepEqual(first.read_by, {});
  assert.equal(second.id, reply.message.id);
  assert.equal(second.sender_type, 'agent');
  assert.equal(second.sender_id, ann!.user.id);
  assert.deepEqual(Object.keys(second.read_by), [c.externalId]);
  assert.match(second.read_by[c.externalId], ISO_8601);
  assert.equal(third.content_type, 'quick_button');
  assert.deepEqual(third.rich_media, { buttons: [{ label: 'Yes', value: 'yes' }] });

  // A page is counted back from the newest message and returned oldest first.
  const newest = await ann!.http.get(`/api/conversations/${convId}/messages?limit=2&offset=0`);
  assert.deepEqual(
    newest.body.map((m: { content: string }) => m.content),
    ['Hi, how can I help?', 'Pick one'],
  );
  const older = await ann!.http.get(`/api/conversations/${convId}/messages?limit=2&offset=2`);
  assert.deepEqual(
    older.body.map((m: { content: string }) => m.content),
    ['Hello'],
  );
  const none = await ann!.http.get(`/api/conversations/${randomUUID()}/messages`);
  assert.equal(none.status, 404);
  assert.equal(none.body.error, 'conversation/not_found');
});

test('history limits: agents get 50 by default; the widget gets the last 100 without session_id and read_by', async () => {
  const { agents, conversation } = await seed(app, ['agent']);
  const c = await conversation();
  const texts = Array.from({ length: 105 }, (_, i) => `message ${i + 1}`);
  const { message: firstMessage } = await app.services.messages.send(
    c.actor,
    message({
      conversation_id: c.conversation.id,
      content: texts[0],
      sender_type: 'end_user',
    }),
  );
  // The rest in one statement: 104 sends would only slow the test down.
  await app.database.prisma.message.createMany({
    data: texts.slice(1).map((content, i) => ({
      organizationId: firstMessage.organizationId,
      conversationId: firstMessage.conversationId,
      sessionId: firstMessage.sessionId,
      senderType: 'end_user' as const,
      senderId: c.externalId,
      content,
      createdAt: new Date(firstMessage.createdAt.getTime() + i + 1),
    })),
  });
  const agentPage = await agents[0]!.http.get(`/api/conversations/${c.conversation.id}/messages`);
  assert.deepEqual(
    agentPage.body.map((m: { content: string }) => m.content),
    texts.slice(55),
  );

  // Public: no cookie at all.
  const path = `/chat-widget/history/${c.conversation.id}?external_id=${encodeURIComponent(c.externalId)}`;
  const widget = await request(app.url).get(path);
  assert.equal(widget.status, 200);
  assert.equal(widget.headers['cache-control'], 'no-store');
  assert.equal(widget.headers['set-cookie'], undefined);
  assert.deepEqual(
    widget.body.map((m: { content: string }) => m.content),
    texts.slice(5),
  );
  const m = widget.body[0];
  assert.equal('session_id' in m, false);
  assert.equal('read_by' in m, false);
  assert.equal(m.sender_type, 'end_user');
  assert.equal(m.sender_id, c.externalId);
  assert.equal(m.content_type, 'text');
  assert.equal(m.rich_media, null);
  assert.match(m.id, /^[0-9a-f-]{36}$/);
  assert.match(m.created_at, ISO_8601);
});

test('widget history: a wrong external_id and an unknown conversation get the same 403', async () => {
  const { conversation } = await seed(app, []);
  const c = await conversation({ say: ['secret'] });
  const other = await conversation({ say: ['mine'] });
  const get = (id: string, q: string) => request(app.url).get(`/chat-widget/history/${id}${q}`);

  const wrong = await get(c.conversation.id, `?external_id=${encodeURIComponent(other.externalId)}`);
  const unknown = await get(randomUUID(), `?external_id=${encodeURIComponent(c.externalId)}`);
  for (const res of [wrong, unknown]) {
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, {
      error: 'auth/forbidden',
      message: 'Not allowed to access this conversation',
    });
  }
  const missing = await get(c.conversation.id, '');
  assert.equal(missing.status, 400);
  assert.equal(missing.body.param, 'external_id');
  const badId = await get('1234', `?external_id=${c.externalId}`);
  assert.equal(badId.status, 400);
  assert.equal(badId.body.param, 'id');
});

test('assign: the spec shape, leaves the unassigned list, 409 for another agent and with no open session', async () => {
  const { agents, conversation } = await seed(app);
  const [ann, bob] = agents;
  const { conversation: c } = await conversation({ say: ['help'] });
  const events: unknown[] = [];
  const unsubscribe = app.bus.subscribe('conversation.assigned', (e) => {
    if (e.conversationId === c.id) events.push(e);
  });

  const res = await ann!.http.post(`/api/conversations/${c.id}/assign`);
  unsubscribe();
  assert.equal(res.status, 200);
  assert.equal(res.body.id, c.id);
  assert.equal(res.body.assigned_agent_id, ann!.user.id);
  assert.match(res.body.assigned_at, ISO_8601);
  assert.equal(events.length, 1);
  const session = await openSessionOf(app, c.id);
  assert.equal(session!.assignedAgentId, ann!.user.id);
  assert.equal(session!.assignedAt!.toISOString(), res.body.assigned_at);

  const got = await bob!.http.get(`/api/conversations/${c.id}`);
  assert.equal(got.body.active_session.assigned_agent_id, ann!.user.id);
  assert.deepEqual((await bob!.http.get('/api/conversations/')).body, []);

  // Claiming one's own again changes nothing.
  const again = await ann!.http.post(`/api/conversations/${c.id}/assign`);
  assert.equal(again.status, 200);
  assert.equal(again.body.assigned_at, res.body.assigned_at);

  const taken = await bob!.http.post(`/api/conversations/${c.id}/assign`);
  assert.equal(taken.status, 409);
  assert.equal(taken.body.error, 'conversation/already_assigned');
  assert.equal(typeof taken.body.message, 'string');
  assert.equal((await openSessionOf(app, c.id))!.assignedAgentId, ann!.user.id);

  const { conversation: quiet } = await conversation();
  const nothingOpen = await bob!.http.post(`/api/conversations/${quiet.id}/assign`);
  assert.equal(nothingOpen.status, 409);
  assert.equal(nothingOpen.body.error, 'conversation/no_open_session');
  assert.equal((await bob!.http.post(`/api/conversations/${randomUUID()}/assign`)).status, 404);
});

test('assign race: two agents at once, exactly one 200 and one 409', async () => {
  const { agents, conversation } = await seed(app);
  const [ann, bob] = agents;
  for (let round = 0; round < 5; round++) {
    const { conversation: c } = await conversation({ say: ['first come'] });
    const results = await Promise.all([
      ann!.http.post(`/api/conversations/${c.id}/assign`),
      bob!.http.post(`/api/conversations/${c.id}/assign`),
    ]);
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 409], `round ${round}`);
    const winner = results.find((r) => r.status === 200)!;
    assert.equal(results.find((r) => r.status === 409)!.body.error, 'conversation/already_assigned');
    assert.equal((await openSessionOf(app, c.id))!.assignedAgentId, winner.body.assigned_agent_id);
  }
});

test('resolve: the spec shape with and without tags; 409 once resolved', async () => {
  const { agents, conversation } = await seed(app, ['agent']);
  const http = agents[0]!.http;
  const { conversation: c } = await conversation({ say: ['bill me'] });
  const session = await openSessionOf(app, c.id);

  const res = await http.post(`/api/conversations/${c.id}/resolve`, {
    tags: ['billing', 'resolved-no-action'],
  });
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body).sort(), ['id', 'resolved_at', 'session_id', 'status', 'tags']);
  assert.equal(res.body.id, c.id);
  assert.equal(res.body.session_id, session!.id);
  assert.equal(res.body.status, 'resolved');
  assert.deepEqual(res.body.tags, ['billing', 'resolved-no-action']);
  assert.match(res.body.resolved_at, ISO_8601);
  const stored = await app.database.prisma.conversationSession.findUnique({ where: { id: session!.id } });
  assert.equal(stored!.status, 'resolved');
  assert.equal(stored!.resolvedAt!.toISOString(), res.body.resolved_at);
  assert.equal((await http.get(`/api/conversations/${c.id}`)).body.active_session, null);

  const again = await http.post(`/api/conversations/${c.id}/resolve`);
  assert.equal(again.status, 409);
  assert.equal(again.body.error, 'conversation/no_open_session');
  assert.equal(typeof again.body.message, 'string');

  // No body: tags default to [].
  const { conversation: d } = await conversation({ say: ['ok'] });
  const plain = await http.post(`/api/conversations/${d.id}/resolve`);
  assert.equal(plain.status, 200);
  assert.deepEqual(plain.body.tags, []);
  assert.equal((await http.post(`/api/conversations/${randomUUID()}/resolve`)).status, 404);
});

test('tags: add and remove on the open session, kept at resolve; 409 with no open session', async () => {
  const { agents, conversation } = await seed(app, ['agent']);
  const http = agents[0]!.http;
  const { conversation: c } = await conversation({ say: ['hi'] });
  const session = await openSessionOf(app, c.id);

  const added = await http.post(`/api/conversations/${c.id}/tags`, { add: ['vip', 'billing'] });
  assert.equal(added.status, 200);
  const { tagged_at, ...rest } = added.body as { tagged_at: string };
  assert.deepEqual(rest, { id: c.id, session_id: session!.id, tags: ['vip', 'billing'] });
  assert.ok(!Number.isNaN(Date.parse(tagged_at)), 'when the tags were set');
  const removed = await http.post(`/api/conversations/${c.id}/tags`, { remove: ['vip'], add: ['refund'] });
  assert.deepEqual(removed.body.tags, ['billing', 'refund']);
  assert.deepEqual((await http.get(`/api/conversations/${c.id}`)).body.active_session.tags, [
    'billing',
    'refund',
  ]);

  const resolved = await http.post(`/api/conversations/${c.id}/resolve`, { tags: ['done'] });
  assert.deepEqual(resolved.body.tags, ['billing', 'refund', 'done']);
  const closed = await http.post(`/api/conversations/${c.id}/tags`, { add: ['late'] });
  assert.equal(closed.status, 409);
  assert.equal(closed.body.error, 'conversation/no_open_session');
});

test('tags: agents tagging at once all keep their tags; a resolve keeps every tag that was accepted', async () => {
  const { agents, conversation } = await seed(app, ['agent', 'agent']);
  const { conversation: c } = await conversation({ say: ['hi'] });
  // 24 requests at once from two agents, each adding its own tag (and half removing "x").
  await agents[0]!.http.post(`/api/conversations/${c.id}/tags`, { add: ['x'] });
  const wanted = Array.from({ length: 24 }, (_, k) => `t${k}`);
  const answers = await Promise.all(
    wanted.map((tag, k) =>
      agents[k % 2]!.http.post(`/api/conversations/${c.id}/tags`, {
        add: [tag],
        ...(k % 2 ? { remove: ['x'] } : {}),
      }),
    ),
  );
  assert.deepEqual(
    answers.map((r) => r.status),
    wanted.map(() => 200),
  );
  const tags = (await agents[0]!.http.get(`/api/conversations/${c.id}`)).body.active_session.tags as string[];
  assert.deepEqual([...tags].sort(), [...wanted].sort(), 'every tag added, "x" removed, nothing twice');
  // Each answer holds its own tag: it saw the row after its own change.
  for (const [k, r] of answers.entries()) assert.ok((r.body.tags as string[]).includes(wanted[k]!));

  // Tags racing a resolve: each tag accepted (200) is in the resolved session; the rest got 409.
  const { conversation: d } = await conversation({ say: ['hello'] });
  const racing = await Promise.all([
    ...['a', 'b', 'c', 'd'].map((tag) =>
      agents[1]!.http.post(`/api/conversations/${d.id}/tags`, { add: [tag] }),
    ),
    agents[0]!.http.post(`/api/conversations/${d.id}/resolve`, { tags: ['done'] }),
  ]);
  const resolved = racing.at(-1)!;
  assert.equal(resolved.status, 200);
  for (const [k, r] of racing.slice(0, 4).entries()) {
    const tag = ['a', 'b', 'c', 'd'][k]!;
    if (r.status === 200)
      assert.ok((resolved.body.tags as string[]).includes(tag), `${tag} accepted, then lost`);
    else assert.equal(r.body.error, 'conversation/no_open_session');
  }
  assert.ok((resolved.body.tags as string[]).includes('done'));
});

test('tags: a session holds at most 50; past that 409 and nothing changes', async () => {
  const { agents, conversation } = await seed(app, ['agent']);
  const http = agents[0]!.http;
  const { conversation: c } = await conversation({ say: ['hi'] });
  const fifty = Array.from({ length: 50 }, (_, k) => `tag-${k}`);
  assert.equal((await http.post(`/api/conversations/${c.id}/tags`, { add: fifty })).status, 200);
  const over = await http.post(`/api/conversations/${c.id}/tags`, { add: ['one-more'] });
  assert.equal(over.status, 409);
  assert.equal(over.body.error, 'conversation/too_many_tags');
  assert.deepEqual((await http.get(`/api/conversations/${c.id}`)).body.active_session.tags, fifty);
  // Adding one already there, or swapping one for another, stays within the limit.
  assert.equal((await http.post(`/api/conversations/${c.id}/tags`, { add: ['tag-0'] })).status, 200);
  const swapped = await http.post(`/api/conversations/${c.id}/tags`, {
    add: ['one-more'],
    remove: ['tag-0'],
  });
  assert.equal(swapped.status, 200);
  assert.deepEqual(swapped.body.tags, [...fifty.slice(1), 'one-more']);
  // The resolve's tags count too: refused, the session stays open with its tags.
  const resolve = await http.post(`/api/conversations/${c.id}/resolve`, { tags: ['extra'] });
  assert.equal(resolve.status, 409);
  assert.equal(resolve.body.error, 'conversation/too_many_tags');
  const after = (await http.get(`/api/conversations/${c.id}`)).body.active_session;
  assert.equal(after.status, 'open');
  assert.equal(after.tags.length, 50);
});

test('an agent limited to routing keys gets 404 for other queues; admins see every queue', async () => {
  const { org, channelId } = await createOrg(app.services);
  const billing = await createAgent(app.services, org.id, { routingKeys: ['billing'] });
  const admin = await createAgent(app.services, org.id, { role: 'admin', routingKeys: ['billing'] });
  const sales = await createConversation(app.services, {
    organizationId: org.id,
    channelId,
    routingKey: 'sales',
  });
  await app.services.messages.send(
    sales.actor,
    message({
      conversation_id: sales.conversation.id,
      content: 'hi',
      sender_type: 'end_user',
    }),
  );
  const b = agentHttp(app.url, await loginAgent(app.url, billing.user.email, billing.password));
  const a = agentHttp(app.url, await loginAgent(app.url, admin.user.email, admin.password));
  assert.equal((await b.get(`/api/conversations/${sales.conversation.id}`)).status, 404);
  assert.equal((await b.post(`/api/conversations/${sales.conversation.id}/assign`)).status, 404);
  assert.deepEqual((await b.get('/api/conversations/?filter=all')).body, []);
  assert.equal((await a.get(`/api/conversations/${sales.conversation.id}`)).status, 200);
  assert.equal((await a.get('/api/conversations/?filter=all')).body.length, 1);
});

test('smoke on PGlite: login, list, get, history, assign, tags, resolve, widget history, API keys, logout', async (t) => {
  const database = await pglite.open();
  const lite = await startApp(database);
  t.after(async () => {
    await lite.stop();
    await database.close();
  });
  const { agents, conversation } = await seed(lite, ['admin']);
  const { http, user } = agents[0]!;
  const c = await conversation({ say: ['hello from pglite'] });
  const id = c.conversation.id;

  const list = await http.get('/api/conversations/');
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.body.map((x: { id: string }) => x.id),
    [id],
  );
  assert.equal(list.headers['x-total-count'], '1');
  assert.equal((await http.get(`/api/conversations/${id}`)).body.end_user.external_id, c.externalId);
  const history = await http.get(`/api/conversations/${id}/messages`);
  assert.equal(history.body[0].content, 'hello from pglite');
  assert.deepEqual(history.body[0].read_by, {});
  const assigned = await http.post(`/api/conversations/${id}/assign`);
  assert.equal(assigned.body.assigned_agent_id, user.id);
  // Released back to the queue, then claimed again (transfers: release-transfer.test.ts).
  assert.equal((await http.post(`/api/conversations/${id}/release`)).body.assigned_agent_id, null);
  assert.equal((await http.post(`/api/conversations/${id}/release`)).status, 409);
  assert.equal((await http.post(`/api/conversations/${id}/assign`)).status, 200);
  const self = await http.post(`/api/conversations/${id}/transfer`, { agent_id: user.id });
  assert.equal(self.body.error, 'conversation/bad_transfer_target');
  assert.deepEqual((await http.post(`/api/conversations/${id}/tags`, { add: ['x'] })).body.tags, ['x']);
  const resolved = await http.post(`/api/conversations/${id}/resolve`, { tags: ['y'] });
  assert.equal(resolved.body.status, 'resolved');
  assert.deepEqual(resolved.body.tags, ['x', 'y']);
  assert.equal((await http.post(`/api/conversations/${id}/resolve`)).status, 409);
  const widget = await request(lite.url).get(`/chat-widget/history/${id}?external_id=${c.externalId}`);
  assert.equal(widget.status, 200);
  assert.equal(widget.body[0].content, 'hello from pglite');
  assert.equal((await request(lite.url).get(`/chat-widget/history/${id}?external_id=nope`)).status, 403);

  const created = await http.post('/api/api-keys', { name: 'CRM' });
  assert.equal(created.status, 201);
  assert.deepEqual(
    (await http.get('/api/api-keys')).body.map((k: { id: string }) => k.id),
    [created.body.id],
  );
  assert.equal((await http.delete(`/api/api-keys/${created.body.id}`)).status, 200);
  assert.deepEqual((await http.get('/api/api-keys')).body, []);

  // The session lives in the embedded database, and logout ends it.
  const { cookie, csrf } = agents[0]!.session;
  const sid = /^s:(.+)\.[^.]+$/.exec(decodeURIComponent(cookie.split('=')[1]!))![1]!;
  assert.equal(await database.prisma.httpSession.count({ where: { id: sid } }), 1);
  assert.equal((await request(lite.url).get('/auth/me').set('Cookie', cookie)).body.user.id, user.id);
  const out = await request(lite.url)
    .post('/auth/logout')
    .set({ Cookie: cookie, 'X-CSRFToken': csrf, Accept: 'application/json' });
  assert.equal(out.status, 200);
  assert.equal((await request(lite.url).get('/auth/me').set('Cookie', cookie)).status, 401);
  assert.equal((await http.get('/api/conversations/')).status, 401);
});
