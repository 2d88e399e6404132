// Canned replies over HTTP as the inbox and the dashboard call them: the organization's (admins
// manage them) and each agent's own; shortcuts unique per scope; validation; another agent's or
// another organization's reply does not exist for the caller; variables of a conversation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createConversation, createOrg } from '../../test/helpers/factories.js';
import { agentHttp, ISO_8601 } from '../../test/helpers/http.js';
import type { UserRole } from '../generated/prisma/client.js';
import { fillVariables } from './canned.fill.js';

type Canned = { id: string; scope: string; shortcut: string; title: string; body: string; editable: boolean };

for (const mode of dbModes) {
  describe(`canned replies on ${mode.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(await mode.open());
    });
    after(async () => {
      await t.stop();
      await t.database.close();
    });

    async function member(organizationId: string, role: UserRole = 'agent') {
      const a = await createAgent(t.services, organizationId, { role });
      const session = await loginAgent(t.url, a.user.email, a.password);
      const patch = (path: string) =>
        request(t.url).patch(path).set('Cookie', session.cookie).set('X-CSRFToken', session.csrf);
      return { ...a, http: { ...agentHttp(t.url, session), patch } };
    }
    async function team() {
      const { org, channelId } = await createOrg(t.services);
      return {
        org,
        channelId,
        admin: await member(org.id, 'admin'),
        ann: await member(org.id),
        bob: await member(org.id),
      };
    }
    const count = (organizationId: string) =>
      t.database.prisma.cannedReply.count({ where: { organizationId } });

    test('scopes: the tenant list and my own; others do not see mine', async () => {
      const { admin, ann, bob } = await team();
      const tenant = await admin.http.post('/api/canned-replies').send({
        scope: 'tenant',
        shortcut: 'Refund',
        title: 'Refund',
        body: 'Hi {{visitor.name}}, refunded.',
      });
      assert.equal(tenant.status, 201);
      assert.equal(tenant.body.scope, 'tenant');
      assert.equal(tenant.body.shortcut, 'refund', 'stored lower-cased');
      assert.match(tenant.body.created_at, ISO_8601);
      const mine = await ann.http
        .post('/api/canned-replies')
        .send({ shortcut: 'hi', title: 'Hello', body: 'Hello!' });
      assert.equal(mine.status, 201);
      assert.equal(mine.body.scope, 'mine');

      const annList = await ann.http.get('/api/canned-replies');
      assert.equal(annList.status, 200);
      assert.deepEqual(
        (annList.body.items as Canned[]).map((c) => [c.shortcut, c.scope, c.editable]),
        [
          ['hi', 'mine', true],
          ['refund', 'tenant', false],
        ],
      );
      const bobList = await bob.http.get('/api/canned-replies');
      assert.deepEqual(
        (bobList.body.items as Canned[]).map((c) => c.shortcut),
        ['refund'],
      );
      const adminList = await admin.http.get('/api/canned-replies');
      assert.equal((adminList.body.items as Canned[]).find((c) => c.shortcut === 'refund')?.editable, true);
    });

    test('roles: agents manage their own only; admins the tenant list', async () => {
      const { org, admin, ann, bob } = await team();
      const agentTenant = await ann.http
        .post('/api/canned-replies')
        .send({ scope: 'tenant', shortcut: 'x', title: 'X', body: 'x' });
      assert.equal(agentTenant.status, 403);
      assert.equal(agentTenant.body.error, 'auth/forbidden');
      assert.equal(await count(org.id), 0);

      const tenant = (
        await admin.http
          .post('/api/canned-replies')
          .send({ scope: 'tenant', shortcut: 'bye', title: 'Bye', body: 'Bye' })
      ).body as Canned;
      const annOwn = (
        await ann.http.post('/api/canned-replies').send({ shortcut: 'mine', title: 'M', body: 'm' })
      ).body as Canned;

      const edit = await ann.http.patch(`/api/canned-replies/${tenant.id}`).send({ body: 'changed' });
      assert.equal(edit.status, 403);
      assert.equal((await ann.http.delete(`/api/canned-replies/${tenant.id}`)).status, 403);
      // Bob does not see Ann's: 404, as if it did not exist; even for an admin.
      assert.equal(
        (await bob.http.patch(`/api/canned-replies/${annOwn.id}`).send({ body: 'no' })).status,
        404,
      );
      assert.equal((await admin.http.delete(`/api/canned-replies/${annOwn.id}`)).status, 404);
      const row = await t.database.prisma.cannedReply.findUniqueOrThrow({ where: { id: annOwn.id } });
      assert.equal(row.body, 'm');

      const annEdit = await ann.http
        .patch(`/api/canned-replies/${annOwn.id}`)
        .send({ title: 'Mine', body: 'mine!' });
      assert.equal(annEdit.status, 200);
      assert.equal(annEdit.body.title, 'Mine');
      assert.equal(annEdit.body.body, 'mine!');
      const adminEdit = await admin.http
        .patch(`/api/canned-replies/${tenant.id}`)
        .send({ shortcut: 'goodbye' });
      assert.equal(adminEdit.status, 200);
      assert.equal(adminEdit.body.shortcut, 'goodbye');

      assert.equal((await ann.http.delete(`/api/canned-replies/${annOwn.id}`)).status, 204);
      assert.equal((await admin.http.delete(`/api/canned-replies/${tenant.id}`)).status, 204);
      assert.equal(await count(org.id), 0);
      assert.equal((await ann.http.delete(`/api/canned-replies/${annOwn.id}`)).status, 404);
    });

    test('duplicates: 409 within a scope; the same shortcut in another scope is fine', async () => {
      const { org, admin, ann, bob } = await team();
      const post = (who: typeof ann, body: object) => who.http.post('/api/canned-replies').send(body);
      assert.equal(
        (await post(admin, { scope: 'tenant', shortcut: 'refund', title: 'T', body: 'b' })).status,
        201,
      );
      const dupTenant = await post(admin, { scope: 'tenant', shortcut: 'REFUND', title: 'T2', body: 'b' });
      assert.equal(dupTenant.status, 409);
      assert.equal(dupTenant.body.error, 'conflict');
      assert.match(dupTenant.body.message, /\/refund/);
      // Personal ones may shadow the tenant's, once per agent.
      assert.equal((await post(ann, { shortcut: 'refund', title: 'A', body: 'a' })).status, 201);
      assert.equal((await post(bob, { shortcut: 'refund', title: 'B', body: 'b' })).status, 201);
      const dupMine = await post(ann, { shortcut: 'refund', title: 'A2', body: 'a' });
      assert.equal(dupMine.status, 409);
      assert.match(dupMine.body.message, /your/);
      // Renaming onto a taken shortcut: 409, unchanged.
      const other = (await post(ann, { shortcut: 'other', title: 'O', body: 'o' })).body as Canned;
      const clash = await ann.http.patch(`/api/canned-replies/${other.id}`).send({ shortcut: 'refund' });
      assert.equal(clash.status, 409);
      assert.equal(
        (await t.database.prisma.cannedReply.findUniqueOrThrow({ where: { id: other.id } })).shortcut,
        'other',
      );
      assert.equal(await count(org.id), 4);
    });

    test('validation: clear 400s naming the field, nothing stored', async () => {
      const { org, ann } = await team();
      const cases: [object, RegExp][] = [
        [{ shortcut: 'has space', title: 'T', body: 'b' }, /shortcut/],
        [{ shortcut: '', title: 'T', body: 'b' }, /shortcut/],
        [{ shortcut: 'x'.repeat(33), title: 'T', body: 'b' }, /shortcut/],
        [{ shortcut: 'ok', title: '', body: 'b' }, /title/],
        [{ shortcut: 'ok', title: 'T', body: '   ' }, /body/],
        [{ shortcut: 'ok', title: 'T', body: 'x'.repeat(5001) }, /body/],
        [{ shortcut: 'ok', title: 'T', body: 'b', scope: 'everyone' }, /scope/],
        [{ shortcut: 'ok', title: 'T', body: 'b', owner_id: ann.user.id }, /owner_id/],
      ];
      for (const [body, field] of cases) {
        const res = await ann.http.post('/api/canned-replies').send(body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.error, 'request/invalid');
        assert.match(res.body.message, field);
      }
      const own = (await ann.http.post('/api/canned-replies').send({ shortcut: 'ok', title: 'T', body: 'b' }))
        .body as Canned;
      const empty = await ann.http.patch(`/api/canned-replies/${own.id}`).send({});
      assert.equal(empty.status, 400);
      assert.equal((await ann.http.patch('/api/canned-replies/not-a-uuid').send({ body: 'x' })).status, 400);
      assert.equal(await count(org.id), 1);
    });

    test("another organization's reply is a 404, never a 403", async () => {
      const a = await team();
      const b = await team();
      const theirs = (
        await b.admin.http
          .post('/api/canned-replies')
          .send({ scope: 'tenant', shortcut: 'x', title: 'X', body: 'x' })
      ).body as Canned;
      for (const who of [a.admin, a.ann]) {
        assert.equal(
          (await who.http.patch(`/api/canned-replies/${theirs.id}`).send({ body: 'y' })).status,
          404,
        );
        assert.equal((await who.http.delete(`/api/canned-replies/${theirs.id}`)).status, 404);
        assert.equal(((await who.http.get('/api/canned-replies')).body.items as Canned[]).length, 0);
      }
      assert.equal(await count(b.org.id), 1);
    });

    test('variables: filled from the conversation; unknown ones and missing values stay visible', async () => {
      const { org, channelId, ann } = await team();
      const c = await createConversation(t.services, {
        organizationId: org.id,
        channelId,
        displayName: 'Marie',
      });
      const res = await ann.http.get(`/api/canned-replies/variables?conversation_id=${c.conversation.id}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {
        'visitor.name': 'Marie',
        'visitor.email': null,
        'agent.name': ann.user.displayName,
        'conversation.id': c.conversation.id,
      });
      assert.equal(
        fillVariables(
          'Hi {{visitor.name}} ({{ visitor.email }}), {{agent.name}} here: {{order.id}}',
          res.body,
        ),
        `Hi Marie ({{ visitor.email }}), ${ann.user.displayName} here: {{order.id}}`,
      );
      const other = await team();
      assert.equal(
        (await other.ann.http.get(`/api/canned-replies/variables?conversation_id=${c.conversation.id}`))
          .status,
        404,
      );
      assert.equal((await ann.http.get('/api/canned-replies/variables')).status, 400);
      // Unauthenticated: 401.
      assert.equal((await fetch(`${t.url}/api/canned-replies`)).status, 401);
    });
  });
}
