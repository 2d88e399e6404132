import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import express from 'express';
import request from 'supertest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { dbModes } from '../../test/helpers/db.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { buildOpenApiDocument } from './openapi.document.js';
import { openApiRoutes } from './openapi.routes.js';

const postgres = dbModes.find((m) => m.name === 'postgres')!;
const ADMIN_KEY = 'openapi-test-admin-key-0123456789';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Layer = {
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
};

/**
 * Mounted routes that are not part of the HTTP API, so not in the document. Socket.IO
 * (`/socket.io/`) and the relay's visitor WebSocket (`/api/v1/ws/widget`) are upgrades handled
 * beside Express, and `/static/*` and `/build/*` are `express.static`: none is a route here.
 */
const NOT_API: Record<string, string> = {
  'GET /': 'redirects to the inbox or the sign-in page',
  'GET /inbox': 'page',
  'GET /dashboard': 'page',
  'GET /demo': 'page (a demo site embedding the widget)',
  'GET /auth/login': 'page: the sign-in form',
  'GET /auth/operator': "browser redirect: spends an operator's one-time sign-in link",
  'GET /chat-widget': "page: the widget's iframe",
  'GET /chat-widget/embed.js': 'script',
  'GET /chat-widget/widget.js': 'script',
  'GET /sdk/switchboard-chat.js': 'script',
  'GET /healthz': 'probe',
  'GET /readyz': 'probe',
  'GET /metrics': 'Prometheus scrape (text format)',
  'GET /files/{id}/{filename}': 'signed download links carried by messages',
};

const join = (a: string, b: string) => `${a}/${b}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');

/** `METHOD /path/{param}` of every route in an Express router stack, mounted routers included. */
function mountedRoutes(stack: Layer[], prefix = '', out = new Set<string>()): Set<string> {
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const p of paths) {
        assert.equal(typeof p, 'string', `a route path that is not a string: ${String(p)}`);
        const path = join(prefix, p as string).replace(/:(\w+)/g, '{$1}');
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') out.add(`${method.toUpperCase()} ${path}`);
        }
      }
    } else if (layer.handle?.stack) {
      assert.equal(typeof layer.rawPath, 'string', 'a router mounted at a path that is not a string');
      mountedRoutes(layer.handle.stack, join(prefix, layer.rawPath as string), out);
    }
  }
  return out;
}

const documented = (doc: Json) =>
  new Set(
    Object.entries(doc.paths as Json).flatMap(([path, item]) =>
      Object.keys(item as Json).map((m) => `${m.toUpperCase()} ${path}`),
    ),
  );

let app: TestApp;
let doc: Json;
before(async () => {
  app = await startApp(await postgres.open(), { env: { ADMIN_KEY } });
  doc = buildOpenApiDocument();
});
after(async () => {
  await app.stop();
  await app.database.close();
});

test('the document is valid OpenAPI 3.1 (and the validator does refuse a broken one)', async () => {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc));
  assert.deepEqual(result.errors, undefined);
  assert.equal(result.valid, true);
  assert.equal(validator.version, '3.1');

  const broken = structuredClone(doc);
  broken.paths['/api/tickets'].get.parameters[0].in = 'body'; // OpenAPI 2's, gone in 3
  assert.equal((await new Validator().validate(broken)).valid, false);
});

test('GET /api/openapi.json serves the document', async () => {
  const res = await request(express().use(openApiRoutes())).get('/api/openapi.json');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  assert.deepEqual(res.body, JSON.parse(JSON.stringify(doc)));
});

test('every API route the app mounts is documented, and every documented one is mounted', () => {
  const router = (app.app as unknown as { router: { stack: Layer[] } }).router;
  const mounted = mountedRoutes(router.stack);
  const inDoc = documented(doc);
  assert.ok(mounted.size > 80, `only ${mounted.size} routes found: is the walk still right?`);

  const undocumented = [...mounted].filter((r) => !inDoc.has(r) && !(r in NOT_API)).sort();
  assert.deepEqual(undocumented, [], 'routes mounted but missing from the OpenAPI document');

  // The document's own route is mounted by src/app.ts (`openApiRoutes()`); it is served above either way.
  const invented = [...inDoc].filter((r) => !mounted.has(r) && r !== 'GET /api/openapi.json').sort();
  assert.deepEqual(invented, [], 'operations documented but not mounted');
});

test('the documented security matches the groups: session + CSRF, admin key, HMAC#1, visitor bearer', () => {
  const schemes = doc.components.securitySchemes as Json;
  assert.equal(schemes.csrf.name, 'X-CSRFToken');
  assert.equal(schemes.adminKey.name, 'X-Admin-Key');
  assert.deepEqual(
    ['hmacTenant', 'hmacTimestamp', 'hmacNonce', 'hmacSignature'].map((s) => schemes[s].name),
    ['X-Relay-Tenant', 'X-Relay-Timestamp', 'X-Relay-Nonce', 'X-Relay-Signature'],
  );
  assert.equal(schemes.visitorToken.scheme, 'bearer');
  assert.deepEqual(doc.paths['/api/tickets'].post.security, [{ session: [], csrf: [] }]);
  assert.deepEqual(doc.paths['/api/tickets'].get.security, [{ session: [] }]);
  assert.deepEqual(Object.keys(doc.paths['/api/v1/relay/tickets'].get.security[0]).length, 4);
  assert.deepEqual(doc.paths['/api/v1/provision/tenant'].post.security, [{ adminKey: [] }]);
  assert.deepEqual(doc.paths['/api/v1/identify/visitor'].post.security, [{ visitorToken: [] }]);
});

test("the documented request schemas are the routes' own: what the spec refuses, the route refuses", async () => {
  const http = request(app.url);

  // Provisioning: only `tenant_name` is required and unknown fields are refused (additionalProperties).
  const provision = doc.paths['/api/v1/provision/tenant'].post.requestBody.content['application/json'].schema;
  assert.deepEqual(provision.required, ['tenant_name']);
  assert.equal(provision.additionalProperties, false);
  const post = (body: object) =>
    http.post('/api/v1/provision/tenant').set('X-Admin-Key', ADMIN_KEY).send(body);
  const missing = await post({});
  assert.equal(missing.status, 400);
  assert.equal(missing.body.status_code, 400);
  assert.equal(missing.body.param, 'tenant_name');
  const unknown = await post({ tenant_name: 'OpenAPI', tenant_nmae: 'typo' });
  assert.equal(unknown.status, 400);
  assert.equal(provision.properties.tenant_nmae, undefined);
  const tooLong = await post({ tenant_name: 'x'.repeat(provision.properties.tenant_name.maxLength + 1) });
  assert.equal(tooLong.status, 400);
  assert.equal(tooLong.body.param, 'tenant_name');
  const ok = await post({ tenant_name: `OpenAPI ${randomUUID()}` });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));

  // The native app's open: `channel_id` is a UUID by the spec, and by the route.
  const open = doc.paths['/api/mobile/conversations'].post.requestBody.content['application/json'].schema;
  assert.ok(open.required.includes('channel_id'));
  assert.equal(open.properties.channel_id.format, 'uuid');
  const notUuid = await http
    .post('/api/mobile/conversations')
    .send({ channel_id: 'nope', external_id: 'u1' });
  assert.equal(notUuid.status, 400);
  assert.equal(notUuid.body.param, 'channel_id');

  // A query parameter: the signed conversation list's `limit` bounds are the route's.
  const limit = (doc.paths['/api/v1/relay/conversations'].get.parameters as Json[]).find(
    (p) => p.name === 'limit',
  );
  assert.ok(limit && limit.in === 'query' && limit.required === false);
  assert.equal(typeof limit.schema.maximum, 'number');
});
