import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { AppError } from '../shared/errors.js';
import { guardedLookup, isPublicAddress, normalizeCallbackUrl } from './url-guard.js';

const refusedWith = (code: string) => (err: unknown) => err instanceof AppError && err.code === code;

describe('callback URL guard (SSRF)', () => {
  test('only public unicast addresses are public', () => {
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) assert.ok(isPublicAddress(a), a);
    for (const a of [
      '127.0.0.1',
      '10.0.0.5',
      '172.16.3.4',
      '192.168.1.1',
      '169.254.169.254', // cloud metadata
      '100.64.0.1', // carrier-grade NAT
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1', // IPv4 inside IPv6
      '::ffff:10.0.0.1',
      'not an address',
    ]) {
      assert.equal(isPublicAddress(a), false, a);
    }
  });

  test('a base URL is normalised: no trailing slash; credentials, queries, other schemes refused', () => {
    assert.equal(normalizeCallbackUrl('https://hooks.example.com/', false), 'https://hooks.example.com');
    assert.equal(
      normalizeCallbackUrl('https://Hooks.Example.com/a/b//', false),
      'https://hooks.example.com/a/b',
    );
    for (const bad of [
      'hooks.example.com',
      'ftp://hooks.example.com',
      'https://u:p@hooks.example.com',
      'https://h.example.com/?a=1',
      'https://h.example.com/#x',
    ]) {
      assert.throws(() => normalizeCallbackUrl(bad, false), refusedWith('request/invalid'), bad);
    }
  });

  test('loopback, private and link-local hosts are refused unless the deployment allows them', () => {
    for (const url of [
      'http://127.0.0.1:3000',
      'http://[::1]/',
      'http://localhost:8080',
      'http://api.localhost',
      'http://169.254.169.254/latest',
      'https://10.0.0.8',
      'http://[::ffff:7f00:1]/',
    ]) {
      assert.throws(() => normalizeCallbackUrl(url, false), refusedWith('webhook/url_refused'), url);
      assert.doesNotThrow(() => normalizeCallbackUrl(url, true), url);
    }
  });

  test('at connection time a name resolving to loopback is refused: nothing reaches the server', async () => {
    let hits = 0;
    const server = http.createServer((_req, res) => {
      hits += 1;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const get = (allowPrivate: boolean) =>
      new Promise<string>((resolve) => {
        const req = http.get(
          `http://localhost:${port}/`,
          { lookup: guardedLookup(allowPrivate), agent: false, family: 4 },
          (res) => {
            res.resume();
            res.on('end', () => resolve(`HTTP ${res.statusCode}`));
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      });
    try {
      assert.equal(await get(false), 'EADDRREFUSED');
      assert.equal(hits, 0);
      assert.equal(await get(true), 'HTTP 200');
      assert.equal(hits, 1);
    } finally {
      server.close();
    }
  });
});
