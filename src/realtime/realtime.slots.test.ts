// The sockets-per-address slots in Redis (realtime.guard.ts): the node's periodic renewal keeps
// every live slot with a new expiry, a chunk at a time, and never brings back a slot its socket
// gave up while the renewal was under way.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createConnectionSlots } from './realtime.guard.js';

const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `sbtest:slots:${randomUUID()}`;
const slots = createConnectionSlots({ redis, prefix, max: 10_000, logger: pino({ level: 'silent' }) });
const key = (ip: string) => `${prefix}:conns:${ip}`;

// One address with 1,200 sockets (a large NAT), 1,300 addresses with one each: more than one
// chunk of the renewal, and one address split across chunks.
const held: [string, string][] = [
  ...Array.from({ length: 1200 }, (_, i) => ['203.0.113.7', `nat-${i}`] as [string, string]),
  ...Array.from({ length: 1300 }, (_, i) => [`10.1.${i >> 8}.${i & 255}`, `own-${i}`] as [string, string]),
];

before(async () => {
  for (const [ip, id] of held) assert.equal(await slots.acquire(ip, id), true);
});

after(async () => {
  slots.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

test('a renewal gives every live slot a new expiry, and a slot given up meanwhile stays given up', async () => {
  const scoresOf = async () => {
    const out = new Map<string, number>();
    for (const ip of new Set(held.map(([ip]) => ip))) {
      const flat = await redis.zrange(key(ip), '0', '-1', 'WITHSCORES');
      for (let i = 0; i < flat.length; i += 2) out.set(`${ip} ${flat[i]}`, Number(flat[i + 1]));
    }
    return out;
  };
  const before = await scoresOf();
  assert.equal(before.size, held.length);
  await new Promise((r) => setTimeout(r, 20));

  const startedAt = Date.now();
  const renewal = slots.refresh();
  // The first slot was in the chunk sent at once; the last one's chunk is read later.
  const [first, last] = [held[0]!, held.at(-1)!];
  slots.release(...first);
  slots.release(...last);
  await renewal;

  const afterRenewal = await scoresOf();
  assert.equal(afterRenewal.size, held.length - 2);
  assert.equal(afterRenewal.has(`${first[0]} ${first[1]}`), false);
  assert.equal(afterRenewal.has(`${last[0]} ${last[1]}`), false);
  for (const [slot, expiry] of afterRenewal) {
    assert.ok(expiry > before.get(slot)!, `${slot} renewed`);
    assert.ok(expiry >= startedAt + 59_000, `${slot} expires a minute after the renewal`);
  }
  // The keys themselves expire with their slots (a crashed node's addresses disappear).
  const ttl = await redis.pttl(key('203.0.113.7'));
  assert.ok(ttl > 55_000 && ttl <= 60_000, `key expiry ${ttl} ms`);
});

test('a renewal with nothing to renew does not stop the next ones', async () => {
  const empty = createConnectionSlots({ redis, prefix, max: 10, logger: pino({ level: 'silent' }) });
  try {
    await empty.refresh();
    assert.equal(await empty.acquire('198.51.100.1', 'later'), true);
    const taken = Number(await redis.zscore(key('198.51.100.1'), 'later'));
    await new Promise((r) => setTimeout(r, 20));
    await empty.refresh();
    assert.ok(Number(await redis.zscore(key('198.51.100.1'), 'later')) > taken, 'renewed');
  } finally {
    empty.close();
  }
});
