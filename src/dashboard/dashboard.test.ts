import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { dbModes } from '../../test/helpers/db.js';
import { createAgent, createConversation, createOrg, message } from '../../test/helpers/factories.js';
import { servicesFor } from '../../test/helpers/services.js';

type Session = Awaited<ReturnType<typeof loginAgent>>;

/** fetch as a signed-in agent; writes carry X-CSRFToken unless `csrf: false`. */
function as(app: TestApp, s: Session | null) {
  return async (method: string, path: string, body?: unknown, opts: { csrf?: boolean } = {}) => {
    const res = await fetch(`${app.url}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(s ? { cookie: s.cookie } : {}),
        ...(s && method !== 'GET' && opts.csrf !== false ? { 'x-csrftoken': s.csrf } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
    return { status: res.status, body: json as Record<string, unknown> & Record<string, unknown>[] };
  };
}

async function setup(t: { after: (fn: () => Promise<void>) => void }, mode: (typeof dbModes)[number]) {
  const database = await mode.open();
  const app = await startApp(database);
  t.after(async () => {
    await app.stop();
    await database.close();
  });
  const org = await createOrg(app.services);
  const owner = await createAgent(app.services, org.org.id, { role: 'owner' });
  const admin = await createAgent(app.services, org.org.id, { role: 'admin' });
  const agent = await createAgent(app.services, org.org.id, { role: 'agent' });
  const [ownerS, adminS, agentS] = await Promise.all(
    [owner, admin, agent].map((a) => loginAgent(app.url, a.user.email, a.password)),
  );
  return { app, database, org, owner, admin, agent, ownerS: ownerS!, adminS: adminS!, agentS: agentS! };
}

// The embedded database runs the raw SQL of the unread counts below; the rest is plain Prisma.
{
  const mode = dbModes[0]!;
  test(`dashboard REST: auth matrix, bots, embed tokens (${mode.name})`, async (t) => {
    const { app, org, adminS, agentS } = await setup(t, mode);
    const anon = as(app, null);
    const admin = as(app, adminS);
    const agent = as(app, agentS);

    // No session → 401; an agent → 403; an admin without the CSRF header → 403 and no bot.
    assert.equal((await anon('GET', '/api/bots')).status, 401);
    assert.equal((await anon('GET', '/api/team')).status, 401);
    const forbidden = await agent('POST', '/api/bots', { name: 'Nope' });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.error, 'auth/forbidden');
    assert.equal((await agent('GET', '/api/embed-tokens')).status, 403);
    const noCsrf = await admin('POST', '/api/bots', { name: 'No CSRF' }, { csrf: false });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.body.error, 'auth/csrf');

    // Bots: create, rename, list; bad input is a 400 naming the field and changes nothing.
    const created = await admin('POST', '/api/bots', { name: '  Sales bot ' });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, 'Sales bot');
    const botId = created.body.id as string;
    const bad = await admin('PATCH', `/api/bots/${botId}`, { name: '' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message as unknown as string, /name/);
    assert.equal((await admin('PATCH', `/api/bots/${botId}`, { name: 'Sales' })).body.name, 'Sales');
    assert.equal((await admin('PATCH', '/api/bots/not-a-uuid', { name: 'x' })).status, 400);
    const bots = (await admin('GET', '/api/bots')).body;
    assert.deepEqual(
      bots.map((b) => b.name),
      ['Assistant', 'Sales'],
    );
    assert.equal(bots[0]!.webchat_channel_id, org.channelId);

    // Another tenant's bot is "not found", never "forbidden".
    const other = await createOrg(app.services);
    const foreign = await admin('PATCH', `/api/bots/${other.botId}`, { name: 'Mine now' });
    assert.equal(foreign.status, 404);
    assert.equal(
      (await app.database.prisma.bot.findUnique({ where: { id: other.botId } }))!.name,
      'Assistant',
    );

    // Embed tokens: the value is in the create answer only; the list shows a prefix.
    const badOrigin = await admin('POST', '/api/embed-tokens', {
      bot_id: botId,
      name: 'Shop',
      allowed_origins: ['https://shop.example.com/path'],
    });
    assert.equal(badOrigin.status, 400);
    assert.match(badOrigin.body.message as unknown as string, /allowed_origins/);
    const foreignBot = await admin('POST', '/api/embed-tokens', { bot_id: other.botId, name: 'x' });
    assert.equal(foreignBot.status, 404);
    const tok = await admin('POST', '/api/embed-tokens', {
      bot_id: botId,
      name: 'Shop',
      allowed_origins: ['https://shop.example.com', 'https://www.shop.example.com/'],
    });
    assert.equal(tok.status, 201);
    const token = tok.body.token as string;
    assert.match(token, /^ew_/);
    assert.deepEqual(tok.body.allowed_origins, ['https://shop.example.com', 'https://www.shop.example.com']);
    assert.equal(tok.body.bot_name, 'Sales');
    const found = await app.services.channels.findEmbedToken(token);
    assert.equal(found?.id, tok.body.id);
    const list = (await admin('GET', '/api/embed-tokens')).body;
    assert.equal(list.length, 2); // the factory's token and this one
    assert.ok(
      list.every((t) => !('token' in t)),
      'the list never shows a token value',
    );
    assert.equal(list[0]!.prefix, token.slice(0, 7));

    // Revoke: the token stops working; again is harmless; another tenant's is 404.
    const revoked = await admin('DELETE', `/api/embed-tokens/${tok.body.id as string}`);
    assert.equal(revoked.status, 200);
    assert.ok(revoked.body.revoked_at);
    assert.equal(await app.services.channels.findEmbedToken(token), null);
    const again = await admin('DELETE', `/api/embed-tokens/${tok.body.id as string}`);
    assert.equal(again.body.revoked_at, revoked.body.revoked_at);
    const otherToken = await app.database.prisma.embedToken.findFirstOrThrow({
      where: { organizationId: other.org.id },
    });
    assert.equal((await admin('DELETE', `/api/embed-tokens/${otherToken.id}`)).status, 404);
    assert.ok(await app.services.channels.findEmbedToken(other.embedToken));
  });
}

test('dashboard REST: team management rules', async (t) => {
  const {
    app,
    org,
    owner,
    admin: adminU,
    agent: agentU,
    ownerS,
    adminS,
    agentS,
  } = await setup(t, dbModes[0]!);
  const asOwner = as(app, ownerS);
  const admin = as(app, adminS);
  const agent = as(app, agentS);

  // Everyone sees the team (the inbox shows presence); only admins see emails.
  const seenByAgent = (await agent('GET', '/api/team')).body;
  assert.equal(seenByAgent.length, 3);
  assert.ok(seenByAgent.every((m) => !('email' in m)));
  assert.ok((await admin('GET', '/api/team')).body.every((m) => typeof m.email === 'string'));
  assert.equal((await agent('POST', '/api/team', {})).status, 403);

  const email = `new-${Date.now()}@example.com`;
  const short = await admin('POST', '/api/team', { email, password: 'short', display_name: 'Nell' });
  assert.equal(short.status, 400);
  assert.match(short.body.message as unknown as string, /password/);
  assert.equal(await app.database.prisma.user.count({ where: { email } }), 0);
  assert.equal(
    (await admin('POST', '/api/team', { email, password: 'long enough', role: 'owner' })).status,
    403,
  );
  const added = await admin('POST', '/api/team', {
    email: email.toUpperCase(),
    password: 'long enough pw',
    display_name: 'Nell',
  });
  assert.equal(added.status, 201);
  assert.equal(added.body.role, 'agent');
  assert.equal(added.body.email, email);
  const dup = await admin('POST', '/api/team', { email, password: 'long enough pw' });
  assert.equal(dup.status, 409);
  // The new member can sign in.
  const nell = await loginAgent(app.url, email, 'long enough pw');

  // Nobody changes their own role or status; admins don't touch owners.
  assert.equal((await admin('PATCH', `/api/team/${adminU.user.id}`, { role: 'agent' })).status, 403);
  assert.equal((await admin('PATCH', `/api/team/${owner.user.id}`, { status: 'deactivated' })).status, 403);
  assert.equal((await admin('PATCH', `/api/team/${agentU.user.id}`, { role: 'owner' })).status, 403);
  assert.equal((await admin('PATCH', `/api/team/${agentU.user.id}`, {})).status, 400);
  assert.equal((await admin('PATCH', `/api/team/${agentU.user.id}`, { role: 'boss' })).status, 400);
  const promoted = await admin('PATCH', `/api/team/${agentU.user.id}`, { role: 'admin' });
  assert.equal(promoted.body.role, 'admin');
  assert.equal((await asOwner('PATCH', `/api/team/${adminU.user.id}`, { role: 'owner' })).body.role, 'owner');

  // Deactivation ends the member's session at once and publishes agent.deactivated.
  const events: string[] = [];
  app.bus.subscribe('agent.deactivated', (e) => void events.push(e.userId));
  const off = await asOwner('PATCH', `/api/team/${added.body.id as string}`, { status: 'deactivated' });
  assert.equal(off.body.status, 'deactivated');
  assert.deepEqual(events, [added.body.id]);
  assert.equal((await as(app, nell)('GET', '/api/team')).status, 401);
  await assert.rejects(loginAgent(app.url, email, 'long enough pw'), /401/);

  // Another tenant's member is 404.
  const other = await createOrg(app.services);
  const stranger = await createAgent(app.services, other.org.id);
  assert.equal((await asOwner('PATCH', `/api/team/${stranger.user.id}`, { role: 'admin' })).status, 404);
  assert.equal(
    (await app.database.prisma.user.findUniqueOrThrow({ where: { id: stranger.user.id } })).role,
    'agent',
  );
  void org;
});

{
  const mode = dbModes[0]!;
  test(`inbox unread counts survive a reload and follow mark-read (${mode.name})`, async (t) => {
    const { app, org, agent: agentU, agentS } = await setup(t, mode);
    const c1 = await createConversation(app.services, {
      organizationId: org.org.id,
      channelId: org.channelId,
    });
    const c2 = await createConversation(app.services, {
      organizationId: org.org.id,
      channelId: org.channelId,
    });
    const send = (c: typeof c1, content: string) =>
      app.services.messages.send(
        c.actor,
        message({
          conversation_id: c.conversation.id,
          content,
          sender_type: 'end_user',
          external_id: c.externalId,
        }),
      );
    const first = await send(c1, 'one');
    await send(c1, 'two');
    await send(c2, 'three');
    const agent = as(app, agentS);
    assert.deepEqual((await agent('GET', '/api/inbox/unread')).body, {
      [c1.conversation.id]: 2,
      [c2.conversation.id]: 1,
    });
    await app.services.messages.markRead(agentU.actor, {
      conversation_id: c1.conversation.id,
      message_ids: [first.message.id],
    });
    const after = (await agent('GET', '/api/inbox/unread')).body;
    assert.equal(after[c1.conversation.id as never], 1);
    // Another agent's conversation is not this agent's backlog.
    const colleague = await createAgent(app.services, org.org.id);
    await app.services.conversations.assign(colleague.actor, c1.conversation.id);
    assert.equal((await agent('GET', '/api/inbox/unread')).body[c1.conversation.id as never], undefined);
    // Opening a conversation in the inbox reads all of it.
    const readAll = await agent('POST', `/api/inbox/conversations/${c2.conversation.id}/read`);
    assert.deepEqual(readAll.body, { conversation_id: c2.conversation.id, read: 1 });
    assert.deepEqual((await agent('GET', '/api/inbox/unread')).body, {});
    const stranger = await createOrg(app.services);
    const theirs = await createConversation(app.services, {
      organizationId: stranger.org.id,
      channelId: stranger.channelId,
    });
    assert.equal(
      (await agent('POST', `/api/inbox/conversations/${theirs.conversation.id}/read`)).status,
      404,
    );
    await send(c2, 'four');
    // Resolved sessions no longer count.
    await app.services.conversations.resolve(agentU.actor, c2.conversation.id, { tags: [] });
    assert.equal((await agent('GET', '/api/inbox/unread')).body[c2.conversation.id as never], undefined);
  });
}

// The same SQL on the embedded database (the default install), through the service alone.
test('unread counts and read-all on the embedded database (pglite)', async (t) => {
  const database = await dbModes[1]!.open();
  t.after(() => database.close());
  const { services, events } = servicesFor(database);
  const read = services.messages;
  const org = await createOrg(services);
  const agent = await createAgent(services, org.org.id);
  const c = await createConversation(services, { organizationId: org.org.id, channelId: org.channelId });
  for (const content of ['one', 'two']) {
    await services.messages.send(
      c.actor,
      message({
        conversation_id: c.conversation.id,
        content,
        sender_type: 'end_user',
        external_id: c.externalId,
      }),
    );
  }
  assert.deepEqual(await read.unreadCounts(agent.actor), { [c.conversation.id]: 2 });
  assert.deepEqual(await read.markAllRead(agent.actor, c.conversation.id), {
    conversation_id: c.conversation.id,
    read: 2,
  });
  assert.deepEqual(await read.unreadCounts(agent.actor), {});
  assert.equal(events.filter((e) => e.event === 'messages.read').length, 1);
  // Routing keys limit what an agent counts.
  const keyed = await createAgent(services, org.org.id, { routingKeys: ['store-9'] });
  await services.messages.send(
    c.actor,
    message({
      conversation_id: c.conversation.id,
      content: 'three',
      sender_type: 'end_user',
      external_id: c.externalId,
    }),
  );
  assert.deepEqual(await read.unreadCounts(keyed.actor), {});
  assert.deepEqual(await read.unreadCounts(agent.actor), { [c.conversation.id]: 1 });
});
