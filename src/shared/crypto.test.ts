import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decryptSecret, encryptSecret, hashPassword, randomToken, verifyPassword } from './crypto.js';

test('secrets encrypt to text that only the same key opens, and tampering is detected', () => {
  const key = Buffer.alloc(32, 3);
  const sealed = encryptSecret(key, 'sk_live_secret');
  assert.doesNotMatch(sealed, /sk_live_secret/);
  assert.notEqual(encryptSecret(key, 'sk_live_secret'), sealed, 'a fresh IV each time');
  assert.equal(decryptSecret(key, sealed), 'sk_live_secret');
  assert.throws(() => decryptSecret(Buffer.alloc(32, 4), sealed));
  const parts = sealed.split('.');
  parts[3] = Buffer.from('forged').toString('base64url');
  assert.throws(() => decryptSecret(key, parts.join('.')));
});

test('passwords hash with argon2id and verify', async () => {
  const h = await hashPassword('correct horse');
  assert.match(h, /^\$argon2id\$/);
  assert.equal(await verifyPassword(h, 'correct horse'), true);
  assert.equal(await verifyPassword(h, 'wrong horse'), false);
  assert.equal(await verifyPassword('not-a-hash', 'x'), false);
});

test('tokens carry their prefix and 192 random bits', () => {
  const t = randomToken('ew');
  assert.match(t, /^ew_[A-Za-z0-9_-]{32}$/);
  assert.notEqual(randomToken('ew'), t);
});
