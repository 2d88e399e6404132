import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dbModes } from '../../test/helpers/db.js';
import { loginAgent, startApp, type TestApp } from '../../test/helpers/app.js';
import { createAgent, createOrg } from '../../test/helpers/factories.js';

for (const mode of dbModes) {
  for (const redis of mode.name === 'postgres' ? [false, true] : [false]) {
    test(`login, /auth/me and logout work (${mode.name}${redis ? ' + Redis sessions' : ''})`, async (t) => {
      const database = await mode.open();
      const app: TestApp = await startApp(database, { redis });
      t.after(async () => {
        await app.stop();
        await database.close();
      });
      const { org } = await createOrg(app.services);
      const { user, password } = await createAgent(app.services, org.id, { role: 'admin' });
      const s = await loginAgent(app.url, user.email, password);
      const me = await fetch(`${app.url}/auth/me`, { headers: { cookie: s.cookie } });
      assert.equal(me.status, 200);
      assert.equal(((await me.json()) as { user: { id: string } }).user.id, user.id);
      const out = await fetch(`${app.url}/auth/logout`, {
        method: 'POST',
        headers: { cookie: s.cookie, 'x-csrftoken': s.csrf, accept: 'application/json' },
      });
      assert.equal(out.status, 200);
      assert.equal((await fetch(`${app.url}/auth/me`, { headers: { cookie: s.cookie } })).status, 401);
    });
  }
}
