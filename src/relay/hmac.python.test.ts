// HMAC#1 from Python's standard library (test/python/hmac_vectors.py, hmac/hashlib only): it
// verifies every published vector, then signs two real calls to the signed API. And the snippets
// of docs/hmac.md, run as they are printed, sign calls the relay accepts and verify its signatures.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { dbModes } from '../../test/helpers/db.js';
import { startApp, type TestApp } from '../../test/helpers/app.js';
import { rootDir } from '../../test/helpers/process.js';
import { parseHmacHeaders, signRequest, verifyRequest } from './hmac.js';

// Debian's interpreter, as the other Python tests use; the script needs nothing but the stdlib.
const PYTHON = '/usr/bin/python3';
const ADMIN_KEY = `ak_test_${randomBytes(18).toString('base64url')}`;

let app: TestApp;
before(async () => {
  app = await startApp(await dbModes[0]!.open(), { redis: true, env: { ADMIN_KEY } });
});
after(async () => {
  await app.stop();
  await app.database.close();
});

async function python(args: string[]) {
  const py = spawn(PYTHON, args, {
    cwd: rootDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  py.stdout.on('data', (d: Buffer) => (out += d.toString()));
  py.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(py, 'exit')) as [number | null];
  assert.equal(code, 0, err);
  return JSON.parse(out) as Record<string, unknown>;
}

async function provision() {
  const res = await fetch(`${app.url}/api/v1/provision/tenant`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
    body: JSON.stringify({ tenant_name: `Python ${randomUUID().slice(0, 6)}` }),
  });
  return ((await res.json()) as { data: { tenant_id: string; tenant_secret: string } }).data;
}

test("Python's hmac verifies every vector and signs calls the relay accepts", async () => {
  const tn = await provision();
  const out = await python([
    'test/python/hmac_vectors.py',
    'docs/hmac-vectors.json',
    app.url,
    tn.tenant_id,
    tn.tenant_secret,
  ]);
  assert.ok(Number(out.vectors_ok) >= 5);
  const conv = out.conversation as { status_code: number; data: Record<string, unknown> };
  assert.equal(conv.status_code, 201);
  assert.equal(conv.data.visitor_display_name, 'Zoë 🐍');
  const usage = out.usage as { status_code: number; data: { days: unknown[] } };
  assert.equal(usage.status_code, 200);
  assert.equal(usage.data.days.length, 1);
});

/** The code blocks of docs/hmac.md in `lang`, in order: signer, (usage,) verifier. */
function snippets(lang: 'js' | 'python'): string[] {
  const doc = readFileSync(`${rootDir}/docs/hmac.md`, 'utf8');
  return [...doc.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

type DocVerify = (o: {
  secrets: string[];
  headers: Record<string, string>;
  method: string;
  pathAndQuery: string;
  rawBody: Buffer;
}) => boolean;

test('the snippets of docs/hmac.md, as printed, sign and verify HMAC#1', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hmac-doc-'));
  try {
    const js = snippets('js');
    const py = snippets('python');
    writeFileSync(path.join(dir, 'sign.mjs'), js[0]!);
    writeFileSync(path.join(dir, 'verify.mjs'), js[2]!);
    writeFileSync(path.join(dir, 'sign_doc.py'), py[0]!);
    writeFileSync(path.join(dir, 'verify_doc.py'), py[1]!);
    const { signRelayRequest } = (await import(pathToFileURL(path.join(dir, 'sign.mjs')).href)) as {
      signRelayRequest: (o: Record<string, string>) => Record<string, string>;
    };
    const { verifyRelayRequest } = (await import(pathToFileURL(path.join(dir, 'verify.mjs')).href)) as {
      verifyRelayRequest: DocVerify;
    };
    const tn = await provision();

    // The documented Node signer, against the relay.
    const body = JSON.stringify({ visitor_user_id: 'doc-user', visitor_display_name: 'Zoë' });
    const open = '/api/v1/relay/conversations';
    const signed = signRelayRequest({
      tenantId: tn.tenant_id,
      secret: tn.tenant_secret,
      method: 'POST',
      pathAndQuery: open,
      body,
    });
    const res = await fetch(`${app.url}${open}`, {
      method: 'POST',
      headers: { ...signed, 'Content-Type': 'application/json' },
      body,
    });
    assert.equal(res.status, 201, await res.clone().text());

    // The documented Node verifier, on what the product signs (as webhooks will be).
    const raw = Buffer.from('{"event":"message-received","text":"Grüße 🚀"}', 'utf8');
    const hook = '/api/v1/chat-callbacks/message-received';
    const headers = signRequest({
      method: 'POST',
      pathAndQuery: hook,
      body: raw,
      tenantId: tn.tenant_id,
      secret: tn.tenant_secret,
    });
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    const args = { headers: lower, method: 'POST', pathAndQuery: hook, rawBody: raw };
    assert.equal(verifyRelayRequest({ ...args, secrets: ['sk_previous', tn.tenant_secret] }), true);
    assert.equal(verifyRelayRequest({ ...args, secrets: [tn.tenant_secret] }), false, 'a replay');
    const fresh = () =>
      signRequest({
        method: 'POST',
        pathAndQuery: hook,
        body: raw,
        tenantId: tn.tenant_id,
        secret: tn.tenant_secret,
      });
    const again = Object.fromEntries(Object.entries(fresh()).map(([k, v]) => [k.toLowerCase(), v]));
    const tampered = { ...args, headers: again, secrets: [tn.tenant_secret] };
    assert.equal(verifyRelayRequest({ ...tampered, rawBody: Buffer.concat([raw, Buffer.from(' ')]) }), false);
    assert.equal(verifyRelayRequest({ ...tampered, secrets: ['sk_other'] }), false);

    // The documented Python signer and verifier, each checked by the product's own code.
    const driver = `
import json, sys
sys.path.insert(0, sys.argv[1])
from sign_doc import sign_relay_request
from verify_doc import verify_relay_request
body = "Grüße 🚀".encode()
signed = sign_relay_request(sys.argv[2], sys.argv[3], "post", "/p?q=1", body)
product = json.loads(sys.argv[4])
print(json.dumps({
    "signed": signed,
    "ok": verify_relay_request([sys.argv[3]], product, "POST", "/p?q=1", body),
    "replay": verify_relay_request([sys.argv[3]], product, "POST", "/p?q=1", body),
    "wrong": verify_relay_request(["sk_other"], signed, "POST", "/p?q=1", body),
}))
`;
    const product = signRequest({
      method: 'POST',
      pathAndQuery: '/p?q=1',
      body: 'Grüße 🚀',
      tenantId: tn.tenant_id,
      secret: tn.tenant_secret,
    });
    const out = (await python([
      '-c',
      driver,
      dir,
      tn.tenant_id,
      tn.tenant_secret,
      JSON.stringify(product),
    ])) as {
      signed: Record<string, string>;
      ok: boolean;
      replay: boolean;
      wrong: boolean;
    };
    assert.deepEqual([out.ok, out.replay, out.wrong], [true, false, false]);
    const pyHeaders = Object.fromEntries(Object.entries(out.signed).map(([k, v]) => [k.toLowerCase(), v]));
    verifyRequest({
      method: 'POST',
      pathAndQuery: '/p?q=1',
      body: Buffer.from('Grüße 🚀', 'utf8'),
      headers: parseHmacHeaders(pyHeaders),
      secrets: [tn.tenant_secret],
      windowS: 300,
      nowMs: Date.now(),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
