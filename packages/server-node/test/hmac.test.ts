// HMAC#1 as the SDK implements it, checked against the published vectors (docs/hmac-vectors.json)
// and the verifier's refusals, without a server.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  bodySha256,
  createMemoryNonceStore,
  signRequest,
  stringToSign,
  verifyWebhook,
  type NonceStore,
} from '@switchboard/server-node';

type Vector = {
  name: string;
  tenant_id: string;
  secret: string;
  method: string;
  path_and_query: string;
  timestamp: number;
  nonce: string;
  body: string;
  body_sha256: string;
  string_to_sign: string;
  signature: string;
  headers: Record<string, string>;
};
const { vectors } = JSON.parse(
  readFileSync(new URL('../../../docs/hmac-vectors.json', import.meta.url), 'utf8'),
) as { vectors: Vector[] };

describe('HMAC#1', () => {
  test('every published vector: body hash, string to sign, signature and headers', () => {
    assert.ok(vectors.length >= 6);
    for (const v of vectors) {
      assert.equal(bodySha256(v.body), v.body_sha256, v.name);
      const sts = stringToSign({
        method: v.method,
        pathAndQuery: v.path_and_query,
        timestamp: v.timestamp,
        nonce: v.nonce,
        body: v.body,
      });
      assert.equal(sts, v.string_to_sign, v.name);
      const headers = signRequest({
        tenantId: v.tenant_id,
        secret: v.secret,
        method: v.method,
        pathAndQuery: v.path_and_query,
        body: Buffer.from(v.body, 'utf8'),
        timestamp: v.timestamp,
        nonce: v.nonce,
      });
      assert.deepEqual(headers, v.headers, v.name);
    }
  });

  test('the verifier accepts every vector at its own time, once, and with either secret', async () => {
    for (const v of vectors) {
      const base = {
        headers: v.headers,
        method: v.method,
        path: v.path_and_query,
        rawBody: v.body,
        now: () => v.timestamp * 1000,
        nonceStore: createMemoryNonceStore(() => v.timestamp * 1000),
      };
      assert.deepEqual(await verifyWebhook({ ...base, secrets: ['sk_other', v.secret] }), {
        ok: true,
        tenantId: v.tenant_id,
      });
      assert.deepEqual(await verifyWebhook({ ...base, secrets: v.secret }), {
        ok: false,
        reason: 'replayed_nonce',
      });
    }
  });

  test('the verifier refuses what it must, naming why', async () => {
    const v = vectors.find((x) => x.name === 'post_json_body')!;
    const at = v.timestamp * 1000;
    const verify = (o: Partial<Parameters<typeof verifyWebhook>[0]>) =>
      verifyWebhook({
        headers: v.headers,
        method: v.method,
        path: v.path_and_query,
        rawBody: v.body,
        secrets: v.secret,
        now: () => at,
        nonceStore: createMemoryNonceStore(() => at),
        ...o,
      });
    const reason = async (o: Partial<Parameters<typeof verifyWebhook>[0]>) => {
      const r = await verify(o);
      return r.ok ? 'ok' : r.reason;
    };
    assert.equal(await reason({}), 'ok');
    assert.equal(await reason({ rawBody: v.body.replace('Ada', 'Eve') }), 'bad_signature');
    assert.equal(await reason({ path: `${v.path_and_query}?x=1` }), 'bad_signature');
    assert.equal(await reason({ method: 'PUT' }), 'bad_signature');
    assert.equal(await reason({ secrets: 'sk_wrong' }), 'bad_signature');
    assert.equal(await reason({ secrets: [] }), 'unknown_tenant');
    assert.equal(await reason({ tenantId: '0190f5a2-0000-7000-8000-000000000000' }), 'unknown_tenant');
    assert.equal(await reason({ now: () => at + 301_000 }), 'stale_timestamp');
    assert.equal(await reason({ now: () => at + 301_000, windowS: 600 }), 'ok');
    const { 'X-Relay-Nonce': _n, ...noNonce } = v.headers;
    assert.equal(await reason({ headers: noNonce }), 'missing_headers');
    assert.equal(await reason({ headers: { ...v.headers, 'X-Relay-Nonce': 'short' } }), 'malformed');
    assert.equal(await reason({ headers: { ...v.headers, 'X-Relay-Signature': 'v1=XYZ' } }), 'malformed');
    // Header names in any case, and a fetch `Headers`.
    const lower = Object.fromEntries(Object.entries(v.headers).map(([k, x]) => [k.toLowerCase(), x]));
    assert.equal(await reason({ headers: lower }), 'ok');
    assert.equal(await reason({ headers: new Headers(v.headers) }), 'ok');
  });

  test('an injected nonce store is asked once the signature holds, with the tenant in the key', async () => {
    const v = vectors[0]!;
    const claims: [string, number][] = [];
    const store: NonceStore = {
      claim: async (key, ttl) => {
        claims.push([key, ttl]);
        return claims.length === 1;
      },
    };
    const base = {
      headers: v.headers,
      method: v.method,
      path: v.path_and_query,
      rawBody: v.body,
      now: () => v.timestamp * 1000,
      nonceStore: store,
    };
    assert.equal((await verifyWebhook({ ...base, secrets: 'sk_wrong' })).ok, false);
    assert.equal(claims.length, 0, 'a bad signature spends no nonce');
    assert.equal((await verifyWebhook({ ...base, secrets: v.secret })).ok, true);
    assert.deepEqual(claims, [[`${v.tenant_id} ${v.nonce}`, 600]]);
    assert.deepEqual(await verifyWebhook({ ...base, secrets: v.secret }), {
      ok: false,
      reason: 'replayed_nonce',
    });
  });
});
